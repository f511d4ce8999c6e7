//! Store conformance for cutovers: the driver's lease, a cutover's steps journaled
//! after the set-up's, cancelled before its failover (rolled back), and refused once
//! its failover began; the row counts its validation gate compares.

use ferry_control::fleet::identity::AgentId;
use ferry_control::migration::journal::{self, CUTOVER, ROLLBACK};
use ferry_control::migration::{Phase, State, StepState};
use ferry_control::store::commands::{CommandKind, CommandRecord};
use ferry_control::store::cutovers::Wait;
use ferry_control::store::inventory::{IncomingReport, ReportBody};
use ferry_control::store::migrations::Change;
use ferry_control::store::StoreError;

use super::*;

pub(super) async fn leases(store: &Store) {
    const LONG: i64 = 600_000;
    let a = store
        .take_lease("driver", "a", LONG)
        .await
        .unwrap()
        .unwrap();
    assert!(store
        .take_lease("driver", "b", LONG)
        .await
        .unwrap()
        .is_none());
    // Renewing keeps the epoch.
    let renewed = store
        .take_lease("driver", "a", LONG)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(renewed, a);
    let held = store.lease("driver").await.unwrap().unwrap();
    assert_eq!((held.holder.as_str(), held.epoch), ("a", a.epoch));
    assert!(
        held.left_ms > LONG - 60_000 && held.left_ms <= LONG,
        "{held:?}"
    );

    // A fenced store writes while its fence holds the lease.
    let fenced = store.fenced(a.clone());
    fenced.renew_lease(LONG).await.unwrap();
    fenced
        .record_audit(&ferry_control::store::audit::AuditEvent {
            at_ms: NOW,
            actor: "a".into(),
            action: "fenced.write".into(),
            target: "lease/driver".into(),
            detail: String::new(),
        })
        .await
        .unwrap();

    // Expired (by the database's clock: a lease of 0 ms ends at once): another holder
    // takes it under a higher epoch, and the first can neither renew nor write.
    assert!(store.take_lease("driver", "a", 0).await.unwrap().is_some());
    let b = store
        .take_lease("driver", "b", LONG)
        .await
        .unwrap()
        .unwrap();
    assert!(b.epoch > a.epoch, "{b:?} after {a:?}");
    assert!(store
        .take_lease("driver", "a", LONG)
        .await
        .unwrap()
        .is_none());
    let refused = fenced.renew_lease(LONG).await.unwrap_err();
    assert!(
        matches!(refused, StoreError::Fenced { epoch, .. } if epoch == a.epoch),
        "{refused}"
    );
    let stale_write = fenced
        .set_migration_state(("none", State::Seeding), State::Failed, "stale", None, NOW)
        .await
        .unwrap_err();
    assert!(
        matches!(stale_write, StoreError::Fenced { .. }),
        "{stale_write}"
    );
    // What already happened (a hook's outcome) is still recorded, unfenced.
    fenced
        .unfenced()
        .record_audit(&ferry_control::store::audit::AuditEvent {
            at_ms: NOW,
            actor: "a".into(),
            action: "hook.finished".into(),
            target: "group/g".into(),
            detail: String::new(),
        })
        .await
        .unwrap();
    // The same holder whose lease lapsed comes back under a new epoch, never its old.
    store.release_lease("driver", "a").await.unwrap();
    assert_eq!(
        store.lease("driver").await.unwrap().map(|l| l.holder),
        Some("b".to_string()),
        "not a's to give up"
    );
    store.release_lease("driver", "b").await.unwrap();
    assert_eq!(store.lease("driver").await.unwrap(), None);
    let again = store
        .take_lease("driver", "b", LONG)
        .await
        .unwrap()
        .unwrap();
    assert!(again.epoch > b.epoch, "released, its epoch kept: {again:?}");
    let old_b = store.fenced(b);
    assert!(matches!(
        old_b.renew_lease(LONG).await,
        Err(StoreError::Fenced { .. })
    ));
    store.release_lease("driver", "b").await.unwrap();
}

