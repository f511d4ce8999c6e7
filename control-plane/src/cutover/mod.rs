//! Cutover: a linked migration's database moved over to its managed instance for good,
//! with nothing committed left behind (mi-link.md §4.2). The steps are journaled after
//! the set-up's (`migration::journal::CUTOVER`) and driven by the migration driver:
//! synchronous commit on both sides, the planned failover once every gate holds,
//! the database verified ONLINE and writable on the MI, the MI's first full backup
//! awaited, then the link removed on both sides.
//!
//! - [`gates`]: the pure predicates a failover waits for, with their evidence.
//! - [`group`]: cutover groups (all or none) and their application hooks.
//! - [`row_counts`]: the row counts the validation gate compares.
//! - [`settings`]: `[cutover]` in the control plane's configuration.
//! - [`wave`]: plans and waves: groups of migrations with a window, approvals and a
//!   failure policy.
//! - [`window`]: maintenance windows, one-off or recurring in a time zone.

pub mod gates;
pub mod group;
pub mod row_counts;
pub mod settings;
pub mod wave;
pub mod window;

use serde::{Deserialize, Serialize};

use crate::migration::journal;

/// What the operator asked for (`ferry cutover`), kept with the migration.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Intent {
    pub requested_by: String,
    pub requested_at_ms: i64,
    /// The operator confirmed that the application's traffic to the database stopped
    /// (as the Arc portal's checkbox); otherwise the workload gate measures it.
    #[serde(default)]
    pub traffic_stopped_confirmed: bool,
    /// The maintenance window the failover must happen in (Unix ms, end exclusive);
    /// None: any time.
    #[serde(default)]
    pub window: Option<(i64, i64)>,
    /// `--allow-data-loss`: a forced failover (ARM `ForcedAllowDataLoss`), without
    /// waiting for the link, only with approvers; why, in the operator's words.
    #[serde(default)]
    pub allow_data_loss: bool,
    #[serde(default)]
    pub reason: String,
    /// W3C trace context of the request that started it: every step's work (ARM
    /// calls, the agent's T-SQL, the checks on the MI) joins that one trace.
    #[serde(default)]
    pub trace_context: std::collections::HashMap<String, String>,
    /// Keep the link after the failover (SQL Server 2022 and later): SQL Server stays
    /// its secondary, for a failback; nothing is removed.
    #[serde(default)]
    pub keep_link: bool,
    /// Also drop SQL Server's `AG_<db>` and the MI's certificate (when no other
    /// migration of the instance to the MI uses it) after the distributed AG.
    #[serde(default)]
    pub drop_sql_objects: bool,
}

impl Intent {
    /// The intent as stored with its migration; a row that does not decode is an
    /// error naming why, never a default.
    pub fn decode(stored: &str) -> Result<Intent, String> {
        serde_json::from_str(stored).map_err(|e| format!("the stored cutover intent: {e}"))
    }

    /// The cutover's steps as the operator chose them; `mi_certificate_owed`: Ferry
    /// imported the MI's certificate and no other live migration uses it.
    pub fn steps(&self, mi_certificate_owed: bool) -> Vec<&'static str> {
        let mut steps = journal::names(&journal::CUTOVER);
        if self.keep_link {
            steps.retain(|s| *s != journal::DELETE_LINK && *s != journal::DROP_DISTRIBUTED_AG);
        } else if self.drop_sql_objects {
            steps.push(journal::DROP_AVAILABILITY_GROUP);
            if mi_certificate_owed {
                steps.push(journal::DROP_MI_CERTIFICATE);
            }
        }
        steps
    }

    /// A span for work on `step` of the cutover, in the cutover's trace.
    pub fn span(&self, migration: &str, step: &str) -> tracing::Span {
        let span = tracing::info_span!("cutover.step", migration = %migration, step = %step);
        ferry_proto::telemetry::child_span(
            span,
            ferry_proto::telemetry::from_map(&self.trace_context),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_operator_s_choices_shape_the_cutover_s_steps() {
        let all = journal::names(&journal::CUTOVER);
        assert_eq!(Intent::default().steps(true), all);
        let kept = Intent {
            keep_link: true,
            ..Default::default()
        };
        assert_eq!(kept.steps(true), all[..all.len() - 2]);
        assert_eq!(kept.steps(true).last(), Some(&journal::MI_FULL_BACKUP));
        let dropped = Intent {
            drop_sql_objects: true,
            ..Default::default()
        };
        assert_eq!(
            dropped.steps(true)[all.len()..],
            [
                journal::DROP_AVAILABILITY_GROUP,
                journal::DROP_MI_CERTIFICATE
            ]
        );
        assert_eq!(
            dropped.steps(false)[all.len()..],
            [journal::DROP_AVAILABILITY_GROUP],
            "a certificate another migration uses stays"
        );
    }
}
