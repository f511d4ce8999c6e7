//! Store conformance for migrations: the journal of set-up steps and the SQL Server
//! side of each link as the agents last read it.

use ferry_control::migration::sql_side::{InstanceLinkStatus, SqlLinkStatus};
use ferry_control::migration::{AgentStep, AgentSteps, Options, State, StepState};
use ferry_control::store::migrations::MigrationRecord;

use super::*;

pub(super) async fn suite(store: &Store, agent: AgentId) {
    // Migrations: one live migration per database (a second create returns it); an
    // agent's step report ends each step it ran, stops at a blocked one and fails the
    // migration; retry starts again from the first step not done.
    let migration = |id: &str| {
        MigrationRecord::preparing(
            id.into(),
            (agent, "sql01".into()),
            ("default".into(), "Sales".into()),
            ("key-mi".into(), "DAG_Sales".into()),
            Options {
                accepted_warnings: vec!["NET-MI-DNS-OVERRIDE".into()],
                ..Options::default()
            },
            ("operator/test".into(), NOW),
        )
    };
    assert_eq!(
        store.create_migration(&migration("m1")).await.unwrap(),
        None
    );
    let again = store.create_migration(&migration("m2")).await.unwrap();
    assert_eq!(
        again.map(|m| (m.id, m.options)),
        Some(("m1".to_string(), migration("m1").options))
    );
    let steps = store.migration_steps("m1").await.unwrap();
    assert_eq!(steps.len(), ferry_control::migration::journal::STEPS.len());
    assert!(steps.iter().all(|s| s.state == StepState::Pending));
    let run = CommandRecord::pending(
        agent,
        CommandKind::RunLinkSteps,
        "driver",
        NOW,
        NOW + 60_000,
        "",
    )
    .with_payload("{}".into());
    assert!(store
        .start_agent_steps("m1", &[0, 1, 2, 3], &run)
        .await
        .unwrap());
    let step = |name: &str, state: StepState, already_done: bool| AgentStep {
        name: name.into(),
        state,
        detail: format!("{name} detail"),
        already_done,
        started_ms: NOW + 10,
        duration_ms: 5,
    };
    let ran = IncomingReport {
        report_id: "rm1".into(),
        produced_at_ms: NOW + 20,
        body: ReportBody::LinkSteps(AgentSteps {
            command_id: run.id.clone(),
            migration_id: "m1".into(),
            steps: vec![
                step("database", StepState::Done, true),
                step("master_key", StepState::Done, false),
                step("endpoint_certificate", StepState::Blocked, false),
            ],
            error: String::new(),
            certificate_name: "Cert_SQL01_endpoint".into(),
            certificate: vec![0x30, 0x82],
            listener_url: String::new(),
        }),
    };
    assert!(store.record_report(agent, &ran, NOW + 21).await.unwrap());
    let states: Vec<(StepState, bool)> = store
        .migration_steps("m1")
        .await
        .unwrap()
        .iter()
        .take(5)
        .map(|s| (s.state, s.already_done))
        .collect();
    assert_eq!(
        states,
        [
            (StepState::Done, true),
            (StepState::Done, false),
            (StepState::Blocked, false),
            (StepState::Pending, false),
            (StepState::Pending, false),
        ]
    );
    let failed = store.migration("m1").await.unwrap().unwrap();
    assert_eq!(failed.state, State::Failed);
    assert_eq!(
        failed.detail,
        "endpoint_certificate: endpoint_certificate detail"
    );
    assert_eq!(
        (
            failed.certificate_name.as_str(),
            failed.certificate.as_str()
        ),
        ("Cert_SQL01_endpoint", "3082")
    );
    assert!(store.active_migrations().await.unwrap().is_empty());
    assert!(store
        .retry_migration("m1", "operator/test", NOW + 30)
        .await
        .unwrap());
    assert!(!store
        .retry_migration("m1", "operator/test", NOW + 31)
        .await
        .unwrap());
    assert_eq!(
        store.migration_steps("m1").await.unwrap()[2].state,
        StepState::Pending
    );
    // A state set from one read before is refused (compare and set): an operator's
    // change since stands.
    let stale = store
        .set_migration_state(
            ("m1", State::Seeding),
            State::Failed,
            "late",
            None,
            NOW + 39,
        )
        .await
        .unwrap();
    assert!(!stale);
    assert!(store
        .set_migration_state(
            ("m1", State::Preparing),
            State::Seeding,
            "copying",
            Some(("{}", true)),
            NOW + 40,
        )
        .await
        .unwrap());
    let seeding = store.active_migrations().await.unwrap();
    assert_eq!(
        seeding
            .iter()
            .map(|m| (m.state, m.observed_at_ms, m.progressed_at_ms))
            .collect::<Vec<_>>(),
        [(State::Seeding, Some(NOW + 40), Some(NOW + 40))]
    );

    // Link status: the newest reading per database; an older one arriving late
    // changes nothing; report ids older than an hour are pruned.
    let status = |id: &str, at: i64, bytes: i64| IncomingReport {
        report_id: id.into(),
        produced_at_ms: at,
        body: ReportBody::LinkStatus(InstanceLinkStatus {
            instance: "MSSQLSERVER".into(),
            observed_ms: at,
            databases: vec![SqlLinkStatus {
                link_name: "DAG_a".into(),
                database: "a".into(),
                seeding: true,
                seeding_transferred_bytes: bytes,
                ..SqlLinkStatus::default()
            }],
        }),
    };
    assert_eq!(seen(store, agent).await, None);
    let hour = 3_600_000;
    assert!(store
        .record_report(agent, &status("ls1", NOW, 10), NOW)
        .await
        .unwrap());
    assert!(store
        .record_report(agent, &status("ls2", NOW + 2, 30), NOW + 2)
        .await
        .unwrap());
    assert!(store
        .record_report(agent, &status("ls0", NOW + 1, 20), NOW + 3)
        .await
        .unwrap());
    assert_eq!(seen(store, agent).await, Some((NOW + 2, 30)));
    assert!(store
        .link_status(agent, "MSSQLSERVER", "a", "DAG_other")
        .await
        .unwrap()
        .is_none());
    assert!(store
        .record_report(agent, &status("ls3", NOW + hour + 10, 40), NOW + hour + 10)
        .await
        .unwrap());
    assert!(
        store
            .record_report(agent, &status("ls1", NOW, 10), NOW + hour + 11)
            .await
            .unwrap(),
        "ls1's id was pruned: stored again"
    );
    assert_eq!(
        seen(store, agent).await,
        Some((NOW + hour + 10, 40)),
        "and changed nothing"
    );
    assert!(!store
        .record_report(agent, &status("ls3", NOW + hour + 10, 40), NOW + hour + 12)
        .await
        .unwrap());
}

/// The stored link status of database "a" (link DAG_a): when read, bytes seeded.
async fn seen(store: &Store, agent: AgentId) -> Option<(i64, i64)> {
    store
        .link_status(agent, "MSSQLSERVER", "a", "DAG_a")
        .await
        .unwrap()
        .map(|(observed, s)| (observed, s.seeding_transferred_bytes))
}
