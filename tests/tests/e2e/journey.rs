//! The happy path: enroll, heartbeat, report inventory, run commands online and queued
//! offline, stop cleanly with the agent connected; on SQLite and on PostgreSQL.

use super::*;

#[tokio::test]
async fn enrolled_agent_heartbeats_reports_inventory_and_runs_commands() {
    journey(FAST_CONTROL_CONFIG).await;
}

#[tokio::test]
async fn the_same_journey_on_postgresql() {
    let Some(database) = ferry_tests::databases::ScratchPostgres::create("ferry_e2e").await else {
        return;
    };
    journey(&format!(
        "database_url = {:?}\n{FAST_CONTROL_CONFIG}",
        database.url
    ))
    .await;
    database.drop_database().await;
}

/// Enroll, heartbeat, report inventory, run a command online and one queued offline.
async fn journey(config: &str) {
    let dir = tempfile::tempdir().unwrap();
    let plane = ControlPlane::start(dir.path(), config).await;
    let state = enroll_ok(&plane, dir.path(), "sql01").await;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = |path: &str| {
            std::fs::metadata(state.join(path))
                .unwrap()
                .permissions()
                .mode()
        };
        assert_eq!(
            mode("identity/identity.toml") & 0o077,
            0,
            "the agent's private key must be owner-only"
        );
        assert_eq!(mode("identity") & 0o077, 0, "and its folder");
    }
    let sql_port = closed_port();
    let config = agent_config(&state, sql_port, 3600);
    let agent = AgentProcess::start(&state, &config);

    let host = host_where(&plane, "sql01", "sql01 online with its inventory", |h| {
        h["status"] == "online" && h["instance_count"] == 1
    })
    .await;
    assert_eq!(host["os"], std::env::consts::OS);
    let detail = plane.ferry_json(&["host", "show", "sql01"]).await;
    let instance = &detail["instances"][0];
    assert_eq!(instance["name"], "default");
    assert_eq!(
        instance["reachable"], false,
        "nothing listens on the SQL port"
    );
    assert!(
        instance["error"]
            .as_str()
            .unwrap()
            .contains(&format!("127.0.0.1:{sql_port}")),
        "{instance}"
    );
    assert!(
        !detail.to_string().contains("not-a-real-secret"),
        "SQL credentials must never reach the control plane"
    );
    let table = text(&plane.ferry(&["hosts"]).await);
    assert!(
        table.contains("sql01") && table.contains("online"),
        "{table}"
    );

    // A command to a connected agent runs at once.
    let queued = plane
        .ferry_json(&["command", "send", "--host", "sql01", "collect-inventory"])
        .await;
    let id = queued["id"].as_str().unwrap().to_string();
    wait_command(&plane, "sql01", &id, "done").await;

    // A command for an offline agent waits for it.
    assert!(agent.stop().await.success());
    host_where(&plane, "sql01", "sql01 disconnected", |h| {
        h["status"] == "disconnected"
    })
    .await;
    let queued = plane
        .ferry_json(&["command", "send", "--host", "sql01", "collect-inventory"])
        .await;
    let id = queued["id"].as_str().unwrap().to_string();
    assert_eq!(command_state(&plane, "sql01", &id).await, "pending");
    let agent = AgentProcess::start(&state, &config);
    wait_command(&plane, "sql01", &id, "done").await;
    host_where(&plane, "sql01", "sql01 online again", |h| {
        h["status"] == "online"
    })
    .await;

    let unknown = plane.ferry(&["host", "show", "nobody"]).await;
    assert!(
        !unknown.status.success() && text(&unknown).contains("no host with id or name \"nobody\""),
        "{}",
        text(&unknown)
    );
    // Stopping the control plane with the agent connected drains at once: the session
    // is ended with "reconnect", not left to hold the shutdown open.
    assert!(plane.stop().await.success());
    let control_log = std::fs::read_to_string(dir.path().join("control.log")).unwrap();
    assert!(!control_log.contains("drain deadline"), "{control_log}");
    wait::until(
        "the agent to hear the control plane is going",
        LIMIT,
        || async {
            if agent.log().contains("shutting down; reconnect") {
                Ok(Some(()))
            } else {
                Err("not yet".into())
            }
        },
    )
    .await;
    agent.stop().await;
}
