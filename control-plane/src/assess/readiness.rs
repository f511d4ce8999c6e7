//! A database's readiness for the MI link, from its instance's check results:
//!
//! - **Not ready** when a blocker was found on the database, or on its instance (an
//!   instance that cannot host a link blocks every database on it);
//! - otherwise **Unknown** when a check that bears on it could not run (a database
//!   check, or an instance blocker check): it may hide a blocker, so never Ready;
//! - otherwise **Ready with warnings** when a warning was found on the database;
//! - otherwise **Ready**.
//!
//! Instance warnings and advice (info) are shown for the instance and do not change its
//! databases' readiness. An unreachable instance has no databases to rate; the instance
//! itself is Unknown.

use super::{CheckResult, CheckStatus, InstanceAssessment, Scope, Severity};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Readiness {
    Ready,
    ReadyWithWarnings,
    Unknown,
    NotReady,
}

impl Readiness {
    pub const ALL: [Readiness; 4] = [
        Readiness::Ready,
        Readiness::ReadyWithWarnings,
        Readiness::Unknown,
        Readiness::NotReady,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Readiness::Ready => "ready",
            Readiness::ReadyWithWarnings => "ready_with_warnings",
            Readiness::Unknown => "unknown",
            Readiness::NotReady => "not_ready",
        }
    }

    pub fn parse(text: &str) -> Option<Readiness> {
        Some(match text {
            "ready" => Readiness::Ready,
            "ready_with_warnings" => Readiness::ReadyWithWarnings,
            "unknown" => Readiness::Unknown,
            "not_ready" => Readiness::NotReady,
            _ => return None,
        })
    }
}

/// A database's readiness and the check ids that decided it (blockers for Not ready,
/// the checks that could not run for Unknown, warnings for Ready with warnings).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rated {
    pub database: String,
    pub readiness: Readiness,
    pub reasons: Vec<String>,
}

/// Does this result bear on `database`'s readiness, and how.
fn bearing(result: &CheckResult, database: &str) -> Option<Readiness> {
    let applies = match result.scope {
        Scope::Database => true,
        Scope::Instance => result.severity == Severity::Blocker,
    };
    if !applies || result.severity == Severity::Info {
        return None;
    }
    match result.status {
        CheckStatus::Passed => None,
        CheckStatus::Unknown => Some(Readiness::Unknown),
        CheckStatus::Found => {
            let here = result
                .findings
                .iter()
                .any(|f| match (&f.database, result.scope) {
                    (_, Scope::Instance) => true,
                    (Some(d), Scope::Database) => d == database,
                    (None, Scope::Database) => false,
                });
            here.then_some(match result.severity {
                Severity::Blocker => Readiness::NotReady,
                Severity::Warning | Severity::Info => Readiness::ReadyWithWarnings,
            })
        }
    }
}

pub fn rate(instance: &InstanceAssessment) -> Vec<Rated> {
    instance
        .databases
        .iter()
        .map(|database| {
            let bearings: Vec<(Readiness, &str)> = instance
                .results
                .iter()
                .filter_map(|r| bearing(r, &database.name).map(|b| (b, r.check_id.as_str())))
                .collect();
            let readiness = bearings
                .iter()
                .map(|(b, _)| *b)
                .max()
                .unwrap_or(Readiness::Ready);
            Rated {
                database: database.name.clone(),
                readiness,
                reasons: bearings
                    .iter()
                    .filter(|(b, _)| *b == readiness)
                    .map(|(_, id)| id.to_string())
                    .collect(),
            }
        })
        .collect()
}

/// The instance's own readiness: Unknown when unreachable, otherwise the worst of its
/// databases (Ready for an instance without user databases unless an instance blocker
/// was found).
pub fn instance(instance: &InstanceAssessment, rated: &[Rated]) -> Readiness {
    if !instance.reachable {
        return Readiness::Unknown;
    }
    let blocked = instance.results.iter().any(|r| {
        r.scope == Scope::Instance
            && r.severity == Severity::Blocker
            && r.status == CheckStatus::Found
    });
    if blocked {
        return Readiness::NotReady;
    }
    rated
        .iter()
        .map(|r| r.readiness)
        .max()
        .unwrap_or(Readiness::Ready)
}

#[cfg(test)]
mod tests {
    use super::super::{AssessedDatabase, Finding};
    use super::*;

    fn result(
        id: &str,
        scope: Scope,
        severity: Severity,
        status: CheckStatus,
        on: &[&str],
    ) -> CheckResult {
        CheckResult {
            check_id: id.into(),
            scope,
            severity,
            title: String::new(),
            remedy: String::new(),
            status,
            unknown_cause: String::new(),
            findings: on
                .iter()
                .map(|d| Finding {
                    database: (!d.is_empty()).then(|| d.to_string()),
                    message: String::new(),
                    evidence: vec![],
                    objects: vec![],
                })
                .collect(),
        }
    }

    fn instance_with(results: Vec<CheckResult>) -> InstanceAssessment {
        InstanceAssessment {
            name: "i".into(),
            reachable: true,
            databases: ["A", "B", "C"]
                .map(|n| AssessedDatabase {
                    name: n.into(),
                    size_bytes: 0,
                    state: "ONLINE".into(),
                })
                .to_vec(),
            results,
            ..Default::default()
        }
    }

    fn readiness(results: Vec<CheckResult>) -> Vec<Readiness> {
        rate(&instance_with(results))
            .iter()
            .map(|r| r.readiness)
            .collect()
    }

    use CheckStatus::{Found, Unknown as CouldNotRun};
    use Readiness::*;
    use Scope::{Database as Db, Instance as Inst};
    use Severity::*;

    #[test]
    fn blockers_outrank_unknowns_which_outrank_warnings() {
        assert_eq!(
            readiness(vec![
                result("W", Db, Warning, Found, &["A", "B"]),
                result("U", Db, Blocker, CouldNotRun, &[]),
                result("B", Db, Blocker, Found, &["A"]),
            ]),
            [NotReady, Unknown, Unknown]
        );
        assert_eq!(
            readiness(vec![
                result("W", Db, Warning, Found, &["B"]),
                result("I", Db, Info, Found, &["C"])
            ]),
            [Ready, ReadyWithWarnings, Ready]
        );
    }

    #[test]
    fn instance_blockers_block_every_database_and_instance_warnings_none() {
        assert_eq!(
            readiness(vec![result("V", Inst, Blocker, Found, &[""])]),
            [NotReady, NotReady, NotReady]
        );
        assert_eq!(
            readiness(vec![
                result("TF", Inst, Warning, Found, &[""]),
                result("TFU", Inst, Warning, CouldNotRun, &[])
            ]),
            [Ready, Ready, Ready]
        );
        assert_eq!(
            readiness(vec![result("V", Inst, Blocker, CouldNotRun, &[])]),
            [Unknown, Unknown, Unknown]
        );
    }

    #[test]
    fn reasons_name_the_deciding_checks() {
        let rated = rate(&instance_with(vec![
            result("W", Db, Warning, Found, &["A"]),
            result("B1", Db, Blocker, Found, &["A"]),
            result("B2", Inst, Blocker, Found, &[""]),
        ]));
        assert_eq!(rated[0].reasons, ["B1", "B2"]);
        assert_eq!(rated[1].reasons, ["B2"]);
    }

    #[test]
    fn an_unreachable_instance_is_unknown() {
        let mut i = instance_with(vec![]);
        i.reachable = false;
        i.databases.clear();
        assert_eq!(instance(&i, &rate(&i)), Unknown);
    }
}
