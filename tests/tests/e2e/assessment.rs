//! Readiness assessment against the lab: the agent's checks read the lab's catalog over
//! TDS (in process), and a fleet run through the real binaries.

use std::collections::BTreeMap;

use ferry_agent::config::AgentConfig;
use ferry_proto::agent::v1::{CheckStatus, InstanceAssessment};
use ferry_tests::fleet::lab_instance;

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

[[instance.linked_server]]
name = "HQ"
provider = "MSOLEDBSQL"

[[instance.linked_server]]
name = "ORA"
provider = "OraOLEDB.Oracle"

[[instance.database]]
name = "Sales"
backups = [{ type = "D", hours_ago = 12.0 }]
modules = [
    """CREATE PROCEDURE dbo.Archive AS
       -- BEGIN DISTRIBUTED TRANSACTION (retired in 2019)
       DELETE FROM Sales.dbo.Orders WHERE 1 = 0""",
]

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
modules = [
    "CREATE VIEW dbo.RecentSales AS SELECT o.Id FROM Sales.dbo.Orders AS o",
    """CREATE PROCEDURE [ops].[Post] AS
       BEGIN DISTRIBUTED TRANSACTION;
       INSERT INTO HQ.Central.dbo.Postings (Id) SELECT Id FROM dbo.Outbox;
       COMMIT TRANSACTION""",
]

[[instance.database]]
name = "Vault"
tde = true
backups = [{ type = "D" }]
modules = [
    """CREATE PROCEDURE dbo.Settle AS
       BEGIN DISTRIBUTED TRAN;
       UPDATE OPENQUERY(ORA, 'SELECT status FROM ledger') SET status = 'S';
       COMMIT""",
]

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
    let address = |name: &str| lab.endpoint(name).unwrap().address;
    let config = AgentConfig {
        instances: vec![
            lab_instance("sql22", address("SQL22"), "ferry", "Ferry-Passw0rd!"),
            lab_instance(
                "sql22-limited",
                address("SQL22"),
                "limited",
                "Limited-Passw0rd!",
            ),
            lab_instance("sql16", address("SQL16"), "ferry", "Ferry-Passw0rd!"),
        ],
        ..Default::default()
    };
    let assessed = ferry_agent::assessment::run(&config, "test").await;
    let [sql22, limited, sql16] = &assessed.instances[..] else {
        panic!("{assessed:?}")
    };
    let unknown: Vec<String> = sql22
        .results
        .iter()
        .filter(|r| r.status() == CheckStatus::Unknown)
        .map(|r| format!("{}: {}", r.check_id, r.unknown_cause))
        .collect();
    assert!(unknown.is_empty(), "{unknown:?}");
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
    assert_eq!(sql22_found["MI-CROSS-DATABASE"], v(&["Hot"]));
    assert_eq!(sql22_found["MI-DTC-SQL-PARTNERS"], v(&["Hot"]));
    assert_eq!(sql22_found["MI-DTC-NON-SQL-PARTNERS"], v(&["Vault"]));
    let cross = sql22
        .results
        .iter()
        .find(|r| r.check_id == "MI-CROSS-DATABASE")
        .unwrap();
    assert_eq!(
        cross.findings[0].objects,
        [
            "view dbo.RecentSales uses Sales.dbo.Orders",
            "procedure ops.Post uses HQ.Central.dbo.Postings"
        ]
    );
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

/// An agent config for one lab instance with `login`; `settings` are more top-level
/// agent settings (TOML lines).
pub(super) fn lab_agent_config(
    state: &std::path::Path,
    port: u16,
    login: &str,
    password: &str,
    settings: &str,
) -> String {
    format!(
        "state_dir = {:?}\nheartbeat_interval_secs = 1\nmax_backoff_secs = 1\n{settings}\
         [[instance]]\nname = \"default\"\nhost = \"127.0.0.1\"\nport = {port}\nencryption = \"required\"\n\
         trust_server_certificate = true\nconnect_timeout_secs = 5\nquery_timeout_secs = 10\n\
         auth = {{ method = \"sql_login\", username = \"{login}\", password = \"{password}\" }}\n",
        state.display().to_string()
    )
}

