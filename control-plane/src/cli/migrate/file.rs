//! `ferry migrate start --file FILE`: many databases at once, one `[[migration]]` table
//! each. Host and database are required; instance, target and link name fall back to
//! the command line's (target) or the usual defaults. Every entry is checked before
//! anything starts, so a typo on line 40 does not leave 39 migrations started.
//!
//! ```toml
//! [[migration]]
//! host = "sqlhost"
//! database = "Sales"
//!
//! [[migration]]
//! host = "oldhost"
//! database = "Legacy"
//! instance = "sql16"          # only when several instances have the database
//! link_name = "DAG_Legacy"    # default DAG_<database>
//! target = "mi-other"         # default --target
//! ```

use std::collections::HashSet;
use std::path::Path;

use serde::Deserialize;

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    pub host: String,
    pub database: String,
    #[serde(default)]
    pub instance: Option<String>,
    #[serde(default)]
    pub link_name: Option<String>,
    #[serde(default)]
    pub target: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    migration: Vec<Entry>,
}

/// Reads and checks the file; every entry has a target (its own or `target`).
pub fn read(path: &Path, target: Option<&str>) -> Result<Vec<Entry>, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    parse(&text, target).map_err(|e| format!("{}: {e}", path.display()))
}

pub fn parse(text: &str, target: Option<&str>) -> Result<Vec<Entry>, String> {
    let file: File = toml::from_str(text).map_err(|e| e.to_string())?;
    if file.migration.is_empty() {
        return Err("no [[migration]] entries".into());
    }
    let mut seen = HashSet::new();
    file.migration
        .into_iter()
        .enumerate()
        .map(|(n, mut entry)| {
            let at = format!("migration[{n}]");
            if entry.host.trim().is_empty() || entry.database.is_empty() {
                return Err(format!("{at}: host and database must not be empty"));
            }
            entry.target = match (entry.target.take(), target) {
                (Some(own), _) if !own.trim().is_empty() => Some(own),
                (_, Some(default)) => Some(default.to_string()),
                _ => {
                    return Err(format!(
                        "{at}: no target: give target = \"...\" or --target"
                    ))
                }
            };
            let key = (
                entry.host.to_lowercase(),
                entry.instance.clone().unwrap_or_default().to_lowercase(),
                entry.database.clone(),
            );
            if !seen.insert(key) {
                return Err(format!(
                    "{at}: {} on {} is listed twice (a database has one link)",
                    entry.database, entry.host
                ));
            }
            Ok(entry)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_take_the_default_target_and_keep_their_own() {
        let entries = parse(
            "[[migration]]\nhost = \"a\"\ndatabase = \"Sales\"\n\
             [[migration]]\nhost = \"b\"\ndatabase = \"x]; --\"\ninstance = \"i\"\nlink_name = \"DAG_x\"\ntarget = \"mi-2\"\n",
            Some("mi-1"),
        )
        .unwrap();
        assert_eq!(entries[0].target.as_deref(), Some("mi-1"));
        assert_eq!(entries[1].target.as_deref(), Some("mi-2"));
        assert_eq!(entries[1].database, "x]; --");
        assert_eq!(entries[1].link_name.as_deref(), Some("DAG_x"));
    }

    #[test]
    fn mistakes_are_named_before_anything_starts() {
        let err = |text: &str, target| parse(text, target).unwrap_err();
        assert!(err("", Some("mi")).contains("no [[migration]]"));
        assert!(err("[[migration]]\nhost = \"a\"\ndatabase = \"d\"\n", None)
            .contains("migration[0]: no target"));
        assert!(
            err("[[migration]]\nhost = \"a\"\ndatbase = \"d\"\n", Some("mi")).contains("datbase")
        );
        assert!(
            err("[[migration]]\nhost = \"a\"\ndatabase = \"\"\n", Some("mi"))
                .contains("must not be empty")
        );
        let twice = "[[migration]]\nhost = \"a\"\ndatabase = \"d\"\n[[migration]]\nhost = \"A\"\ndatabase = \"d\"\n";
        assert!(err(twice, Some("mi")).contains("migration[1]: d on A is listed twice"));
    }
}
