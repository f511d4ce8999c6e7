//! Fleet assessments: what an agent found on each instance, the readiness of every
//! database derived from it, and fleet runs that ask many agents at once.
//!
//! - [`readiness`]: the pure rule from check results to a database's readiness.
//! - [`runs`]: a run's targets and their progress.
//! - [`schedule`]: the slots of scheduled fleet-wide runs and their run ids.
//! - [`diff`]: what changed between two runs.
//!
//! The agent owns the checks (ids, titles, remedies travel with each result); the
//! control plane stores them, derives readiness, and rolls them up (store::assessments).

pub mod diff;
pub mod readiness;
pub mod runs;
pub mod schedule;

pub use readiness::Readiness;

pub use ferry_proto::assessment::{Scope, Severity};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckStatus {
    Passed,
    Found,
    Unknown,
}

impl CheckStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            CheckStatus::Passed => "passed",
            CheckStatus::Found => "found",
            CheckStatus::Unknown => "unknown",
        }
    }

    pub fn parse(text: &str) -> Option<CheckStatus> {
        Some(match text {
            "passed" => CheckStatus::Passed,
            "found" => CheckStatus::Found,
            "unknown" => CheckStatus::Unknown,
            _ => return None,
        })
    }
}

/// One instance's assessment as an agent reported it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct InstanceAssessment {
    pub name: String,
    pub reachable: bool,
    pub error: String,
    pub product_version: String,
    pub databases: Vec<AssessedDatabase>,
    pub results: Vec<CheckResult>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssessedDatabase {
    pub name: String,
    pub size_bytes: i64,
    pub state: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckResult {
    pub check_id: String,
    pub scope: Scope,
    pub severity: Severity,
    pub title: String,
    pub remedy: String,
    pub status: CheckStatus,
    pub unknown_cause: String,
    pub findings: Vec<Finding>,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Finding {
    /// None for the instance as a whole.
    pub database: Option<String>,
    pub message: String,
    pub evidence: Vec<(String, String)>,
    pub objects: Vec<String>,
}
