//! The link as Azure reports it (GET distributedAvailabilityGroups/<link>, mi-link.md
//! §2.2, §3.3), with SQL Server's side when the agent reported it recently
//! (`sql_side`), turned into the migration's state with what it means; and stalled,
//! when neither side has moved for longer than allowed.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::sql_side::SqlLinkStatus;
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
    /// SQL Server's side, from the agent's newest report when it is recent, and when
    /// the agent read it.
    #[serde(default)]
    pub sql: Option<SqlLinkStatus>,
    #[serde(default)]
    pub sql_observed_ms: i64,
    /// `partnerAuthCertValidity`: SQL Server's endpoint certificate as the MI holds it,
    /// and when it expires (RFC 3339).
    #[serde(default)]
    pub partner_certificate: String,
    #[serde(default)]
    pub partner_certificate_expiry: String,
    /// The link's `replicationMode` (Async, Sync) and `instanceLinkRole` (the MI's
    /// role: Secondary, or Primary after a failover).
    #[serde(default)]
    pub replication_mode: String,
    #[serde(default)]
    pub link_role: String,
    /// How the LSNs moved across readings, for the cutover's gates.
    #[serde(default)]
    pub steady: crate::cutover::gates::Steady,
}

impl Observation {
    /// The database `database` in a link resource; None when the link does not carry it.
    pub fn from_link(link: &Value, database: &str) -> Option<Observation> {
        let db = link["properties"]["databases"]
            .as_array()?
            .iter()
            .find(|d| d["databaseName"].as_str() == Some(database))?;
        let text = |value: &Value| value.as_str().unwrap_or_default().to_string();
        let error = text(&db["mostRecentLinkError"]);
        Some(Observation {
            replica_state: text(&db["replicaState"]),
            synchronization_health: text(&db["synchronizationHealth"]),
            connected_state: text(&db["connectedState"]),
            last_hardened_lsn: text(&db["lastHardenedLsn"]),
            send_lag_seconds: db["instanceSendReplicationLagSeconds"].as_i64(),
            redo_lag_seconds: db["instanceRedoReplicationLagSeconds"].as_i64(),
            error_number: error
                .split(|c: char| !c.is_ascii_digit())
                .next()
                .and_then(|n| n.parse().ok()),
            error,
            sql: None,
            sql_observed_ms: 0,
            partner_certificate: text(&db["partnerAuthCertValidity"]["certificateName"]),
            partner_certificate_expiry: text(&db["partnerAuthCertValidity"]["expiryDate"]),
            replication_mode: text(&link["properties"]["replicationMode"]),
            link_role: text(&link["properties"]["instanceLinkRole"]),
            steady: Default::default(),
        })
    }

    /// A warning, for the detail, when SQL Server's endpoint certificate expires
    /// within `within_days` of `now_ms`: the link fails with 9642 when it does
    /// (mi-link.md §3.4), so it must be rotated before.
    pub fn certificate_warning(&self, now_ms: i64, within_days: u64) -> Option<String> {
        use time::format_description::well_known::Rfc3339;
        let expiry =
            time::OffsetDateTime::parse(&self.partner_certificate_expiry, &Rfc3339).ok()?;
        let left_ms = (expiry.unix_timestamp_nanos() / 1_000_000) as i64 - now_ms;
        if left_ms > within_days as i64 * 86_400_000 {
            return None;
        }
        let date = expiry.date();
        let when = if left_ms <= 0 {
            format!("expired on {date}")
        } else {
            format!("expires on {date}, in {} days", left_ms / 86_400_000)
        };
        Some(format!(
            "; SQL Server's endpoint certificate {} {when}: rotate it before then (a new certificate on the mirroring endpoint, its public key uploaded to the MI as a server trust certificate; Ferry does not rotate it yet)",
            self.partner_certificate
        ))
    }

