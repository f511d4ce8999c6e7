//! How long the store keeps history (`[retention]`), and the sweep that forgets what
//! is older: the store grows with the fleet, not with time.
//!
//! - Reports' receipts (the records that make a redelivered report a no-op), finished
//!   commands, refused reports, spent enrollment tokens and connection tests: kept
//!   `history_days`. A report produced before that horizon (less a day for clocks) is
//!   refused rather than stored: its receipt may already be forgotten, so it could be
//!   stored twice.
//! - Assessment runs: kept `assessment_days`, the newest `keep_assessment_runs` always
//!   (a diff needs two).
//! - The audit log: kept longest, `audit_days` (at least every other horizon).
//!
//! Bounded by the fleet, not by time, and kept: the inventory, the newest link status
//! and row counts per database (one row each), migrations and their journals (one per
//! database migrated), load windows (`[sizing] history_days`).
//!
//! The sweep runs on the replica that drives migrations, every `interval_secs`, in
//! small batches, each its own fenced transaction (`store::retention`): a replica
//! that lost the lease deletes nothing, and agents' writes interleave.

use serde::Deserialize;

use crate::store::retention::Horizons;

const DAY_MS: i64 = 86_400_000;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RetentionSettings {
    pub history_days: u32,
    pub assessment_days: u32,
    pub keep_assessment_runs: u32,
    pub audit_days: u32,
    pub interval_secs: u64,
}

impl Default for RetentionSettings {
    fn default() -> Self {
        Self {
            history_days: 30,
            assessment_days: 180,
            keep_assessment_runs: 4,
            audit_days: 400,
            interval_secs: 3600,
        }
    }
}

impl RetentionSettings {
    /// The field that is wrong and why, if any.
    pub fn invalid(&self) -> Option<(&'static str, &'static str)> {
        if self.history_days < 2 {
            return Some((
                "retention.history_days",
                "must be at least 2: reports produced up to a day before it are still taken",
            ));
        }
        if self.assessment_days < 1 {
            return Some(("retention.assessment_days", "must be at least 1"));
        }
        if self.keep_assessment_runs < 2 {
            return Some((
                "retention.keep_assessment_runs",
                "must be at least 2: comparing runs needs the one before",
            ));
        }
        if self.audit_days < self.history_days.max(self.assessment_days) {
            return Some((
                "retention.audit_days",
                "must be at least history_days and assessment_days: the audit log is kept longest",
            ));
        }
        if self.interval_secs < 60 {
            return Some(("retention.interval_secs", "must be at least 60"));
        }
        None
    }

    /// What is older than these at `now_ms` goes.
    pub fn horizons(&self, now_ms: i64) -> Horizons {
        let before = |days: u32| now_ms - i64::from(days) * DAY_MS;
        Horizons {
            history_ms: before(self.history_days),
            assessments_ms: before(self.assessment_days),
            keep_assessment_runs: i64::from(self.keep_assessment_runs),
            audit_ms: before(self.audit_days),
        }
    }

    /// The oldest production time of a report still taken at `now_ms`: a day inside
    /// the receipts' horizon, so that a host's clock a little behind cannot slip a
    /// report past a forgotten receipt.
    pub fn oldest_report_ms(&self, now_ms: i64) -> i64 {
        now_ms - i64::from(self.history_days - 1) * DAY_MS
    }
}

/// Rows a sweep deletes per statement.
const BATCH: i64 = 2000;

/// The driver's sweeps: one at a time, each `interval_secs` after the one before.
pub struct Sweeps {
    every: std::time::Duration,
    last: Option<std::time::Instant>,
    running: std::sync::Arc<std::sync::atomic::AtomicBool>,
    pruned: opentelemetry::metrics::Counter<u64>,
}

impl Sweeps {
    pub fn new(settings: &RetentionSettings) -> Self {
        let pruned = opentelemetry::global::meter("ferry-control")
            .u64_counter("ferry.store.pruned")
            .with_unit("{row}")
            .with_description("Rows the retention sweep forgot, by kind")
            .build();
        pruned.add(0, &[]);
        Self {
            every: std::time::Duration::from_secs(settings.interval_secs),
            last: None,
            running: Default::default(),
            pruned,
        }
    }

    /// Starts a sweep on `store` (the lease holder's fenced store) when one is due and
    /// none runs; it runs beside the driver's ticks.
    pub fn when_due(
        &mut self,
        store: crate::store::Store,
        (settings, now_ms): (&RetentionSettings, i64),
    ) {
        use std::sync::atomic::Ordering;
        if self.last.is_some_and(|last| last.elapsed() < self.every)
            || self.running.swap(true, Ordering::AcqRel)
        {
            return;
        }
        self.last = Some(std::time::Instant::now());
        let horizons = settings.horizons(now_ms);
        let (running, pruned) = (self.running.clone(), self.pruned.clone());
        tokio::spawn(async move {
            match store.prune(&horizons, BATCH).await {
                Ok(done) => {
                    for (kind, n) in done.by_kind() {
                        pruned.add(n, &[opentelemetry::KeyValue::new("kind", kind)]);
                    }
                    if done != Default::default() {
                        tracing::info!(
                            ?done,
                            "the retention sweep forgot history past its horizons"
                        );
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "the retention sweep stopped; the next one goes on")
                }
            }
            running.store(false, Ordering::Release);
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn defaults_are_valid_and_checked() {
        assert_eq!(RetentionSettings::default().invalid(), None);
        let shorter_audit = RetentionSettings {
            audit_days: 90,
            ..Default::default()
        };
        assert_eq!(
            shorter_audit.invalid().map(|(field, _)| field),
            Some("retention.audit_days")
        );
    }

    proptest! {
        /// For valid settings: a report still taken is never older than the receipts
        /// kept, and the audit log's horizon is the farthest.
        #[test]
        fn no_report_outlives_its_receipt(
            history_days in 0u32..1000,
            assessment_days in 0u32..1000,
            audit_days in 0u32..2000,
            now_ms in 0i64..4_000_000_000_000,
        ) {
            let settings = RetentionSettings { history_days, assessment_days, audit_days, ..Default::default() };
            prop_assume!(settings.invalid().is_none());
            let horizons = settings.horizons(now_ms);
            prop_assert!(settings.oldest_report_ms(now_ms) >= horizons.history_ms + DAY_MS);
            prop_assert!(horizons.audit_ms <= horizons.history_ms);
            prop_assert!(horizons.audit_ms <= horizons.assessments_ms);
        }
    }
}
