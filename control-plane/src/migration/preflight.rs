//! What gates a migration's start (pure): the newest assessment of the database and
//! the newest connection test from its host toward the target. Blockers (and results
//! that are missing or unknown) refuse the start, saying what to run; warnings refuse
//! it until the operator accepts them.

use crate::assess::Readiness;

/// What pre-flight found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Gate {
    pub blockers: Vec<String>,
    /// (what, why): accepted explicitly or they refuse the start.
    pub warnings: Vec<(String, String)>,
}

impl Gate {
    pub fn add(&mut self, other: Gate) {
        self.blockers.extend(other.blockers);
        self.warnings.extend(other.warnings);
    }
}

/// The database's newest assessment: its readiness and the checks behind it, or None.
pub fn assessment(found: Option<(Readiness, &[String])>, host: &str, database: &str) -> Gate {
    let mut gate = Gate::default();
    let rerun = format!("`ferry assess run --host {host}`");
    match found {
        None => gate.blockers.push(format!(
            "{database} has not been assessed on {host}: run {rerun}"
        )),
        Some((Readiness::NotReady, reasons)) => gate.blockers.push(format!(
            "the assessment finds {database} not ready ({}): fix what it reports (`ferry assess show --host {host}`) and run {rerun}",
            reasons.join(", ")
        )),
        Some((Readiness::Unknown, reasons)) => gate.blockers.push(format!(
            "the assessment could not run every check on {database} ({}): run {rerun}",
            reasons.join(", ")
        )),
        Some((Readiness::ReadyWithWarnings, reasons)) => gate.warnings.push((
            "assessment".into(),
            format!("the assessment warns about {database}: {}", reasons.join(", ")),
        )),
        Some((Readiness::Ready, _)) => {}
    }
    gate
}

/// The instance's newest connection test toward the target: its verdict and the ids of
/// the checks that found something, or None.
pub fn connection(found: Option<(Readiness, &[String])>, host: &str, target: &str) -> Gate {
    let mut gate = Gate::default();
    let rerun = format!("`ferry target test {target} --host {host}`");
    match found {
        None => gate.blockers.push(format!(
            "no finished connection test from {host} toward {target}: run {rerun}"
        )),
        Some((Readiness::NotReady, checks)) => gate.blockers.push(format!(
            "the connection test from {host} finds blockers ({}): fix them and run {rerun}",
            checks.join(", ")
        )),
        Some((Readiness::Unknown, checks)) => gate.blockers.push(format!(
            "the connection test from {host} could not run every check ({}): run {rerun}",
            checks.join(", ")
        )),
        Some((Readiness::ReadyWithWarnings, checks)) => gate.warnings.push((
            "connection".into(),
            format!(
                "the connection test from {host} warns: {}",
                checks.join(", ")
            ),
        )),
        Some((Readiness::Ready, _)) => {}
    }
    gate
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_or_failing_results_block_and_warnings_wait_for_acceptance() {
        let none = assessment(None, "sql01", "Sales");
        assert!(none.blockers[0].contains("ferry assess run --host sql01"));
        let reasons = ["MI-FILESTREAM".to_string()];
        let bad = assessment(Some((Readiness::NotReady, &reasons)), "sql01", "Sales");
        assert!(bad.blockers[0].contains("MI-FILESTREAM"));
        let warned = connection(
            Some((
                Readiness::ReadyWithWarnings,
                &["NET-MI-DNS-OVERRIDE".to_string()],
            )),
            "sql01",
            "mi",
        );
        assert!(warned.blockers.is_empty());
        assert!(warned.warnings[0].1.contains("NET-MI-DNS-OVERRIDE"));
        assert_eq!(
            connection(Some((Readiness::Ready, &[])), "sql01", "mi"),
            Gate::default()
        );
    }
}
