//! Target managed instances through the real binaries: `ferry target add` makes the
//! control plane sign in to the lab's Entra ID with azure_identity's client-secret
//! credential and read the managed instance from the lab's ARM (HTTPS, the lab's CA
//! trusted through `[azure] ca_file`).

use super::*;

const SCENARIO: &str = r#"
[[managed_instance]]
name = "mi-sales"
tier = "BusinessCritical"
vcores = 16
storage_gb = 1024
update_policy = "SQLServer2025"

[azure]
speed = 10.0
"#;

/// `[azure]` for the lab, with `secret` in the secret file.
fn azure_config(lab: &ferry_sim::Lab, dir: &std::path::Path, secret: &str) -> String {
    let azure = lab.azure.as_ref().unwrap();
    let ca = dir.join("lab-ca.pem");
    std::fs::write(&ca, &azure.ca_pem).unwrap();
    let secret_file = dir.join("azure-secret");
    std::fs::write(&secret_file, secret).unwrap();
    format!(
        "{FAST_CONTROL_CONFIG}[azure]\ncredential = \"client_secret\"\ntenant_id = \"{}\"\nclient_id = \"{}\"\n\
         client_secret_file = {:?}\narm_endpoint = \"{}\"\nauthority_host = \"{}\"\nca_file = {:?}\ntimeout_secs = 10\n",
        azure.tenant,
        ferry_sim::scenario::azure::DEFAULT_CLIENT_ID,
        secret_file.display().to_string(),
        azure.arm,
        azure.authority,
        ca.display().to_string(),
    )
}

#[tokio::test]
async fn targets_are_read_through_arm_with_azure_identity() {
    let lab = ferry_sim::Lab::start(&ferry_sim::Scenario::parse(SCENARIO).unwrap())
        .await
        .unwrap();
    let azure = lab.azure.as_ref().unwrap();
    let id = format!(
        "/subscriptions/{}/resourceGroups/ferry-lab/providers/Microsoft.Sql/managedInstances/mi-sales",
        azure.subscription
    );
    let dir = tempfile::tempdir().unwrap();
    let plane = ControlPlane::start(
        dir.path(),
        &azure_config(
            &lab,
            dir.path(),
            ferry_sim::scenario::azure::DEFAULT_CLIENT_SECRET,
        ),
    )
    .await;

    let added = plane.ferry_json(&["target", "add", &id]).await;
    assert_eq!(added["created"], true, "{added}");
    assert_eq!(added["tier"], "BusinessCritical");
    assert_eq!(added["vcores"], 16);
    assert_eq!(added["storage_gb"], 1024);
    assert_eq!(added["update_policy"], "SQLServer2025");
    let fqdn = added["fqdn"].as_str().unwrap();
    assert!(
        fqdn.starts_with("mi-sales.") && fqdn.ends_with(".database.windows.net"),
        "{fqdn}"
    );
    // Adding it again refreshes it; ids compare without case.
    let again = plane
        .ferry_json(&[
            "target",
            "add",
            &id.to_ascii_uppercase().replace("MI-SALES", "mi-sales"),
        ])
        .await;
    assert_eq!(again["created"], false, "{again}");
    let listed = plane.ferry(&["target", "ls"]).await;
    assert!(
        text(&listed).contains("mi-sales") && text(&listed).contains("BusinessCritical"),
        "{}",
        text(&listed)
    );

    // What cannot be added says why, in Azure's words where Azure said it.
    let refused = |output: &std::process::Output| {
        assert!(!output.status.success());
        text(output)
    };
    let missing = id.replace("mi-sales", "mi-nowhere");
    let shown = refused(&plane.ferry(&["target", "add", &missing]).await);
    assert!(
        shown.contains("404") && shown.contains("resource group and name"),
        "{shown}"
    );
    let shown = refused(&plane.ferry(&["target", "add", "mi-sales"]).await);
    assert!(
        shown.contains("resource_id") && shown.contains("/subscriptions/"),
        "{shown}"
    );

    let removed = plane.ferry(&["target", "rm", &id]).await;
    assert!(removed.status.success(), "{}", text(&removed));
    assert_eq!(
        plane.ferry_json(&["target", "ls"]).await,
        serde_json::json!([])
    );
    plane.stop().await;

    // A wrong client secret: Entra ID's refusal, and where to fix it.
    let dir = tempfile::tempdir().unwrap();
    let plane = ControlPlane::start(dir.path(), &azure_config(&lab, dir.path(), "wrong")).await;
    let shown = refused(&plane.ferry(&["target", "add", &id]).await);
    assert!(
        shown.contains("Entra ID") && shown.contains("[azure] credential"),
        "{shown}"
    );
    plane.stop().await;

    // Without [azure], the control plane says how to configure it.
    let dir = tempfile::tempdir().unwrap();
    let plane = ControlPlane::start(dir.path(), FAST_CONTROL_CONFIG).await;
    let shown = refused(&plane.ferry(&["target", "add", &id]).await);
    assert!(shown.contains("no Azure credential"), "{shown}");
    plane.stop().await;
}
