//! MI-FILESTREAM: FILESTREAM filegroups and FileTables cannot be replicated to a managed
//! instance (mi-link.md §1.3 and §6.2 FileStream).

use super::facts::{Facts, Missing};
use super::{Check, Hit, Scope, Severity};

pub const CHECK: Check = Check {
    id: "MI-FILESTREAM",
    scope: Scope::Database,
    severity: Severity::Blocker,
    title: "The database has no FILESTREAM filegroup",
    remedy: "Move FILESTREAM and FileTable data to Azure Blob Storage (keep a path or URL in the table), remove the FILESTREAM filegroup, and assess again.",
    evaluate,
};

fn evaluate(facts: &Facts) -> Result<Vec<Hit>, Missing> {
    super::filegroups_of_kind(facts, "FD", |database, groups| {
        Hit::database(
            database,
            format!("FILESTREAM filegroup(s): {}", groups.join(", ")),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::super::facts::Filegroup;
    use super::super::fixture::{found, ready};
    use super::*;

    #[test]
    fn a_filestream_filegroup_is_blocked() {
        let mut facts = ready();
        assert!(found(&CHECK, &facts).is_empty());
        facts.filegroups = Ok(vec![Filegroup {
            database: "Sales".into(),
            name: "Docs".into(),
            kind: "FD".into(),
            files: 1,
        }]);
        assert_eq!(found(&CHECK, &facts), ["Sales"]);
    }
}
