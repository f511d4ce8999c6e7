//! Counts for the fleet's gauges (`observability`): a handful of grouped queries,
//! whatever the fleet's size, never a row per agent or per migration.

use super::{Store, StoreError};
use crate::assess::Readiness;
use crate::fleet::liveness::AgentStatus;
use crate::migration::{sql_list, State};

/// The fleet at one moment, as counts.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FleetCounts {
    /// Agents by liveness (`fleet::liveness::AgentStatus::as_str`).
    pub agents: Vec<(String, i64)>,
    /// When the soonest certificate of a live agent expires (Unix ms).
    pub soonest_certificate_expiry_ms: Option<i64>,
    /// Migrations by state (`migration::State::as_str`), every state present.
    pub migrations: Vec<(String, i64)>,
    /// Live agents silent past the threshold with a migration not yet finished.
    pub offline_migrating: i64,
    /// The newest assessment run's figures, when there is one.
    pub assessment: Option<AssessmentCounts>,
}

/// The newest assessment run, counted.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AssessmentCounts {
    /// Databases by readiness (`assess::Readiness::as_str`), every readiness present.
    pub databases: Vec<(String, i64)>,
    /// Findings (checks that found something, or could not tell) by check id,
    /// severity and status.
    pub findings: Vec<(String, String, String, i64)>,
    /// Hosts asked, hosts that answered, and hosts not answered whose agent is offline.
    pub hosts: i64,
    pub reported: i64,
    pub offline_waiting: i64,
    /// How long the run has taken: to its last report once every host reported, else
    /// until now.
    pub duration_ms: i64,
    /// Databases by readiness per value of each label key asked for.
    pub by_label: Vec<LabelReadiness>,
}

/// Databases of one readiness on hosts whose label `key` is `value` (`(none)`: hosts
/// without it; `(other)`: the values past the commonest [`LABEL_VALUES_SHOWN`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabelReadiness {
    pub key: String,
    pub value: String,
    pub readiness: String,
    pub databases: i64,
}

/// Values shown per label key; the rest are counted together as `(other)`.
pub const LABEL_VALUES_SHOWN: usize = 20;

impl Store {
    /// The fleet's counts at `now_ms`, agents silent for longer than `silence_ms`
    /// counted as disconnected (as `AgentStatus::derive` says), the newest assessment's
    /// readiness also by each of `label_keys`.
    pub async fn fleet_counts(
        &self,
        (now_ms, silence_ms): (i64, i64),
        label_keys: &[String],
    ) -> Result<FleetCounts, StoreError> {
        let _timed = self.timed("fleet_counts");
        let by_status: Vec<(String, i64)> = sqlx::query_as(
            "SELECT CASE WHEN revoked_at IS NOT NULL THEN 'revoked'
                         WHEN last_seen_at IS NULL THEN 'never_connected'
                         WHEN last_seen_at >= $1 THEN 'online'
                         ELSE 'disconnected' END AS status,
                    COUNT(*) AS n
             FROM agents GROUP BY 1 ORDER BY 1",
        )
        .bind(now_ms - silence_ms)
        .fetch_all(&self.pool)
        .await?;
        let statuses: Vec<&str> = AgentStatus::ALL.iter().map(|s| s.as_str()).collect();
        let agents = every(&statuses, &by_status);
        let soonest: Option<i64> =
            sqlx::query_scalar("SELECT MIN(cert_not_after) FROM agents WHERE revoked_at IS NULL")
                .fetch_one(&self.pool)
                .await?;
        let by_state: Vec<(String, i64)> =
            sqlx::query_as("SELECT state, COUNT(*) FROM migrations GROUP BY state")
                .fetch_all(&self.pool)
                .await?;
        let states: Vec<&str> = State::ALL.iter().map(|s| s.as_str()).collect();
        let migrations = every(&states, &by_state);
        let offline_migrating: i64 = sqlx::query_scalar(&format!(
            "SELECT COUNT(DISTINCT a.id) FROM agents a JOIN migrations m ON m.agent_id = a.id
             WHERE m.state NOT IN ({}) AND a.revoked_at IS NULL
               AND (a.last_seen_at IS NULL OR a.last_seen_at < $1)",
            sql_list(&[State::Failed, State::Cancelled, State::Completed])
        ))
        .bind(now_ms - silence_ms)
        .fetch_one(&self.pool)
        .await?;
        Ok(FleetCounts {
            agents,
            soonest_certificate_expiry_ms: soonest,
            migrations,
            offline_migrating,
            assessment: self
                .assessment_counts((now_ms, now_ms - silence_ms), label_keys)
                .await?,
        })
    }

