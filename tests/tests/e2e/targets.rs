//! Target managed instances through the real binaries: `ferry target add` makes the
//! control plane sign in to the lab's Entra ID with azure_identity's client-secret (or
//! workload identity) credential and read the managed instance from the lab's ARM (HTTPS, the lab's CA
//! trusted through `[azure] ca_file`); `ferry target test` makes an agent probe the
//! network toward the lab's managed instance.

use std::collections::BTreeMap;

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
pub(super) fn azure_config(lab: &ferry_sim::Lab, dir: &std::path::Path, secret: &str) -> String {
    let secret_file = dir.join("azure-secret");
    ferry_proto::private_files::write_secret(&secret_file, secret).unwrap();
    let credential = format!(
        "credential = \"client_secret\"\nclient_secret_file = {:?}\n",
        secret_file.display().to_string()
    );
    lab_azure(lab, dir, &credential)
}

/// The control plane's config for the lab's Azure (its CA trusted, written to `dir`),
/// signing in with `credential` (TOML lines).
fn lab_azure(lab: &ferry_sim::Lab, dir: &std::path::Path, credential: &str) -> String {
    let azure = lab.azure.as_ref().unwrap();
    let ca = dir.join("lab-ca.pem");
    std::fs::write(&ca, &azure.ca_pem).unwrap();
    format!(
        "{FAST_CONTROL_CONFIG}[azure]\n{credential}tenant_id = \"{}\"\nclient_id = \"{}\"\n\
         arm_endpoint = \"{}\"\nauthority_host = \"{}\"\nca_file = {:?}\ntimeout_secs = 10\n",
        azure.tenant,
        ferry_sim::scenario::azure::DEFAULT_CLIENT_ID,
        azure.arm,
        azure.authority,
        ca.display().to_string(),
    )
}

/// A control plane signed in to the lab's Entra ID with the right secret.
async fn signed_in_plane(lab: &ferry_sim::Lab, dir: &std::path::Path) -> ControlPlane {
    let config = azure_config(lab, dir, ferry_sim::scenario::azure::DEFAULT_CLIENT_SECRET);
    ControlPlane::start(dir, &config).await
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
    let plane = signed_in_plane(&lab, dir.path()).await;

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

/// A control plane on workload identity in `dir`, with a service account token for
/// `subject` where a cluster would project it (`AZURE_FEDERATED_TOKEN_FILE`).
async fn workload_identity_plane(
    lab: &ferry_sim::Lab,
    dir: &std::path::Path,
    subject: &str,
) -> ControlPlane {
    let token_file = dir.join("azure-identity-token");
    let token = lab.control.service_account_token(subject, None).unwrap();
    std::fs::write(&token_file, token).unwrap();
    let config = lab_azure(lab, dir, "credential = \"workload_identity\"\n");
    let env = [("AZURE_FEDERATED_TOKEN_FILE", token_file.to_str().unwrap())];
    let local = "127.0.0.1:0".parse().unwrap();
    ControlPlane::start_with_env(dir, &config, local, &env).await
}

#[tokio::test]
async fn a_control_plane_on_workload_identity_signs_in_with_its_federated_token() {
    let lab = ferry_sim::Lab::start(&ferry_sim::Scenario::parse(SCENARIO).unwrap())
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let subject = ferry_sim::scenario::azure::DEFAULT_SUBJECT;
    let plane = workload_identity_plane(&lab, dir.path(), subject).await;
    let added = plane.ferry_json(&["target", "add", &mi_id(&lab)]).await;
    assert_eq!(added["created"], true, "{added}");
    assert_eq!(added["vcores"], 16);
    plane.stop().await;

    // A token for another service account: Entra ID's refusal names the subject.
    let dir = tempfile::tempdir().unwrap();
    let stranger = "system:serviceaccount:default:someone-else";
    let plane = workload_identity_plane(&lab, dir.path(), stranger).await;
    let output = plane.ferry(&["target", "add", &mi_id(&lab)]).await;
    assert!(!output.status.success());
    let shown = text(&output);
    assert!(
        shown.contains("AADSTS700213") && shown.contains(stranger),
        "{shown}"
    );
    plane.stop().await;
}

/// `instance -> (verdict, check id -> status)` of the one test in `tests`.
fn verdicts(tests: &serde_json::Value) -> BTreeMap<String, (String, BTreeMap<String, String>)> {
    let tests = tests.as_array().unwrap();
    assert_eq!(tests.len(), 1, "{tests:?}");
    assert_eq!(tests[0]["state"], "done", "{tests:?}");
    tests[0]["instances"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            let checks = i["checks"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| {
                    (
                        c["check_id"].as_str().unwrap().to_string(),
                        c["status"].as_str().unwrap().to_string(),
                    )
                })
                .collect();
            (
                i["instance"].as_str().unwrap().to_string(),
                (i["verdict"].as_str().unwrap().to_string(), checks),
            )
        })
        .collect()
}

