//! Inventory over TDS from the lab (ferry-sim), with full TLS, and login failures.

use super::*;

#[tokio::test]
async fn inventory_is_collected_over_tds_and_login_failures_are_reported() {
    let scenario = ferry_sim::Scenario::parse(
        r#"
        [[instance]]
        name = "SQL01"
        version = "2022 CU13"
        edition = "Enterprise"
        hadr = true
        host = { platform = "Linux", distribution = "Ubuntu 22.04" }
        [[instance.login]]
        name = "ferry"
        password = "Str0ng!pass"
        sysadmin = true
        [[instance.database]]
        name = "sales"
        data_mb = 10240
        log_mb = 1024
        log_files = 2
        "#,
    )
    .unwrap();
    let lab = ferry_sim::Lab::start(&scenario).await.unwrap();
    let port = lab.endpoint("SQL01").unwrap().address.port();

    let dir = tempfile::tempdir().unwrap();
    let plane = ControlPlane::start(dir.path(), FAST_CONTROL_CONFIG).await;
    let state = enroll_ok(&plane, dir.path(), "sql-inventory").await;
    let instance = |name: &str, password: &str| {
        format!(
            "[[instance]]\nname = \"{name}\"\nhost = \"127.0.0.1\"\nport = {port}\nencryption = \"required\"\ntrust_server_certificate = true\n\
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
    assert_eq!(sales["size_bytes"].as_i64(), Some((10240 + 1024) << 20));
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
