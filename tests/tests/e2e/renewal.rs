//! Certificates outlive outages: agents renew before expiry and stay connected past the
//! first one's expiry; an agent whose certificate expired during an outage renews by
//! proof of its key and keeps its id; a certificate replaced by renewal stops working;
//! the server certificate rotates without closing sessions.

use super::*;
use ferry_proto::agent::v1::RenewExpiredRequest;
use ferry_proto::clock::now_ms;

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

/// The server certificate `plane` presents to a new connection: (serial, not after, in
/// Unix ms). The handshake verifies it against the control plane's CA.
async fn presented_server_certificate(plane: &ControlPlane) -> (Vec<u8>, i64) {
    use std::io::Write;
    let ca_pem = std::fs::read_to_string(plane.credentials().join("ca.pem")).unwrap();
    let addr = plane.addr;
    tokio::task::spawn_blocking(move || {
        use rustls_pki_types::pem::PemObject;
        let mut roots = rustls::RootCertStore::empty();
        roots
            .add(rustls_pki_types::CertificateDer::from_pem_slice(ca_pem.as_bytes()).unwrap())
            .unwrap();
        let config = rustls::ClientConfig::builder_with_provider(transport::crypto_provider())
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        let name = rustls_pki_types::ServerName::IpAddress(addr.ip().into());
        let mut tls = rustls::ClientConnection::new(config.into(), name).unwrap();
        let mut tcp = std::net::TcpStream::connect(addr).unwrap();
        tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        while tls.is_handshaking() {
            tls.complete_io(&mut tcp).expect("the TLS handshake");
        }
        let _ = tcp.flush();
        let leaf = tls.peer_certificates().unwrap()[0].clone();
        let (_, cert) = x509_parser::parse_x509_certificate(&leaf).unwrap();
        (
            cert.raw_serial().to_vec(),
            cert.validity().not_after.timestamp() * 1000,
        )
    })
    .await
    .unwrap()
}

#[tokio::test]
async fn the_server_certificate_rotates_without_closing_sessions() {
    let dir = tempfile::tempdir().unwrap();
    let config = format!("{FAST_CONTROL_CONFIG}[certificates]\nserver_ttl_secs = 6\n");
    let plane = ControlPlane::start(dir.path(), &config).await;
    let state = enroll_ok(&plane, dir.path(), "sql-rotate").await;
    let (first_serial, first_expiry) = presented_server_certificate(&plane).await;
    let agent = AgentProcess::start(&state, &agent_config(&state, closed_port(), 3600));
    host_where(&plane, "sql-rotate", "the agent online", |h| {
        h["status"] == "online"
    })
    .await;
    // Past the first certificate's expiry, new connections get a newer one...
    wait::until("the first server certificate to expire", LIMIT, || async {
        let (serial, not_after) = presented_server_certificate(&plane).await;
        if serial != first_serial && not_after > first_expiry && now_ms() > first_expiry {
            Ok(Some(()))
        } else {
            Err(format!("serial {serial:?} until {not_after}"))
        }
    })
    .await;
    // ...the CLI still connects, and the agent's one session carried on throughout.
    host_where(
        &plane,
        "sql-rotate",
        "a heartbeat after the first server certificate expired",
        |h| h["status"] == "online" && h["last_seen_unix_ms"].as_i64().unwrap() > first_expiry,
    )
    .await;
    let opened = agent.log().matches("control-plane session open").count();
    assert_eq!(opened, 1, "the session was reopened:\n{}", agent.log());
    agent.stop().await;
    plane.stop().await;
}

#[tokio::test]
async fn an_agent_renews_after_an_outage_longer_than_its_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let config = format!("{FAST_CONTROL_CONFIG}[certificates]\nagent_ttl_secs = 6\n");
    let plane = ControlPlane::start(dir.path(), &config).await;
    let state = enroll_ok(&plane, dir.path(), "sql-outage").await;
    let agent = AgentProcess::start(&state, &agent_config(&state, closed_port(), 3600));
    let before = host_where(&plane, "sql-outage", "the agent online", |h| {
        h["status"] == "online"
    })
    .await;
    let addr = plane.kill().await;
    // The control plane stays away until the agent's certificate has expired.
    let expired = wait::until("the agent's certificate to expire", LIMIT, || async {
        let (_, not_after) = Identity::load(&state)
            .map_err(|e| e.to_string())?
            .validity_ms()?;
        if now_ms() > not_after + 1000 {
            Ok(Some(not_after))
        } else {
            Err(format!("valid until {not_after}"))
        }
    })
    .await;
    let plane = ControlPlane::start_on(dir.path(), &config, addr).await;
    let after = host_where(
        &plane,
        "sql-outage",
        "the agent back online with a certificate renewed after expiry",
        |h| {
            h["status"] == "online"
                && h["certificate_not_after_unix_ms"].as_i64().unwrap() > expired
        },
    )
    .await;
    assert_eq!(after["id"], before["id"], "the agent kept its identity");
    let hosts = plane.ferry_json(&["hosts"]).await;
    assert_eq!(hosts.as_array().unwrap().len(), 1, "{hosts}");
    let audit = plane.store().await.list_audit(100).await.unwrap();
    assert!(
        audit.iter().any(|e| e.action == "agent.renew_expired"),
        "{audit:?}"
    );
    agent.stop().await;
    plane.stop().await;
}

