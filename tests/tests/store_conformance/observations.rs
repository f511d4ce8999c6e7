//! Store conformance for the driver's readings of many links at once: SQL Server's
//! side of every active migration in one query, and the outcomes written in
//! statements of many rows, each only over the state it was judged from.

use ferry_control::migration::sql_side::{InstanceLinkStatus, SqlLinkStatus};
use ferry_control::migration::{Options, State};
use ferry_control::store::migrations::MigrationRecord;
use ferry_control::store::observations::Observed;
use ferry_control::store::StoreError;

use super::*;

/// More than one statement's rows (300).
const MANY: usize = 301;

pub(super) async fn observations(store: &Store, agent: AgentId) {
    let id = |n: usize| format!("obs-{n}");
    for n in 0..MANY {
        let m = MigrationRecord::preparing(
            id(n),
            (agent, "sql01".into()),
            ("MSSQLSERVER".into(), format!("obs_db_{n}")),
            ("key-mi".into(), format!("DAG_obs_{n}")),
            Options::default(),
            ("operator/test".into(), NOW),
        );
        assert_eq!(store.create_migration(&m).await.unwrap(), None);
    }
    let outcome = |n: usize, from: State, state: State, observation: &str| Observed {
        migration: id(n),
        from,
        state,
        detail: format!("reading {n}"),
        observation: observation.into(),
        progressed: n.is_multiple_of(2),
    };
    let at = NOW + 1_000;
    let seeding: Vec<Observed> = (0..MANY)
        .map(|n| {
            outcome(
                n,
                State::Preparing,
                State::Seeding,
                &format!("{{\"n\":{n}}}"),
            )
        })
        .collect();
    assert_eq!(
        store.record_observations(&seeding, at).await.unwrap(),
        MANY as u64
    );
    let last = store.migration(&id(MANY - 1)).await.unwrap().unwrap();
    assert_eq!(
        (last.state, last.detail.as_str(), last.observed.as_str()),
        (State::Seeding, "reading 300", "{\"n\":300}")
    );
    assert_eq!(
        (last.observed_at_ms, last.progressed_at_ms),
        (Some(at), Some(at))
    );

    // Each row only over the state it was judged from: a stale one is not written.
    // No progress keeps the stall clock; no reading ('') keeps the last one.
    let later = at + 1_000;
    let written = store
        .record_observations(
            &[
                outcome(1, State::Seeding, State::Synchronizing, "{\"n\":\"1b\"}"),
                outcome(2, State::CatchingUp, State::Synchronizing, "{}"),
                outcome(3, State::Seeding, State::Failed, ""),
            ],
            later,
        )
        .await
        .unwrap();
    assert_eq!(written, 2);
    let one = store.migration(&id(1)).await.unwrap().unwrap();
    assert_eq!(
        (
            one.state,
            one.observed.as_str(),
            one.observed_at_ms,
            one.progressed_at_ms
        ),
        (
            State::Synchronizing,
            "{\"n\":\"1b\"}",
            Some(later),
            Some(at)
        )
    );
    let two = store.migration(&id(2)).await.unwrap().unwrap();
    assert_eq!(
        (two.state, two.detail.as_str()),
        (State::Seeding, "reading 2")
    );
    let three = store.migration(&id(3)).await.unwrap().unwrap();
    assert_eq!(
        (three.state, three.observed.as_str(), three.observed_at_ms),
        (State::Failed, "{\"n\":3}", Some(at))
    );

    // A change the states do not allow writes nothing, not even the allowed rows.
    let refused = store
        .record_observations(
            &[
                outcome(4, State::Seeding, State::Synchronizing, "{}"),
                outcome(3, State::Failed, State::Seeding, "{}"),
            ],
            later,
        )
        .await;
    assert!(
        matches!(refused, Err(StoreError::Transition { .. })),
        "{refused:?}"
    );
    let four = store.migration(&id(4)).await.unwrap().unwrap();
    assert_eq!(four.state, State::Seeding);
    assert_eq!(store.record_observations(&[], later).await.unwrap(), 0);

    // SQL Server's side: the reading of each active migration's database through its
    // own link; another link's reading of the database, or a failed migration's, is not.
    let reading = |database: &str, link: &str, bytes: i64| SqlLinkStatus {
        link_name: link.into(),
        database: database.into(),
        seeding: true,
        seeding_transferred_bytes: bytes,
        ..SqlLinkStatus::default()
    };
    let report = IncomingReport {
        report_id: "obs-ls".into(),
        produced_at_ms: later,
        body: ReportBody::LinkStatus(InstanceLinkStatus {
            instance: "MSSQLSERVER".into(),
            observed_ms: later,
            databases: vec![
                reading("obs_db_0", "DAG_obs_0", 7),
                reading("obs_db_1", "DAG_elsewhere", 8),
                reading("obs_db_3", "DAG_obs_3", 9),
            ],
        }),
    };
    assert!(store.record_report(agent, &report, later).await.unwrap());
    let sides = store.active_sql_sides().await.unwrap();
    let side = |n: usize| sides.get(&(agent, "MSSQLSERVER".to_string(), format!("obs_db_{n}")));
    let zero = side(0).expect("obs-0's reading");
    assert_eq!(
        (
            zero.link_name.as_str(),
            zero.observed_at_ms,
            zero.status.seeding_transferred_bytes
        ),
        ("DAG_obs_0", later, 7)
    );
    assert!(side(1).is_none(), "another link's reading");
    assert!(side(3).is_none(), "a failed migration's reading");
}
