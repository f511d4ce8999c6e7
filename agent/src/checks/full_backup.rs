//! MI-LINK-FULL-BACKUP: the link needs a full backup that is not COPY_ONLY, which
//! starts the log chain (mi-link.md §1.3; error 1475 otherwise).

use super::facts::{got, Facts, Missing};
use super::{Check, Hit, Scope, Severity};

pub const CHECK: Check = Check {
    id: "MI-LINK-FULL-BACKUP",
    scope: Scope::Database,
    severity: Severity::Blocker,
    title: "The database has a full backup that is not COPY_ONLY",
    remedy: "BACKUP DATABASE [<db>] TO <your backup target> (without COPY_ONLY), after the database is in the FULL recovery model.",
    evaluate,
};

fn evaluate(facts: &Facts) -> Result<Vec<Hit>, Missing> {
    let databases = got(&facts.databases)?;
    let history = got(&facts.backups)?;
    Ok(databases
        .iter()
        .filter_map(|d| {
            let seen = history.iter().find(|h| h.database == d.name);
            if seen.is_some_and(|h| h.last_full.is_some()) {
                return None;
            }
            let copy_only = seen.map_or(0, |h| h.copy_only_fulls);
            let message = if copy_only > 0 {
                format!("only COPY_ONLY full backups ({copy_only}); they do not start a log chain")
            } else {
                "no full backup in msdb's backup history".to_string()
            };
            Some(
                Hit::database(&d.name, message)
                    .evidence("last_full_backup", "none")
                    .evidence("copy_only_full_backups", copy_only),
            )
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::super::facts::BackupHistory;
    use super::super::fixture::{found, ready};
    use super::*;

    #[test]
    fn copy_only_or_no_backup_is_blocked() {
        let mut facts = ready();
        assert!(found(&CHECK, &facts).is_empty());
        facts.backups = Ok(vec![BackupHistory {
            database: "Sales".into(),
            last_full: None,
            copy_only_fulls: 2,
        }]);
        let hits = (CHECK.evaluate)(&facts).unwrap();
        assert!(hits[0].message.contains("COPY_ONLY"), "{hits:?}");
        facts.backups = Ok(vec![]);
        assert_eq!(found(&CHECK, &facts), ["Sales"]);
    }
}