/// An agent's RenewExpired call with `certificate` and a proof signed by `key_pem`.
async fn renew_expired(
    plane: &ControlPlane,
    identity: &Identity,
    certificate_pem: &str,
    key_pem: &str,
) -> Result<Identity, tonic::Status> {
    let url = ControlPlaneUrl::parse(&plane.url()).unwrap();
    let tls = transport::server_auth_client_config(&identity.ca_pem).unwrap();
    let channel = transport::connect(&url, tls, ChannelOptions::default())
        .await
        .map_err(|e| tonic::Status::unavailable(transport::error_chain(&e)))?;
    let (new_key, csr_der) = key_and_csr(&identity.name).unwrap();
    let signed_at_unix_ms = now_ms();
    let message =
        ferry_proto::renewal_proof::message(&identity.agent_id, signed_at_unix_ms, &csr_der);
    let response = EnrollmentClient::new(channel)
        .renew_expired(RenewExpiredRequest {
            certificate_pem: certificate_pem.to_string(),
            signature: ferry_proto::renewal_proof::sign(key_pem, &message).unwrap(),
            csr_der,
            signed_at_unix_ms,
        })
        .await?
        .into_inner();
    Ok(Identity {
        cert_pem: response.certificate_pem,
        key_pem: new_key,
        ..identity.clone()
    })
}

/// An agent's Renew call over mTLS with `identity`.
async fn renew(plane: &ControlPlane, identity: &Identity) -> Result<Identity, tonic::Status> {
    let url = ControlPlaneUrl::parse(&plane.url()).unwrap();
    let tls =
        transport::mtls_client_config(&identity.ca_pem, &identity.cert_pem, &identity.key_pem)
            .unwrap();
    let channel = transport::connect(&url, tls, ChannelOptions::default())
        .await
        .map_err(|e| tonic::Status::unavailable(transport::error_chain(&e)))?;
    let (new_key, csr_der) = key_and_csr(&identity.name).unwrap();
    let response = AgentServiceClient::new(channel)
        .renew(RenewRequest { csr_der })
        .await?
        .into_inner();
    Ok(Identity {
        cert_pem: response.certificate_pem,
        key_pem: new_key,
        ..identity.clone()
    })
}

#[tokio::test]
async fn a_certificate_replaced_by_renewal_stops_working_and_proofs_are_checked() {
    let dir = tempfile::tempdir().unwrap();
    let plane = ControlPlane::start(dir.path(), FAST_CONTROL_CONFIG).await;
    let state = enroll_ok(&plane, dir.path(), "sql-serials").await;
    let a = Identity::load(&state).unwrap();
    let b = renew(&plane, &a).await.unwrap();
    // Until B is used, A still works: the answer carrying B may have been lost.
    let b_again = renew(&plane, &a).await.unwrap();
    let c = renew(&plane, &b_again).await.unwrap();
    // Neither A nor B is the current certificate or the one before it now.
    for (old, name) in [(&a, "a"), (&b, "b")] {
        let refused = renew(&plane, old).await.unwrap_err();
        assert_eq!(refused.code(), Code::Unauthenticated, "{name}: {refused:?}");
        assert!(refused.message().contains("replaced"), "{refused:?}");
    }
    // A proof by a key the certificate does not name is refused.
    let stranger = rcgen::KeyPair::generate().unwrap().serialize_pem();
    let refused = renew_expired(&plane, &c, &c.cert_pem, &stranger)
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::Unauthenticated, "{refused:?}");
    assert!(refused.message().contains("signature"), "{refused:?}");
    // An old certificate with its own key's proof is refused too.
    let refused = renew_expired(&plane, &a, &a.cert_pem, &a.key_pem)
        .await
        .unwrap_err();
    assert!(refused.message().contains("replaced"), "{refused:?}");
    // The current one with its key's proof renews, under the same agent id.
    let d = renew_expired(&plane, &c, &c.cert_pem, &c.key_pem)
        .await
        .unwrap();
    renew(&plane, &d).await.unwrap();
    let audit = plane.store().await.list_audit(100).await.unwrap();
    let renewed_expired = audit
        .iter()
        .filter(|e| e.action == "agent.renew_expired")
        .count();
    assert_eq!(renewed_expired, 1, "{audit:?}");
    let hosts = plane.ferry_json(&["hosts"]).await;
    assert_eq!(hosts.as_array().unwrap().len(), 1, "{hosts}");
    plane.stop().await;
}
