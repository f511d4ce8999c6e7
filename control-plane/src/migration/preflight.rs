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

/// What to say about one source's result; `{ids}` stands for the checks behind it.
struct Phrases {
    missing: String,
    not_ready: String,
    unknown: String,
    warned: (&'static str, String),
}

fn judge(found: Option<(Readiness, &[String])>, say: Phrases) -> Gate {
    let mut gate = Gate::default();
    let with = |text: &str, ids: &[String]| text.replace("{ids}", &ids.join(", "));
    match found {
        None => gate.blockers.push(say.missing),
        Some((Readiness::NotReady, ids)) => gate.blockers.push(with(&say.not_ready, ids)),
        Some((Readiness::Unknown, ids)) => gate.blockers.push(with(&say.unknown, ids)),
        Some((Readiness::ReadyWithWarnings, ids)) => gate
            .warnings
            .push((say.warned.0.into(), with(&say.warned.1, ids))),
        Some((Readiness::Ready, _)) => {}
    }
    gate
}

/// The database's newest assessment: its readiness and the checks behind it, or None.
pub fn assessment(found: Option<(Readiness, &[String])>, host: &str, database: &str) -> Gate {
    let rerun = format!("`ferry assess run --host {host}`");
    judge(
        found,
        Phrases {
            missing: format!("{database} has not been assessed on {host}: run {rerun}"),
            not_ready: format!("the assessment finds {database} not ready ({{ids}}): fix what it reports (`ferry assess show --host {host}`) and run {rerun}"),
            unknown: format!("the assessment could not run every check on {database} ({{ids}}): run {rerun}"),
            warned: ("assessment", format!("the assessment warns about {database}: {{ids}}")),
        },
    )
}

/// The instance's newest connection test toward the target: its verdict and the ids of
/// the checks that found something, or None.
pub fn connection(found: Option<(Readiness, &[String])>, host: &str, target: &str) -> Gate {
    let rerun = format!("`ferry target test {target} --host {host}`");
    judge(
        found,
        Phrases {
            missing: format!("no finished connection test from {host} toward {target}: run {rerun}"),
            not_ready: format!("the connection test from {host} finds blockers ({{ids}}): fix them and run {rerun}"),
            unknown: format!("the connection test from {host} could not run every check ({{ids}}): run {rerun}"),
            warned: ("connection", format!("the connection test from {host} warns: {{ids}}")),
        },
    )
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
