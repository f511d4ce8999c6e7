//! What changed between two assessment runs, as a pure function of what each stored.
//!
//! Only instances whose checks ran in both runs are compared; a host assessed in one run
//! only is listed as not compared. A finding is *fixed* when the check ran again and no
//! longer found it on a database still there (or on the instance); *regressed* is the
//! reverse. A check that could not run in either run says nothing either way: the
//! readiness change (e.g. to Unknown) shows it instead.

use std::collections::{BTreeMap, BTreeSet};

use super::readiness::Readiness;
use super::{CheckStatus, Severity};

/// One check's outcome on one instance in one run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub host: String,
    pub instance: String,
    pub check_id: String,
    pub severity: Severity,
    pub title: String,
    pub status: CheckStatus,
    /// Databases it found something on; `""` for the instance itself.
    pub found_on: BTreeSet<String>,
}

/// One database's readiness in one run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatabaseState {
    pub host: String,
    pub instance: String,
    pub database: String,
    pub readiness: Readiness,
}

/// One run's side of the comparison.
#[derive(Debug, Clone, Default)]
pub struct RunSide {
    pub outcomes: Vec<Outcome>,
    pub databases: Vec<DatabaseState>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FindingChange {
    pub host: String,
    pub instance: String,
    /// `""` for the instance as a whole.
    pub database: String,
    pub check_id: String,
    pub severity: Severity,
    pub title: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadinessChange {
    pub host: String,
    pub instance: String,
    pub database: String,
    /// None when the database was not there.
    pub from: Option<Readiness>,
    pub to: Option<Readiness>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Diff {
    pub fixed: Vec<FindingChange>,
    pub regressed: Vec<FindingChange>,
    pub readiness: Vec<ReadinessChange>,
    pub not_compared: Vec<String>,
}

type InstanceKey = (String, String);

pub fn diff(from: &RunSide, to: &RunSide) -> Diff {
    let instances = |side: &RunSide| -> BTreeSet<InstanceKey> {
        side.outcomes
            .iter()
            .map(|o| (o.host.clone(), o.instance.clone()))
            .collect()
    };
    let (from_instances, to_instances) = (instances(from), instances(to));
    let compared: BTreeSet<&InstanceKey> = from_instances.intersection(&to_instances).collect();
    let hosts = |set: &BTreeSet<InstanceKey>| -> BTreeSet<String> {
        set.iter().map(|(h, _)| h.clone()).collect()
    };
    let not_compared = hosts(&from_instances)
        .symmetric_difference(&hosts(&to_instances))
        .cloned()
        .collect();

    let databases = |side: &RunSide| -> BTreeMap<(String, String, String), Readiness> {
        side.databases
            .iter()
            .filter(|d| compared.contains(&(d.host.clone(), d.instance.clone())))
            .map(|d| {
                (
                    (d.host.clone(), d.instance.clone(), d.database.clone()),
                    d.readiness,
                )
            })
            .collect()
    };
    let (from_dbs, to_dbs) = (databases(from), databases(to));
    let in_both = |host: &str, instance: &str, database: &str| {
        let key = (host.to_string(), instance.to_string(), database.to_string());
        database.is_empty() || (from_dbs.contains_key(&key) && to_dbs.contains_key(&key))
    };

    let by_check = |side: &RunSide| -> BTreeMap<(String, String, String), Outcome> {
        side.outcomes
            .iter()
            .map(|o| {
                (
                    (o.host.clone(), o.instance.clone(), o.check_id.clone()),
                    o.clone(),
                )
            })
            .collect()
    };
    let to_checks = by_check(to);
    let mut out = Diff {
        not_compared,
        ..Diff::default()
    };
    for (key, a) in by_check(from) {
        let Some(b) = to_checks.get(&key) else {
            continue;
        };
        if a.status == CheckStatus::Unknown || b.status == CheckStatus::Unknown {
            continue;
        }
        let change = |database: &String, o: &Outcome| FindingChange {
            host: o.host.clone(),
            instance: o.instance.clone(),
            database: database.clone(),
            check_id: o.check_id.clone(),
            severity: o.severity,
            title: o.title.clone(),
        };
        for database in a.found_on.difference(&b.found_on) {
            if in_both(&a.host, &a.instance, database) {
                out.fixed.push(change(database, &a));
            }
        }
        for database in b.found_on.difference(&a.found_on) {
            if in_both(&b.host, &b.instance, database) {
                out.regressed.push(change(database, b));
            }
        }
    }

    let keys: BTreeSet<_> = from_dbs.keys().chain(to_dbs.keys()).collect();
    for key in keys {
        let (a, b) = (from_dbs.get(key).copied(), to_dbs.get(key).copied());
        if a != b {
            out.readiness.push(ReadinessChange {
                host: key.0.clone(),
                instance: key.1.clone(),
                database: key.2.clone(),
                from: a,
                to: b,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outcome(host: &str, check: &str, status: CheckStatus, found_on: &[&str]) -> Outcome {
        Outcome {
            host: host.into(),
            instance: "MSSQLSERVER".into(),
            check_id: check.into(),
            severity: Severity::Blocker,
            title: check.into(),
            status,
            found_on: found_on.iter().map(|s| s.to_string()).collect(),
        }
    }

    fn db(host: &str, name: &str, readiness: Readiness) -> DatabaseState {
        DatabaseState {
            host: host.into(),
            instance: "MSSQLSERVER".into(),
            database: name.into(),
            readiness,
        }
    }

    #[test]
    fn fixed_and_regressed_findings_and_readiness_changes() {
        use CheckStatus::*;
        let from = RunSide {
            outcomes: vec![
                outcome("a", "MI-LINK-RECOVERY-MODEL", Found, &["sales", "hr"]),
                outcome("a", "MI-LINK-MASTER-KEY", Found, &[""]),
                outcome("a", "MI-FILESTREAM", Passed, &[]),
                outcome("a", "MI-TDE", Unknown, &[]),
                outcome("gone", "MI-TDE", Found, &["x"]),
            ],
            databases: vec![
                db("a", "sales", Readiness::NotReady),
                db("a", "hr", Readiness::NotReady),
                db("a", "dropped", Readiness::Ready),
            ],
        };
        let to = RunSide {
            outcomes: vec![
                outcome("a", "MI-LINK-RECOVERY-MODEL", Found, &["hr"]),
                outcome("a", "MI-LINK-MASTER-KEY", Passed, &[]),
                outcome("a", "MI-FILESTREAM", Found, &["sales"]),
                outcome("a", "MI-TDE", Found, &["hr"]),
                outcome("new", "MI-TDE", Passed, &[]),
            ],
            databases: vec![
                db("a", "sales", Readiness::NotReady),
                db("a", "hr", Readiness::NotReady),
                db("a", "added", Readiness::Ready),
            ],
        };
        let d = diff(&from, &to);
        let keys = |changes: &[FindingChange]| -> Vec<(String, String)> {
            changes
                .iter()
                .map(|c| (c.check_id.clone(), c.database.clone()))
                .collect()
        };
        // Recovery model fixed on sales; the master key on the instance. MI-TDE was
        // unknown before, so its finding now is not called a regression.
        assert_eq!(
            keys(&d.fixed),
            vec![
                ("MI-LINK-MASTER-KEY".into(), "".into()),
                ("MI-LINK-RECOVERY-MODEL".into(), "sales".into())
            ]
        );
        assert_eq!(
            keys(&d.regressed),
            vec![("MI-FILESTREAM".into(), "sales".into())]
        );
        assert_eq!(d.not_compared, vec!["gone".to_string(), "new".to_string()]);
        let changes: Vec<_> = d
            .readiness
            .iter()
            .map(|c| (c.database.as_str(), c.from, c.to))
            .collect();
        assert_eq!(
            changes,
            vec![
                ("added", None, Some(Readiness::Ready)),
                ("dropped", Some(Readiness::Ready), None)
            ]
        );
    }
}
