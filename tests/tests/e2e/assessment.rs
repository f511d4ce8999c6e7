//! Readiness assessment against the lab: the agent's checks read the lab's catalog over
//! TDS (in process), and a fleet run through the real binaries.

use std::collections::BTreeMap;

use ferry_agent::config::{AgentConfig, Auth, Encryption, InstanceConfig};
use ferry_proto::agent::v1::{CheckStatus, InstanceAssessment};

use super::*;

/// Known blockers and warnings per database (docs/checks/ explains each id).
pub const SCENARIO: &str = r#"
[[instance]]
name = "SQL22"
version = "2022 CU13"
edition = "Enterprise"
hadr = true
trace_flags = [1800, 9567, 1118]

[[instance.login]]
name = "ferry"
password = "Ferry-Passw0rd!"
sysadmin = true

[[instance.login]]
name = "limited"
password = "Limited-Passw0rd!"

[[instance.login]]
name = "CONTOSO\\app"
windows = true

[[instance.database]]
name = "Sales"
backups = [{ type = "D", hours_ago = 12.0 }]

[[instance.database]]
name = "Legacy"
recovery = "SIMPLE"
log_files = 2
compatibility_level = 90

[[instance.database]]
name = "Docs"
filestream = true
backups = [{ type = "D" }]

[[instance.database]]
name = "Hot"
memory_optimized_files = 1
backups = [{ type = "D" }]

[[instance.database]]
name = "Vault"
tde = true
backups = [{ type = "D" }]

[[instance.database]]
name = "Copied"
backups = [{ type = "D", copy_only = true }]

[[instance]]
name = "SQL16"
version = "2016 SP3"
edition = "Standard"

[[instance.login]]
name = "ferry"
password = "Ferry-Passw0rd!"
sysadmin = true

[[instance.database]]
name = "Billing"
backups = [{ type = "D" }]
"#;

fn instance(name: &str, port: u16, login: &str, password: &str) -> InstanceConfig {
    InstanceConfig {
        name: name.into(),
        host: "127.0.0.1".into(),
        port,
        auth: Auth::SqlLogin {
            username: login.into(),
            password: Some(password.into()),
            password_env: None,
            password_file: None,
        },
        encryption: Encryption::Required,
        trust_server_certificate: true,
        ca_file: None,
        connect_timeout_secs: 5,
        query_timeout_secs: 10,
    }
}

/// check id -> databases (or "instance") it found, for found checks.
fn found(assessed: &InstanceAssessment) -> BTreeMap<String, Vec<String>> {
    assessed
        .results
        .iter()
        .filter(|r| r.status() == CheckStatus::Found)
        .map(|r| {
            let places = r
                .findings
                .iter()
                .map(|f| {
                    if f.database.is_empty() {
                        "instance".to_string()
                    } else {
                        f.database.clone()
                    }
                })
                .collect();
            (r.check_id.clone(), places)
        })
        .collect()
}

#[tokio::test]
async fn the_checks_read_the_lab_catalog_over_tds() {
    let lab = ferry_sim::Lab::start(&ferry_sim::Scenario::parse(SCENARIO).unwrap())
        .await
        .unwrap();
    let port = |name: &str| lab.endpoint(name).unwrap().address.port();
    let config = AgentConfig {
        instances: vec![
            instance("sql22", port("SQL22"), "ferry", "Ferry-Passw0rd!"),
            instance(
                "sql22-limited",
                port("SQL22"),
                "limited",
                "Limited-Passw0rd!",
            ),
            instance("sql16", port("SQL16"), "ferry", "Ferry-Passw0rd!"),
        ],
        ..Default::default()
    };
    let assessed = ferry_agent::assessment::run(&config, "test").await;
    let [sql22, limited, sql16] = &assessed.instances[..] else {
        panic!("{assessed:?}")
    };
    for unknown in sql22
        .results
        .iter()
        .filter(|r| r.status() == CheckStatus::Unknown)
    {
        panic!("{}: {}", unknown.check_id, unknown.unknown_cause);
    }
    let sql22_found = found(sql22);
    let v = |items: &[&str]| items.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    assert_eq!(sql22_found["MI-LINK-RECOVERY-MODEL"], v(&["Legacy"]));
    assert_eq!(sql22_found["MI-LINK-FULL-BACKUP"], v(&["Copied", "Legacy"]));
    assert_eq!(sql22_found["MI-MULTIPLE-LOG-FILES"], v(&["Legacy"]));
    assert_eq!(sql22_found["MI-COMPAT-LEVEL"], v(&["Legacy"]));
    assert_eq!(sql22_found["MI-FILESTREAM"], v(&["Docs"]));
    assert_eq!(sql22_found["MI-INMEMORY-TIER"], v(&["Hot"]));
    assert_eq!(sql22_found["MI-TDE"], v(&["Vault"]));
    assert_eq!(sql22_found["MI-TF-UNSUPPORTED"], v(&["instance"]));
    assert_eq!(sql22_found["MI-WINDOWS-LOGINS"], v(&["instance"]));
    for absent in [
        "MI-LINK-VERSION",
        "MI-LINK-HADR-DISABLED",
        "MI-LINK-SERVICING-UPDATE",
        "MI-INMEMORY-FILES",
    ] {
        assert!(
            !sql22_found.contains_key(absent),
            "{absent}: {sql22_found:?}"
        );
    }
    assert_eq!(sql22.databases.len(), 6);

    let unknown: Vec<&str> = limited
        .results
        .iter()
        .filter(|r| r.status() == CheckStatus::Unknown)
        .map(|r| r.check_id.as_str())
        .collect();
    assert_eq!(unknown, ["MI-TDE"], "{limited:?}");
    let cause = &limited
        .results
        .iter()
        .find(|r| r.check_id == "MI-TDE")
        .unwrap()
        .unknown_cause;
    assert!(cause.contains("VIEW SERVER STATE"), "{cause}");

    let sql16_found = found(sql16);
    for blocker in [
        "MI-LINK-VERSION",
        "MI-LINK-HADR-DISABLED",
        "MI-LINK-SERVICING-UPDATE",
    ] {
        assert_eq!(sql16_found[blocker], v(&["instance"]), "{sql16_found:?}");
    }
}
