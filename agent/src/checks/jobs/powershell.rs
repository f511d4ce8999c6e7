//! MI-JOB-POWERSHELL: Agent jobs have no PowerShell steps (mi-link.md §6.2).

use super::super::facts::{Facts, Missing};
use super::super::{Check, Hit, Scope, Severity};

pub const CHECK: Check = Check {
    id: "MI-JOB-POWERSHELL",
    scope: Scope::Instance,
    severity: Severity::Warning,
    title: "Agent jobs have no PowerShell steps",
    remedy: "Rewrite each step as T-SQL, or run the script from Azure Automation or a VM that connects to the managed instance.",
    evaluate,
};

fn evaluate(facts: &Facts) -> Result<Vec<Hit>, Missing> {
    super::hits(
        facts,
        "PowerShell job step(s), which a managed instance's Agent cannot run",
        |s| super::subsystem_is(s, &["PowerShell"]),
    )
}
