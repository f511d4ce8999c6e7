//! Fleet assessment runs beyond one on-demand run, through the real binaries: label
//! selectors, the diff between two runs after a fix, the SKU recommendation from the
//! load the agents sample, and the weekly schedule.

use ferry_tests::fleet::lab_instance;
use serde_json::Value;

use super::*;

/// Paris runs a busy SQL Server 2022 with a memory-optimized database (Business
/// Critical) and one not yet in FULL recovery; Lyon an idle one.
const SCENARIO: &str = r#"
[[instance]]
name = "PARIS"
version = "2022 CU13"
edition = "Enterprise"
hadr = true
trace_flags = [1800, 9567]
host = { cpu_count = 16, memory_mb = 16384 }

[[instance.login]]
name = "ferry"
password = "Ferry-Passw0rd!"
sysadmin = true

[[instance.database]]
name = "Orders"
recovery = "SIMPLE"
# 4,000 transactions a second cost 8 of the 16 CPUs in the lab's cost model.
workload = { transactions_per_sec = 4000.0 }

[[instance.database]]
name = "Hot"
memory_optimized_files = 1
backups = [{ type = "D" }]

[[instance]]
name = "LYON"
version = "2022 CU13"
edition = "Enterprise"
hadr = true
trace_flags = [1800, 9567]
host = { cpu_count = 8, memory_mb = 16384 }

[[instance.login]]
name = "ferry"
password = "Ferry-Passw0rd!"
sysadmin = true

[[instance.database]]
name = "Billing"
backups = [{ type = "D" }]
"#;

/// `ferry assess run --label LABEL --wait`, and the run it made.
async fn labelled_run(plane: &ControlPlane, label: &str) -> Value {
    let output = plane
        .ferry(&["assess", "run", "--label", label, "--wait"])
        .await;
    assert!(output.status.success(), "{}", text(&output));
    plane.ferry_json(&["assess", "status"]).await
}

