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
