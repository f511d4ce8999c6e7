//! The agent's outbox across control-plane and agent crashes: every report stored once.

use super::*;

async fn outbox_counts(state: &std::path::Path) -> (u64, u64) {
    let outbox = Outbox::open(&ferry_agent::outbox_path(state))
        .await
        .unwrap();
    let counts = outbox.counts().await.unwrap();
    outbox.close().await;
    counts
}

/// The last lines of the agent's log, so a timeout says what the agent was doing.
fn log_tail(agent: &AgentProcess) -> String {
    let log = agent.log();
    let lines: Vec<&str> = log.lines().collect();
    lines[lines.len().saturating_sub(20)..].join("\n")
}

#[tokio::test]
async fn outbox_delivers_every_report_exactly_once_across_crashes() {
    let dir = tempfile::tempdir().unwrap();
    let plane = ControlPlane::start(dir.path(), FAST_CONTROL_CONFIG).await;
    let state = enroll_ok(&plane, dir.path(), "sql-outbox").await;
    let config = agent_config(&state, closed_port(), 1);
    let agent = AgentProcess::start(&state, &config);
    let id = Identity::load(&state).unwrap().agent_id.parse().unwrap();
    let store = plane.store().await;
    wait::until("two reports stored", LIMIT, || async {
        let n = store
            .list_report_ids(id)
            .await
            .map_err(|e| e.to_string())?
            .len();
        if n >= 2 {
            Ok(Some(()))
        } else {
            Err(format!("{n} stored"))
        }
    })
    .await;
    store.close().await;

    // The control plane crashes; reports pile up in the outbox, across an agent crash too.
    let addr = plane.kill().await;
    wait::until("three reports queued", LIMIT, || async {
        let (pending, _) = outbox_counts(&state).await;
        if pending >= 3 {
            Ok(Some(()))
        } else {
            Err(format!("{pending} pending"))
        }
    })
    .await;
    // An operator on the host can see the backlog without the control plane.
    let status = tokio::process::Command::new(ferry_tests::binaries::binary("ferry-agent"))
        .arg("--state-dir")
        .arg(&state)
        .arg("status")
        .output()
        .await
        .unwrap();
    let shown = text(&status);
    assert!(
        status.status.success() && shown.contains("sql-outbox") && shown.contains("waiting"),
        "{shown}"
    );
    agent.kill().await;
    let (queued_before_restart, _) = outbox_counts(&state).await;
    let agent = AgentProcess::start(&state, &config);
    wait::until(
        "more reports queued after the agent restarted",
        LIMIT,
        || async {
            let (pending, _) = outbox_counts(&state).await;
            if pending > queued_before_restart {
                Ok(Some(()))
            } else {
                Err(format!(
                    "{pending} pending; agent log:\n{}",
                    log_tail(&agent)
                ))
            }
        },
    )
    .await;

    // The control plane returns on the same address; the outbox drains.
    let plane = ControlPlane::start_on(dir.path(), FAST_CONTROL_CONFIG, addr).await;
    wait::until("the outbox to drain", LIMIT, || async {
        let (pending, acked) = outbox_counts(&state).await;
        if pending == 0 && acked >= 5 {
            Ok(Some(()))
        } else {
            Err(format!(
                "{pending} pending, {acked} acked; agent log:\n{}",
                log_tail(&agent)
            ))
        }
    })
    .await;
    agent.stop().await;

    let outbox = Outbox::open(&ferry_agent::outbox_path(&state))
        .await
        .unwrap();
    let produced = outbox.report_ids().await.unwrap();
    assert_eq!(
        outbox.counts().await.unwrap().0,
        0,
        "everything acknowledged"
    );
    let store = plane.store().await;
    let stored = store.list_report_ids(id).await.unwrap();
    let stored_set: HashSet<&String> = stored.iter().collect();
    assert_eq!(stored.len(), stored_set.len(), "no report stored twice");
    assert_eq!(
        stored_set,
        produced.iter().collect::<HashSet<_>>(),
        "every report produced is stored, and nothing else"
    );
    plane.stop().await;
}