/// `migration` is linked (seeding) to target `key-mi` when this runs.
pub(super) async fn suite(store: &Store, migration: &str) {
    // One database and one link of a name per target: found case-insensitively, and
    // a second one refused by the schema even when the check is raced.
    let m = store.migration(migration).await.unwrap().unwrap();
    let found =
        |db: &'static str, link: &'static str| store.migration_on_target("key-mi", db, link);
    assert_eq!(
        found("SALES", "DAG_other").await.unwrap().map(|o| o.id),
        Some(m.id.clone())
    );
    assert_eq!(
        found("Other", "dag_sales").await.unwrap().map(|o| o.id),
        Some(m.id.clone())
    );
    assert!(found("Other", "DAG_other").await.unwrap().is_none());
    assert!(store
        .migration_on_target("key-other", "Sales", "DAG_Sales")
        .await
        .unwrap()
        .is_none());
    let mut twin = m.clone();
    (twin.id, twin.instance, twin.link_name) = ("twin".into(), "other".into(), "DAG_twin".into());
    assert!(
        store.create_migration(&twin).await.is_err(),
        "a second Sales on key-mi"
    );

    let setup = journal::STEPS.len();
    let cutover_steps = journal::names(&CUTOVER);
    let start = |at: i64| {
        store.start_cutover(
            (migration, "{\"requested_by\":\"operator/test\"}"),
            &cutover_steps,
            "operator/test",
            at,
        )
    };
    assert_eq!(start(NOW + 50).await.unwrap(), Change::Made);
    assert_eq!(
        start(NOW + 51).await.unwrap(),
        Change::Unchanged,
        "one cutover at a time"
    );
    let m = store.migration(migration).await.unwrap().unwrap();
    assert_eq!(m.state, State::CuttingOver);
    assert!(m.cutover.contains("operator/test"));
    let steps = store.migration_steps(migration).await.unwrap();
    let cutover: Vec<(&str, Phase)> = steps[setup..]
        .iter()
        .map(|s| (s.name.as_str(), s.phase))
        .collect();
    let wanted: Vec<(&str, Phase)> = CUTOVER.iter().map(|(n, _)| (*n, Phase::Cutover)).collect();
    assert_eq!(cutover, wanted);
    assert!(steps[..setup].iter().all(|s| s.phase == Phase::Setup));

    // Waiting steps say why, from when.
    let failover = steps
        .iter()
        .find(|s| s.name == journal::FAILOVER)
        .unwrap()
        .seq;
    store
        .note_step(
            (migration, failover),
            "waiting for the gates",
            Wait::Closed,
            NOW + 60,
        )
        .await
        .unwrap();
    store
        .note_step(
            (migration, failover),
            "still waiting",
            Wait::Closed,
            NOW + 70,
        )
        .await
        .unwrap();
    let noted = store.migration_steps(migration).await.unwrap();
    let noted = noted.iter().find(|s| s.seq == failover).unwrap();
    assert_eq!(
        (noted.detail.as_str(), noted.started_at_ms, noted.state),
        ("still waiting", Some(NOW + 60), StepState::Pending)
    );
    // Queued (a turn, a window, approvals): the clock starts again.
    store
        .note_step((migration, failover), "queued", Wait::Queued, NOW + 75)
        .await
        .unwrap();
    let queued = store.migration_steps(migration).await.unwrap();
    let queued = queued.iter().find(|s| s.seq == failover).unwrap();
    assert_eq!(queued.started_at_ms, Some(NOW + 75));

    // Cancelled before the failover: the rest skipped, the rollback journaled.
    assert_eq!(
        store
            .cancel_cutover(migration, "operator/test", NOW + 80)
            .await
            .unwrap(),
        Change::Made
    );
    let steps = store.migration_steps(migration).await.unwrap();
    assert_eq!(steps.len(), setup + CUTOVER.len() + ROLLBACK.len());
    assert!(steps[setup..setup + CUTOVER.len()]
        .iter()
        .all(|s| s.state == StepState::Skipped));
    assert!(steps[setup + CUTOVER.len()..]
        .iter()
        .all(|s| s.phase == Phase::Rollback && s.state == StepState::Pending));
    assert_eq!(
        store
            .cancel_cutover(migration, "operator/test", NOW + 81)
            .await
            .unwrap(),
        Change::Unchanged
    );
    // The driver read the failover pending (its gates held) before the cancel: its
    // journaling of the request now changes nothing, so ARM is never called, and its
    // late notes and ends leave the skipped step as the cancel left it.
    assert!(!store
        .start_arm_step((migration, failover), StepState::Pending, "", NOW + 82)
        .await
        .unwrap());
    store
        .note_step(
            (migration, failover),
            "every gate holds",
            Wait::Closed,
            NOW + 82,
        )
        .await
        .unwrap();
    store
        .finish_step(
            migration,
            failover,
            (StepState::Failed, false),
            "late",
            NOW + 83,
        )
        .await
        .unwrap();
    let after = store.migration_steps(migration).await.unwrap();
    let skipped = after.iter().find(|s| s.seq == failover).unwrap();
    assert_eq!(
        (skipped.state, skipped.detail.as_str()),
        (StepState::Skipped, "queued"),
        "the cancel won"
    );
    assert_eq!(
        store.migration(migration).await.unwrap().unwrap().state,
        State::CuttingOver,
        "a late failure of a skipped step fails nothing"
    );

    // Rolled back and linked again: a second cutover, whose failover begins; from then
    // on neither the cutover nor the migration can be cancelled.
    store
        .set_migration_state(
            (migration, State::CuttingOver),
            State::Synchronizing,
            "linked",
            None,
            NOW + 90,
        )
        .await
        .unwrap();
    assert_eq!(start(NOW + 100).await.unwrap(), Change::Made);
    let steps = store.migration_steps(migration).await.unwrap();
    let second = steps
        .iter()
        .rev()
        .find(|s| s.name == journal::FAILOVER)
        .unwrap()
        .seq;
    assert!(second > failover);
    assert_eq!(to_target(store, "key-mi", "another").await, None);
    // Judged at one revision, journaled only under it: a cancel (or a pause, a plan)
    // since wins, even one that changed nothing else.
    let judged = store.migration(migration).await.unwrap().unwrap().revision;
    assert!(!store
        .start_failover((migration, second), judged - 1, NOW + 110)
        .await
        .unwrap());
    assert!(store
        .start_failover((migration, second), judged, NOW + 110)
        .await
        .unwrap());
    assert!(
        !store
            .start_failover((migration, second), judged, NOW + 111)
            .await
            .unwrap(),
        "never journaled twice"
    );
    assert_eq!(
        to_target(store, "key-mi", "another").await.as_deref(),
        Some(migration)
    );
    assert_eq!(to_target(store, "key-mi", migration).await, None);
    let flights = store.failovers_in_flight("another").await.unwrap();
    assert_eq!(flights.len(), 1);
    assert_eq!(flights[0].migration, migration);
    assert!(store
        .failovers_in_flight(migration)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        store
            .cancel_cutover(migration, "operator/test", NOW + 120)
            .await
            .unwrap(),
        Change::Refused
    );
    assert_eq!(
        store
            .cancel_migration(migration, &["delete_link"], "operator/test", NOW + 120)
            .await
            .unwrap(),
        Change::Refused
    );

    // A failed cutover resumes as a cutover.
    store
        .finish_step(
            migration,
            second,
            (StepState::Failed, false),
            "refused",
            NOW + 130,
        )
        .await
        .unwrap();
    assert_eq!(
        store.migration(migration).await.unwrap().unwrap().state,
        State::Failed
    );
    assert!(store
        .retry_migration(migration, "operator/test", NOW + 140)
        .await
        .unwrap());
    let resumed = store.migration(migration).await.unwrap().unwrap();
    assert_eq!(resumed.state, State::CuttingOver);
    let step = store
        .migration_steps(migration)
        .await
        .unwrap()
        .into_iter()
        .find(|s| s.seq == second)
        .unwrap();
    assert_eq!((step.state, step.started_at_ms), (StepState::Pending, None));
    forced(store, migration).await;
}

