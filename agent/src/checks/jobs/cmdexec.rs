//! MI-JOB-CMDEXEC: Agent jobs have no operating-system (CmdExec) steps (mi-link.md §6.2).

use super::super::facts::{Facts, Missing};
use super::super::{Check, Hit, Scope, Severity};

pub const CHECK: Check = Check {
    id: "MI-JOB-CMDEXEC",
    scope: Scope::Instance,
    severity: Severity::Warning,
    title: "Agent jobs have no operating-system (CmdExec) steps",
    remedy: "Move each command to Azure Automation or a VM scheduler; a managed instance has no operating system to run it on.",
    evaluate,
};

fn evaluate(facts: &Facts) -> Result<Vec<Hit>, Missing> {
    super::hits(
        facts,
        "operating-system (CmdExec) job step(s), which a managed instance's Agent cannot run",
        |s| super::subsystem_is(s, &["CmdExec"]),
    )
}

#[cfg(test)]
mod tests {
    use super::super::super::fixture::{found, ready};
    use super::*;

    #[test]
    fn matching_steps_are_flagged() {
        let mut facts = ready();
        facts.job_steps = Ok(vec![super::super::step("TSQL", "SELECT 1")]);
        assert!(found(&CHECK, &facts).is_empty());
        facts.job_steps = Ok(vec![super::super::step("CmdExec", "x")]);
        assert_eq!(found(&CHECK, &facts), ["instance"]);
    }
}
