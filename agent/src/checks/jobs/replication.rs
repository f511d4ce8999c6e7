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
