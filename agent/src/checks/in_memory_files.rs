//! MI-INMEMORY-FILES: a database with more than one memory-optimised container cannot be
//! replicated by the link (mi-link.md §1.3).

use super::facts::{got, Facts, Missing};
use super::{Check, Hit, Scope, Severity};

pub const CHECK: Check = Check {
    id: "MI-INMEMORY-FILES",
    scope: Scope::Database,
    severity: Severity::Blocker,
    title: "At most one memory-optimised container",
    remedy: "Rebuild the memory-optimised filegroup with a single container (a new database or filegroup, moving the tables), or migrate the database with backup and restore instead of the link.",
    evaluate,
};

fn evaluate(facts: &Facts) -> Result<Vec<Hit>, Missing> {
    let groups = got(&facts.filegroups)?;
    let mut hits: Vec<Hit> = Vec::new();
    for database in got(&facts.databases)?.iter().filter(|d| d.online()) {
        let containers: i32 = groups
            .iter()
            .filter(|g| g.database == database.name && g.kind == "FX")
            .map(|g| g.files)
            .sum();
        if containers > 1 {
            hits.push(
                Hit::database(
                    &database.name,
                    format!(
                        "{containers} memory-optimised containers; the link replicates at most one"
                    ),
                )
                .evidence("memory_optimized_containers", containers),
            );
        }
    }
    Ok(hits)
}

#[cfg(test)]
mod tests {
    use super::super::facts::Filegroup;
    use super::super::fixture::{found, ready};
    use super::*;

    #[test]
    fn two_containers_are_blocked() {
        let mut facts = ready();
        let group = |files| Filegroup {
            database: "Sales".into(),
            name: "Hot".into(),
            kind: "FX".into(),
            files,
        };
        facts.filegroups = Ok(vec![group(1)]);
        assert!(found(&CHECK, &facts).is_empty());
        facts.filegroups = Ok(vec![group(2)]);
        assert_eq!(found(&CHECK, &facts), ["Sales"]);
    }
}
