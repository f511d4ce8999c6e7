//! End to end through the real binaries: enrollment and its refusals, mTLS identity,
//! revocation, heartbeats and liveness, commands (online and queued for an offline
//! agent), the agent's durable outbox across control-plane and agent crashes, and
//! certificate renewal.

use std::collections::HashSet;
use std::time::Duration;

use ferry_agent::control::enroll::key_and_csr;
use ferry_agent::control::identity::Identity;
use ferry_agent::control::outbox::Outbox;
use ferry_agent::control::pinning::enrollment_client_config;
use ferry_proto::agent::v1::agent_service_client::AgentServiceClient;
use ferry_proto::agent::v1::enrollment_client::EnrollmentClient;
use ferry_proto::agent::v1::{
    agent_message, report, AgentMessage, CommandAck, CommandResult, EnrollRequest, Hello,
    RenewRequest, Report,
};
use ferry_proto::operator::v1::operator_client::OperatorClient;
use ferry_proto::operator::v1::ListHostsRequest;
use ferry_proto::token::EnrollmentToken;
use ferry_proto::transport::{self, ChannelOptions, ControlPlaneUrl};
use ferry_tests::processes::{
    agent_config, closed_port, AgentProcess, ControlPlane, FAST_CONTROL_CONFIG,
};
use ferry_tests::wait;
use serde_json::Value;
use tonic::Code;

const LIMIT: Duration = Duration::from_secs(30);

fn text(output: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

async fn enroll_ok(plane: &ControlPlane, dir: &std::path::Path, name: &str) -> std::path::PathBuf {
    let state = dir.join(name);
    let output = AgentProcess::enroll(&state, &plane.url(), &plane.token("10m").await, name).await;
    assert!(output.status.success(), "enroll {name}: {}", text(&output));
    assert!(
        text(&output).contains(&format!("enrolled as {name}")),
        "{}",
        text(&output)
    );
    state
}

/// The host's JSON from `ferry hosts`, once `accept` holds for it.
async fn host_where(
    plane: &ControlPlane,
    name: &str,
    what: &str,
    accept: impl Fn(&Value) -> bool,
) -> Value {
    wait::until(what, LIMIT, || async {
        let hosts = plane.ferry_json(&["hosts"]).await;
        let host = hosts
            .as_array()
            .unwrap()
            .iter()
            .find(|h| h["name"] == name)
            .cloned();
        match host {
            Some(h) if accept(&h) => Ok(Some(h)),
            other => Err(format!("{other:?}")),
        }
    })
    .await
}

async fn command_state(plane: &ControlPlane, host: &str, id: &str) -> String {
    let commands = plane.ferry_json(&["command", "list", "--host", host]).await;
    let command = commands
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == id)
        .cloned()
        .unwrap();
    command["state"].as_str().unwrap().to_string()
}

