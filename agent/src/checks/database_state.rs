//! MI-DB-NOT-ONLINE: a database must be ONLINE to be seeded to the managed instance.

use super::facts::{got, Facts, Missing};
use super::{Check, Hit, Scope, Severity};

pub const CHECK: Check = Check {
    id: "MI-DB-NOT-ONLINE",
    scope: Scope::Database,
    severity: Severity::Blocker,
    title: "The database is online",
    remedy: "Bring the database ONLINE (ALTER DATABASE ... SET ONLINE, or finish its restore or recovery) and assess again; its other checks could not run either.",
    evaluate,
};

fn evaluate(facts: &Facts) -> Result<Vec<Hit>, Missing> {
    Ok(got(&facts.databases)?
        .iter()
        .filter(|d| !d.online())
        .map(|d| {
            Hit::database(&d.name, format!("the database is {}", d.state))
                .evidence("state", &d.state)
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::super::fixture::{found, ready, sales};
    use super::*;

    #[test]
    fn an_offline_database_is_blocked() {
        let mut facts = ready();
        assert!(found(&CHECK, &facts).is_empty());
        sales(&mut facts).state = "OFFLINE".into();
        assert_eq!(found(&CHECK, &facts), ["Sales"]);
    }
}
