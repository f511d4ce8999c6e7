//! Connection tests: what an agent found about the network between its instances and a
//! target managed instance, and the verdict per instance. The agent owns the NET-*
//! checks (ids, titles and remedies travel with each result, as the assessment's do);
//! the control plane asks for tests (`api::connection`), stores what comes back
//! (`store::connection_tests`) and judges it here.

use serde::{Deserialize, Serialize};

use crate::assess::{CheckResult, CheckStatus, Readiness, Severity};

/// A TestConnection command's parameters, kept in the command's payload until it is
/// delivered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TestRequest {
    /// The target's resource id, as ARM spells it.
    pub target_id: String,
    pub fqdn: String,
    /// Instance names; empty for all of the host's.
    #[serde(default)]
    pub instances: Vec<String>,
}

/// One instance's connection test as an agent reported it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct InstanceConnection {
    pub name: String,
    /// Set, with no results, when the agent has no instance of that name.
    pub error: String,
    pub duration_ms: u32,
    pub results: Vec<CheckResult>,
}

/// Not ready when a blocker was found; Unknown when a blocker check could not run (or
/// the instance is unknown to its agent); Ready with warnings when a warning was found;
/// otherwise Ready. Advice (info) never changes the verdict.
pub fn verdict(instance: &InstanceConnection) -> Readiness {
    if !instance.error.is_empty() {
        return Readiness::Unknown;
    }
    let any = |severity: Severity, status: CheckStatus| {
        instance
            .results
            .iter()
            .any(|r| r.severity == severity && r.status == status)
    };
    if any(Severity::Blocker, CheckStatus::Found) {
        Readiness::NotReady
    } else if any(Severity::Blocker, CheckStatus::Unknown) {
        Readiness::Unknown
    } else if any(Severity::Warning, CheckStatus::Found) {
        Readiness::ReadyWithWarnings
    } else {
        Readiness::Ready
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::assess::Scope;

    fn result(severity: Severity, status: CheckStatus) -> CheckResult {
        CheckResult {
            check_id: "NET-X".into(),
            scope: Scope::Instance,
            severity,
            title: String::new(),
            remedy: String::new(),
            status,
            unknown_cause: String::new(),
            findings: Vec::new(),
        }
    }

    #[test]
    fn the_worst_result_decides_and_advice_never_does() {
        let with = |results: Vec<CheckResult>| InstanceConnection {
            name: "default".into(),
            results,
            ..Default::default()
        };
        let info = result(Severity::Info, CheckStatus::Found);
        let warning = result(Severity::Warning, CheckStatus::Found);
        let unknown = result(Severity::Blocker, CheckStatus::Unknown);
        let blocker = result(Severity::Blocker, CheckStatus::Found);
        assert_eq!(verdict(&with(vec![info.clone()])), Readiness::Ready);
        assert_eq!(
            verdict(&with(vec![info, warning.clone()])),
            Readiness::ReadyWithWarnings
        );
        assert_eq!(
            verdict(&with(vec![warning.clone(), unknown.clone()])),
            Readiness::Unknown
        );
        assert_eq!(
            verdict(&with(vec![unknown, blocker, warning])),
            Readiness::NotReady
        );
        let missing = InstanceConnection {
            error: "no instance named \"x\"".into(),
            ..Default::default()
        };
        assert_eq!(verdict(&missing), Readiness::Unknown);
    }
}
