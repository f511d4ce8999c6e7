//! Readiness checks: one file per check, each a stable id, a scope, a severity, a title,
//! a remedy and a pure function of the [`facts`] the agent read from one instance. The
//! page `docs/checks/<ID>.md` explains each one. [`REGISTRY`] lists them all; [`run`]
//! evaluates them.
//!
//! A check whose facts could not be read reports Unknown with the cause, never a pass.
//!
//! - [`facts`]: what the checks look at (read by `sql::assessment`).
//! - Instance checks: `version`, `sql2022_updates`, `edition`, `hadr`, `clustered`,
//!   `servicing_update`, `master_key`, `trace_flags_recommended`,
//!   `trace_flags_unsupported`, `mirroring_endpoint`, `collation`, `database_count`, `instance_size`,
//!   `windows_logins`, `xp_cmdshell`, `linked_servers`, `jobs/` (one file per job-step
//!   check), `server_triggers`.
//! - Database checks: `database_state`, `recovery_model`, `full_backup`,
//!   `multiple_log_files`, `filestream`, `in_memory_tier`, `in_memory_files`, `tde`,
//!   `database_size`, `availability_group`, `compatibility_level`, `accelerated_recovery`,
//!   `service_broker`, `clr_assemblies`, `cross_database`, `distributed/` (one file
//!   per kind of distributed-transaction partner).
//! - [`tsql_words`]: the words of module text outside comments and strings.

pub mod facts;

mod accelerated_recovery;
mod availability_group;
mod clr_assemblies;
mod clustered;
mod collation;
mod compatibility_level;
mod cross_database;
mod database_count;
mod database_size;
mod database_state;
mod distributed;
mod edition;
mod filestream;
mod full_backup;
mod hadr;
mod in_memory_files;
mod in_memory_tier;
mod instance_size;
mod jobs;
mod linked_servers;
mod master_key;
pub mod mirroring_endpoint;
mod multiple_log_files;
mod recovery_model;
mod server_triggers;
mod service_broker;
mod servicing_update;
mod sql2022_updates;
mod tde;
mod trace_flags_recommended;
mod trace_flags_unsupported;
mod tsql_words;
mod version;
mod windows_logins;
mod xp_cmdshell;

use facts::{Facts, Missing};

pub use ferry_proto::assessment::{Scope, Severity};

/// A check of what was read from one instance: the assessment's checks look at
/// [`Facts`], the connection test's (`crate::network`) at what its probes observed.
pub struct Check<F: 'static = Facts> {
    /// Stable; the page is `docs/checks/<id>.md`.
    pub id: &'static str,
    pub scope: Scope,
    pub severity: Severity,
    pub title: &'static str,
    pub remedy: &'static str,
    pub evaluate: fn(&F) -> Result<Vec<Hit>, Missing>,
}

/// One thing a check found: where, what, the values it saw and the objects affected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hit {
    /// None for the instance as a whole.
    pub database: Option<String>,
    pub message: String,
    pub evidence: Vec<(String, String)>,
    pub objects: Vec<String>,
}

/// Affected objects listed per hit, at most; the message says how many there were.
pub const MAX_OBJECTS: usize = 100;

impl Hit {
    pub fn instance(message: impl Into<String>) -> Hit {
        Hit {
            database: None,
            message: message.into(),
            evidence: Vec::new(),
            objects: Vec::new(),
        }
    }

    pub fn database(database: &str, message: impl Into<String>) -> Hit {
        Hit {
            database: Some(database.to_string()),
            ..Hit::instance(message)
        }
    }

    pub fn evidence(mut self, key: &str, value: impl ToString) -> Hit {
        self.evidence.push((key.to_string(), value.to_string()));
        self
    }

    pub fn objects(mut self, objects: impl IntoIterator<Item = String>) -> Hit {
        self.objects = objects.into_iter().take(MAX_OBJECTS).collect();
        self
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    Passed,
    Found(Vec<Hit>),
    Unknown(String),
}

pub struct Outcome<F: 'static = Facts> {
    pub check: &'static Check<F>,
    pub status: Status,
}

/// Every check, in the order reports list them.
pub static REGISTRY: &[&Check] = &[
    &version::CHECK,
    &sql2022_updates::CHECK,
    &edition::CHECK,
    &hadr::CHECK,
    &clustered::CHECK,
    &servicing_update::CHECK,
    &master_key::CHECK,
    &trace_flags_recommended::CHECK,
    &trace_flags_unsupported::CHECK,
    &mirroring_endpoint::CHECK,
    &collation::CHECK,
    &database_count::CHECK,
    &instance_size::CHECK,
    &windows_logins::CHECK,
    &xp_cmdshell::CHECK,
    &linked_servers::CHECK,
    &jobs::powershell::CHECK,
    &jobs::cmdexec::CHECK,
    &jobs::analysis_services::CHECK,
    &jobs::replication::CHECK,
    &jobs::tsql::CHECK,
    &server_triggers::CHECK,
    &database_state::CHECK,
    &recovery_model::CHECK,
    &full_backup::CHECK,
    &multiple_log_files::CHECK,
    &filestream::CHECK,
    &in_memory_tier::CHECK,
    &in_memory_files::CHECK,
    &tde::CHECK,
    &database_size::CHECK,
    &availability_group::CHECK,
    &compatibility_level::CHECK,
    &accelerated_recovery::CHECK,
    &service_broker::CHECK,
    &clr_assemblies::CHECK,
    &cross_database::CHECK,
    &distributed::sql_partners::CHECK,
    &distributed::other_partners::CHECK,
];

