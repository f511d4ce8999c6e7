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
