//! MI-SERVICE-BROKER-OFF: Service Broker that is off on the source cannot be used on the
//! managed instance after the migration (mi-link.md §1.3).

use super::facts::{got, Facts, Missing};
use super::{Check, Hit, Scope, Severity};

pub const CHECK: Check = Check {
    id: "MI-SERVICE-BROKER-OFF",
    scope: Scope::Database,
    severity: Severity::Info,
    title: "Service Broker is enabled, if the application needs it",
    remedy: "If the application uses Service Broker, enable it before the migration: ALTER DATABASE [<db>] SET ENABLE_BROKER. Routes to other instances must be reconfigured after cutover.",
    evaluate,
};

fn evaluate(facts: &Facts) -> Result<Vec<Hit>, Missing> {
    Ok(got(&facts.databases)?
        .iter()
        .filter(|d| !d.broker_enabled)
        .map(|d| {
            Hit::database(
                &d.name,
                "Service Broker is disabled and cannot be enabled after the migration",
            )
            .evidence("is_broker_enabled", 0)
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::super::fixture::{found, ready, sales};
    use super::*;

    #[test]
    fn disabled_broker_is_advice() {
        let mut facts = ready();
        assert!(found(&CHECK, &facts).is_empty());
        sales(&mut facts).broker_enabled = false;
        assert_eq!(found(&CHECK, &facts), ["Sales"]);
    }
}
