//! MI-ADR-OFF: accelerated database recovery that is off on the source cannot be turned
//! on after the migration (mi-link.md §1.3).

use super::facts::{got, Facts, Missing};
use super::{Check, Hit, Scope, Severity};

pub const CHECK: Check = Check {
    id: "MI-ADR-OFF",
    scope: Scope::Database,
    severity: Severity::Info,
    title: "Accelerated database recovery is on (SQL Server 2019 and later)",
    remedy: "If you want accelerated database recovery on the managed instance, turn it on before the migration: ALTER DATABASE [<db>] SET ACCELERATED_DATABASE_RECOVERY = ON.",
    evaluate,
};

fn evaluate(facts: &Facts) -> Result<Vec<Hit>, Missing> {
    Ok(got(&facts.databases)?
        .iter()
        .filter(|d| d.accelerated_recovery == Some(false))
        .map(|d| {
            Hit::database(
                &d.name,
                "accelerated database recovery is off and cannot be turned on after the migration",
            )
            .evidence("is_accelerated_database_recovery_on", 0)
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::super::fixture::{found, ready, sales};
    use super::*;

    #[test]
    fn off_is_advice_and_absent_is_silent() {
        let mut facts = ready();
        sales(&mut facts).accelerated_recovery = Some(false);
        assert_eq!(found(&CHECK, &facts), ["Sales"]);
        sales(&mut facts).accelerated_recovery = None;
        assert!(found(&CHECK, &facts).is_empty());
    }
}
