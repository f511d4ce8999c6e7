//! MI-JOB-TSQL: T-SQL job steps that use commands a managed instance does not support
//! (mi-link.md §6.2 TransactSqlJob).

use super::super::facts::{Facts, Missing};
use super::super::{Check, Hit, Scope, Severity};

pub const CHECK: Check = Check {
    id: "MI-JOB-TSQL",
    scope: Scope::Instance,
    severity: Severity::Warning,
    title: "T-SQL job steps use only commands the managed instance supports",
    remedy: "Rewrite the flagged steps: back up TO URL (or rely on the MI's automatic backups), read files from Azure Blob Storage (BULK INSERT / OPENROWSET with DATA_SOURCE), and drop xp_cmdshell calls.",
    evaluate,
};

/// Fragments (upper case, single-spaced) of commands a managed instance refuses.
const UNSUPPORTED: [&str; 6] = [
    "XP_CMDSHELL",
    "TO DISK",
    "FROM DISK",
    "BULK INSERT",
    "OPENROWSET(BULK",
    "SHUTDOWN",
];

fn evaluate(facts: &Facts) -> Result<Vec<Hit>, Missing> {
    super::hits(
        facts,
        "T-SQL job step(s) with commands the managed instance does not support",
        |s| {
            if !super::subsystem_is(s, &["TSQL"]) {
                return false;
            }
            let text = s
                .command
                .to_ascii_uppercase()
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
                .replace("OPENROWSET (", "OPENROWSET(");
            UNSUPPORTED.iter().any(|u| text.contains(u))
        },
    )
}

#[cfg(test)]
mod tests {
    use super::super::super::fixture::{found, ready};
    use super::super::step;
    use super::*;

    #[test]
    fn backups_to_disk_are_flagged() {
        let mut facts = ready();
        facts.job_steps = Ok(vec![step("TSQL", "EXEC dbo.purge_old_rows")]);
        assert!(found(&CHECK, &facts).is_empty());
        facts.job_steps = Ok(vec![step(
            "TSQL",
            "BACKUP DATABASE Sales TO  disk = 'D:\\b.bak'",
        )]);
        assert_eq!(found(&CHECK, &facts), ["instance"]);
    }
}
