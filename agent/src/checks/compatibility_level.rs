//! MI-COMPAT-LEVEL: compatibility levels below 100 are raised to 100 on the managed
//! instance (mi-link.md §6.2 DbCompatLevelLowerThan100).

use super::facts::{got, Facts, Missing};
use super::{Check, Hit, Scope, Severity};

pub const CHECK: Check = Check {
    id: "MI-COMPAT-LEVEL",
    scope: Scope::Database,
    severity: Severity::Warning,
    title: "Compatibility level is 100 or higher",
    remedy: "Test the application at compatibility level 100 or later (ALTER DATABASE [<db>] SET COMPATIBILITY_LEVEL = 100) before the migration; the MI raises it anyway.",
    evaluate,
};

fn evaluate(facts: &Facts) -> Result<Vec<Hit>, Missing> {
    Ok(got(&facts.databases)?
        .iter()
        .filter(|d| d.compatibility_level < 100)
        .map(|d| {
            Hit::database(
                &d.name,
                format!(
                    "compatibility level {} will be raised to 100",
                    d.compatibility_level
                ),
            )
            .evidence("compatibility_level", d.compatibility_level)
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::super::fixture::{found, ready, sales};
    use super::*;

    #[test]
    fn level_ninety_is_flagged() {
        let mut facts = ready();
        assert!(found(&CHECK, &facts).is_empty());
        sales(&mut facts).compatibility_level = 90;
        assert_eq!(found(&CHECK, &facts), ["Sales"]);
    }
}
