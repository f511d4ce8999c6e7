//! SQL Server Agent job steps the managed instance's Agent cannot run (mi-link.md §6.2:
//! PowerShellJob, AnalysisCommandJob, AnalysisQueryJob, MergeJob, QueueReaderJob,
//! TransactSqlJob). One check per file; they share [`hits`].
//!
//! - `powershell`, `cmdexec`, `analysis_services`, `replication`, `tsql`.

pub mod analysis_services;
pub mod cmdexec;
pub mod powershell;
pub mod replication;
pub mod tsql;

use super::facts::{got, Facts, JobStep, Missing};
use super::{listed, Hit};

/// One hit naming every step `matches` picks, or none.
fn hits(
    facts: &Facts,
    what: &str,
    matches: impl Fn(&JobStep) -> bool,
) -> Result<Vec<Hit>, Missing> {
    let steps: Vec<&JobStep> = got(&facts.job_steps)?
        .iter()
        .filter(|s| matches(s))
        .collect();
    if steps.is_empty() {
        return Ok(Vec::new());
    }
    let names: Vec<String> = steps
        .iter()
        .map(|s| format!("{} / {}", s.job, s.step))
        .collect();
    Ok(vec![Hit::instance(format!(
        "{} {what}: {}",
        steps.len(),
        listed(&names, 5)
    ))
    .evidence("subsystems", {
        let mut kinds: Vec<&str> = steps.iter().map(|s| s.subsystem.as_str()).collect();
        kinds.sort_unstable();
        kinds.dedup();
        kinds.join(", ")
    })
    .objects(names.into_iter().map(|n| format!("job step {n}")))])
}

fn subsystem_is(step: &JobStep, names: &[&str]) -> bool {
    names.iter().any(|n| step.subsystem.eq_ignore_ascii_case(n))
}

#[cfg(test)]
fn step(subsystem: &str, command: &str) -> JobStep {
    JobStep {
        job: "Nightly".into(),
        step: "1".into(),
        subsystem: subsystem.into(),
        command: command.into(),
        job_enabled: true,
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixture::{found, ready};
    use super::*;

    #[test]
    fn each_subsystem_check_flags_only_its_steps() {
        for (check, subsystem) in [
            (&powershell::CHECK, "PowerShell"),
            (&cmdexec::CHECK, "CmdExec"),
            (&analysis_services::CHECK, "ANALYSISQUERY"),
            (&replication::CHECK, "QueueReader"),
        ] {
            let mut facts = ready();
            facts.job_steps = Ok(vec![step("TSQL", "SELECT 1")]);
            assert!(found(check, &facts).is_empty(), "{}", check.id);
            facts.job_steps = Ok(vec![step(subsystem, "x")]);
            assert_eq!(found(check, &facts), ["instance"], "{}", check.id);
        }
    }
}
