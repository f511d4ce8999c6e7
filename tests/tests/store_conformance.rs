//! Store conformance: the same assertions on SQLite (always) and on PostgreSQL (when
//! FERRY_TEST_DATABASE_URL is set; each run works in a fresh database it drops after).

use ferry_control::fleet::identity::AgentId;
use ferry_control::store::commands::{CommandKind, CommandRecord, CommandState};
use ferry_control::store::inventory::{DatabaseRecord, IncomingReport, InstanceRecord, ReportBody};
use ferry_control::store::tokens::{EnrollError, NewAgent, NewToken, TokenRejection};
use ferry_control::store::Store;
use ferry_tests::databases::ScratchPostgres;
use uuid::Uuid;

const NOW: i64 = 1_700_000_000_000;

#[tokio::test]
async fn conformance_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("ferry.db").display()
    );
    suite(&url).await;
    // Re-opening applies no schema twice and keeps the data.
    let store = Store::open(&url).await.unwrap();
    assert!(!store.list_agents().await.unwrap().is_empty());
}

#[tokio::test]
async fn conformance_on_postgres() {
    let Some(database) = ScratchPostgres::create("ferry_conformance").await else {
        return;
    };
    suite(&database.url).await;
    let reopened = Store::open(&database.url).await.unwrap();
    assert!(!reopened.list_agents().await.unwrap().is_empty());
    reopened.close().await;
    database.drop_database().await;
}

fn token(id: &str, expires: i64) -> NewToken {
    NewToken {
        id: id.into(),
        secret_hash: format!("hash-{id}"),
        description: "test".into(),
        created_by: "operator/test".into(),
        created_at_ms: NOW,
        expires_at_ms: expires,
    }
}

fn agent(name: &str) -> NewAgent {
    NewAgent {
        id: AgentId(Uuid::new_v4()),
        name: name.into(),
        agent_version: "0.1.0".into(),
        cert_serial: "01".into(),
        cert_not_after_ms: NOW + 86_400_000,
    }
}