    /// Whether the link moved since `before`, on either side.
    pub fn progressed(&self, before: Option<&Observation>) -> bool {
        let sql = match &self.sql {
            Some(now) => now.progressed(before.and_then(|b| b.sql.as_ref())),
            None => false,
        };
        sql || before.is_none_or(|b| {
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
        // Azure's error first; SQL Server's when Azure shows none.
        let error = if !self.error.is_empty() {
            format!(": {}{}", self.error, remedy(self.error_number))
        } else if let Some((number, text)) = self.sql.as_ref().and_then(SqlLinkStatus::error) {
            format!(": {text}{}", remedy(Some(number)))
        } else {
            String::new()
        };
        let seeding = match self.sql.as_ref().and_then(SqlLinkStatus::seeding_progress) {
            Some(progress) => format!(": {progress}"),
            None => String::new(),
        };
        let rs = self.replica_state.as_str();
        if rs.ends_with("Error") {
            return (State::Failed, format!("the link reports {rs}{error}"));
        }
        match rs {
            "Catchup" => (
                State::CatchingUp,
                format!("seeded; applying the log it missed{lag}{error}"),
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
            "Copying" => (
                State::Seeding,
                format!("the MI is copying the database ({rs}){seeding}{error}"),
            ),
            "LinkFailoverInProgress" => (
                State::Unknown,
                format!("Azure reports LinkFailoverInProgress: a failover Ferry did not ask for is under way; look at the MI before anything else{error}"),
            ),
            // Shown as read, never taken for another state.
            other => (
                State::Unknown,
                format!("Azure reports replica state {other:?}, which this control plane does not know: see the link in the Azure portal; upgrade ferry-control if Azure added it{error}"),
            ),
        }
    }
}

/// What to do about the errors mi-link.md §7 lists, by number.
pub fn remedy(number: Option<i64>) -> &'static str {
    match number {
        Some(41986) => " (the partners cannot reach each other: check the listener URLs, the mirroring endpoints and the firewalls in both directions, SQL Server to the MI on 5022 and 11000-11999 and the MI to SQL Server's endpoint port; `ferry target test` checks them)",
        Some(41973) => " (the MI does not trust SQL Server's endpoint certificate: upload it as a server trust certificate)",
        Some(41974) => " (SQL Server does not hold the MI's certificate under the MI's FQDN: import it)",
        Some(41976) => " (the availability groups on SQL Server are missing or wrong)",
        Some(9642) => " (SQL Server's endpoint certificate expired: create a new one, use it on the mirroring endpoint, upload its public key to the MI as a server trust certificate)",
        Some(41962) => " (the link could not connect within 5 minutes: check ports 5022 and 11000-11999 in both directions)",
        Some(1475) => " (the database needs FULL recovery and a full backup)",
        Some(1408) | Some(1412) => " (a log backup broke seeding, and only a new link recovers: pause log backups of the database until seeding ends, then cancel this migration and start it again)",
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

#[cfg(test)]
mod tests {
    use super::*;

    fn copying(sql: Option<SqlLinkStatus>) -> Observation {
        Observation {
            replica_state: "Copying".into(),
            sql,
            ..Observation::default()
        }
    }

    fn seeded(bytes: i64) -> SqlLinkStatus {
        SqlLinkStatus {
            connected_state: "CONNECTED".into(),
            seeding: true,
            seeding_transferred_bytes: bytes,
            seeding_size_bytes: 8 << 20,
            seeding_rate_bytes_per_second: 1 << 20,
            seeding_attempts: 1,
            ..SqlLinkStatus::default()
        }
    }

    #[test]
    fn seeding_on_sql_server_is_progress_azure_does_not_show() {
        let before = copying(Some(seeded(1 << 20)));
        assert!(copying(Some(seeded(2 << 20))).progressed(Some(&before)));
        assert!(!copying(Some(seeded(1 << 20))).progressed(Some(&before)));
        assert!(
            !copying(None).progressed(Some(&before)),
            "without SQL Server's side, Azure's unchanged view is no progress"
        );
        let (state, detail) = before.state();
        assert_eq!(state, State::Seeding);
        assert!(detail.contains("1.0 of 8.0 MiB (12%)"), "{detail}");
    }

    #[test]
    fn sql_server_errors_show_when_azure_has_none() {
        let cut = copying(Some(SqlLinkStatus {
            connected_state: "DISCONNECTED".into(),
            last_connect_error_number: 41986,
            last_connect_error: "cannot reach".into(),
            ..SqlLinkStatus::default()
        }));
        let (_, detail) = cut.state();
        assert!(detail.contains("error 41986 cannot reach"), "{detail}");
        assert!(detail.contains("in both directions"), "{detail}");
        let azure = Observation {
            error: "41973: untrusted".into(),
            error_number: Some(41973),
            ..cut
        };
        let (_, detail) = azure.state();
        assert!(
            detail.contains("41973: untrusted") && !detail.contains("41986"),
            "{detail}"
        );
    }

    #[test]
    fn an_endpoint_certificate_near_its_expiry_is_warned_about() {
        let link = serde_json::json!({"properties": {"databases": [{
            "databaseName": "Sales",
            "replicaState": "LinkSynchronizing",
            "partnerAuthCertValidity": {"certificateName": "Cert_SQL01_endpoint", "expiryDate": "2030-01-31T00:00:00Z"},
        }]}});
        let o = Observation::from_link(&link, "Sales").unwrap();
        assert_eq!(o.partner_certificate, "Cert_SQL01_endpoint");
        let day = 86_400_000;
        let expiry = 1_896_048_000_000; // 2030-01-31T00:00:00Z
        assert_eq!(o.certificate_warning(expiry - 31 * day, 30), None);
        let warning = o.certificate_warning(expiry - 10 * day, 30).unwrap();
        assert!(
            warning.contains("Cert_SQL01_endpoint expires on 2030-01-31, in 10 days"),
            "{warning}"
        );
        let warning = o.certificate_warning(expiry + day, 30).unwrap();
        assert!(warning.contains("expired on 2030-01-31"), "{warning}");
        assert_eq!(Observation::default().certificate_warning(0, 30), None);
    }

    #[test]
    fn stalled_needs_a_linked_state_and_time_without_progress() {
        assert!(stalled(State::Seeding, Some(0), 601_000, 600_000));
        assert!(!stalled(State::Seeding, Some(0), 599_000, 600_000));
        assert!(!stalled(State::ReadyForCutover, Some(0), 601_000, 600_000));
        assert!(!stalled(State::Preparing, Some(0), 601_000, 600_000));
    }

    #[test]
    fn a_replica_state_ferry_does_not_know_is_unknown_never_a_guess() {
        for rs in ["LinkFailoverInProgress", "SomethingAzureAdded", ""] {
            let o = Observation {
                replica_state: rs.into(),
                ..copying(None)
            };
            let (state, detail) = o.state();
            assert_eq!(state, State::Unknown, "{rs}: {detail}");
            assert!(detail.contains(rs), "{detail}");
        }
        assert_eq!(copying(None).state().0, State::Seeding);
    }
}