#[tokio::test]
async fn connection_tests_probe_the_path_to_the_managed_instance() {
    let endpoint_port = ferry_tests::processes::closed_port();
    let scenario = format!(
        r#"{SCENARIO}
[[instance]]
name = "SQL22"
version = "2022 CU13"
hadr = true
setup = [
  "CREATE MASTER KEY ENCRYPTION BY PASSWORD = 'Strong-Passw0rd!'",
  "CREATE CERTIFICATE [Cert_SQL22_endpoint] WITH SUBJECT = 'SQL22 endpoint'",
  """CREATE ENDPOINT [Hadr_endpoint] STATE = STARTED AS TCP (LISTENER_PORT = {endpoint_port}, LISTENER_IP = ALL)
     FOR DATABASE_MIRRORING (ROLE = ALL, AUTHENTICATION = CERTIFICATE [Cert_SQL22_endpoint], ENCRYPTION = REQUIRED ALGORITHM AES)""",
]

[[instance.login]]
name = "ferry"
password = "Ferry-Passw0rd!"
sysadmin = true

[[instance]]
name = "SQL19"
version = "2019 CU20"
hadr = true

[[instance.login]]
name = "ferry"
password = "Ferry-Passw0rd!"
sysadmin = true
"#
    );
    let lab = ferry_sim::Lab::start(&ferry_sim::Scenario::parse(&scenario).unwrap())
        .await
        .unwrap();
    let mi = lab.managed_instance("mi-sales").unwrap().clone();
    let dir = tempfile::tempdir().unwrap();
    let plane = signed_in_plane(&lab, dir.path()).await;
    let added = plane.ferry(&["target", "add", &mi_id(&lab)]).await;
    assert!(added.status.success(), "{}", text(&added));

    // One agent for both instances; the MI's FQDN resolves through its override, as
    // the lab's names are in no DNS.
    let state = enroll_ok(&plane, dir.path(), "sqlhost").await;
    let instance = |name: &str| {
        format!(
            "[[instance]]\nname = \"{}\"\nhost = \"127.0.0.1\"\nport = {}\ntrust_server_certificate = true\n\
             connect_timeout_secs = 5\nauth = {{ method = \"sql_login\", username = \"ferry\", password = \"Ferry-Passw0rd!\" }}\n",
            name.to_ascii_lowercase(),
            lab.endpoint(name).unwrap().address.port()
        )
    };
    let config = format!(
        "state_dir = {:?}\nheartbeat_interval_secs = 1\nmax_backoff_secs = 1\n\
         [network]\ntimeout_secs = 2\n[network.hosts]\n\"{}\" = \"{}\"\n{}{}",
        state.display().to_string(),
        mi.fqdn,
        mi.ip,
        instance("SQL22"),
        instance("SQL19"),
    );
    let agent = AgentProcess::start(&state, &config);
    host_where(&plane, "sqlhost", "online", |h| h["status"] == "online").await;

    let test = || plane.ferry_json(&["target", "test", "mi-sales", "--host", "sqlhost"]);
    let status = |found: &BTreeMap<String, (String, BTreeMap<String, String>)>,
                  instance: &str,
                  check: &str| found[instance].1[check].clone();
    let found = verdicts(&test().await);
    for instance in ["sql22", "sql19"] {
        assert_eq!(found[instance].0, "ready_with_warnings", "{found:?}");
        for (check, expected) in [
            ("NET-MI-DNS", "passed"),
            ("NET-MI-DNS-OVERRIDE", "found"),
            ("NET-MI-LINK-PORT", "passed"),
            ("NET-MI-REDIRECT-PORTS", "passed"),
            ("NET-LINK-ADDRESS", "found"),
            ("NET-MI-TO-SQL", "found"),
        ] {
            assert_eq!(
                status(&found, instance, check),
                expected,
                "{instance} {check}"
            );
        }
    }
    // SQL22's endpoint is started, certificate-authenticated, AES, and listening; SQL19
    // has none yet.
    assert_eq!(status(&found, "sql22", "NET-LINK-ENDPOINT"), "passed");
    assert_eq!(status(&found, "sql19", "NET-LINK-ENDPOINT"), "found");
    let shown = plane.ferry(&["target", "test-results", "mi-sales"]).await;
    let shown = text(&shown);
    assert!(
        shown.contains(&format!(
            "the link's listener URL will be TCP://127.0.0.1:{endpoint_port}"
        )) && shown.contains("there is no database mirroring endpoint")
            && shown.contains("see docs/checks/NET-MI-DNS-OVERRIDE.md"),
        "{shown}"
    );

    // The network into the MI cut: port 5022 refuses, a blocker on both instances,
    // with the remedy; restored, it passes again.
    lab.control
        .cut(
            "SQL22",
            "mi-sales",
            ferry_sim::faults::Direction::ToManagedInstance,
        )
        .unwrap();
    let cut = plane
        .ferry(&["target", "test", "mi-sales", "--host", "sqlhost"])
        .await;
    let cut = text(&cut);
    assert!(
        cut.contains("Instance sql22: not_ready")
            && cut.contains("FAIL NET-MI-LINK-PORT")
            && cut.contains(&format!("{}:5022 ({}): refused", mi.fqdn, mi.ip))
            && cut.contains("Allow TCP 5022 outbound"),
        "{cut}"
    );
    lab.control
        .restore(
            "SQL22",
            "mi-sales",
            ferry_sim::faults::Direction::ToManagedInstance,
        )
        .unwrap();
    let found = verdicts(&test().await);
    assert_eq!(status(&found, "sql22", "NET-MI-LINK-PORT"), "passed");

    // A test names a known target and instance.
    let missing = plane
        .ferry(&["target", "test", "mi-nowhere", "--host", "sqlhost"])
        .await;
    assert!(
        !missing.status.success() && text(&missing).contains("ferry target add"),
        "{}",
        text(&missing)
    );
    let found = verdicts(
        &plane
            .ferry_json(&[
                "target",
                "test",
                "mi-sales",
                "--host",
                "sqlhost",
                "--instance",
                "nope",
            ])
            .await,
    );
    assert_eq!(found.len(), 1, "{found:?}");
    let (name, (verdict, checks)) = found.iter().next().unwrap();
    assert!(name.contains("no instance named \"nope\""), "{name}");
    assert_eq!((verdict.as_str(), checks.len()), ("unknown", 0));
    agent.stop().await;
    plane.stop().await;
}

