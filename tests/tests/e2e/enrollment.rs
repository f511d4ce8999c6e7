//! Enrollment refusals: each says why, and none stores anything or uses the token up.

use super::*;

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
        if ferry_proto::clock::now_ms() > expires {
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

/// Enrollment is the one call without a client certificate: one source address gets
/// its burst of attempts a minute, then is told to wait, before anything is checked.
#[tokio::test]
async fn enrollment_attempts_are_limited_per_source() {
    let dir = tempfile::tempdir().unwrap();
    let config =
        FAST_CONTROL_CONFIG.replace("attempts_per_minute = 600", "attempts_per_minute = 2");
    let plane = ControlPlane::start(dir.path(), &config).await;
    let token = plane.token("10m").await;
    let mut refusals = Vec::new();
    for n in 0..3 {
        // Refused for its name: the token stays unused, and each attempt counts.
        let csr = csr_with(&format!("guess{n}"), Vec::new());
        refusals.push(enroll_call(&plane, &token, "", csr).await);
    }
    let codes: Vec<tonic::Code> = refusals
        .iter()
        .map(|r| r.as_ref().unwrap_err().code())
        .collect();
    assert_ne!(codes[0], tonic::Code::ResourceExhausted, "{refusals:?}");
    assert_ne!(codes[1], tonic::Code::ResourceExhausted, "{refusals:?}");
    let limited = refusals[2].as_ref().unwrap_err();
    assert_eq!(
        limited.code(),
        tonic::Code::ResourceExhausted,
        "{limited:?}"
    );
    assert!(
        limited.message().contains("attempts_per_minute"),
        "{limited:?}"
    );
    plane.stop().await;
}
