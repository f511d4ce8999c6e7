//! Reading the links of every migration due for it, in one pass a tick: each managed
//! instance's links listed from ARM once (not one GET per link, a few MIs at a time),
//! SQL Server's side of them all read from the store in one query, each reading judged
//! by [`judge`] (pure), and the outcomes written in one transaction. A thousand linked
//! migrations cost one LIST per MI and a handful of queries, however many they are.

use std::collections::{BTreeMap, HashMap};

use futures::StreamExt;
use serde_json::Value;

use crate::azure::{ArmError, ManagedInstanceId};
use crate::context::Context;
use crate::cutover;
use crate::migration::observe::{stalled, Observation};
use crate::migration::State;
use crate::store::migrations::MigrationRecord;
use crate::store::observations::{Observed, SqlSide};
use crate::store::StoreError;

/// The MIs whose links are listed at once.
const LISTS_AT_ONCE: usize = 4;

/// What judging a reading needs of the configuration.
#[derive(Debug, Clone, Copy)]
pub struct Judging {
    pub stall_after_secs: u64,
    pub certificate_warning_days: u64,
}

/// Reads the links of `due` (migrations whose observation interval has passed) and
/// records what they show. An MI whose links cannot be listed (ARM down, pacing the
/// subscription) leaves its migrations for the next tick; one migration whose stored
/// observation does not decode holds up none of the others.
pub async fn observe_all(
    shared: &Context,
    due: &[&MigrationRecord],
    now: i64,
) -> Result<(), StoreError> {
    if due.is_empty() {
        return Ok(());
    }
    let targets: HashMap<String, ManagedInstanceId> = shared
        .store
        .targets()
        .await?
        .into_iter()
        .map(|t| (t.instance.id.key(), t.instance.id))
        .collect();
    let mut outcomes = Vec::new();
    let mut by_mi: BTreeMap<String, (ManagedInstanceId, Vec<&MigrationRecord>)> = BTreeMap::new();
    for m in due {
        match targets.get(&m.target_key) {
            Some(mi) => by_mi
                .entry(m.target_key.clone())
                .or_insert_with(|| (mi.clone(), Vec::new()))
                .1
                .push(m),
            None => outcomes.push(failed(m, super::driver::target_removed(&m.target_key))),
        }
    }
    // Owned futures in a Vec: a stream over borrowing closures is not provably Send.
    let lists: Vec<_> = by_mi
        .values()
        .map(|(mi, _)| {
            let (arm, mi) = (shared.arm.clone(), mi.clone());
            async move { arm.links(&mi).await }
        })
        .collect();
    let lists: Vec<_> = futures::stream::iter(lists)
        .buffered(LISTS_AT_ONCE)
        .collect()
        .await;
    let listed: Vec<_> = lists
        .into_iter()
        .zip(by_mi.values().map(|(_, migrations)| migrations))
        .collect();
    let sql_sides = match listed.iter().any(|(links, _)| links.is_ok()) {
        true => shared.store.active_sql_sides().await?,
        false => HashMap::new(),
    };
    let config = &shared.config.migrations;
    let judging = Judging {
        stall_after_secs: config.stall_after_secs,
        certificate_warning_days: config.certificate_warning_days,
    };
    for (links, migrations) in &listed {
        let links = match links {
            Ok(links) => links,
            Err(e @ ArmError::Paced { .. }) => {
                tracing::debug!(error = %e, "not listing the MI's links yet");
                continue;
            }
            Err(e) => {
                tracing::warn!(error = %e, migrations = migrations.len(), "listing the MI's links from ARM failed; next tick");
                continue;
            }
        };
        for m in migrations.iter() {
            let link = links.get(&m.link_name.to_ascii_lowercase());
            let key = (m.agent_id, m.instance.clone(), m.database.clone());
            match judge(m, link, sql_sides.get(&key), judging, now) {
                Ok(Some(outcome)) => outcomes.push(outcome),
                Ok(None) => {}
                Err(e) => {
                    tracing::warn!(migration = %m.id, error = %e, "judging the link's reading failed; next tick")
                }
            }
        }
    }
    outcomes.retain(|o| {
        let allowed = o.from.may_become(o.state);
        match (allowed, o.state != o.from) {
            (false, _) => tracing::warn!(migration = %o.migration, from = o.from.as_str(), to = o.state.as_str(), "a reading would make a state change the states do not allow; not written"),
            (true, true) => tracing::info!(migration = %o.migration, from = o.from.as_str(), to = o.state.as_str(), detail = %o.detail, "migration state"),
            (true, false) => {}
        }
        allowed
    });
    shared
        .store
        .record_observations(&outcomes, now)
        .await
        .map(drop)
}

