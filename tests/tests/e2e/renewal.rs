//! Certificates are renewed before they expire, and the agent stays connected past the
//! first one's expiry.

use super::*;

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