fn inventory(db_names: &[&str]) -> ReportBody {
    ReportBody::Inventory(vec![InstanceRecord {
        name: "default".into(),
        address: "localhost:1433".into(),
        reachable: true,
        server_name: "SQL01".into(),
        product_version: "16.0.4125.3".into(),
        major_version: 16,
        databases: db_names
            .iter()
            .map(|n| DatabaseRecord {
                name: n.to_string(),
                recovery_model: "FULL".into(),
                log_file_count: 1,
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    }])
}

async fn suite(url: &str) {
    let store = Store::open(url).await.expect("open store");

    // Tokens: single use, expiry, unknown and wrong secret all refused.
    store
        .insert_token(&token("t1", NOW + 60_000))
        .await
        .unwrap();
    store.insert_token(&token("t2", NOW - 1)).await.unwrap();
    assert_eq!(
        store.check_token("t1", "hash-t1", NOW).await.unwrap(),
        Ok(())
    );
    assert_eq!(
        store.check_token("t1", "wrong", NOW).await.unwrap(),
        Err(TokenRejection::Unknown)
    );
    assert_eq!(
        store.check_token("nope", "hash-t1", NOW).await.unwrap(),
        Err(TokenRejection::Unknown)
    );
    let first = agent("sql01");
    store
        .enroll_agent("t1", "hash-t1", &first, NOW)
        .await
        .unwrap();
    assert!(matches!(
        store
            .enroll_agent("t1", "hash-t1", &agent("sql02"), NOW)
            .await,
        Err(EnrollError::Token(TokenRejection::AlreadyUsed))
    ));
    assert!(matches!(
        store
            .enroll_agent("t2", "hash-t2", &agent("sql03"), NOW)
            .await,
        Err(EnrollError::Token(TokenRejection::Expired))
    ));

    // A live name cannot be taken twice, and the refused enrollment consumes nothing.
    store
        .insert_token(&token("t3", NOW + 60_000))
        .await
        .unwrap();
    assert!(matches!(
        store
            .enroll_agent("t3", "hash-t3", &agent("sql01"), NOW)
            .await,
        Err(EnrollError::NameTaken(_))
    ));
    assert_eq!(
        store.check_token("t3", "hash-t3", NOW).await.unwrap(),
        Ok(())
    );
    assert_eq!(store.list_agents().await.unwrap().len(), 1);

    // Heartbeats never move time backwards; hello records what the agent says.
    store
        .record_hello(first.id, "0.2.0", "sqlhost", "linux", NOW)
        .await
        .unwrap();
    store.touch_agents(&[(first.id, NOW + 10)]).await.unwrap();
    store.touch_agents(&[(first.id, NOW + 5)]).await.unwrap();
    let record = store.get_agent(first.id).await.unwrap().unwrap();
    assert_eq!(
        (record.last_seen_ms, record.agent_version.as_str()),
        (Some(NOW + 10), "0.2.0")
    );
    assert_eq!(store.find_agents("sql01").await.unwrap()[0].id, first.id);
    assert_eq!(
        store
            .find_agents(&first.id.to_string())
            .await
            .unwrap()
            .len(),
        1
    );

    // Reports are stored once; inventory is replaced, never rolled back by an older one.
    let report = |id: &str, at: i64, body: ReportBody| IncomingReport {
        report_id: id.into(),
        produced_at_ms: at,
        body,
    };
    assert!(store
        .record_report(first.id, &report("r1", NOW, inventory(&["a", "b"])), NOW)
        .await
        .unwrap());
    assert!(!store
        .record_report(first.id, &report("r1", NOW, inventory(&["zzz"])), NOW)
        .await
        .unwrap());
    assert!(store
        .record_report(first.id, &report("r2", NOW + 100, inventory(&["c"])), NOW)
        .await
        .unwrap());
    assert!(store
        .record_report(first.id, &report("r0", NOW - 100, inventory(&["old"])), NOW)
        .await
        .unwrap());
    let instances = store.list_instances(first.id).await.unwrap();
    assert_eq!(instances.len(), 1);
    assert_eq!(
        instances[0]
            .databases
            .iter()
            .map(|d| d.name.as_str())
            .collect::<Vec<_>>(),
        ["c"]
    );
    assert_eq!(store.list_report_ids(first.id).await.unwrap().len(), 3);
    let summary = &store.list_agents().await.unwrap()[0];
    assert_eq!((summary.instance_count, summary.database_count), (1, 1));

    // Commands: pending -> sent -> acked -> done; redelivery; expiry; owner only.
    let command = |id: &str, expires: i64| CommandRecord {
        id: id.into(),
        agent_id: first.id,
        kind: CommandKind::CollectInventory,
        state: CommandState::Pending,
        created_by: "operator/test".into(),
        created_at_ms: NOW,
        updated_at_ms: NOW,
        expires_at_ms: expires,
        error_code: String::new(),
        error_message: String::new(),
        trace_context: "{}".into(),
    };
    store
        .create_command(&command("c1", NOW + 60_000))
        .await
        .unwrap();
    store
        .create_command(&command("c2", NOW + 10))
        .await
        .unwrap();
    assert_eq!(
        store.agents_with_pending_commands(NOW).await.unwrap(),
        vec![first.id]
    );
    let delivered = store
        .take_deliverable_commands(first.id, false, NOW)
        .await
        .unwrap();
    assert_eq!(
        delivered.iter().map(|c| c.id.as_str()).collect::<Vec<_>>(),
        ["c1", "c2"]
    );
    assert!(store
        .take_deliverable_commands(first.id, false, NOW)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        store
            .take_deliverable_commands(first.id, true, NOW)
            .await
            .unwrap()
            .len(),
        2,
        "a new session redelivers unacked commands"
    );
    let stranger = AgentId(Uuid::new_v4());
    assert!(
        !store.ack_command(stranger, "c1", NOW).await.unwrap(),
        "only the command's agent can ack it"
    );
    assert!(store.ack_command(first.id, "c1", NOW).await.unwrap());
    let result = ReportBody::CommandResult {
        command_id: "c1".into(),
        ok: true,
        error_code: String::new(),
        error_message: String::new(),
    };
    store
        .record_report(first.id, &report("r3", NOW, result), NOW)
        .await
        .unwrap();
    assert_eq!(store.expire_commands(NOW + 20).await.unwrap(), 1);
    let states: Vec<(String, CommandState)> = store
        .list_commands(Some(first.id), 10)
        .await
        .unwrap()
        .into_iter()
        .map(|c| (c.id, c.state))
        .collect();
    assert!(
        states.contains(&("c1".into(), CommandState::Done)),
        "{states:?}"
    );
    assert!(
        states.contains(&("c2".into(), CommandState::Expired)),
        "{states:?}"
    );
    assert_eq!(
        store.list_commands(None, 10).await.unwrap().len(),
        2,
        "no agent filter lists every agent's commands"
    );

    // Revocation frees the name for a fresh enrollment and is audited.
    assert!(store
        .revoke_agent(first.id, "decommissioned", "operator/test", NOW)
        .await
        .unwrap());
    assert!(!store
        .revoke_agent(first.id, "again", "operator/test", NOW)
        .await
        .unwrap());
    assert!(
        !store
            .record_renewal(first.id, "02", NOW, NOW)
            .await
            .unwrap(),
        "a revoked agent cannot renew"
    );
    store
        .enroll_agent("t3", "hash-t3", &agent("sql01"), NOW)
        .await
        .unwrap();
    assert_eq!(
        store.find_agents("sql01").await.unwrap()[0].revoked_at_ms,
        None,
        "the live agent is found first"
    );
    let actions: Vec<String> = store
        .list_audit(50)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.action)
        .collect();
    for action in [
        "token.create",
        "agent.enroll",
        "agent.revoke",
        "command.create",
    ] {
        assert!(
            actions.iter().any(|a| a == action),
            "missing audit {action}: {actions:?}"
        );
    }
    store.close().await;
}
