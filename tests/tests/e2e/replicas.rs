//! Several control-plane replicas sharing one store.

use super::*;

#[tokio::test]
async fn revocation_through_one_replica_cuts_off_a_session_on_another() {
    let dir = tempfile::tempdir().unwrap();
    let replica_a = ControlPlane::start(dir.path(), FAST_CONTROL_CONFIG).await;
    let replica_b = ControlPlane::start(dir.path(), FAST_CONTROL_CONFIG).await;
    assert_ne!(replica_a.addr, replica_b.addr);
    // Enroll and connect through B.
    let state = enroll_ok(&replica_b, dir.path(), "sql-replicas").await;
    let mut agent = AgentProcess::start(&state, &agent_config(&state, closed_port(), 3600));
    host_where(
        &replica_a,
        "sql-replicas",
        "the agent online, seen from A",
        |h| h["status"] == "online",
    )
    .await;

    let out = replica_a
        .ferry(&["revoke", "sql-replicas", "--reason", "stolen laptop"])
        .await;
    assert!(out.status.success(), "{}", text(&out));
    let status = agent.exited(LIMIT).await;
    assert!(!status.success());
    assert!(agent.log().contains("stolen laptop"), "{}", agent.log());
    replica_b.stop().await;
    replica_a.stop().await;
}

/// Who holds the migration driver's lease, as the store says.
async fn driver(store: &ferry_control::store::Store) -> String {
    let lease = ferry_control::reconcile::driver::LEASE;
    let held = store.lease(lease).await.unwrap();
    held.map(|lease| lease.holder).unwrap_or_default()
}

/// Two replicas on a scratch PostgreSQL database, the first started with the lab's
/// fleet and driving; SQL22's Sales ready for cutover, its workload stopped. None
/// without PostgreSQL.
struct TwoReplicas {
    database: ferry_tests::databases::ScratchPostgres,
    lab: ferry_sim::Lab,
    _dir: tempfile::TempDir,
    config: String,
    first: ControlPlane,
    second: ControlPlane,
    agents: Vec<(std::path::PathBuf, String, AgentProcess)>,
    id: String,
}

async fn two_replicas(database: &str) -> Option<TwoReplicas> {
    use super::migrations::{fixture_on, preflight_inputs, ready, start, Fixture};
    let database = ferry_tests::databases::ScratchPostgres::create(database).await?;
    let Fixture {
        lab,
        dir,
        config,
        plane: first,
        agents,
    } = fixture_on(
        super::migrations::SCENARIO,
        &[("sqlhost", &["SQL22"])],
        Some(&database.url),
        &[],
    )
    .await;
    preflight_inputs(&first, &["sqlhost"]).await;
    let id = start(&first, "sqlhost", "Sales").await;
    ready(&first, std::slice::from_ref(&id)).await;
    let second = ControlPlane::start(dir.path(), &config).await;
    lab.set_workload("SQL22", "Sales", &Default::default())
        .unwrap();
    Some(TwoReplicas {
        database,
        lab,
        _dir: dir,
        config,
        first,
        second,
        agents,
        id,
    })
}

#[tokio::test]
async fn on_postgresql_one_replica_drives_the_cutover_and_another_takes_over_when_it_dies() {
    use super::migrations::watch_until;
    let Some(TwoReplicas {
        database,
        lab: _lab,
        _dir: dir,
        config,
        first,
        second,
        agents,
        id,
    }) = two_replicas("ferry_e2e_lease").await
    else {
        return;
    };
    let store = ferry_control::store::Store::open(&database.url)
        .await
        .unwrap();
    let first_pid = format!("pid {} ", first.pid());
    assert!(
        driver(&store).await.contains(&first_pid),
        "the first replica drives"
    );

    // Cut over through the second replica: the first drives it, and dies.
    let cut = second.ferry(&["cutover", &id]).await;
    assert!(cut.status.success(), "{}", text(&cut));
    let addr = first.kill().await;
    let second_pid = format!("pid {} ", second.pid());
    wait::until("the second replica takes the lease", LIMIT, || async {
        let holder = driver(&store).await;
        Ok(holder.contains(&second_pid).then_some(()))
    })
    .await;
    // The first comes back where the agent knows it (a load balancer's job); the
    // second keeps the lease and finishes the cutover.
    let first = ControlPlane::start_on(dir.path(), &config, addr).await;
    watch_until(&second, std::slice::from_ref(&id), "completed").await;
    assert!(driver(&store).await.contains(&second_pid));
    let shown = second.ferry_json(&["migrate", "show", &id]).await;
    let failover = super::cutover::step(&shown, "failover");
    assert_eq!(failover["attempts"], 1, "{failover}");

    store.close().await;
    super::migrations::stop(first, agents).await;
    second.stop().await;
    database.drop_database().await;
}

/// ARM slower than the driver's lease (it answers the failover request 5 s late, the
/// lease is 3 s here): the driving replica keeps its lease while the request is out,
/// waits for the answer, and the cutover asks for its failover once, however many
/// replicas share the store.
#[tokio::test]
async fn on_postgresql_a_failover_slower_than_the_lease_is_asked_for_once() {
    use super::migrations::watch_until;
    use ferry_sim::faults::ArmFault;
    let Some(TwoReplicas {
        database,
        lab,
        _dir,
        config: _,
        first,
        second,
        agents,
        id,
    }) = two_replicas("ferry_e2e_slow_arm").await
    else {
        return;
    };
    lab.control
        .fail_arm_request(ArmFault::Slow { after_secs: 5 }, 1, ("POST", "/failover"))
        .unwrap();
    let cut = second
        .ferry(&["cutover", &id, "--confirm-traffic-stopped"])
        .await;
    assert!(cut.status.success(), "{}", text(&cut));
    watch_until(&second, std::slice::from_ref(&id), "completed").await;
    assert_eq!(
        lab.control.arm_faults_left(),
        0,
        "the slow answer was given"
    );
    let posts = lab.control.arm_requests("POST", "/failover");
    assert_eq!(posts.len(), 1, "one failover request: {posts:?}");
    let shown = second.ferry_json(&["migrate", "show", &id]).await;
    let failover = super::cutover::step(&shown, "failover");
    assert_eq!(failover["attempts"], 1, "{failover}");

    super::migrations::stop(first, agents).await;
    second.stop().await;
    database.drop_database().await;
}