async fn wait_command(plane: &ControlPlane, host: &str, id: &str, state: &str) {
    wait::until(&format!("command {id} to be {state}"), LIMIT, || async {
        let now = command_state(plane, host, id).await;
        if now == state {
            Ok(Some(()))
        } else {
            Err(now)
        }
    })
    .await
}

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
        let mode = std::fs::metadata(state.join("identity/key.pem"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(
            mode & 0o077,
            0,
            "the agent's private key must be owner-only"
        );
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

/// An Enroll call made directly, over TLS pinned to the token's CA.
async fn enroll_call(
    plane: &ControlPlane,
    token: &str,
    name: &str,
    csr_der: Vec<u8>,
) -> Result<(), tonic::Status> {
    let parsed = EnrollmentToken::parse(token).unwrap();
    let url = ControlPlaneUrl::parse(&plane.url()).unwrap();
    let channel = transport::connect(
        &url,
        enrollment_client_config(&parsed.ca_fingerprint).unwrap(),
        ChannelOptions::default(),
    )
    .await
    .unwrap();
    let request = EnrollRequest {
        token: token.to_string(),
        csr_der,
        agent_name: name.into(),
        agent_version: "test".into(),
    };
    EnrollmentClient::new(channel)
        .enroll(request)
        .await
        .map(|_| ())
}

fn csr_with(name: &str, alt_names: Vec<rcgen::SanType>) -> Vec<u8> {
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::default();
    params.distinguished_name = rcgen::DistinguishedName::new();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, name);
    params.subject_alt_names = alt_names;
    params.serialize_request(&key).unwrap().der().to_vec()
}

#[tokio::test]
async fn refused_enrollments_say_why_and_store_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let plane = ControlPlane::start(dir.path(), FAST_CONTROL_CONFIG).await;
    let url = plane.url();
    let enroll = |name: &'static str, token: String| {
        let (dir, url) = (dir.path().join(name), url.clone());
        async move { AgentProcess::enroll(&dir, &url, &token, name).await }
    };

    // Malformed and unknown tokens.
    let out = enroll("a1", "garbage".into()).await;
    assert!(
        !out.status.success() && text(&out).contains("malformed"),
        "{}",
        text(&out)
    );
    let real = EnrollmentToken::parse(&plane.token("10m").await).unwrap();
    let forged = EnrollmentToken {
        secret: "guessed".into(),
        ..real.clone()
    };
    let out = enroll("a1", forged.encode()).await;
    assert!(
        !out.status.success() && text(&out).contains("not known"),
        "{}",
        text(&out)
    );

    // Expired.
    let expiring = plane.ferry_json(&["token", "create", "--ttl", "1s"]).await;
    let expires = expiring["expires_unix_ms"].as_i64().unwrap();
    wait::until("the token's expiry time to pass", LIMIT, || async {
        if ferry_control::clock::now_ms() > expires {
            Ok(Some(()))
        } else {
            Err("not yet".into())
        }
    })
    .await;
    let out = enroll("a1", expiring["token"].as_str().unwrap().into()).await;
    assert!(
        !out.status.success() && text(&out).contains("expired"),
        "{}",
        text(&out)
    );

    // A CSR naming someone else, or asking for an identity, is refused without using
    // the token up.
    let token = plane.token("10m").await;
    let (_, csr) = key_and_csr("someone-else").unwrap();
    let refused = enroll_call(&plane, &token, "forger", csr)
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::InvalidArgument);
    assert!(
        refused.message().contains("common name"),
        "{}",
        refused.message()
    );
    let uri = format!("urn:ferry:agent:{}", uuid::Uuid::new_v4());
    let csr = csr_with("forger", vec![rcgen::SanType::URI(uri.try_into().unwrap())]);
    let refused = enroll_call(&plane, &token, "forger", csr)
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::InvalidArgument);
    assert!(
        refused.message().contains("extensions"),
        "{}",
        refused.message()
    );
    assert!(
        plane
            .ferry_json(&["hosts"])
            .await
            .as_array()
            .unwrap()
            .is_empty(),
        "nothing stored"
    );

    // The same token still works once, then never again.
    let out = enroll("a1", token.clone()).await;
    assert!(out.status.success(), "{}", text(&out));
    let out = enroll("a2", token).await;
    assert!(
        !out.status.success() && text(&out).contains("already been used"),
        "{}",
        text(&out)
    );

    // A live agent's name cannot be taken; the token survives the refusal.
    let token = plane.token("10m").await;
    let out = AgentProcess::enroll(&dir.path().join("impostor"), &plane.url(), &token, "a1").await;
    assert!(
        !out.status.success() && text(&out).contains("already enrolled"),
        "{}",
        text(&out)
    );
    assert!(enroll("a3", token).await.status.success());

    // The CLI says what to do when the control plane is not where it looks.
    let unreachable = tokio::process::Command::new(ferry_tests::binaries::binary("ferry"))
        .args([
            "--control-plane",
            &format!("https://127.0.0.1:{}", closed_port()),
            "--credentials",
        ])
        .arg(plane.credentials())
        .arg("hosts")
        .output()
        .await
        .unwrap();
    assert!(!unreachable.status.success());
    assert!(
        text(&unreachable).contains("could not reach")
            && text(&unreachable).contains("FERRY_CONTROL_PLANE"),
        "{}",
        text(&unreachable)
    );

    let hosts = plane.ferry_json(&["hosts"]).await;
    let names: HashSet<&str> = hosts
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, HashSet::from(["a1", "a3"]));
    plane.stop().await;
}

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
        .map_err(|e| ferry_control::cli::error_chain(&e))
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
        .list_hosts(ListHostsRequest {})
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
        .list_hosts(ListHostsRequest {})
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied, "{refused:?}");

    // Agent A cannot act for agent B: acks and results for B's command change nothing.
    let queued = plane
        .ferry_json(&["command", "send", "--host", "host-b", "collect-inventory"])
        .await;
    let b_command = queued["id"].as_str().unwrap().to_string();
    let (tx, rx) = tokio::sync::mpsc::channel(8);
    let mut session = AgentServiceClient::new(agent_channel(&plane, &a).await.unwrap())
        .session(tokio_stream_from(rx))
        .await
        .unwrap()
        .into_inner();
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
        produced_unix_ms: 1,
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