/// The lab's mi-sales resource id.
pub(super) fn mi_id(lab: &ferry_sim::Lab) -> String {
    format!(
        "/subscriptions/{}/resourceGroups/ferry-lab/providers/Microsoft.Sql/managedInstances/mi-sales",
        lab.azure.as_ref().unwrap().subscription
    )
}

/// A client secret other users can read is refused, not used: the control plane does
/// not start, and says which file and what to run; its data folder is its own.
#[tokio::test]
async fn a_secret_others_can_read_is_refused_and_the_data_folder_is_private() {
    use std::os::unix::fs::PermissionsExt;
    let lab = ferry_sim::Lab::start(&ferry_sim::Scenario::parse(SCENARIO).unwrap())
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = azure_config(
        &lab,
        dir.path(),
        ferry_sim::scenario::azure::DEFAULT_CLIENT_SECRET,
    );
    let secret = dir.path().join("azure-secret");
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o644)).unwrap();
    let config_path = dir.path().join("control.toml");
    std::fs::write(&config_path, &config).unwrap();
    let data_dir = dir.path().join("control");
    let refused = tokio::process::Command::new(ferry_tests::binaries::binary("ferry-control"))
        .arg("--config")
        .arg(&config_path)
        .arg("--data-dir")
        .arg(&data_dir)
        .arg("--listen")
        .arg("127.0.0.1:0")
        .output()
        .await
        .unwrap();
    let said = String::from_utf8_lossy(&refused.stderr);
    assert!(
        !refused.status.success()
            && said.contains("azure.client_secret_file")
            && said.contains("chmod 600"),
        "{said}"
    );
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o600)).unwrap();
    let plane = ControlPlane::start(dir.path(), &config).await;
    let mode =
        |path: &std::path::Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&plane.data_dir), 0o700);
    assert_eq!(mode(&plane.data_dir.join("ferry.db")), 0o600);
    plane.stop().await;
}

