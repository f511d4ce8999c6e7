//! MI-LINK-RECOVERY-MODEL: the link replicates the log, so the database must be in the
//! FULL recovery model (mi-link.md §1.3).

use super::facts::{got, Facts, Missing};
use super::{Check, Hit, Scope, Severity};

pub const CHECK: Check = Check {
    id: "MI-LINK-RECOVERY-MODEL",
    scope: Scope::Database,
    severity: Severity::Blocker,
    title: "The database uses the FULL recovery model",
    remedy: "ALTER DATABASE [<db>] SET RECOVERY FULL; then take a full backup (not COPY_ONLY) to start the log chain, and schedule log backups.",
    evaluate,
};

fn evaluate(facts: &Facts) -> Result<Vec<Hit>, Missing> {
    Ok(got(&facts.databases)?
        .iter()
        .filter(|d| d.recovery_model != "FULL")
        .map(|d| {
            Hit::database(
                &d.name,
                format!("recovery model is {}, not FULL", d.recovery_model),
            )
            .evidence("recovery_model", &d.recovery_model)
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::super::fixture::{found, ready, sales};
    use super::*;

    #[test]
    fn simple_recovery_is_blocked() {
        let mut facts = ready();
        assert!(found(&CHECK, &facts).is_empty());
        sales(&mut facts).recovery_model = "SIMPLE".into();
        assert_eq!(found(&CHECK, &facts), ["Sales"]);
    }
}
