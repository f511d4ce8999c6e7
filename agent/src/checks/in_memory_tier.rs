//! MI-INMEMORY-TIER: memory-optimised (In-Memory OLTP) data needs a Business Critical
//! managed instance; General Purpose has none (mi-link.md §1.3).

use super::facts::{Facts, Missing};
use super::{Check, Hit, Scope, Severity};

pub const CHECK: Check = Check {
    id: "MI-INMEMORY-TIER",
    scope: Scope::Database,
    severity: Severity::Warning,
    title: "No memory-optimised filegroup, or the target is Business Critical",
    remedy: "Choose a Business Critical managed instance with enough memory for the memory-optimised tables (the SKU recommendation does), or move the tables to disk-based tables before migrating to General Purpose.",
    evaluate,
};

fn evaluate(facts: &Facts) -> Result<Vec<Hit>, Missing> {
    super::filegroups_of_kind(facts, "FX", |database, groups| {
        Hit::database(
            database,
            format!(
                "memory-optimised filegroup {}: the target must be Business Critical",
                groups.join(", ")
            ),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::super::facts::Filegroup;
    use super::super::fixture::{found, ready};
    use super::*;

    #[test]
    fn a_memory_optimised_filegroup_is_flagged() {
        let mut facts = ready();
        assert!(found(&CHECK, &facts).is_empty());
        facts.filegroups = Ok(vec![Filegroup {
            database: "Sales".into(),
            name: "Hot".into(),
            kind: "FX".into(),
            files: 1,
        }]);
        assert_eq!(found(&CHECK, &facts), ["Sales"]);
    }
}
