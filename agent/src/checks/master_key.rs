//! MI-LINK-MASTER-KEY: the link's endpoint certificate needs a database master key in
//! master (mi-link.md §1.2 item 3).

use super::facts::{got, Facts, Missing};
use super::{Check, Hit, Scope, Severity};

pub const CHECK: Check = Check {
    id: "MI-LINK-MASTER-KEY",
    scope: Scope::Instance,
    severity: Severity::Info,
    title: "A database master key exists in master",
    remedy: "Ferry creates one when it sets up the link. To create it yourself: USE master; CREATE MASTER KEY ENCRYPTION BY PASSWORD = '<strong password>'; and back it up.",
    evaluate,
};

fn evaluate(facts: &Facts) -> Result<Vec<Hit>, Missing> {
    if *got(&facts.master_key)? {
        return Ok(Vec::new());
    }
    Ok(vec![Hit::instance(
        "master has no database master key (symmetric_key_id 101); the link set-up will create one",
    )])
}

#[cfg(test)]
mod tests {
    use super::super::fixture::{found, ready};
    use super::*;

    #[test]
    fn a_missing_key_is_advice() {
        let mut facts = ready();
        assert!(found(&CHECK, &facts).is_empty());
        facts.master_key = Ok(false);
        assert_eq!(found(&CHECK, &facts), ["instance"]);
    }
}
