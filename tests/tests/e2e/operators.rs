//! Operator certificates are on record: issuing a name again replaces its certificate
//! at once, revocation is immediate, the CLI renews a certificate two thirds into its
//! life and the one it replaced stops working once the new one is used; all audited.

use super::cutover::issue_operator;
use super::*;

/// `ferry hosts` with the credentials in `dir`.
async fn hosts_as(plane: &ControlPlane, dir: &std::path::Path) -> std::process::Output {
    plane.ferry_as(dir, &["hosts"]).await
}

/// A copy of the credentials folder `dir`, as it is now.
fn snapshot(dir: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for name in ["ca.pem", "cert.pem", "key.pem"] {
        std::fs::copy(dir.join(name), to.join(name)).unwrap();
    }
}

#[tokio::test]
async fn operators_are_on_record_revocable_and_renewed_by_the_cli() {
    let dir = tempfile::tempdir().unwrap();
    let plane = ControlPlane::start(dir.path(), FAST_CONTROL_CONFIG).await;

    // Issued again, a name's old certificate stops working at once.
    let bob = issue_operator(&plane, dir.path(), "bob", "viewer").await;
    assert!(hosts_as(&plane, &bob).await.status.success());
    let old_bob = dir.path().join("old-bob");
    snapshot(&bob, &old_bob);
    let bob = issue_operator(&plane, dir.path(), "bob", "viewer").await;
    assert!(hosts_as(&plane, &bob).await.status.success());
    let refused = hosts_as(&plane, &old_bob).await;
    assert!(!refused.status.success());
    assert!(text(&refused).contains("replaced"), "{}", text(&refused));

    // Revocation is immediate; an admin cannot revoke themselves.
    let own = plane
        .ferry(&["operator", "revoke", "admin", "--reason", "oops"])
        .await;
    assert!(!own.status.success(), "{}", text(&own));
    let revoked = plane
        .ferry(&["operator", "revoke", "bob", "--reason", "left the team"])
        .await;
    assert!(revoked.status.success(), "{}", text(&revoked));
    let refused = hosts_as(&plane, &bob).await;
    assert!(text(&refused).contains("revoked"), "{}", text(&refused));
    let operators = plane.ferry_json(&["operator", "ls"]).await;
    let names: Vec<_> = operators
        .as_array()
        .unwrap()
        .iter()
        .map(|o| (o["name"].as_str().unwrap(), o["revoked"].is_string()))
        .collect();
    assert_eq!(names, [("admin", false), ("bob", true)], "{operators}");

    // A short certificate is renewed by the CLI two thirds into its life, for as long
    // again; the one it replaced works until the new one is used, then never.
    let carol = dir.path().join("carol");
    let issued = tokio::process::Command::new(ferry_tests::binaries::binary("ferry-control"))
        .arg("--config")
        .arg(plane.config_path())
        .arg("--data-dir")
        .arg(&plane.data_dir)
        .args([
            "issue-operator",
            "--name",
            "carol",
            "--role",
            "viewer",
            "--ttl",
            "6s",
            "--out",
        ])
        .arg(&carol)
        .output()
        .await
        .unwrap();
    assert!(issued.status.success(), "{}", text(&issued));
    let first = dir.path().join("carol-first");
    snapshot(&carol, &first);
    wait::until("the CLI to renew carol's certificate", LIMIT, || async {
        let output = hosts_as(&plane, &carol).await;
        if !output.status.success() {
            return Err(format!("refused: {}", text(&output)));
        }
        if text(&output).contains("renewed the operator certificate") {
            Ok(Some(()))
        } else {
            Err("not due yet".into())
        }
    })
    .await;
    assert_ne!(
        std::fs::read_to_string(carol.join("cert.pem")).unwrap(),
        std::fs::read_to_string(first.join("cert.pem")).unwrap()
    );
    assert!(hosts_as(&plane, &carol).await.status.success());
    let refused = hosts_as(&plane, &first).await;
    assert!(text(&refused).contains("replaced"), "{}", text(&refused));

    let audit = plane.store().await.list_audit(200).await.unwrap();
    let count = |action: &str| audit.iter().filter(|e| e.action == action).count();
    assert_eq!(
        (
            count("operator.issue"),
            count("operator.revoke"),
            count("operator.renew")
        ),
        (4, 1, 1),
        "admin, bob twice, carol; bob revoked; carol renewed: {audit:?}"
    );
    plane.stop().await;
}
