//! Identities come from certificates: foreign CAs, missing certificates, agents acting
//! for other agents, revocation, roles, health checks.

use super::*;

/// An mTLS channel with an agent's saved identity.
async fn agent_channel(
    plane: &ControlPlane,
    identity: &Identity,
) -> Result<tonic::transport::Channel, String> {
    let url = ControlPlaneUrl::parse(&plane.url()).unwrap();
    let tls =
        transport::mtls_client_config(&identity.ca_pem, &identity.cert_pem, &identity.key_pem)
            .unwrap();
    transport::connect(&url, tls, ChannelOptions::default())
        .await
        .map_err(|e| transport::error_chain(&e))
}

async fn renew_with(plane: &ControlPlane, identity: &Identity) -> Result<(), tonic::Status> {
    let channel = agent_channel(plane, identity)
        .await
        .map_err(tonic::Status::unavailable)?;
    let (_, csr_der) = key_and_csr(&identity.name).unwrap();
    AgentServiceClient::new(channel)
        .renew(RenewRequest { csr_der })
        .await
        .map(|_| ())
}

#[tokio::test]
async fn identities_come_from_certificates_and_revocation_is_immediate() {
    let dir = tempfile::tempdir().unwrap();
    let plane = ControlPlane::start(dir.path(), FAST_CONTROL_CONFIG).await;
    let state_a = enroll_ok(&plane, dir.path(), "host-a").await;
    let state_b = enroll_ok(&plane, dir.path(), "host-b").await;
    let a = Identity::load(&state_a).unwrap();
    let b = Identity::load(&state_b).unwrap();

    // A certificate from another CA, even one naming a real agent, is refused.
    let rogue_key = rcgen::KeyPair::generate().unwrap();
    let mut rogue_ca = rcgen::CertificateParams::default();
    rogue_ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let rogue_ca_cert = rogue_ca.self_signed(&rogue_key).unwrap();
    let issuer = rcgen::Issuer::new(rogue_ca, rogue_key);
    let leaf_key = rcgen::KeyPair::generate().unwrap();
    let mut leaf = rcgen::CertificateParams::default();
    leaf.subject_alt_names = vec![rcgen::SanType::URI(
        format!("urn:ferry:agent:{}", a.agent_id)
            .try_into()
            .unwrap(),
    )];
    let leaf_cert = leaf.signed_by(&leaf_key, &issuer).unwrap();
    let forged = Identity {
        cert_pem: format!("{}{}", leaf_cert.pem(), rogue_ca_cert.pem()),
        key_pem: leaf_key.serialize_pem(),
        ..a.clone()
    };
    let refused = renew_with(&plane, &forged).await.unwrap_err();
    // TLS refuses it; with TLS 1.3 the client may see that as a failed connect or as
    // the connection closing under its first request.
    assert!(
        matches!(
            refused.code(),
            Code::Unavailable | Code::Unknown | Code::Cancelled | Code::Unauthenticated
        ),
        "{refused:?}"
    );
    let audit = plane.store().await.list_audit(100).await.unwrap();
    assert!(
        !audit.iter().any(|e| e.action == "agent.renew"),
        "nothing was renewed: {audit:?}"
    );

    // No client certificate at all: only enrollment and health are open.
    let url = ControlPlaneUrl::parse(&plane.url()).unwrap();
    let fingerprint = EnrollmentToken::parse(&plane.token("1m").await)
        .unwrap()
        .ca_fingerprint;
    let anonymous = transport::connect(
        &url,
        enrollment_client_config(&fingerprint).unwrap(),
        ChannelOptions::default(),
    )
    .await
    .unwrap();
    let refused = AgentServiceClient::new(anonymous.clone())
        .renew(RenewRequest {
            csr_der: key_and_csr("x").unwrap().1,
        })
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::Unauthenticated, "{refused:?}");
    let refused = OperatorClient::new(anonymous.clone())
        .list_hosts(ListHostsRequest::default())
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::Unauthenticated, "{refused:?}");
    // Health checks need no certificate (load balancers probe this way).
    use tonic_health::pb::{
        health_check_response::ServingStatus, health_client::HealthClient, HealthCheckRequest,
    };
    let health = HealthClient::new(anonymous)
        .check(HealthCheckRequest {
            service: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(health.status(), ServingStatus::Serving);

    // Agents cannot use the operator API.
    let refused = OperatorClient::new(agent_channel(&plane, &a).await.unwrap())
        .list_hosts(ListHostsRequest::default())
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied, "{refused:?}");

    // Agent A cannot act for agent B: acks and results for B's command change nothing.
    let queued = plane
        .ferry_json(&["command", "send", "--host", "host-b", "collect-inventory"])
        .await;
    let b_command = queued["id"].as_str().unwrap().to_string();
    // No command waits for ever: a time to live over commands.max_ttl_secs is refused.
    let forever = plane
        .ferry(&[
            "command",
            "send",
            "--host",
            "host-b",
            "collect-inventory",
            "--ttl",
            "30d",
        ])
        .await;
    assert!(
        !forever.status.success() && text(&forever).contains("ttl_seconds"),
        "{}",
        text(&forever)
    );
    let (tx, mut session) = open_session(&plane, &a).await;
    let send = |body| AgentMessage { body: Some(body) };
    tx.send(send(agent_message::Body::Hello(Hello::default())))
        .await
        .unwrap();
    tx.send(send(agent_message::Body::CommandAck(CommandAck {
        command_id: b_command.clone(),
    })))
    .await
    .unwrap();
    let result = CommandResult {
        command_id: b_command.clone(),
        ok: false,
        error_code: "FORGED".into(),
        error_message: String::new(),
    };
    let report_id = uuid::Uuid::new_v4().to_string();
    tx.send(send(agent_message::Body::Report(Report {
        report_id: report_id.clone(),
        produced_unix_ms: ferry_proto::clock::now_ms(),
        body: Some(report::Body::CommandResult(result)),
        ..Default::default()
    })))
    .await
    .unwrap();
    let acknowledged = async {
        while let Some(message) = session.message().await.expect("session stays open") {
            if let Some(ferry_proto::agent::v1::control_message::Body::ReportAck(ack)) =
                message.body
            {
                if ack.report_id == report_id {
                    return;
                }
            }
        }
        panic!("the session ended before the report was acknowledged");
    };
    tokio::time::timeout(LIMIT, acknowledged)
        .await
        .expect("the forged report is acknowledged");
    assert_eq!(
        command_state(&plane, "host-b", &b_command).await,
        "pending",
        "A's ack and result must not touch B's command"
    );
    let store = plane.store().await;
    let a_id = a.agent_id.parse().unwrap();
    let b_id = b.agent_id.parse().unwrap();
    assert!(
        store
            .list_report_ids(a_id)
            .await
            .unwrap()
            .contains(&report_id),
        "the report is A's"
    );
    assert!(!store
        .list_report_ids(b_id)
        .await
        .unwrap()
        .contains(&report_id));
    drop(tx);

    // Revocation: the running agent is cut off at once and stops; its certificate is
    // refused from then on.
    let agent_b = &mut AgentProcess::start(&state_b, &agent_config(&state_b, closed_port(), 3600));
    host_where(&plane, "host-b", "host-b online", |h| {
        h["status"] == "online"
    })
    .await;
    let out = plane
        .ferry(&["revoke", "host-b", "--reason", "decommissioned"])
        .await;
    assert!(out.status.success(), "{}", text(&out));
    let status = agent_b.exited(LIMIT).await;
    assert!(!status.success());
    assert!(agent_b.log().contains("revoked"), "{}", agent_b.log());
    let refused = renew_with(&plane, &b).await.unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied, "{refused:?}");
    host_where(&plane, "host-b", "host-b revoked", |h| {
        h["status"] == "revoked"
    })
    .await;

    // Roles: a viewer can look but not create tokens or revoke.
    let viewer = dir.path().join("viewer");
    let issued = tokio::process::Command::new(ferry_tests::binaries::binary("ferry-control"))
        .arg("--data-dir")
        .arg(&plane.data_dir)
        .args([
            "issue-operator",
            "--name",
            "vera",
            "--role",
            "viewer",
            "--out",
        ])
        .arg(&viewer)
        .output()
        .await
        .unwrap();
    assert!(issued.status.success(), "{}", text(&issued));
    let as_viewer = |args: &'static [&'static str]| {
        let (url, viewer) = (plane.url(), viewer.clone());
        async move {
            tokio::process::Command::new(ferry_tests::binaries::binary("ferry"))
                .arg("--control-plane")
                .arg(url)
                .arg("--credentials")
                .arg(viewer)
                .args(args)
                .output()
                .await
                .unwrap()
        }
    };
    assert!(as_viewer(&["hosts"]).await.status.success());
    let out = as_viewer(&["token", "create"]).await;
    assert!(
        !out.status.success()
            && text(&out).contains("not authorised")
            && text(&out).contains("viewer"),
        "{}",
        text(&out)
    );
    plane.stop().await;
}