    /// The newest assessment run's counts at `now_ms`; agents not seen since
    /// `seen_after_ms` are offline.
    async fn assessment_counts(
        &self,
        (now_ms, seen_after_ms): (i64, i64),
        label_keys: &[String],
    ) -> Result<Option<AssessmentCounts>, StoreError> {
        let newest: Option<(String, i64)> = sqlx::query_as(
            "SELECT id, created_at FROM assessment_runs ORDER BY created_at DESC, id DESC LIMIT 1",
        )
        .fetch_optional(&self.pool)
        .await?;
        let Some((run, created_at)) = newest else {
            return Ok(None);
        };
        let by_readiness: Vec<(String, i64)> = sqlx::query_as(
            "SELECT readiness, COUNT(*) FROM assessment_databases WHERE run_id = $1 GROUP BY readiness",
        )
        .bind(&run)
        .fetch_all(&self.pool)
        .await?;
        let readiness: Vec<&str> = Readiness::ALL.iter().map(|r| r.as_str()).collect();
        let findings = sqlx::query_as(
            "SELECT check_id, severity, status, COUNT(*) FROM assessment_results
             WHERE run_id = $1 AND status <> 'passed'
             GROUP BY check_id, severity, status ORDER BY check_id, severity, status",
        )
        .bind(&run)
        .fetch_all(&self.pool)
        .await?;
        let (hosts, reported, offline_waiting, last_report): (i64, i64, i64, Option<i64>) =
            sqlx::query_as(
                "SELECT COUNT(*),
                    COUNT(t.reported_at),
                    COALESCE(SUM(CASE WHEN t.reported_at IS NULL
                                       AND (a.last_seen_at IS NULL OR a.last_seen_at < $2)
                                      THEN 1 ELSE 0 END), 0),
                    MAX(t.reported_at)
             FROM assessment_targets t JOIN agents a ON a.id = t.agent_id
             WHERE t.run_id = $1",
            )
            .bind(&run)
            .bind(seen_after_ms)
            .fetch_one(&self.pool)
            .await?;
        let mut by_label = Vec::new();
        for key in label_keys {
            let counts: Vec<(String, String, i64)> = sqlx::query_as(
                "SELECT COALESCE(l.label_value, '') AS value, d.readiness, COUNT(*)
                 FROM assessment_databases d
                 LEFT JOIN host_labels l ON l.agent_id = d.agent_id AND l.label_key = $2
                 WHERE d.run_id = $1 GROUP BY 1, 2",
            )
            .bind(&run)
            .bind(key)
            .fetch_all(&self.pool)
            .await?;
            by_label.extend(fold_label_values(key, counts, LABEL_VALUES_SHOWN));
        }
        Ok(Some(AssessmentCounts {
            by_label,
            databases: every(&readiness, &by_readiness),
            findings,
            hosts,
            reported,
            offline_waiting,
            duration_ms: match last_report {
                Some(last) if reported == hosts => last - created_at,
                _ => now_ms - created_at,
            },
        }))
    }
}

/// One label key's (value, readiness, databases) counts, each value named (`(none)`
/// for hosts without the label) and the values past the `shown` commonest (by
/// databases; ties by value) counted together as `(other)`: the gauge's series stay
/// bounded whatever operators label their hosts with.
fn fold_label_values(
    key: &str,
    counts: Vec<(String, String, i64)>,
    shown: usize,
) -> Vec<LabelReadiness> {
    let mut totals: std::collections::BTreeMap<&str, i64> = Default::default();
    for (value, _, n) in &counts {
        *totals.entry(value.as_str()).or_default() += n;
    }
    let mut commonest: Vec<(&str, i64)> = totals.into_iter().collect();
    commonest.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    let kept: std::collections::HashSet<&str> =
        commonest.iter().take(shown).map(|(v, _)| *v).collect();
    let mut folded: std::collections::BTreeMap<(String, String), i64> = Default::default();
    for (value, readiness, n) in &counts {
        let value = match value.as_str() {
            v if !kept.contains(v) => "(other)",
            "" => "(none)",
            v => v,
        };
        *folded
            .entry((value.to_string(), readiness.clone()))
            .or_default() += n;
    }
    folded
        .into_iter()
        .map(|((value, readiness), databases)| LabelReadiness {
            key: key.to_string(),
            value,
            readiness,
            databases,
        })
        .collect()
}

/// `counts` over every one of `keys`, zero where none was counted.
fn every(keys: &[&str], counts: &[(String, i64)]) -> Vec<(String, i64)> {
    keys.iter()
        .map(|key| {
            let n = counts.iter().find(|(k, _)| k == key).map_or(0, |(_, n)| *n);
            (key.to_string(), n)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn row(value: &str, readiness: &str, n: i64) -> (String, String, i64) {
        (value.to_string(), readiness.to_string(), n)
    }

    #[test]
    fn the_commonest_values_are_shown_and_the_rest_folded() {
        let counts = vec![
            row("prod", "ready", 10),
            row("prod", "not_ready", 2),
            row("test", "ready", 5),
            row("dev", "ready", 1),
            row("", "ready", 3),
        ];
        let folded = fold_label_values("env", counts, 2);
        let shown: Vec<(&str, &str, i64)> = folded
            .iter()
            .map(|l| (l.value.as_str(), l.readiness.as_str(), l.databases))
            .collect();
        assert_eq!(
            shown,
            vec![
                ("(other)", "ready", 4),
                ("prod", "not_ready", 2),
                ("prod", "ready", 10),
                ("test", "ready", 5),
            ]
        );
        assert!(folded.iter().all(|l| l.key == "env"));
    }

    proptest! {
        /// Folding loses no database and shows at most `shown` values besides `(other)`.
        #[test]
        fn folding_keeps_every_database(
            counts in proptest::collection::vec(("[a-c]{0,2}", "(ready|not_ready)", 0i64..100), 0..40),
            shown in 1usize..5,
        ) {
            let total: i64 = counts.iter().map(|c| c.2).sum();
            let folded = fold_label_values("k", counts, shown);
            prop_assert_eq!(folded.iter().map(|l| l.databases).sum::<i64>(), total);
            let values: std::collections::HashSet<&str> = folded
                .iter()
                .map(|l| l.value.as_str())
                .filter(|v| *v != "(other)")
                .collect();
            prop_assert!(values.len() <= shown);
            prop_assert!(folded.iter().all(|l| !l.value.is_empty()));
        }
    }
}