/// The driver reads every link of an MI with one LIST: ARM pages a list (`nextLink`),
/// and a link past the first page is still read.
#[tokio::test]
async fn an_mis_links_are_listed_across_pages() {
    let scenario = "[[managed_instance]]\nname = \"mi-many\"\n\n[azure]\nspeed = 1000.0\n";
    let lab = ferry_sim::Lab::start(&ferry_sim::Scenario::parse(scenario).unwrap())
        .await
        .unwrap();
    let azure = lab.azure.as_ref().unwrap();
    let mi = ferry_control::azure::ManagedInstanceId::parse(&format!(
        "/subscriptions/{}/resourceGroups/ferry-lab/providers/Microsoft.Sql/managedInstances/mi-many",
        azure.subscription
    ))
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = azure_config(
        &lab,
        dir.path(),
        ferry_sim::scenario::azure::DEFAULT_CLIENT_SECRET,
    );
    let arm = super::migrations::outside_arm(dir.path(), &config);
    let links = ferry_sim::azure::arm::LIST_PAGE + 3;
    for n in 0..links {
        let body = serde_json::json!({"properties": {
            "databases": [{"databaseName": format!("db{n}")}],
            "partnerEndpoint": "TCP://10.0.0.4:5022",
            "instanceAvailabilityGroupName": format!("AG_{n}_MI"),
            "partnerAvailabilityGroupName": format!("AG_{n}"),
            "instanceLinkRole": "Secondary",
            "failoverMode": "Manual",
            "seedingMode": "Automatic",
        }});
        arm.put_link(&mi, &format!("Link_{n}"), &body)
            .await
            .unwrap();
    }
    // Each link is listed once its creation is done (90 s of Azure's time, 0.09 s here).
    let listed = wait::until("every link listed", LIMIT, || async {
        let listed = arm.links(&mi).await.map_err(|e| e.to_string())?;
        match listed.len() == links {
            true => Ok(Some(listed)),
            false => Err(format!("{} of {links}", listed.len())),
        }
    })
    .await;
    let last = &listed[&format!("link_{}", links - 1)];
    assert_eq!(
        last["properties"]["databases"][0]["databaseName"],
        format!("db{}", links - 1)
    );
}