/// `m` failed without a reading: the last one is kept.
fn failed(m: &MigrationRecord, why: String) -> Observed {
    Observed {
        migration: m.id.clone(),
        from: m.state,
        state: State::Failed,
        detail: why,
        observation: String::new(),
        progressed: false,
    }
}

/// What `m` becomes from `link` (its resource as ARM listed it; None when the MI has
/// no link of its name) and SQL Server's side as its agent last read it: its state,
/// detail and observation; stalled when neither side moved for longer than allowed.
/// None when there is nothing to write: a cutover removes the link itself (or its
/// failover breaks it), and its steps say so.
pub fn judge(
    m: &MigrationRecord,
    link: Option<&Value>,
    sql: Option<&SqlSide>,
    judging: Judging,
    now: i64,
) -> Result<Option<Observed>, StoreError> {
    let cutting_over = m.state == State::CuttingOver;
    let Some(mut observation) = link.and_then(|l| Observation::from_link(l, &m.database)) else {
        if cutting_over {
            return Ok(None);
        }
        return Ok(Some(failed(m, format!("the MI has no link {} carrying {}: it was removed outside Ferry; cancel this migration and start it again", m.link_name, m.database))));
    };
    let stall_ms = (judging.stall_after_secs * 1000) as i64;
    // SQL Server's side, when its agent reported it within the stall window.
    if let Some(side) =
        sql.filter(|s| s.link_name == m.link_name && now - s.observed_at_ms <= stall_ms)
    {
        observation.sql = Some(side.status.clone());
        observation.sql_observed_ms = side.observed_at_ms;
    }
    let before = m.observation()?;
    observation.steady = cutover::gates::Steady::follow(before.as_ref(), &observation);
    let progressed = observation.progressed(before.as_ref());
    let (mut state, mut detail) = observation.state();
    if !progressed && stalled(state, m.progressed_at_ms, now, stall_ms) {
        detail = format!(
            "no progress for more than {} s: {detail}",
            judging.stall_after_secs
        );
        state = State::Stalled;
    }
    if let Some(warning) = observation.certificate_warning(now, judging.certificate_warning_days) {
        detail.push_str(&warning);
    }
    if cutting_over {
        // The cutover's steps set its state and detail; the reading is kept for its gates.
        (state, detail) = (State::CuttingOver, m.detail.clone());
    }
    let json =
        serde_json::to_string(&observation).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    Ok(Some(Observed {
        migration: m.id.clone(),
        from: m.state,
        state,
        detail,
        observation: json,
        progressed,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fleet::identity::AgentId;
    use crate::migration::sql_side::SqlLinkStatus;
    use crate::migration::Options;

    const NOW: i64 = 1_700_000_000_000;
    const JUDGING: Judging = Judging {
        stall_after_secs: 600,
        certificate_warning_days: 30,
    };

    fn linked(state: State) -> MigrationRecord {
        MigrationRecord {
            state,
            progressed_at_ms: Some(NOW - 1_000),
            ..MigrationRecord::preparing(
                "m1".into(),
                (AgentId(uuid::Uuid::nil()), "sql01".into()),
                ("MSSQLSERVER".into(), "Sales".into()),
                ("key-mi".into(), "DAG_Sales".into()),
                Options::default(),
                ("operator/test".into(), NOW - 60_000),
            )
        }
    }

    fn link(replica_state: &str, lsn: &str) -> Value {
        serde_json::json!({"name": "DAG_Sales", "properties": {"databases": [{
            "databaseName": "Sales",
            "replicaState": replica_state,
            "synchronizationHealth": "HEALTHY",
            "lastHardenedLsn": lsn,
        }]}})
    }

    fn side(link_name: &str, at: i64) -> SqlSide {
        SqlSide {
            link_name: link_name.into(),
            observed_at_ms: at,
            status: SqlLinkStatus {
                link_name: link_name.into(),
                database: "Sales".into(),
                ..SqlLinkStatus::default()
            },
        }
    }

    #[test]
    fn a_reading_sets_the_state_and_keeps_sql_servers_side_only_when_it_is_its_links_and_recent() {
        let m = linked(State::Seeding);
        let reading = link("LinkSynchronizing", "42");
        let judged = judge(
            &m,
            Some(&reading),
            Some(&side("DAG_Sales", NOW - 5_000)),
            JUDGING,
            NOW,
        )
        .unwrap()
        .unwrap();
        assert_eq!(
            (judged.from, judged.state),
            (State::Seeding, State::ReadyForCutover)
        );
        assert!(judged.progressed, "the first reading is progress");
        let observed: Observation = serde_json::from_str(&judged.observation).unwrap();
        assert_eq!(observed.sql_observed_ms, NOW - 5_000);
        for stale_or_other in [side("DAG_Other", NOW), side("DAG_Sales", NOW - 601_000)] {
            let judged = judge(&m, Some(&reading), Some(&stale_or_other), JUDGING, NOW)
                .unwrap()
                .unwrap();
            let observed: Observation = serde_json::from_str(&judged.observation).unwrap();
            assert_eq!(observed.sql, None, "{stale_or_other:?}");
        }
    }

    #[test]
    fn no_progress_for_longer_than_allowed_is_stalled() {
        let before = judge(
            &linked(State::Seeding),
            Some(&link("Copying", "7")),
            None,
            JUDGING,
            NOW,
        )
        .unwrap()
        .unwrap();
        let m = MigrationRecord {
            observed: before.observation,
            progressed_at_ms: Some(NOW - 601_000),
            ..linked(State::Seeding)
        };
        let judged = judge(&m, Some(&link("Copying", "7")), None, JUDGING, NOW)
            .unwrap()
            .unwrap();
        assert_eq!(judged.state, State::Stalled);
        assert!(!judged.progressed);
        assert!(
            judged.detail.starts_with("no progress for more than 600 s"),
            "{}",
            judged.detail
        );
        let moved = judge(&m, Some(&link("Copying", "8")), None, JUDGING, NOW)
            .unwrap()
            .unwrap();
        assert_eq!((moved.state, moved.progressed), (State::Seeding, true));
    }

    #[test]
    fn a_missing_link_fails_a_linked_migration_and_is_a_cutovers_own_business() {
        let gone = judge(&linked(State::Synchronizing), None, None, JUDGING, NOW)
            .unwrap()
            .unwrap();
        assert_eq!(gone.state, State::Failed);
        assert!(
            gone.detail.contains("removed outside Ferry"),
            "{}",
            gone.detail
        );
        assert_eq!(gone.observation, "", "the last reading is kept");
        assert_eq!(
            judge(&linked(State::CuttingOver), None, None, JUDGING, NOW).unwrap(),
            None
        );
        // A cutover's reading is kept for its gates; its state and detail stay its steps'.
        let m = MigrationRecord {
            detail: "waiting for the gates".into(),
            ..linked(State::CuttingOver)
        };
        let judged = judge(
            &m,
            Some(&link("LinkSynchronizing", "9")),
            None,
            JUDGING,
            NOW,
        )
        .unwrap()
        .unwrap();
        assert_eq!(
            (judged.state, judged.detail.as_str()),
            (State::CuttingOver, "waiting for the gates")
        );
        assert!(!judged.observation.is_empty());
    }
}