/// A forced cutover replaces a planned one whose failover has not begun; not while a
/// cancel's rollback is open, and refused once a failover began.
async fn forced(store: &Store, migration: &str) {
    let force = |at: i64| {
        store.force_cutover(
            migration,
            "{\"requested_by\":\"operator/test\",\"allow_data_loss\":true,\"reason\":\"site lost\"}",
            "operator/test",
            at,
        )
    };
    assert_eq!(
        force(NOW + 150).await.unwrap(),
        Change::Unchanged,
        "a rollback is open"
    );
    for s in store.migration_steps(migration).await.unwrap() {
        if s.phase == Phase::Rollback {
            store
                .finish_step(migration, s.seq, (StepState::Done, false), "", NOW + 151)
                .await
                .unwrap();
        }
    }
    let before = store.migration_steps(migration).await.unwrap().len();
    assert_eq!(
        force(NOW + 155).await.unwrap(),
        Change::Unchanged,
        "no link made"
    );
    let create_link = store
        .migration_steps(migration)
        .await
        .unwrap()
        .into_iter()
        .find(|s| s.name == journal::CREATE_LINK)
        .unwrap();
    store
        .finish_step(
            migration,
            create_link.seq,
            (StepState::Done, false),
            "",
            NOW + 156,
        )
        .await
        .unwrap();
    assert_eq!(force(NOW + 160).await.unwrap(), Change::Made);
    let m = store.migration(migration).await.unwrap().unwrap();
    assert_eq!(m.state, State::CuttingOver);
    assert!(m.cutover.contains("site lost"));
    let steps = store.migration_steps(migration).await.unwrap();
    assert!(steps[..before]
        .iter()
        .all(|s| s.phase != Phase::Cutover
            || matches!(s.state, StepState::Done | StepState::Skipped)));
    let journaled: Vec<(&str, Phase, StepState)> = steps[before..]
        .iter()
        .map(|s| (s.name.as_str(), s.phase, s.state))
        .collect();
    let wanted: Vec<(&str, Phase, StepState)> = journal::FORCED_CUTOVER
        .iter()
        .map(|(n, _)| (*n, Phase::Cutover, StepState::Pending))
        .collect();
    assert_eq!(journaled, wanted);
    let failover = steps[before..]
        .iter()
        .find(|s| s.name == journal::FAILOVER)
        .unwrap()
        .seq;
    assert!(store
        .start_arm_step((migration, failover), StepState::Pending, "", NOW + 170)
        .await
        .unwrap());
    assert_eq!(force(NOW + 180).await.unwrap(), Change::Refused);
    let actions: Vec<String> = store
        .list_audit(1000)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.action)
        .collect();
    assert!(actions.iter().any(|a| a == "cutover.force"), "{actions:?}");
}

