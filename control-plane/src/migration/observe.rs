//! The link as Azure reports it (GET distributedAvailabilityGroups/<link>, mi-link.md
//! §2.2, §3.3), turned into the migration's state with what it means; and stalled,
//! when nothing has moved for longer than allowed.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::State;

/// One database of the link, as ARM reports it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Observation {
    pub replica_state: String,
    pub synchronization_health: String,
    pub connected_state: String,
    /// Decimal string, as ARM gives it.
    pub last_hardened_lsn: String,
    pub send_lag_seconds: Option<i64>,
    pub redo_lag_seconds: Option<i64>,
    /// `mostRecentLinkError`: its error number, when it starts with one, and its text.
    pub error_number: Option<i64>,
    pub error: String,
}

impl Observation {
    /// The database `database` in a link resource; None when the link does not carry it.
    pub fn from_link(link: &Value, database: &str) -> Option<Observation> {
        let db = link["properties"]["databases"]
            .as_array()?
            .iter()
            .find(|d| d["databaseName"].as_str() == Some(database))?;
        let text = |key: &str| db[key].as_str().unwrap_or_default().to_string();
        let error = text("mostRecentLinkError");
        Some(Observation {
            replica_state: text("replicaState"),
            synchronization_health: text("synchronizationHealth"),
            connected_state: text("connectedState"),
            last_hardened_lsn: text("lastHardenedLsn"),
            send_lag_seconds: db["instanceSendReplicationLagSeconds"].as_i64(),
            redo_lag_seconds: db["instanceRedoReplicationLagSeconds"].as_i64(),
            error_number: error
                .split(|c: char| !c.is_ascii_digit())
                .next()
                .and_then(|n| n.parse().ok()),
            error,
        })
    }

    /// Whether the link moved since `before`.
    pub fn progressed(&self, before: Option<&Observation>) -> bool {
        before.is_none_or(|b| {
            b.replica_state != self.replica_state || b.last_hardened_lsn != self.last_hardened_lsn
        })
    }

    /// The migration's state and what it means.
    pub fn state(&self) -> (State, String) {
        let lag = match (self.send_lag_seconds, self.redo_lag_seconds) {
            (Some(send), Some(redo)) => format!("; lag {send} s to send, {redo} s to redo"),
            (Some(send), None) => format!("; lag {send} s to send"),
            _ => String::new(),
        };
        let error = if self.error.is_empty() {
            String::new()
        } else {
            format!(": {}{}", self.error, remedy(self.error_number))
        };
        let rs = self.replica_state.as_str();
        if rs.ends_with("Error") {
            return (State::Failed, format!("the link reports {rs}{error}"));
        }
        match rs {
            "Catchup" => (
                State::CatchingUp,
                format!("seeded; applying the log it missed{lag}"),
            ),
            "LinkSynchronizing" if self.synchronization_health == "HEALTHY" => (
                State::ReadyForCutover,
                format!("synchronizing and healthy{lag}"),
            ),
            "LinkSynchronizing" => (
                State::Synchronizing,
                format!(
                    "synchronizing, health {}{lag}{error}",
                    self.synchronization_health
                ),
            ),
            "CreatingLink" => (State::Seeding, format!("the link is connecting{error}")),
            _ => (
                State::Seeding,
                format!("the MI is copying the database ({rs}){error}"),
            ),
        }
    }
}

/// What to do about the errors mi-link.md §7 lists, by number.
pub fn remedy(number: Option<i64>) -> &'static str {
    match number {
        Some(41986) => " (nothing answers at SQL Server's endpoint: check the mirroring endpoint, the listener URL and the firewall toward SQL Server)",
        Some(41973) => " (the MI does not trust SQL Server's endpoint certificate: upload it as a server trust certificate)",
        Some(41974) => " (SQL Server does not hold the MI's certificate under the MI's FQDN: import it)",
        Some(41976) => " (the availability groups on SQL Server are missing or wrong)",
        Some(41962) => " (the link could not connect within 5 minutes: check ports 5022 and 11000-11999 in both directions)",
        Some(1475) => " (the database needs FULL recovery and a full backup)",
        Some(1408) | Some(1412) => " (a log backup broke seeding: stop log backups until seeding ends, then retry)",
        _ => "",
    }
}

/// Stalled: linked, not ready, and no progress since `progressed_at_ms` for longer
/// than `stall_ms`.
pub fn stalled(state: State, progressed_at_ms: Option<i64>, now_ms: i64, stall_ms: i64) -> bool {
    state.is_linked()
        && state != State::ReadyForCutover
        && progressed_at_ms.is_some_and(|at| now_ms - at > stall_ms)
}
