//! MI-SERVER-TRIGGERS: server-level triggers are not carried by the link.

use super::facts::{got, Facts, Missing};
use super::{listed, Check, Hit, Scope, Severity};

pub const CHECK: Check = Check {
    id: "MI-SERVER-TRIGGERS",
    scope: Scope::Instance,
    severity: Severity::Warning,
    title: "No server-level triggers",
    remedy: "Script each server trigger (and the logins or audit tables it uses) and create it on the managed instance after cutover; the link replicates databases, not server objects.",
    evaluate,
};

fn evaluate(facts: &Facts) -> Result<Vec<Hit>, Missing> {
    let names = got(&facts.server_triggers)?;
    if names.is_empty() {
        return Ok(Vec::new());
    }
    Ok(vec![Hit::instance(format!(
        "server-level triggers to recreate on the MI: {}",
        listed(names, 5)
    ))
    .objects(names.iter().map(|n| format!("server trigger {n}")))])
}

#[cfg(test)]
mod tests {
    use super::super::fixture::{found, ready};
    use super::*;

    #[test]
    fn a_trigger_is_flagged() {
        let mut facts = ready();
        assert!(found(&CHECK, &facts).is_empty());
        facts.server_triggers = Ok(vec!["audit_logons".into()]);
        assert_eq!(found(&CHECK, &facts), ["instance"]);
    }
}