/// Another migration to `target` whose failover is in flight.
async fn to_target(store: &Store, target: &str, except: &str) -> Option<String> {
    let flights = store.failovers_in_flight(except).await.unwrap();
    flights
        .into_iter()
        .find(|f| f.target == target)
        .map(|f| f.migration)
}

/// Requests for fresh readings: one outstanding at a time per agent, and those
/// finished an hour before the next is queued are gone.
pub(super) async fn reads_are_not_kept(store: &Store, agent: AgentId) {
    use ferry_control::store::commands::KEEP_READS_MS;
    let read = |at: i64| {
        CommandRecord::pending(
            agent,
            CommandKind::ReadLinkStatus,
            "driver",
            at,
            at + 30_000,
            "",
        )
    };
    let first = read(NOW);
    store.queue_read(&first).await.unwrap();
    let kind = CommandKind::ReadLinkStatus;
    assert!(store
        .command_outstanding(agent, kind, NOW + 1)
        .await
        .unwrap());
    assert_eq!(store.expire_commands(NOW + 30_000).await.unwrap(), 1);
    assert!(!store
        .command_outstanding(agent, kind, NOW + 30_001)
        .await
        .unwrap());
    let second = read(NOW + 40_000);
    store.queue_read(&second).await.unwrap();
    assert!(
        store.get_command(&first.id).await.unwrap().is_some(),
        "kept an hour"
    );
    store.expire_commands(NOW + 70_000).await.unwrap();
    let third = read(NOW + 30_000 + KEEP_READS_MS + 1);
    store.queue_read(&third).await.unwrap();
    assert!(store.get_command(&first.id).await.unwrap().is_none());
    assert!(store.get_command(&second.id).await.unwrap().is_some());
    assert!(store.get_command(&third.id).await.unwrap().is_some());
}

