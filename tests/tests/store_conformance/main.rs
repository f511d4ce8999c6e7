//! Store conformance: the same assertions on SQLite (always) and on PostgreSQL (when
//! FERRY_TEST_DATABASE_URL is set; each run works in a fresh database it drops after).

use ferry_control::assess::{CheckResult, CheckStatus, Finding, Readiness, Scope, Severity};
use ferry_control::connection_test::InstanceConnection;
use ferry_control::fleet::identity::{AgentId, Held, Role};
use ferry_control::fleet::labels::Labels;
use ferry_control::fleet::liveness::AgentHello;
use ferry_control::sizing::{LoadWindow, Stat, WindowStats};
use ferry_control::store::agents::{Renewal, RenewalKind};
use ferry_control::store::assessments::{InstanceKey, RunRecord};
use ferry_control::store::commands::{CommandKind, CommandRecord, CommandState};
use ferry_control::store::inventory::{DatabaseRecord, IncomingReport, InstanceRecord, ReportBody};
use ferry_control::store::operators::OperatorCertificate;
use ferry_control::store::tokens::{EnrollError, NewAgent, NewToken, TokenRejection};
use ferry_control::store::Store;
use ferry_tests::databases::ScratchPostgres;
use uuid::Uuid;

mod cutover;
mod migrations;
mod observations;
mod plans;
mod refused;
mod retention;
mod runs;

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
    // Hellos come in batches too, over several statements; unknown agents are passed
    // over.
    let hello = |version: &str, at_ms| AgentHello {
        agent_version: version.into(),
        hostname: "sqlhost".into(),
        os: "linux".into(),
        at_ms,
    };
    let mut hellos: Vec<_> = (0..450)
        .map(|_| (AgentId(Uuid::new_v4()), hello("9.9.9", NOW)))
        .collect();
    hellos.insert(300, (first.id, hello("0.2.0", NOW)));
    store.record_hellos(&hellos).await.unwrap();
    // A fleet's batch spans several statements; agents not (or no longer) enrolled
    // are passed over.
    let mut batch: Vec<_> = (0..1200)
        .map(|_| (AgentId(Uuid::new_v4()), NOW + 10))
        .collect();
    batch.insert(700, (first.id, NOW + 10));
    store.touch_agents(&batch).await.unwrap();
    store.touch_agents(&[(first.id, NOW + 5)]).await.unwrap();
    let record = store.get_agent(first.id).await.unwrap().unwrap();
    assert_eq!(
        (record.last_seen_ms, record.agent_version.as_str()),
        (Some(NOW + 10), "0.2.0")
    );
    // A hello written late says what the agent is, and does not move its time back.
    store
        .record_hellos(&[(first.id, hello("0.2.1", NOW + 1))])
        .await
        .unwrap();
    let record = store.get_agent(first.id).await.unwrap().unwrap();
    assert_eq!(
        (record.last_seen_ms, record.agent_version.as_str()),
        (Some(NOW + 10), "0.2.1")
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
        payload: String::new(),
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
    assert_eq!(
        store
            .take_deliverable_commands(first.id, true, NOW)
            .await
            .unwrap()
            .iter()
            .map(|c| c.id.as_str())
            .collect::<Vec<_>>(),
        ["c1", "c2"],
        "a new session redelivers an acked command without a result: its agent may have died running it"
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

    // Labels: set, change and remove in one call; read per host and for the fleet.
    let set = |pairs: &[(&str, &str)]| -> Labels {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    };
    store
        .set_host_labels(
            first.id,
            &set(&[("env", "prod"), ("site", "paris")]),
            &[],
            "operator/test",
            NOW,
        )
        .await
        .unwrap();
    let labels = store
        .set_host_labels(
            first.id,
            &set(&[("env", "test")]),
            &["site".into()],
            "operator/test",
            NOW,
        )
        .await
        .unwrap();
    assert_eq!(labels, set(&[("env", "test")]));
    assert_eq!(store.all_host_labels().await.unwrap()[&first.id], labels);
    let listed = store.list_agents().await.unwrap();
    assert_eq!(
        listed
            .iter()
            .find(|h| h.agent.id == first.id)
            .unwrap()
            .labels,
        labels
    );

    // A run id is created once: a scheduled slot's second creation (another replica's)
    // changes nothing.
    let run = RunRecord {
        id: "scheduled-2026-11-22T23:00:00Z".into(),
        created_by: "ferry-control".into(),
        created_at_ms: NOW,
        deadline_at_ms: NOW + 60_000,
        selector: "all".into(),
        trigger: "schedule".into(),
    };
    let command = |agent| {
        CommandRecord::pending(
            agent,
            CommandKind::RunAssessment,
            "ferry-control",
            NOW,
            NOW + 60_000,
            "",
        )
    };
    assert!(store
        .create_assessment_run(&run, &[command(first.id)])
        .await
        .unwrap());
    assert!(!store
        .create_assessment_run(&run, &[command(first.id)])
        .await
        .unwrap());
    assert_eq!(
        store
            .assessment_targets_page(&run.id, None, 1000)
            .await
            .unwrap()
            .len(),
        1
    );

    // Load windows: stored once per (instance, start); older than the history dropped.
    let window = |start: i64| LoadWindow {
        instance: "default".into(),
        start_ms: start,
        end_ms: start + 600_000,
        samples: 20,
        cpu_count: 8,
        host_memory_kb: 1 << 24,
        storage_bytes: 1 << 30,
        stats: WindowStats {
            cpu_percent: Stat {
                mean: 25.5,
                max: 80.0,
            },
            ..WindowStats::default()
        },
    };
    let load = |id: &str, starts: &[i64], keep_after_ms: i64| IncomingReport {
        report_id: id.into(),
        produced_at_ms: NOW,
        body: ReportBody::Load {
            windows: starts.iter().map(|s| window(*s)).collect(),
            keep_after_ms,
        },
    };
    let day = 86_400_000;
    store
        .record_report(
            first.id,
            &load("load-1", &[NOW - 2 * day, NOW - day], 0),
            NOW,
        )
        .await
        .unwrap();
    store
        .record_report(first.id, &load("load-2", &[NOW - day, NOW], NOW - day), NOW)
        .await
        .unwrap();
    let windows = store.load_windows(first.id, 0).await.unwrap();
    assert_eq!(
        windows.iter().map(|w| w.start_ms).collect::<Vec<_>>(),
        vec![NOW - day, NOW],
        "the two-day-old window is pruned, the repeated one stored once"
    );
    assert_eq!(windows[1], window(NOW));
    assert_eq!(
        store.load_windows(first.id, NOW + 1).await.unwrap().len(),
        1
    );

    // Renewal: the certificate presented must be the current or previous one; the
    // current becomes the previous, until the agent first uses the new one.
    let renewal = |presented, serial| Renewal {
        presented,
        serial,
        not_after_ms: NOW + 1,
        kind: RenewalKind::BeforeExpiry,
    };
    assert!(store
        .record_renewal(first.id, &renewal("01", "02"), NOW)
        .await
        .unwrap());
    assert!(
        !store
            .record_renewal(first.id, &renewal("ff", "03"), NOW)
            .await
            .unwrap(),
        "an unknown certificate renews nothing"
    );
    let renewed = store.get_agent(first.id).await.unwrap().unwrap();
    assert_eq!(
        (
            renewed.cert_serial.as_str(),
            renewed.previous_cert_serial.as_deref()
        ),
        ("02", Some("01"))
    );
    store.confirm_renewal(first.id, "02").await.unwrap();
    let confirmed = store.get_agent(first.id).await.unwrap().unwrap();
    assert_eq!(confirmed.previous_cert_serial, None);
    assert_eq!(
        confirmed.holds("0002"),
        Some(Held::Current),
        "leading zero bytes compare equal"
    );
    assert_eq!(confirmed.holds("01"), None, "the replaced one is refused");

    // Operators: issued (a re-issue replaces the certificate at once), renewed from the
    // current or previous certificate only, revoked; listed by name, page by page.
    let issue = |name, serial| OperatorCertificate {
        name,
        role: Role::Viewer,
        serial,
        not_after_ms: NOW + 1,
    };
    store
        .record_operator_issue(&issue("bob", "0a"), "local/root", NOW)
        .await
        .unwrap();
    store
        .record_operator_issue(&issue("amy", "0b"), "local/root", NOW)
        .await
        .unwrap();
    assert!(store
        .record_operator_renewal(&issue("bob", "0c"), "0a", NOW)
        .await
        .unwrap());
    assert!(!store
        .record_operator_renewal(&issue("bob", "0d"), "ff", NOW)
        .await
        .unwrap());
    let bob = store.get_operator("bob").await.unwrap().unwrap();
    assert_eq!(bob.holds("0a"), Some(Held::Previous));
    store
        .record_operator_issue(&issue("bob", "0e"), "local/root", NOW)
        .await
        .unwrap();
    let bob = store.get_operator("bob").await.unwrap().unwrap();
    assert_eq!(
        (bob.holds("0c"), bob.holds("0e")),
        (None, Some(Held::Current))
    );
    assert!(store
        .revoke_operator("bob", "left", "operator/admin", NOW)
        .await
        .unwrap());
    assert!(!store
        .revoke_operator("bob", "again", "operator/admin", NOW)
        .await
        .unwrap());
    assert!(
        !store
            .record_operator_renewal(&issue("bob", "0f"), "0e", NOW)
            .await
            .unwrap(),
        "a revoked operator cannot renew"
    );
    let first_page = store.list_operators("", 1).await.unwrap();
    assert_eq!(first_page[0].name, "amy");
    let next = store.list_operators("amy", 10).await.unwrap();
    assert_eq!(
        next.iter().map(|o| o.name.as_str()).collect::<Vec<_>>(),
        ["bob"]
    );
    assert!(next[0].revoked_at_ms.is_some());

    // Revocation frees the name for a fresh enrollment and is audited. Replicas find
    // it by the database's clock, whatever the revoking replica's clock said (NOW is
    // years ago here).
    let before = store.revoked_since(None).await.unwrap();
    assert!(before.agents.is_empty(), "{before:?}");
    assert!(store
        .revoke_agent(first.id, "decommissioned", "operator/test", NOW)
        .await
        .unwrap());
    let seen = store.revoked_since(Some(before.next)).await.unwrap();
    assert_eq!(seen.agents, [(first.id, "decommissioned".to_string())]);
    let again = store.revoked_since(Some(seen.next)).await.unwrap();
    assert_eq!(again.agents.len(), 1, "the next look overlaps the last");
    assert!(store
        .revoked_since(Some(i64::MAX))
        .await
        .unwrap()
        .agents
        .is_empty());
    assert!(!store
        .revoke_agent(first.id, "again", "operator/test", NOW)
        .await
        .unwrap());
    assert!(
        !store
            .record_renewal(first.id, &renewal("02", "04"), NOW)
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
    // Targets: added once, refreshed after, keyed without case, removed.
    let mut mi = ferry_control::azure::ManagedInstance {
        id: ferry_control::azure::ManagedInstanceId::parse(
            "/subscriptions/5b1c9a7e-2d3f-4e6a-8b9c-0d1e2f3a4b5c/resourceGroups/Rg/providers/Microsoft.Sql/managedInstances/mi-one",
        )
        .unwrap(),
        location: "westeurope".into(),
        tier: "GeneralPurpose".into(),
        family: "Gen5".into(),
        vcores: 8,
        storage_gb: 256,
        fqdn: "mi-one.abc.database.windows.net".into(),
        collation: "SQL_Latin1_General_CP1_CI_AS".into(),
        update_policy: "SQLServer2022".into(),
        state: "Ready".into(),
        provisioning_state: "Succeeded".into(),
    };
    assert!(store.put_target(&mi, "admin", NOW).await.unwrap());
    mi.vcores = 16;
    mi.id.resource_group = "rg".into();
    assert!(!store.put_target(&mi, "other", NOW + 1).await.unwrap());
    let targets = store.targets().await.unwrap();
    assert_eq!(targets.len(), 1);
    assert_eq!(
        (
            targets[0].instance.vcores,
            targets[0].added_by.as_str(),
            targets[0].added_at_ms,
            targets[0].refreshed_at_ms
        ),
        (16, "admin", NOW, NOW + 1)
    );
    assert!(store.remove_target(&mi.id, "admin", NOW).await.unwrap());
    assert!(!store.remove_target(&mi.id, "admin", NOW).await.unwrap());
    assert!(store.targets().await.unwrap().is_empty());

    // Connection tests: the command carries its payload; an agent's report is stored
    // once, with its verdict; the newest test of each host is the one shown.
    let payload = r#"{"target_id":"/subscriptions/s/resourceGroups/g/providers/Microsoft.Sql/managedInstances/mi","fqdn":"mi.z.database.windows.net","instances":[]}"#;
    let test = |id: &str, at: i64| CommandRecord {
        id: id.into(),
        created_at_ms: at,
        ..CommandRecord::pending(
            first.id,
            CommandKind::TestConnection,
            "operator/test",
            at,
            NOW + 60_000,
            "{}",
        )
        .with_payload(payload.into())
    };
    for (id, at) in [("k1", NOW), ("k2", NOW + 5)] {
        store
            .create_connection_tests("key-mi", "mi.z.database.windows.net", &[test(id, at)])
            .await
            .unwrap();
    }
    let delivered = store
        .take_deliverable_commands(first.id, false, NOW + 6)
        .await
        .unwrap();
    assert!(
        delivered.iter().filter(|c| c.payload == payload).count() == 2,
        "{delivered:?}"
    );
    let found = InstanceConnection {
        name: "default".into(),
        error: String::new(),
        duration_ms: 40,
        results: vec![
            CheckResult {
                check_id: "NET-MI-LINK-PORT".into(),
                scope: Scope::Instance,
                severity: Severity::Blocker,
                title: "port 5022".into(),
                remedy: "open it".into(),
                status: CheckStatus::Found,
                unknown_cause: String::new(),
                findings: vec![Finding {
                    database: None,
                    message: "refused".into(),
                    evidence: vec![("address".into(), "10.1.0.4:5022".into())],
                    objects: Vec::new(),
                }],
            },
            CheckResult {
                check_id: "NET-MI-DNS".into(),
                scope: Scope::Instance,
                severity: Severity::Blocker,
                title: "dns".into(),
                remedy: "fix dns".into(),
                status: CheckStatus::Passed,
                unknown_cause: String::new(),
                findings: Vec::new(),
            },
        ],
    };
    let report = |id: &str| IncomingReport {
        report_id: id.into(),
        produced_at_ms: NOW + 6,
        body: ReportBody::ConnectionTest {
            command_id: "k2".into(),
            instances: vec![found.clone()],
        },
    };
    assert!(store
        .record_report(first.id, &report("rk2"), NOW + 7)
        .await
        .unwrap());
    // Another report for the same test changes nothing.
    assert!(store
        .record_report(first.id, &report("rk2b"), NOW + 8)
        .await
        .unwrap());
    let newest = store.newest_connection_tests("key-mi", None).await.unwrap();
    assert_eq!(newest.len(), 1);
    assert_eq!(newest[0].command.id, "k2");
    assert_eq!(newest[0].reported_at_ms, Some(NOW + 7));
    assert_eq!(newest[0].instances, vec![(found, Readiness::NotReady)]);
    let asked = store
        .connection_tests(&["k1".into(), "nope".into(), "k2".into()])
        .await
        .unwrap();
    assert_eq!(
        asked
            .iter()
            .map(|t| (t.command.id.as_str(), t.reported_at_ms))
            .collect::<Vec<_>>(),
        [("k1", None), ("k2", Some(NOW + 7))]
    );
    assert!(store
        .newest_connection_tests("key-other", Some(first.id))
        .await
        .unwrap()
        .is_empty());

    migrations::suite(&store, first.id).await;
    cutover::suite(&store, "m1").await;
    plans::waves(&store, "m1").await;
    plans::groups(&store, "m1").await;
    cutover::leases(&store).await;
    cutover::row_counts(&store, "m1", first.id).await;
    cutover::reads_are_not_kept(&store, first.id).await;
    refused::refused_reports(&store, first.id).await;
    plans::separation_of_duties(&store, first.id).await;

    paging(&store).await;

    let actions: Vec<String> = store
        .list_audit(100)
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
        "target.add",
        "target.refresh",
        "target.remove",
        "connection.test",
        "migration.start",
        "migration.retry",
        "cutover.start",
        "cutover.cancel",
        "wave.create",
        "wave.approve",
        "wave.pause",
        "operator.issue",
        "operator.renew",
        "operator.revoke",
    ] {
        assert!(
            actions.iter().any(|a| a == action),
            "missing audit {action}: {actions:?}"
        );
    }
    retention::retention(&store, first.id).await;
    // Last: their many migrations, hosts and runs would crowd what is read above.
    observations::observations(&store, first.id).await;
    runs::target_pages_and_groups(&store).await;
    store.close().await;
}

/// Walking the pages of agents, migrations and the audit log one or a few at a time
/// yields exactly the full lists, in their order.
async fn paging(store: &Store) {
    let all: Vec<_> = store.list_agents().await.unwrap();
    let mut walked = Vec::new();
    loop {
        let after = walked
            .last()
            .map(|a: &ferry_control::store::agents::AgentSummary| {
                (a.agent.name.clone(), a.agent.id)
            });
        let page = store
            .list_agents_page(after.as_ref().map(|(n, id)| (n.as_str(), *id)), 1)
            .await
            .unwrap();
        if page.is_empty() {
            break;
        }
        walked.extend(page);
    }
    assert_eq!(walked, all);

    let all = store.migrations().await.unwrap();
    assert!(all.len() > 1, "the suites before made migrations");
    let mut walked = Vec::new();
    loop {
        let after = walked
            .last()
            .map(|m: &ferry_control::store::migrations::MigrationRecord| {
                (m.created_at_ms, m.id.clone())
            });
        let page = store
            .migrations_page(
                None,
                "",
                after.as_ref().map(|(at, id)| (*at, id.as_str())),
                2,
            )
            .await
            .unwrap();
        if page.is_empty() {
            break;
        }
        walked.extend(page);
    }
    assert_eq!(walked, all);
    let first = &all[0];
    let of_state = store
        .migrations_page(Some(first.state), &first.host.to_uppercase(), None, 1000)
        .await
        .unwrap();
    assert!(of_state.contains(first));
    assert!(of_state
        .iter()
        .all(|m| m.state == first.state && m.host == first.host));

    // The report's pages compare row values; both dialects take them.
    let key = InstanceKey {
        host: "sql01".into(),
        agent_id: "b".into(),
        instance: "default".into(),
    };
    let none = store
        .assessment_instances_page("no-run", Some(&key), 10)
        .await
        .unwrap();
    assert!(none.is_empty());
    assert!(store
        .assessment_readiness_counts("no-run")
        .await
        .unwrap()
        .is_empty());

    let all: Vec<_> = store.list_audit(10_000).await.unwrap();
    let mut walked = Vec::new();
    let mut before = None;
    loop {
        let page = store.audit_page("", before, 7).await.unwrap();
        let Some((last, _)) = page.last() else { break };
        before = Some(*last);
        walked.extend(page.into_iter().map(|(_, e)| e));
    }
    assert_eq!(walked, all);
}
