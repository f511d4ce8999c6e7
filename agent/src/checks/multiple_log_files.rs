//! MI-MULTIPLE-LOG-FILES: a managed instance supports one log file per database
//! (mi-link.md §1.3 and §6.2 MultipleLogFiles).

use super::facts::{got, Facts, Missing};
use super::{Check, Hit, Scope, Severity};

pub const CHECK: Check = Check {
    id: "MI-MULTIPLE-LOG-FILES",
    scope: Scope::Database,
    severity: Severity::Blocker,
    title: "The database has one log file",
    remedy: "Empty and remove the extra log files: back up the log until the extra file is inactive, then ALTER DATABASE [<db>] REMOVE FILE [<logical name>].",
    evaluate,
};

fn evaluate(facts: &Facts) -> Result<Vec<Hit>, Missing> {
    Ok(got(&facts.databases)?
        .iter()
        .filter(|d| d.log_files > 1)
        .map(|d| {
            Hit::database(
                &d.name,
                format!("{} log files; the MI allows one", d.log_files),
            )
            .evidence("log_files", d.log_files)
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::super::fixture::{found, ready, sales};
    use super::*;

    #[test]
    fn two_log_files_are_blocked() {
        let mut facts = ready();
        assert!(found(&CHECK, &facts).is_empty());
        sales(&mut facts).log_files = 2;
        assert_eq!(found(&CHECK, &facts), ["Sales"]);
    }
}
