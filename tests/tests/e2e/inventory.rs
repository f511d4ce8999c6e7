//! Inventory over TDS (a scripted double until the lab exists), and login failures.

use super::*;

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
