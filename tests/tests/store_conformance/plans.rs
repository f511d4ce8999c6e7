//! Store conformance for plans: waves applied declaratively, paused and approved;
//! cutover groups and their hook claimed once; and separation of duties (a running
//! cutover's wave changes only by an admin).

use ferry_control::fleet::identity::AgentId;
use ferry_control::migration::journal::{self, CUTOVER};
use ferry_control::migration::State;
use ferry_control::store::migrations::Change;
use ferry_control::store::waves::RunningCutovers;

use super::*;

/// Waves: a plan applied declaratively, approvals cleared when it changes a wave,
/// paused and resumed, a failed member found.
pub(super) async fn waves(store: &Store, migration: &str) {
    use ferry_control::cutover::wave::{OnFailure, Wave};
    let wave = |name: &str, approvals: u32| Wave {
        name: name.into(),
        approvals,
        on_failure: OnFailure::Halt,
        window: Some(ferry_control::cutover::window::Window::OneOff(
            NOW,
            NOW + 3_600_000,
        )),
        migrations: vec![migration.to_string()],
    };
    let applied = store
        .apply_plan(
            (&[wave("w1", 1)], &[]),
            ("operator/test", RunningCutovers::Refuse),
            NOW,
        )
        .await
        .unwrap()
        .applied()
        .unwrap();
    assert_eq!(applied, [("w1".to_string(), "created")]);
    let again = store
        .apply_plan(
            (&[wave("w1", 1)], &[]),
            ("operator/test", RunningCutovers::Refuse),
            NOW + 1,
        )
        .await
        .unwrap()
        .applied()
        .unwrap();
    assert_eq!(again, [("w1".to_string(), "unchanged")]);
    assert_eq!(
        store.migration(migration).await.unwrap().unwrap().wave,
        "w1"
    );
    assert_eq!(
        store
            .approve_wave("w1", "operator/bob", NOW + 2)
            .await
            .unwrap(),
        Change::Made
    );
    assert_eq!(
        store
            .approve_wave("w1", "operator/bob", NOW + 3)
            .await
            .unwrap(),
        Change::Unchanged
    );
    assert_eq!(
        store
            .approve_wave("nope", "operator/bob", NOW + 3)
            .await
            .unwrap(),
        Change::Unchanged
    );
    assert_eq!(
        store.wave("w1").await.unwrap().unwrap().approvers,
        ["operator/bob"]
    );
    assert_eq!(
        store
            .set_wave_paused("w1", true, "operator/test", NOW + 4)
            .await
            .unwrap(),
        Change::Made
    );
    assert_eq!(
        store
            .set_wave_paused("w1", true, "operator/test", NOW + 5)
            .await
            .unwrap(),
        Change::Unchanged
    );
    assert!(store.wave("w1").await.unwrap().unwrap().paused);
    // Every operator change that bears on a member's gates raises its revision (a
    // failover judged before it is not journaled after it); unchanged ones do not.
    let revision = || async { store.migration(migration).await.unwrap().unwrap().revision };
    let paused_at = revision().await;
    store
        .set_wave_paused("w1", true, "operator/test", NOW + 5)
        .await
        .unwrap();
    assert_eq!(revision().await, paused_at, "nothing changed");
    store
        .set_wave_paused("w1", false, "operator/test", NOW + 5)
        .await
        .unwrap();
    assert!(revision().await > paused_at, "resumed");
    store
        .set_wave_paused("w1", true, "operator/test", NOW + 5)
        .await
        .unwrap();
    // Changed: its approvals are gone. Another wave replaces it: it is removed.
    let updated = store
        .apply_plan(
            (&[wave("w1", 2)], &[]),
            ("operator/test", RunningCutovers::Refuse),
            NOW + 6,
        )
        .await
        .unwrap()
        .applied()
        .unwrap();
    assert_eq!(updated, [("w1".to_string(), "updated")]);
    assert!(store
        .wave("w1")
        .await
        .unwrap()
        .unwrap()
        .approvers
        .is_empty());
    let replaced = store
        .apply_plan(
            (&[wave("w2", 0)], &[]),
            ("operator/test", RunningCutovers::Refuse),
            NOW + 7,
        )
        .await
        .unwrap()
        .applied()
        .unwrap();
    assert_eq!(
        replaced,
        [("w1".to_string(), "removed"), ("w2".to_string(), "created")]
    );
    assert!(store.wave("w1").await.unwrap().is_none());
    assert_eq!(store.waves().await.unwrap().len(), 1);
    assert_eq!(
        store.migration(migration).await.unwrap().unwrap().wave,
        "w2"
    );
    assert_eq!(store.failed_in_wave("w2", "another").await.unwrap(), None);
    let cleared = store
        .apply_plan(
            (&[], &[]),
            ("operator/test", RunningCutovers::Refuse),
            NOW + 8,
        )
        .await
        .unwrap()
        .applied()
        .unwrap();
    assert_eq!(cleared, [("w2".to_string(), "removed")]);
    assert_eq!(store.migration(migration).await.unwrap().unwrap().wave, "");
}

