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