/// An agent session opened by hand with `identity`: what to send on, what comes back.
async fn open_session(
    plane: &ControlPlane,
    identity: &Identity,
) -> (
    tokio::sync::mpsc::Sender<AgentMessage>,
    tonic::Streaming<ferry_proto::agent::v1::ControlMessage>,
) {
    let (tx, rx) = tokio::sync::mpsc::channel(8);
    let session = AgentServiceClient::new(agent_channel(plane, identity).await.unwrap())
        .session(tokio_stream_from(rx))
        .await
        .unwrap()
        .into_inner();
    (tx, session)
}

fn tokio_stream_from(
    rx: tokio::sync::mpsc::Receiver<AgentMessage>,
) -> impl tonic::codegen::tokio_stream::Stream<Item = AgentMessage> {
    tonic::codegen::tokio_stream::wrappers::ReceiverStream::new(rx)
}

/// A report that breaks a bound (a field over 4,096 bytes) is refused alone, saying
/// which field; the session stays open and the report behind it is stored; the host
/// shows the refusal. A report stamped in the future freezes nothing.
#[tokio::test]
async fn one_refused_report_wedges_nothing_and_the_host_shows_why() {
    let dir = tempfile::tempdir().unwrap();
    let plane = ControlPlane::start(dir.path(), FAST_CONTROL_CONFIG).await;
    let state = enroll_ok(&plane, dir.path(), "host-a").await;
    let a = Identity::load(&state).unwrap();
    let (tx, mut session) = open_session(&plane, &a).await;
    let report = |id: &str, message: &str| {
        let result = CommandResult {
            command_id: "c-1".into(),
            ok: false,
            error_code: "X".into(),
            error_message: message.into(),
        };
        AgentMessage {
            body: Some(agent_message::Body::Report(Report {
                report_id: id.into(),
                produced_unix_ms: ferry_proto::clock::now_ms(),
                body: Some(report::Body::CommandResult(result)),
                ..Default::default()
            })),
        }
    };
    tx.send(report("too-big", &"x".repeat(5000))).await.unwrap();
    tx.send(report("fine", "short")).await.unwrap();
    let mut acks = Vec::new();
    let acknowledged = async {
        while let Some(message) = session.message().await.expect("the session stays open") {
            if let Some(ferry_proto::agent::v1::control_message::Body::ReportAck(ack)) =
                message.body
            {
                acks.push((ack.report_id, ack.refused));
                if acks.len() == 2 {
                    return;
                }
            }
        }
        panic!("the session ended before both reports were answered");
    };
    tokio::time::timeout(LIMIT, acknowledged)
        .await
        .expect("both reports answered");
    assert_eq!(acks[0].0, "too-big");
    assert!(
        acks[0].1.contains("report.command_result.error_message") && acks[0].1.contains("4096"),
        "{acks:?}"
    );
    assert_eq!(acks[1], ("fine".to_string(), String::new()), "stored");
    // A report stamped far in the future (a clock ahead, or a forged one) would
    // freeze the inventory: it is refused, naming the clock; one older than the
    // receipts kept could be a duplicate: refused, naming the retention; the next one
    // is stored.
    let inventory = |id: &str, instance: &str, produced_unix_ms: i64| AgentMessage {
        body: Some(agent_message::Body::Report(Report {
            report_id: id.into(),
            produced_unix_ms,
            body: Some(report::Body::Inventory(ferry_proto::agent::v1::Inventory {
                instances: vec![ferry_proto::agent::v1::InstanceInventory {
                    name: instance.into(),
                    ..Default::default()
                }],
            })),
            ..Default::default()
        })),
    };
    let year_2100 = 4_102_444_800_000;
    tx.send(inventory("future", "from-the-future", year_2100))
        .await
        .unwrap();
    tx.send(inventory("ancient", "from-the-past", 1))
        .await
        .unwrap();
    tx.send(inventory(
        "present",
        "present",
        ferry_proto::clock::now_ms(),
    ))
    .await
    .unwrap();
    wait::until("the present inventory shown", LIMIT, || async {
        let shown = plane.ferry_json(&["host", "show", "host-a"]).await;
        match shown["instances"][0]["name"].as_str() {
            Some("present") => Ok(Some(())),
            other => Err(format!("{other:?}")),
        }
    })
    .await;
    let shown = plane.ferry_json(&["host", "show", "host-a"]).await;
    let refused = &shown["refused_reports"];
    let too_big = refused
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["report_id"] == "too-big")
        .unwrap();
    assert_eq!(too_big["kind"], "command_result", "{shown}");
    assert!(
        refused
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["report_id"] == "future"
                && r["reason"].as_str().unwrap().contains("produced_unix_ms")),
        "{shown}"
    );
    assert!(
        refused
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["report_id"] == "ancient"
                && r["reason"]
                    .as_str()
                    .unwrap()
                    .contains("[retention] history_days")),
        "{shown}"
    );
    assert_eq!(
        shown["reports_received"], 2,
        "all but the refused ones are stored: {shown}"
    );
    plane.stop().await;
}