/// Evaluates every check against one instance's facts.
pub fn run(facts: &Facts) -> Vec<Outcome> {
    evaluate(REGISTRY, facts)
}

/// Asserts that every check of `registry` has a unique upper-case id starting with
/// `prefix` and a page `docs/checks/<ID>.md` titled with it.
#[cfg(test)]
pub fn assert_documented<F>(registry: &[&Check<F>], prefix: &str) {
    let docs = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/checks");
    let mut seen = std::collections::HashSet::new();
    for check in registry {
        assert!(seen.insert(check.id), "{} twice", check.id);
        assert!(
            check.id.starts_with(prefix) && check.id == check.id.to_ascii_uppercase(),
            "{}",
            check.id
        );
        let page = std::fs::read_to_string(docs.join(format!("{}.md", check.id)))
            .unwrap_or_else(|e| panic!("docs/checks/{}.md: {e}", check.id));
        assert!(page.starts_with(&format!("# {}", check.id)), "{}", check.id);
    }
}

/// Evaluates every check of `registry` against `facts`, in the registry's order.
pub fn evaluate<F>(registry: &'static [&'static Check<F>], facts: &F) -> Vec<Outcome<F>> {
    registry
        .iter()
        .map(|check| Outcome {
            check,
            status: match (check.evaluate)(facts) {
                Ok(hits) if hits.is_empty() => Status::Passed,
                Ok(hits) => Status::Found(hits),
                Err(Missing(why)) => Status::Unknown(why),
            },
        })
        .collect()
}

/// One hit per online database with filegroups of `kind` (`FD`, `FX`), made by `hit`
/// from the database's name and its filegroups' names.
fn filegroups_of_kind(
    facts: &Facts,
    kind: &str,
    hit: impl Fn(&str, &[String]) -> Hit,
) -> Result<Vec<Hit>, Missing> {
    let groups = facts::got(&facts.filegroups)?;
    let mut hits = Vec::new();
    for database in facts::got(&facts.databases)?.iter().filter(|d| d.online()) {
        let names: Vec<String> = groups
            .iter()
            .filter(|g| g.database == database.name && g.kind == kind)
            .map(|g| g.name.clone())
            .collect();
        if !names.is_empty() {
            hits.push(
                hit(&database.name, &names)
                    .evidence("filegroup_type", kind)
                    .objects(names.iter().map(|n| format!("filegroup {n}"))),
            );
        }
    }
    Ok(hits)
}

/// `items` named, for a message: "a, b and 3 more".
pub fn listed(items: &[String], at_most: usize) -> String {
    let shown = items
        .iter()
        .take(at_most)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    match items.len().saturating_sub(at_most) {
        0 => shown,
        more => format!("{shown} and {more} more"),
    }
}

/// Sizes for messages: "1.5 TiB".
pub fn bytes(n: i64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
pub(crate) mod fixture;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_and_documented() {
        assert_documented(REGISTRY, "MI-");
    }

    #[test]
    fn a_ready_instance_passes_every_check_but_advice() {
        let facts = fixture::ready();
        for outcome in run(&facts) {
            match outcome.status {
                Status::Passed => {}
                Status::Found(_) if outcome.check.severity == Severity::Info => {}
                other => panic!("{}: {other:?}", outcome.check.id),
            }
        }
    }

    #[test]
    fn a_missing_fact_is_unknown_with_its_cause() {
        let facts =
            Facts::all_missing("SQL Server error 300: VIEW SERVER STATE permission was denied");
        for outcome in run(&facts) {
            assert_eq!(
                outcome.status,
                Status::Unknown(
                    "SQL Server error 300: VIEW SERVER STATE permission was denied".into()
                ),
                "{}",
                outcome.check.id
            );
        }
    }

    #[test]
    fn sizes_and_lists_read_well() {
        assert_eq!(bytes(512), "512 B");
        assert_eq!(bytes(3 << 40), "3.0 TiB");
        let items: Vec<String> = ["a", "b", "c", "d"].map(String::from).to_vec();
        assert_eq!(listed(&items, 2), "a, b and 2 more");
        assert_eq!(listed(&items, 5), "a, b, c, d");
    }
}