/// Run `run_id`'s report once the run is complete.
async fn completed_report(plane: &ControlPlane, run_id: &str) -> Value {
    wait::until("the run to complete", LIMIT, || async {
        let run = plane.ferry_json(&["assess", "status", run_id]).await;
        if run["state"] == "complete" {
            Ok(Some(()))
        } else {
            Err(run.to_string())
        }
    })
    .await;
    plane
        .ferry_json(&["assess", "report", "--run", run_id])
        .await
}

/// `database -> (readiness, reasons)` for `host` in a report or a show.
fn readiness_of(databases: &Value, host: &str) -> BTreeMap<String, (String, Vec<String>)> {
    databases
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["host"] == host)
        .map(|d| {
            let reasons = d["reasons"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r.as_str().unwrap().to_string())
                .collect();
            (
                d["database"].as_str().unwrap().to_string(),
                (d["readiness"].as_str().unwrap().to_string(), reasons),
            )
        })
        .collect()
}

#[tokio::test]
async fn a_fleet_assessment_rates_every_database_and_waits_for_offline_hosts() {
    let lab = ferry_sim::Lab::start(&ferry_sim::Scenario::parse(SCENARIO).unwrap())
        .await
        .unwrap();
    let port = |name: &str| lab.endpoint(name).unwrap().address.port();
    let dir = tempfile::tempdir().unwrap();
    let plane = ControlPlane::start(dir.path(), FAST_CONTROL_CONFIG).await;
    let hosts = [
        ("sql22", port("SQL22"), "ferry", "Ferry-Passw0rd!"),
        (
            "sql22-limited",
            port("SQL22"),
            "limited",
            "Limited-Passw0rd!",
        ),
        ("sql16", port("SQL16"), "ferry", "Ferry-Passw0rd!"),
    ];
    let mut agents = Vec::new();
    for (name, port, login, password) in hosts {
        let state = enroll_ok(&plane, dir.path(), name).await;
        let config = lab_agent_config(&state, port, login, password, "");
        agents.push((
            state.clone(),
            config.clone(),
            AgentProcess::start(&state, &config),
        ));
    }
    for (name, ..) in hosts {
        host_where(&plane, name, "online", |h| h["status"] == "online").await;
    }

    // One run over the fleet, waited for by the CLI.
    let output = plane.ferry(&["assess", "run", "--all", "--wait"]).await;
    assert!(output.status.success(), "{}", text(&output));
    assert!(
        text(&output).contains(
            "13 databases on 3 instances: 1 ready, 1 ready with warnings, 9 not ready, 2 unknown"
        ),
        "{}",
        text(&output)
    );
    let report = plane.ferry_json(&["assess", "report"]).await;
    // The report comes in pages of instances with their databases; the CLI walked them.
    let mut client = ferry_control::cli::connect(&plane.url(), &plane.credentials())
        .await
        .unwrap();
    let (mut instances, mut databases, mut pages) = (Vec::new(), 0, 0);
    let mut page_token = String::new();
    loop {
        let page = client
            .get_assessment_report(ferry_control::cli::request(
                ferry_proto::operator::v1::GetAssessmentReportRequest {
                    run_id: String::new(),
                    page_token,
                    page_size: 1,
                },
            ))
            .await
            .unwrap()
            .into_inner();
        pages += 1;
        instances.extend(page.instances.iter().map(|i| i.instance.clone()));
        databases += page.database_details.len();
        // The whole-run figures come once, on the first page.
        if pages == 1 {
            assert_eq!(page.databases.unwrap().not_ready, 9);
            assert!(!page.rules.is_empty());
            let run = page.run.unwrap();
            let counts = run.target_counts.unwrap();
            assert_eq!((counts.total, counts.done), (3, 3), "{run:?}");
            assert!(run.targets.is_empty(), "the targets are GetAssessmentRun's");
        } else {
            assert!(page.databases.is_none() && page.rules.is_empty());
            assert!(page.run.unwrap().targets.is_empty());
        }
        page_token = page.next_page_token;
        if page_token.is_empty() {
            break;
        }
    }
    assert_eq!((instances.len(), databases), (3, 13), "{instances:?}");
    assert!(pages >= 3, "{pages} pages");
    // The run's targets come a page at a time too, each host once, by name.
    let (mut hosts, mut page_token) = (Vec::new(), String::new());
    loop {
        let page = client
            .get_assessment_run(ferry_control::cli::request(
                ferry_proto::operator::v1::GetAssessmentRunRequest {
                    run_id: String::new(),
                    page_token,
                    page_size: 2,
                },
            ))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(page.state, "complete");
        assert_eq!(page.target_counts.unwrap().total, 3);
        hosts.extend(
            page.targets
                .iter()
                .map(|t| (t.host.clone(), t.state.clone())),
        );
        page_token = page.next_page_token;
        if page_token.is_empty() {
            break;
        }
    }
    let mut sorted = hosts.clone();
    sorted.sort();
    assert_eq!(hosts.len(), 3, "{hosts:?}");
    assert_eq!(hosts, sorted, "by host name");
    assert!(hosts.iter().all(|(_, state)| state == "done"), "{hosts:?}");
    let owned = |pairs: &[(&str, &str, &[&str])]| {
        pairs
            .iter()
            .map(|(db, readiness, reasons)| {
                (
                    db.to_string(),
                    (
                        readiness.to_string(),
                        reasons.iter().map(|r| r.to_string()).collect(),
                    ),
                )
            })
            .collect::<BTreeMap<_, _>>()
    };
    assert_eq!(
        readiness_of(&report["database_details"], "sql22"),
        owned(&[
            ("Copied", "not_ready", &["MI-LINK-FULL-BACKUP"]),
            ("Docs", "not_ready", &["MI-FILESTREAM"]),
            (
                "Hot",
                "ready_with_warnings",
                &[
                    "MI-INMEMORY-TIER",
                    "MI-CROSS-DATABASE",
                    "MI-DTC-SQL-PARTNERS"
                ]
            ),
            (
                "Legacy",
                "not_ready",
                &[
                    "MI-LINK-RECOVERY-MODEL",
                    "MI-LINK-FULL-BACKUP",
                    "MI-MULTIPLE-LOG-FILES"
                ]
            ),
            ("Sales", "ready", &[]),
            ("Vault", "not_ready", &["MI-DTC-NON-SQL-PARTNERS"]),
        ])
    );
    let limited = readiness_of(&report["database_details"], "sql22-limited");
    assert_eq!(
        limited["Sales"],
        ("unknown".to_string(), vec!["MI-TDE".to_string()])
    );
    assert_eq!(
        limited["Legacy"].0, "not_ready",
        "a blocker is certain even when other checks could not run"
    );
    assert_eq!(
        readiness_of(&report["database_details"], "sql16")["Billing"].0,
        "not_ready"
    );
    let rule = |id: &str| {
        report["rules"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["check_id"] == id)
            .cloned()
            .unwrap_or_else(|| panic!("{id} in {report}"))
    };
    assert_eq!(
        (
            rule("MI-FILESTREAM")["instances"].as_u64(),
            rule("MI-FILESTREAM")["databases"].as_u64()
        ),
        (Some(2), Some(2))
    );
    assert_eq!(rule("MI-TDE")["unknown"].as_u64(), Some(1));
    assert_eq!(rule("MI-LINK-HADR-DISABLED")["databases"].as_u64(), Some(1));

    // Findings with evidence, remedy and the cause of what could not run.
    let show = plane
        .ferry_json(&[
            "assess",
            "show",
            "--host",
            "sql22-limited",
            "--database",
            "Sales",
        ])
        .await;
    let tde = show["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["check_id"] == "MI-TDE")
        .unwrap();
    assert_eq!(tde["status"], "unknown");
    assert!(
        tde["unknown_cause"]
            .as_str()
            .unwrap()
            .contains("VIEW SERVER STATE"),
        "{tde}"
    );
    let show = plane
        .ferry(&["assess", "show", "--host", "sql22", "--database", "Legacy"])
        .await;
    let shown = text(&show);
    assert!(
        shown.contains("MI-MULTIPLE-LOG-FILES")
            && shown.contains("log_files = 2")
            && shown.contains("REMOVE FILE"),
        "{shown}"
    );
    assert!(
        !shown.contains("database Docs"),
        "only Legacy's findings: {shown}"
    );
    let csv = plane.ferry(&["assess", "report", "-o", "csv"]).await;
    assert!(
        text(&csv).starts_with("host,instance,database,readiness,reasons,size_bytes\n"),
        "{}",
        text(&csv)
    );

    // A host that is offline when the run starts is assessed when it returns.
    let (state, config, offline) = agents.remove(2);
    offline.stop().await;
    host_where(&plane, "sql16", "offline", |h| {
        h["status"] == "disconnected"
    })
    .await;
    let started = plane
        .ferry_json(&[
            "assess",
            "run",
            "--host",
            "sql16",
            "--host",
            "sql22",
            "--deadline",
            "10m",
        ])
        .await;
    let run_id = started["id"].as_str().unwrap().to_string();
    let status = wait::until("sql22 done while sql16 waits", LIMIT, || async {
        let run = plane.ferry_json(&["assess", "status", &run_id]).await;
        let state = |host: &str| {
            run["targets"]
                .as_array()
                .unwrap()
                .iter()
                .find(|t| t["host"] == host)
                .unwrap()["state"]
                .clone()
        };
        if state("sql22") == "done" && state("sql16") == "offline_waiting" {
            Ok(Some(run))
        } else {
            Err(run.to_string())
        }
    })
    .await;
    assert_eq!(status["state"], "running");
    let back = AgentProcess::start(&state, &config);
    let report = completed_report(&plane, &run_id).await;
    assert_eq!(
        readiness_of(&report["database_details"], "sql16")["Billing"].0,
        "not_ready"
    );
    assert_eq!(report["databases"]["not_ready"].as_u64(), Some(5));

    // An agent that dies in the middle of an assessment is assessed again when it
    // returns: the command it had acknowledged is delivered again on its new session.
    lab.control.set_hung("SQL16", true).unwrap();
    let started = plane
        .ferry_json(&["assess", "run", "--host", "sql16", "--deadline", "10m"])
        .await;
    let run_id = started["id"].as_str().unwrap().to_string();
    wait::until("the agent to be connecting to SQL16", LIMIT, || async {
        if lab.control.held_connections("SQL16") > 0 {
            Ok(Some(()))
        } else {
            Err("no connection waiting".to_string())
        }
    })
    .await;
    back.kill().await;
    lab.control.set_hung("SQL16", false).unwrap();
    let back = AgentProcess::start(&state, &config);
    let report = completed_report(&plane, &run_id).await;
    assert_eq!(
        readiness_of(&report["database_details"], "sql16")["Billing"].0,
        "not_ready",
        "assessed for real, not Unknown from a timed-out connection: {report}"
    );

    back.stop().await;
    for (.., agent) in agents {
        agent.stop().await;
    }
    plane.stop().await;
}

#[tokio::test]
async fn ferry_lab_assesses_a_generated_fleet_and_reruns_in_its_own_directory() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("ferry-lab-data");
    // The first run migrates and cuts over one host (three took 144 s of CI's e2e
    // time: their failovers to the one MI take turns; the turn gate has its own
    // tests); the rerun in the same directory need not.
    let lab = |data: &std::path::Path, migrate_hosts: &str| {
        tokio::process::Command::new(env!("CARGO_BIN_EXE_ferry-lab"))
            .args([
                "--once",
                "--generate",
                "4",
                "--seed",
                "3",
                "--listen",
                "127.0.0.1:0",
                "--metrics-listen",
                "127.0.0.1:0",
                "--migrate-hosts",
                migrate_hosts,
                "--data-dir",
            ])
            .arg(data)
            .output()
    };
    for migrate_hosts in ["1", "0"] {
        let output = lab(&data, migrate_hosts).await.unwrap();
        let shown = text(&output);
        assert!(output.status.success(), "{shown}");
        assert!(shown.contains("databases on 4 instances:"), "{shown}");
        assert!(shown.contains("ferry assess report"), "{shown}");
        assert!(shown.contains("Metrics: http://127.0.0.1:"), "{shown}");
    }
    let foreign = dir.path().join("somebody-else");
    std::fs::create_dir(&foreign).unwrap();
    let output = lab(&foreign, "0").await.unwrap();
    assert!(!output.status.success());
    assert!(
        text(&output).contains("was not made by ferry-lab"),
        "{}",
        text(&output)
    );
}
