//! MI-JOB-ANALYSIS-SERVICES: Agent jobs have no Analysis Services steps (mi-link.md §6.2).

use super::super::facts::{Facts, Missing};
use super::super::{Check, Hit, Scope, Severity};

pub const CHECK: Check = Check {
    id: "MI-JOB-ANALYSIS-SERVICES",
    scope: Scope::Instance,
    severity: Severity::Warning,
    title: "Agent jobs have no Analysis Services steps",
    remedy: "Run Analysis Services commands and queries from the Analysis Services host or Azure Analysis Services automation instead.",
    evaluate,
};

fn evaluate(facts: &Facts) -> Result<Vec<Hit>, Missing> {
    super::hits(
        facts,
        "Analysis Services job step(s), which a managed instance's Agent cannot run",
        |s| super::subsystem_is(s, &["ANALYSISCOMMAND", "ANALYSISQUERY"]),
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
        facts.job_steps = Ok(vec![super::super::step("ANALYSISCOMMAND", "x")]);
        assert_eq!(found(&CHECK, &facts), ["instance"]);
    }
}