/// Cutover groups: applied with the plan, their members' readiness, and the hook
/// claimed once (again only when a run was lost with a stopped control plane).
pub(super) async fn groups(store: &Store, migration: &str) {
    use ferry_control::cutover::group::Group;
    let group = Group {
        name: "g1".into(),
        hook: Some("repoint".into()),
        migrations: vec![migration.to_string()],
    };
    let plan = (&[][..], std::slice::from_ref(&group));
    let applied = store
        .apply_plan(plan, ("operator/test", RunningCutovers::Refuse), NOW)
        .await
        .unwrap()
        .applied()
        .unwrap();
    assert_eq!(applied, [("group g1".to_string(), "created")]);
    let again = store
        .apply_plan(plan, ("operator/test", RunningCutovers::Refuse), NOW + 1)
        .await
        .unwrap()
        .applied()
        .unwrap();
    assert_eq!(again, [("group g1".to_string(), "unchanged")]);
    assert_eq!(
        store.group_of(migration).await.unwrap(),
        Some(group.clone())
    );
    assert_eq!(store.groups().await.unwrap(), std::slice::from_ref(&group));

    store
        .set_gates_open(migration, Some(NOW + 5))
        .await
        .unwrap();
    let progress = store.member_progress(&group).await.unwrap();
    assert_eq!(progress.len(), 1);
    assert_eq!(progress[0].id, migration);
    assert_eq!(progress[0].gates_open_at_ms, Some(NOW + 5));

    assert_eq!(store.hook_run("g1").await.unwrap(), None);
    assert!(store.claim_hook("g1", NOW, NOW + 10).await.unwrap());
    assert!(
        !store.claim_hook("g1", NOW, NOW + 11).await.unwrap(),
        "once"
    );
    store
        .finish_hook(("g1", NOW + 10), false, "exit 3", NOW + 12)
        .await
        .unwrap();
    let run = store.hook_run("g1").await.unwrap().unwrap();
    assert_eq!(
        (run.state.as_str(), run.finished_at_ms, run.detail.as_str()),
        ("failed", Some(NOW + 12), "exit 3")
    );
    assert!(
        !store.claim_hook("g1", NOW + 100, NOW + 13).await.unwrap(),
        "a failed run waits for a retry"
    );
    // A run left running by a stopped control plane is claimed again once stale.
    lost_hook_run(store).await;

    let removed = store
        .apply_plan(
            (&[], &[]),
            ("operator/test", RunningCutovers::Refuse),
            NOW + 20,
        )
        .await
        .unwrap()
        .applied()
        .unwrap();
    assert_eq!(removed, [("group g1".to_string(), "removed")]);
    assert_eq!(store.group_of(migration).await.unwrap(), None);
}

/// A second group's hook, claimed and then lost: claimable again only once stale.
async fn lost_hook_run(store: &Store) {
    assert!(store.claim_hook("g2", NOW, NOW + 30).await.unwrap());
    assert!(!store.claim_hook("g2", NOW + 29, NOW + 40).await.unwrap());
    assert!(store.claim_hook("g2", NOW + 31, NOW + 41).await.unwrap());
    let run = store.hook_run("g2").await.unwrap().unwrap();
    assert_eq!(
        (run.state.as_str(), run.started_at_ms),
        ("running", NOW + 41)
    );
}

/// Separation of duties: while a migration's cutover runs, its failover not begun, a
/// plan that changes its wave (its approvals, its membership) is refused and changes
/// nothing, unless an admin's; a plan that leaves it alone is applied.
pub(super) async fn separation_of_duties(store: &Store, agent: AgentId) {
    use ferry_control::cutover::wave::{OnFailure, Wave};
    use ferry_control::migration::Options;
    use ferry_control::store::migrations::MigrationRecord;
    use ferry_control::store::waves::PlanApplied;
    let record = MigrationRecord::preparing(
        "sod".into(),
        (agent, "sql01".into()),
        ("default".into(), "Duty".into()),
        ("key-sod".into(), "DAG_Duty".into()),
        Options::default(),
        ("operator/test".into(), NOW),
    );
    assert_eq!(store.create_migration(&record).await.unwrap(), None);
    store
        .set_migration_state(
            ("sod", State::Preparing),
            State::Seeding,
            "linked",
            None,
            NOW,
        )
        .await
        .unwrap();
    let wave = |approvals: u32, migrations: Vec<String>| Wave {
        name: "w-duty".into(),
        approvals,
        on_failure: OnFailure::Halt,
        window: None,
        migrations,
    };
    let members = vec!["sod".to_string()];
    let apply = |waves: Vec<Wave>, running: RunningCutovers| async move {
        store
            .apply_plan((&waves, &[]), ("operator/alice", running), NOW + 10)
            .await
            .unwrap()
    };
    assert!(matches!(
        apply(vec![wave(2, members.clone())], RunningCutovers::Refuse).await,
        PlanApplied::Applied(_)
    ));
    let started = store
        .start_cutover(
            ("sod", "{\"requested_by\":\"operator/alice\"}"),
            &journal::names(&CUTOVER),
            "operator/alice",
            NOW + 20,
        )
        .await
        .unwrap();
    assert_eq!(started, Change::Made);

    // Lowering its wave's approvals, or taking it out of the wave: refused.
    for plan in [
        vec![wave(0, members.clone())],
        vec![wave(2, Vec::new())],
        Vec::new(),
    ] {
        let PlanApplied::Refused(why) = apply(plan, RunningCutovers::Refuse).await else {
            panic!("a plan changing a running cutover's wave was applied");
        };
        assert!(why.contains("sod") && why.contains("admin"), "{why}");
        let kept = store.wave("w-duty").await.unwrap().unwrap();
        assert_eq!((kept.wave.approvals, kept.wave.migrations.len()), (2, 1));
    }
    // The same plan again changes nothing: applied.
    assert!(matches!(
        apply(vec![wave(2, members.clone())], RunningCutovers::Refuse).await,
        PlanApplied::Applied(_)
    ));
    // An admin may.
    assert!(matches!(
        apply(Vec::new(), RunningCutovers::MayChange).await,
        PlanApplied::Applied(_)
    ));
    assert!(store.wave("w-duty").await.unwrap().is_none());
    assert_eq!(
        store
            .cancel_cutover("sod", "operator/alice", NOW + 30)
            .await
            .unwrap(),
        Change::Made
    );
}
