//! MI-XP-CMDSHELL: xp_cmdshell does not exist on a managed instance (mi-link.md §6.2
//! XpCmdshell; Arc records it as a warning).

use super::facts::{got, Facts, Missing};
use super::{Check, Hit, Scope, Severity};

pub const CHECK: Check = Check {
    id: "MI-XP-CMDSHELL",
    scope: Scope::Instance,
    severity: Severity::Warning,
    title: "xp_cmdshell is not enabled",
    remedy: "Find the code that calls xp_cmdshell (procedures, Agent jobs) and move that work out of the database (Azure Automation, Functions, or an Agent job on a VM); then disable it with sp_configure 'xp_cmdshell', 0.",
    evaluate,
};

fn evaluate(facts: &Facts) -> Result<Vec<Hit>, Missing> {
    let enabled = got(&facts.configurations)?
        .iter()
        .any(|(name, value)| name == "xp_cmdshell" && *value != 0);
    if !enabled {
        return Ok(Vec::new());
    }
    Ok(vec![Hit::instance(
        "xp_cmdshell is enabled; code that uses it will fail on the managed instance",
    )
    .evidence("xp_cmdshell.value_in_use", 1)])
}

#[cfg(test)]
mod tests {
    use super::super::fixture::{found, ready};
    use super::*;

    #[test]
    fn enabled_is_flagged() {
        let mut facts = ready();
        assert!(found(&CHECK, &facts).is_empty());
        facts.configurations = Ok(vec![("xp_cmdshell".into(), 1)]);
        assert_eq!(found(&CHECK, &facts), ["instance"]);
    }
}
