//! MI-JOB-REPLICATION: Agent jobs have no merge or queue reader replication steps (mi-link.md §6.2).

use super::super::facts::{Facts, Missing};
use super::super::{Check, Hit, Scope, Severity};

pub const CHECK: Check = Check {
    id: "MI-JOB-REPLICATION",
    scope: Scope::Instance,
    severity: Severity::Warning,
    title: "Agent jobs have no merge or queue reader replication steps",
    remedy: "Reconfigure replication after the migration; a managed instance supports transactional and snapshot replication only (no merge agents or queued updating).",
    evaluate,
};

fn evaluate(facts: &Facts) -> Result<Vec<Hit>, Missing> {
    super::hits(
        facts,
        "merge or queue reader replication job step(s), which a managed instance does not support",
        |s| super::subsystem_is(s, &["Merge", "QueueReader"]),
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
        facts.job_steps = Ok(vec![super::super::step("Merge", "x")]);
        assert_eq!(found(&CHECK, &facts), ["instance"]);
    }
}