fn tokio_stream_from(
    rx: tokio::sync::mpsc::Receiver<AgentMessage>,
) -> impl tonic::codegen::tokio_stream::Stream<Item = AgentMessage> {
    tonic::codegen::tokio_stream::wrappers::ReceiverStream::new(rx)
}

async fn outbox_counts(state: &std::path::Path) -> (u64, u64) {
    let outbox = Outbox::open(&ferry_agent::outbox_path(state))
        .await
        .unwrap();
    let counts = outbox.counts().await.unwrap();
    outbox.close().await;
    counts
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
                Err(format!("{pending} pending"))
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
            Err(format!("{pending} pending, {acked} acked"))
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

#[tokio::test]
async fn agents_renew_their_certificates_before_expiry() {
    let dir = tempfile::tempdir().unwrap();
    let config = format!("{FAST_CONTROL_CONFIG}[certificates]\nagent_ttl_secs = 15\n");
    let plane = ControlPlane::start(dir.path(), &config).await;
    let state = enroll_ok(&plane, dir.path(), "sql-renew").await;
    let first = Identity::load(&state).unwrap();
    let (_, first_expiry) = first.validity_ms().unwrap();
    let agent = AgentProcess::start(&state, &agent_config(&state, closed_port(), 3600));
    host_where(&plane, "sql-renew", "a renewed certificate", |h| {
        h["certificate_not_after_unix_ms"].as_i64().unwrap() > first_expiry
    })
    .await;
    wait::until("the agent to save its new certificate", LIMIT, || async {
        let now = Identity::load(&state).map_err(|e| e.to_string())?;
        if now.cert_pem != first.cert_pem {
            Ok(Some(()))
        } else {
            Err("still the first certificate".into())
        }
    })
    .await;
    // Well past the first certificate's expiry the agent is still connected.
    let past_expiry = first_expiry + 3000;
    host_where(
        &plane,
        "sql-renew",
        "a heartbeat after the first certificate expired",
        |h| h["status"] == "online" && h["last_seen_unix_ms"].as_i64().unwrap() > past_expiry,
    )
    .await;
    agent.stop().await;
    plane.stop().await;
}

#[tokio::test]
async fn a_command_is_one_trace_from_the_cli_through_the_agent_and_back() {
    let (receiver, otlp) = ferry_tests::otlp::Receiver::start().await;
    let env = [
        ("OTEL_EXPORTER_OTLP_ENDPOINT", otlp.as_str()),
        ("OTEL_BSP_SCHEDULE_DELAY", "100"),
    ];
    let dir = tempfile::tempdir().unwrap();
    let plane = ControlPlane::start_with_env(
        dir.path(),
        FAST_CONTROL_CONFIG,
        "127.0.0.1:0".parse().unwrap(),
        &env,
    )
    .await;
    let state = enroll_ok(&plane, dir.path(), "sql-traced").await;
    let agent =
        AgentProcess::start_with_env(&state, &agent_config(&state, closed_port(), 3600), &env);
    host_where(&plane, "sql-traced", "sql-traced online", |h| {
        h["status"] == "online"
    })
    .await;

    let queued = plane
        .ferry_json(&[
            "command",
            "send",
            "--host",
            "sql-traced",
            "collect-inventory",
        ])
        .await;
    let id = queued["id"].as_str().unwrap().to_string();
    wait_command(&plane, "sql-traced", &id, "done").await;

    // One trace holds the CLI's request, the control plane's handling of it, the
    // agent's run of the command and the control plane storing the agent's result.
    let wanted = [
        ("ferry", "ferry"),
        ("ferry-control", "rpc"),
        ("ferry-agent", "agent.command"),
        ("ferry-control", "report.store"),
    ];
    wait::until(
        "one trace across CLI, control plane and agent",
        LIMIT,
        || async {
            let spans = receiver.spans();
            let agent_span = spans.iter().find(|s| {
                s.name == "agent.command"
                    && s.attributes.iter().any(|(k, v)| k == "command" && *v == id)
            });
            let Some(agent_span) = agent_span else {
                return Err(format!("{} spans, none for the command yet", spans.len()));
            };
            let trace: Vec<(&str, &str)> = spans
                .iter()
                .filter(|s| s.trace_id == agent_span.trace_id)
                .map(|s| (s.service.as_str(), s.name.as_str()))
                .collect();
            if wanted.iter().all(|w| trace.contains(w)) {
                Ok(Some(()))
            } else {
                Err(format!("trace {} has {trace:?}", agent_span.trace_id))
            }
        },
    )
    .await;
    agent.stop().await;
    plane.stop().await;
}

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

#[tokio::test]
async fn inventory_is_collected_over_tds_and_login_failures_are_reported() {
    use ferry_tests::tds::{self, Script, ScriptedDatabase};
    let database =
        |name: &str, id: i32, recovery: &str, size_bytes: i64, log_files: i32| ScriptedDatabase {
            name: name.into(),
            database_id: id,
            state: "ONLINE".into(),
            recovery_model: recovery.into(),
            compatibility_level: 150,
            size_bytes,
            data_files: 1,
            log_files,
        };
    let port = tds::start(Script {
        username: "ferry".into(),
        password: "Str0ng!pass".into(),
        server_name: "SQL01".into(),
        product_version: "16.0.4125.3".into(),
        major_version: 16,
        product_level: "RTM".into(),
        product_update_level: Some("CU13".into()),
        edition: "Enterprise Edition: Core-based Licensing (64-bit)".into(),
        engine_edition: 3,
        collation: "SQL_Latin1_General_CP1_CI_AS".into(),
        hadr_enabled: true,
        host_platform: "Linux".into(),
        host_distribution: "Ubuntu".into(),
        databases: vec![
            database("master", 1, "SIMPLE", 6 << 20, 1),
            database("sales", 5, "FULL", 10 << 30, 2),
        ],
    })
    .await;

    let dir = tempfile::tempdir().unwrap();
    let plane = ControlPlane::start(dir.path(), FAST_CONTROL_CONFIG).await;
    let state = enroll_ok(&plane, dir.path(), "sql-inventory").await;
    let instance = |name: &str, password: &str| {
        format!(
            "[[instance]]\nname = \"{name}\"\nhost = \"127.0.0.1\"\nport = {port}\nencryption = \"off\"\n\
             auth = {{ method = \"sql_login\", username = \"ferry\", password = \"{password}\" }}\n"
        )
    };
    let config = format!(
        "state_dir = {:?}\nheartbeat_interval_secs = 1\nmax_backoff_secs = 1\n{}{}",
        state.display().to_string(),
        instance("default", "Str0ng!pass"),
        instance("wrong-password", "guess")
    );
    let agent = AgentProcess::start(&state, &config);
    host_where(
        &plane,
        "sql-inventory",
        "inventory of both instances",
        |h| h["instance_count"] == 2,
    )
    .await;

    let detail = plane.ferry_json(&["host", "show", "sql-inventory"]).await;
    let instances = detail["instances"].as_array().unwrap();
    let good = instances.iter().find(|i| i["name"] == "default").unwrap();
    assert_eq!(good["reachable"], true, "{good}");
    assert_eq!(good["server_name"], "SQL01");
    assert_eq!(good["product_version"], "16.0.4125.3");
    assert_eq!(good["major_version"], 16);
    assert_eq!(good["product_update_level"], "CU13");
    assert_eq!(good["engine_edition"], 3);
    assert_eq!(good["hadr_enabled"], true);
    assert_eq!(good["host_platform"], "Linux");
    let sales = good["databases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["name"] == "sales")
        .unwrap();
    assert_eq!(
        (
            sales["recovery_model"].as_str(),
            sales["log_file_count"].as_i64()
        ),
        (Some("FULL"), Some(2))
    );
    assert_eq!(sales["size_bytes"].as_i64(), Some(10 << 30));
    let bad = instances
        .iter()
        .find(|i| i["name"] == "wrong-password")
        .unwrap();
    assert_eq!(bad["reachable"], false);
    let error = bad["error"].as_str().unwrap();
    assert!(
        error.contains("18456") && error.contains("Login failed for user 'ferry'"),
        "{error}"
    );
    assert!(
        !detail.to_string().contains("Str0ng!pass"),
        "passwords never leave the host"
    );
    agent.stop().await;
    plane.stop().await;
}