fn targets(run: &Value) -> Vec<String> {
    run["targets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["host"].as_str().unwrap().to_string())
        .collect()
}

fn changes(diff: &Value, list: &str) -> Vec<(String, String)> {
    diff[list]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["database"].as_str().unwrap().to_string(),
                c["check_id"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[tokio::test]
async fn labels_select_hosts_a_diff_shows_the_fix_and_load_sizes_the_target() {
    let lab = ferry_sim::Lab::start(&ferry_sim::Scenario::parse(SCENARIO).unwrap())
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let plane = ControlPlane::start(dir.path(), FAST_CONTROL_CONFIG).await;
    let mut agents = Vec::new();
    for (name, instance) in [("paris-1", "PARIS"), ("lyon-1", "LYON")] {
        let state = enroll_ok(&plane, dir.path(), name).await;
        let port = lab.endpoint(instance).unwrap().address.port();
        // Load sampled every second, in two-second windows.
        let config = assessment::lab_agent_config(
            &state,
            port,
            "ferry",
            "Ferry-Passw0rd!",
            "load_sample_interval_secs = 1\nload_window_secs = 2\n",
        );
        agents.push(AgentProcess::start(&state, &config));
    }
    for name in ["paris-1", "lyon-1"] {
        host_where(&plane, name, "online", |h| h["status"] == "online").await;
    }

    // Labels, set and removed by operators, select the run's hosts.
    let labelled = plane
        .ferry(&[
            "host",
            "label",
            "paris-1",
            "env=prod",
            "site=paris",
            "tier=gold",
        ])
        .await;
    assert!(labelled.status.success(), "{}", text(&labelled));
    let labelled = plane.ferry(&["host", "label", "paris-1", "tier-"]).await;
    assert!(
        text(&labelled).contains("paris-1: env=prod, site=paris"),
        "{}",
        text(&labelled)
    );
    plane.ferry(&["host", "label", "lyon-1", "env=test"]).await;
    let bad = plane.ferry(&["host", "label", "lyon-1", "env=a b"]).await;
    assert!(
        !bad.status.success() && text(&bad).contains("not allowed"),
        "{}",
        text(&bad)
    );
    let none = plane
        .ferry(&["assess", "run", "--label", "env=staging"])
        .await;
    assert!(
        text(&none).contains("no enrolled host has the labels env=staging"),
        "{}",
        text(&none)
    );
    let first = labelled_run(&plane, "env=prod").await;
    assert_eq!(targets(&first), ["paris-1"]);
    assert_eq!(first["selector"], "labels: env=prod");

    // The DBA fixes Orders; the next run's diff says what that fixed.
    let mut sql = ferry_agent::sql::connect(&lab_instance(
        "paris",
        lab.endpoint("PARIS").unwrap().address,
        "ferry",
        "Ferry-Passw0rd!",
    ))
    .await
    .unwrap();
    for statement in [
        "ALTER DATABASE [Orders] SET RECOVERY FULL",
        "BACKUP DATABASE [Orders] TO DISK = N'/backups/Orders.bak'",
    ] {
        sql.simple_query(statement)
            .await
            .unwrap()
            .into_results()
            .await
            .unwrap();
    }
    let second = labelled_run(&plane, "site=paris").await;
    let diff = plane.ferry_json(&["assess", "diff"]).await;
    assert_eq!(diff["from"], first["id"]);
    assert_eq!(diff["to"], second["id"]);
    assert_eq!(
        changes(&diff, "fixed"),
        [
            ("Orders".to_string(), "MI-LINK-FULL-BACKUP".to_string()),
            ("Orders".to_string(), "MI-LINK-RECOVERY-MODEL".to_string())
        ],
        "{diff}"
    );
    assert_eq!(changes(&diff, "regressed"), [], "{diff}");
    let orders: Vec<&Value> = diff["readiness"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["database"] == "Orders")
        .collect();
    assert_eq!(orders.len(), 1, "{diff}");
    assert_eq!(
        (orders[0]["from"].as_str(), orders[0]["to"].as_str()),
        (Some("not_ready"), Some("ready"))
    );
    let shown = text(&plane.ferry(&["assess", "diff"]).await);
    assert!(shown.contains("Fixed (2):"), "{shown}");

    // Sizing: Paris needs Business Critical (Hot) and 8 cores + 20 % -> 16 vCores; idle
    // Lyon fits the smallest General Purpose SKU (12 GB committed + 20 % < 4 * 5.1 GB).
    let sized = wait::until("three load windows per host", LIMIT, || async {
        let found = plane.ferry_json(&["assess", "sku"]).await;
        let enough = found["instances"].as_array().is_some_and(|all| {
            all.len() == 2
                && all
                    .iter()
                    .all(|i| i["observed"]["windows"].as_u64() >= Some(3))
        });
        if enough {
            Ok(Some(found))
        } else {
            Err(found.to_string())
        }
    })
    .await;
    let of = |host: &str| {
        sized["instances"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["host"] == host)
            .unwrap()
            .clone()
    };
    let paris = of("paris-1");
    assert_eq!(
        (
            paris["tier"].as_str(),
            paris["hardware"].as_str(),
            paris["vcores"].as_u64()
        ),
        (
            Some("BusinessCritical"),
            Some("Standard-series (Gen5)"),
            Some(16)
        ),
        "{paris}"
    );
    let cores = paris["observed"]["cpu_cores_used"].as_f64().unwrap();
    assert!((7.0..=9.0).contains(&cores), "{paris}");
    assert!(
        paris["reasons"][0].as_str().unwrap().contains("Hot"),
        "{paris}"
    );
    let storage = paris["storage_gb"].as_f64().unwrap();
    let expected = 16.0 * 1.35 * 730.0 + (storage - 32.0).max(0.0) * 0.25;
    assert!(
        (paris["monthly_cost"].as_f64().unwrap() - expected).abs() < 0.01,
        "{paris}"
    );
    let lyon = of("lyon-1");
    assert_eq!(
        (
            lyon["tier"].as_str(),
            lyon["hardware"].as_str(),
            lyon["vcores"].as_u64()
        ),
        (
            Some("GeneralPurpose"),
            Some("Standard-series (Gen5)"),
            Some(4)
        ),
        "{lyon}"
    );
    let table = text(&plane.ferry(&["assess", "sku", "--host", "lyon-1"]).await);
    assert!(
        table.contains("GeneralPurpose") && !table.contains("paris-1"),
        "{table}"
    );

    // The schedule: a control plane with it on starts the current slot's run for every
    // host, under the slot's id.
    let addr = plane.addr;
    plane.stop().await;
    let scheduled = FAST_CONTROL_CONFIG.replace(
        "schedule_interval_secs = 0",
        "schedule_interval_secs = 3600\nschedule_offset_secs = 0",
    );
    let plane = ControlPlane::start_on(dir.path(), &scheduled, addr).await;
    let run = wait::until("the scheduled run to complete", LIMIT, || async {
        let run = plane.ferry_json(&["assess", "status"]).await;
        if run["trigger"] == "schedule" && run["state"] == "complete" {
            Ok(Some(run))
        } else {
            Err(run.to_string())
        }
    })
    .await;
    assert!(
        run["id"].as_str().unwrap().starts_with("scheduled-"),
        "{run}"
    );
    assert!(run["id"].as_str().unwrap().ends_with(":00:00Z"), "{run}");
    let mut hosts = targets(&run);
    hosts.sort();
    assert_eq!(hosts, ["lyon-1", "paris-1"]);

    for agent in agents {
        agent.stop().await;
    }
    plane.stop().await;
}
