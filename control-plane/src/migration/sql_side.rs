//! The link as SQL Server's DMVs show it (the agent's `LinkStatus` reports, mi-link.md
//! §3): what it adds to Azure's view. Seeding progress (bytes copied, rate, time
//! left), which Azure does not report, keeps a long seeding from looking stalled; the
//! errors SQL Server records (a failed connection, a failed seeding attempt) name what
//! went wrong on its side.

use serde::{Deserialize, Serialize};

/// One database of a link, as the primary's DMVs show it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct SqlLinkStatus {
    pub link_name: String,
    pub database: String,
    pub connected_state: String,
    pub last_connect_error_number: i32,
    pub last_connect_error: String,
    pub synchronization_state: String,
    pub synchronization_health: String,
    pub end_of_log_lsn: String,
    pub last_commit_lsn: String,
    pub last_hardened_lsn: String,
    /// KB, KB/s and seconds; -1 when SQL Server gives none.
    pub log_send_queue_kb: i64,
    pub log_send_rate_kb: i64,
    pub redo_queue_kb: i64,
    pub secondary_lag_seconds: i64,
    /// Whether a seeding copy runs now, and its progress.
    pub seeding: bool,
    pub seeding_transferred_bytes: i64,
    pub seeding_size_bytes: i64,
    pub seeding_rate_bytes_per_second: i64,
    /// The newest seeding attempt: its state (SEEDING, COMPLETED, FAILED, ...), error
    /// number when it failed, and attempts.
    pub seeding_state: String,
    pub seeding_error_number: i32,
    pub seeding_attempts: i32,
    /// Both members of the distributed AG are SYNCHRONOUS_COMMIT.
    pub synchronous_commit: bool,
    /// SQL Server's own copy's last hardened LSN (decimal).
    pub local_hardened_lsn: String,
    /// User sessions connected to the database (the application); None when the
    /// agent did not read them.
    pub user_sessions: Option<i64>,
}

/// An agent's reading of the links on one instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceLinkStatus {
    pub instance: String,
    pub observed_ms: i64,
    pub databases: Vec<SqlLinkStatus>,
}

impl SqlLinkStatus {
    /// Whether the link moved on SQL Server's side since `before`: more bytes seeded,
    /// or the MI hardened more log.
    pub fn progressed(&self, before: Option<&SqlLinkStatus>) -> bool {
        before.is_none_or(|b| {
            b.seeding_transferred_bytes != self.seeding_transferred_bytes
                || b.seeding_attempts != self.seeding_attempts
                || b.last_hardened_lsn != self.last_hardened_lsn
        })
    }

    /// The seeding's progress, e.g. "12.0 of 40.0 MiB (30%) at 2.0 MiB/s, about 14 s
    /// left"; None when no copy runs.
    pub fn seeding_progress(&self) -> Option<String> {
        if !self.seeding {
            return None;
        }
        let mib = |b: i64| b as f64 / 1048576.0;
        let percent = if self.seeding_size_bytes > 0 {
            // Wide arithmetic: the numbers are the agent's, any i64.
            format!(
                " ({}%)",
                i128::from(self.seeding_transferred_bytes) * 100
                    / i128::from(self.seeding_size_bytes)
            )
        } else {
            String::new()
        };
        let left = self
            .seeding_size_bytes
            .saturating_sub(self.seeding_transferred_bytes);
        let eta = if self.seeding_rate_bytes_per_second > 0 && left > 0 {
            format!(
                ", about {} left",
                duration(left / self.seeding_rate_bytes_per_second)
            )
        } else {
            String::new()
        };
        Some(format!(
            "{:.1} of {:.1} MiB{percent} at {:.1} MiB/s{eta}",
            mib(self.seeding_transferred_bytes),
            mib(self.seeding_size_bytes),
            mib(self.seeding_rate_bytes_per_second),
        ))
    }

    /// The error SQL Server records for the link, newest kind first: a failed seeding
    /// attempt, else a failed connection to the MI. (number, text).
    pub fn error(&self) -> Option<(i64, String)> {
        if self.seeding_state == "FAILED" && self.seeding_error_number != 0 {
            return Some((
                self.seeding_error_number.into(),
                format!(
                    "seeding attempt {} failed with error {}",
                    self.seeding_attempts, self.seeding_error_number
                ),
            ));
        }
        if self.connected_state != "CONNECTED" && self.last_connect_error_number != 0 {
            return Some((
                self.last_connect_error_number.into(),
                format!(
                    "SQL Server cannot connect to the MI: error {} {}",
                    self.last_connect_error_number, self.last_connect_error
                ),
            ));
        }
        None
    }
}

/// Seconds as "45 s", "12 min", "3 h 5 min".
fn duration(secs: i64) -> String {
    match secs {
        s if s < 120 => format!("{s} s"),
        s if s < 7200 => format!("{} min", s / 60),
        s => format!("{} h {} min", s / 3600, (s % 3600) / 60),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seeding(transferred: i64) -> SqlLinkStatus {
        SqlLinkStatus {
            seeding: true,
            seeding_transferred_bytes: transferred,
            seeding_size_bytes: 40 << 20,
            seeding_rate_bytes_per_second: 2 << 20,
            seeding_state: "SEEDING".into(),
            seeding_attempts: 1,
            connected_state: "CONNECTED".into(),
            ..SqlLinkStatus::default()
        }
    }

    #[test]
    fn seeding_bytes_are_progress_and_are_shown() {
        let before = seeding(12 << 20);
        assert!(seeding(14 << 20).progressed(Some(&before)));
        assert!(!seeding(12 << 20).progressed(Some(&before)));
        assert!(seeding(0).progressed(None));
        assert_eq!(
            before.seeding_progress().unwrap(),
            "12.0 of 40.0 MiB (30%) at 2.0 MiB/s, about 14 s left"
        );
        let done = SqlLinkStatus {
            seeding: false,
            ..before
        };
        assert_eq!(done.seeding_progress(), None);
    }

    proptest::proptest! {
        /// Whatever numbers an agent sends, the progress line is made, never a panic.
        #[test]
        fn any_numbers_make_a_progress_line(
            transferred in proptest::prelude::any::<i64>(),
            size in proptest::prelude::any::<i64>(),
            rate in proptest::prelude::any::<i64>(),
        ) {
            let status = SqlLinkStatus {
                seeding_size_bytes: size,
                seeding_rate_bytes_per_second: rate,
                ..seeding(transferred)
            };
            proptest::prop_assert!(status.seeding_progress().is_some());
        }
    }

    #[test]
    fn a_new_attempt_is_progress_even_at_the_same_bytes() {
        let mut again = seeding(12 << 20);
        again.seeding_attempts = 2;
        assert!(again.progressed(Some(&seeding(12 << 20))));
    }

    #[test]
    fn errors_name_their_number() {
        let mut failed = seeding(0);
        failed.seeding = false;
        failed.seeding_state = "FAILED".into();
        failed.seeding_error_number = 1412;
        assert_eq!(failed.error().unwrap().0, 1412);
        let mut cut = SqlLinkStatus {
            connected_state: "DISCONNECTED".into(),
            last_connect_error_number: 41986,
            last_connect_error: "no answer".into(),
            ..SqlLinkStatus::default()
        };
        assert_eq!(cut.error().unwrap().0, 41986);
        cut.connected_state = "CONNECTED".into();
        assert_eq!(
            cut.error(),
            None,
            "a past error of a connected link is history"
        );
        assert_eq!(duration(3 * 3600 + 300), "3 h 5 min");
    }
}