/// A cutover's row counts: SQL Server's asked (a CountRows command) and recorded from
/// its agent's report only; the MI's recorded only for the count asked last.
pub(super) async fn row_counts(store: &Store, migration: &str, agent: AgentId) {
    use ferry_control::store::row_counts::{Side, SqlCounted, TableRows};
    let command = |at: i64| {
        CommandRecord::pending(agent, CommandKind::CountRows, "driver", at, at + 60_000, "")
            .with_payload("{}".into())
    };
    let first = command(NOW);
    store.ask_sql_count(migration, 7, &first).await.unwrap();
    let asked = store.row_counts(migration).await.unwrap();
    assert_eq!(asked.len(), 1);
    assert_eq!((asked[0].side, asked[0].counted_at_ms), (Side::Sql, None));
    assert_eq!(asked[0].command_id, first.id);
    assert_eq!(
        store.get_command(&first.id).await.unwrap().unwrap().kind,
        CommandKind::CountRows
    );

    let counted = |command_id: &str| SqlCounted {
        command_id: command_id.into(),
        migration_id: migration.into(),
        lsn_before: "100".into(),
        lsn_after: "100".into(),
        tables: vec![TableRows {
            schema: "dbo".into(),
            name: "Orders".into(),
            rows: 7,
        }],
        counted_at_ms: NOW + 5,
        error: String::new(),
    };
    let report = |id: &str, body: SqlCounted| IncomingReport {
        report_id: id.into(),
        produced_at_ms: NOW + 5,
        body: ReportBody::RowCounts(body),
    };
    // Another agent's report, or one for a count no longer asked, changes nothing.
    store
        .insert_token(&token("t-rc", NOW + 60_000))
        .await
        .unwrap();
    let stranger = super::agent("sql-rc");
    store
        .enroll_agent("t-rc", "hash-t-rc", &stranger, NOW)
        .await
        .unwrap();
    let stranger = stranger.id;
    store
        .record_report(stranger, &report("rc-x", counted(&first.id)), NOW + 6)
        .await
        .unwrap();
    store
        .record_report(agent, &report("rc-0", counted("other")), NOW + 6)
        .await
        .unwrap();
    assert_eq!(
        store.row_counts(migration).await.unwrap()[0].counted_at_ms,
        None
    );
    store
        .record_report(agent, &report("rc-1", counted(&first.id)), NOW + 6)
        .await
        .unwrap();
    let sql = &store.row_counts(migration).await.unwrap()[0];
    assert_eq!(sql.counted_at_ms, Some(NOW + 5));
    assert_eq!((sql.lsn_before.as_str(), sql.requested_at_ms), ("100", 7));
    assert_eq!(sql.tables, counted("").tables);

    // The MI's count: a late answer to an older ask is dropped.
    store.ask_mi_count(migration, 7, NOW + 10).await.unwrap();
    store.ask_mi_count(migration, 7, NOW + 20).await.unwrap();
    store
        .record_mi_count(migration, NOW + 10, Ok(vec![]), NOW + 30)
        .await
        .unwrap();
    let mi = |counts: Vec<ferry_control::store::row_counts::RowCount>| {
        counts.into_iter().find(|c| c.side == Side::Mi).unwrap()
    };
    assert_eq!(
        mi(store.row_counts(migration).await.unwrap()).counted_at_ms,
        None
    );
    store
        .record_mi_count(migration, NOW + 20, Err("no answer".into()), NOW + 31)
        .await
        .unwrap();
    let failed = mi(store.row_counts(migration).await.unwrap());
    assert_eq!(
        (failed.counted_at_ms, failed.error.as_str()),
        (Some(NOW + 31), "no answer")
    );

    // Asking again starts afresh.
    let second = command(NOW + 40);
    store.ask_sql_count(migration, 8, &second).await.unwrap();
    let sql = store.row_counts(migration).await.unwrap();
    let sql = sql.iter().find(|c| c.side == Side::Sql).unwrap();
    assert_eq!((sql.counted_at_ms, sql.requested_at_ms), (None, 8));
    assert!(sql.tables.is_empty());
}
