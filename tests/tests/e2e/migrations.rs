//! Migrations through the real binaries: `ferry migrate start` gated by the pre-flight
//! (assessment, connection test, warnings accepted), idempotent, a second link for a
//! database refused; the control plane's driver runs the set-up on SQL Server (agent,
//! T-SQL over TDS to the lab) and on Azure (the lab's ARM with azure_identity) and
//! watches the links until they are ready for cutover, on SQL Server 2022 and 2016.

use super::targets::{azure_config, mi_id};
use super::*;
use serde_json::json;

const HOSTILE: &str = "x]; DROP DATABASE y; --";

pub(super) const SCENARIO: &str = r#"
[[managed_instance]]
name = "mi-sales"
tier = "BusinessCritical"
vcores = 16
storage_gb = 1024
update_policy = "SQLServer2022"
link_bandwidth_mbps = 800.0
link_latency_ms = 2.0

[azure]
speed = 100.0

[[instance]]
name = "SQL22"
version = "2022 CU13"
hadr = true

[[instance.login]]
name = "ferry"
password = "Ferry-Passw0rd!"
sysadmin = true

[[instance.database]]
name = "Sales"
data_mb = 8
backups = [{ type = "D", hours_ago = 2.0 }]
workload = { log_bytes_per_sec = 8192, transactions_per_sec = 5 }

[[instance.database]]
name = "Orders"
data_mb = 8
backups = [{ type = "D", hours_ago = 2.0 }]

[[instance.database]]
name = "x]; DROP DATABASE y; --"
data_mb = 8
backups = [{ type = "D", hours_ago = 2.0 }]

[[instance.database]]
name = "y"
data_mb = 8
backups = [{ type = "D", hours_ago = 2.0 }]

[[instance]]
name = "SQL16"
version = "2016 SP3 Azure Connect"
hadr = true

[[instance.login]]
name = "ferry"
password = "Ferry-Passw0rd!"
sysadmin = true

[[instance.database]]
name = "Legacy"
data_mb = 8
backups = [{ type = "D", hours_ago = 2.0 }]
"#;

/// An agent configuration for `instances` of the lab, each with its own endpoint port,
/// the MI's name resolved through `[network.hosts]`.
pub(super) fn agent_config(
    lab: &ferry_sim::Lab,
    state: &std::path::Path,
    instances: &[&str],
) -> String {
    let mi = lab.managed_instance("mi-sales").unwrap();
    let mut config = format!(
        "state_dir = {:?}\nheartbeat_interval_secs = 1\nmax_backoff_secs = 1\nlink_status_interval_secs = 1\n\
         [network]\ntimeout_secs = 2\n[network.hosts]\n\"{}\" = \"{}\"\n",
        state.display().to_string(),
        mi.fqdn,
        mi.ip,
    );
    for name in instances {
        config.push_str(&format!(
            "[[instance]]\nname = \"{}\"\nhost = \"127.0.0.1\"\nport = {}\ntrust_server_certificate = true\n\
             connect_timeout_secs = 5\nendpoint_port = {}\n\
             auth = {{ method = \"sql_login\", username = \"ferry\", password = \"Ferry-Passw0rd!\" }}\n",
            name.to_ascii_lowercase(),
            lab.endpoint(name).unwrap().address.port(),
            ferry_tests::processes::closed_port(),
        ));
    }
    config
}

pub(super) fn start_args<'a>(host: &'a str, database: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec![
        "migrate",
        "start",
        "--host",
        host,
        "--database",
        database,
        "--target",
        "mi-sales",
    ];
    args.extend_from_slice(extra);
    args
}

/// A control plane signed in to the lab's Azure with mi-sales added, and one agent per
/// host (name, lab instances), online with their inventory.
pub(super) struct Fixture {
    pub(super) lab: ferry_sim::Lab,
    pub(super) dir: tempfile::TempDir,
    pub(super) config: String,
    pub(super) plane: ControlPlane,
    /// (state directory, configuration, process) per host.
    pub(super) agents: Vec<(std::path::PathBuf, String, AgentProcess)>,
}

pub(super) async fn fixture(scenario: &str, hosts: &[(&str, &[&str])]) -> Fixture {
    fixture_on(scenario, hosts, None, &[]).await
}

/// The fixture on the store at `database_url` (SQLite in its directory when None),
/// its processes started with `env` added.
pub(super) async fn fixture_on(
    scenario: &str,
    hosts: &[(&str, &[&str])],
    database_url: Option<&str>,
    env: &[(&str, &str)],
) -> Fixture {
    fixture_with(scenario, hosts, (database_url, env), "").await
}

/// The fixture with `migrations` (TOML lines) added to its `[migrations]` settings.
pub(super) async fn fixture_with(
    scenario: &str,
    hosts: &[(&str, &[&str])],
    (database_url, env): (Option<&str>, &[(&str, &str)]),
    migrations: &str,
) -> Fixture {
    let lab = ferry_sim::Lab::start(&ferry_sim::Scenario::parse(scenario).unwrap())
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = database_url.map_or(String::new(), |url| format!("database_url = {url:?}\n"));
    let config = format!(
        "{store}{}[migrations]\ntick_ms = 200\nobserve_interval_secs = 1\nlease_ttl_secs = 3\n{migrations}{}",
        azure_config(
            &lab,
            dir.path(),
            ferry_sim::scenario::azure::DEFAULT_CLIENT_SECRET
        ),
        ferry_tests::fleet::cutover_settings(lab.managed_instance("mi-sales").unwrap(), dir.path())
            .unwrap(),
    );
    let plane =
        ControlPlane::start_with_env(dir.path(), &config, "127.0.0.1:0".parse().unwrap(), env)
            .await;
    let added = plane.ferry(&["target", "add", &mi_id(&lab)]).await;
    assert!(added.status.success(), "{}", text(&added));
    let mut agents = Vec::new();
    for (host, instances) in hosts {
        let state = enroll_ok(&plane, dir.path(), host).await;
        let agent_config = agent_config(&lab, &state, instances);
        let process = AgentProcess::start_with_env(&state, &agent_config, env);
        host_where(&plane, host, "inventory", |h| h["instance_count"] == 1).await;
        agents.push((state, agent_config, process));
    }
    Fixture {
        lab,
        dir,
        config,
        plane,
        agents,
    }
}

/// One host with SQL22, assessed and tested toward mi-sales.
pub(super) async fn one_host() -> Fixture {
    let fixture = fixture(SCENARIO, &[("sqlhost", &["SQL22"])]).await;
    preflight_inputs(&fixture.plane, &["sqlhost"]).await;
    fixture
}

/// Stops the agents, then the control plane.
pub(super) async fn stop(
    plane: ControlPlane,
    agents: Vec<(std::path::PathBuf, String, AgentProcess)>,
) {
    for (_, _, agent) in agents {
        agent.stop().await;
    }
    plane.stop().await;
}

/// Restarts the fixture's control plane on its port with `setting` added to its
/// configuration's `[section]`.
pub(super) async fn restart_with(
    plane: ControlPlane,
    (dir, config): (&std::path::Path, &str),
    section: &str,
    setting: &str,
) -> ControlPlane {
    let addr = plane.addr;
    plane.stop().await;
    let header = format!("[{section}]\n");
    let changed = config.replace(&header, &format!("{header}{setting}\n"));
    assert_ne!(changed, config, "the configuration has no [{section}]");
    ControlPlane::start_on(dir, &changed, addr).await
}

/// Assesses every host and tests each one's connection to mi-sales: the pre-flight's
/// inputs.
pub(super) async fn preflight_inputs(plane: &ControlPlane, hosts: &[&str]) {
    let assessed = plane.ferry(&["assess", "run", "--all", "--wait"]).await;
    assert!(assessed.status.success(), "{}", text(&assessed));
    for host in hosts {
        let tested = plane
            .ferry(&["target", "test", "mi-sales", "--host", host])
            .await;
        assert!(tested.status.success(), "{}", text(&tested));
    }
}

/// Starts a migration with the warnings accepted; its id.
pub(super) async fn start(plane: &ControlPlane, host: &str, database: &str) -> String {
    let started = plane
        .ferry_json(&start_args(host, database, &["--accept-warnings"]))
        .await;
    assert_eq!(started[0]["created"], true, "{started}");
    started[0]["id"].as_str().unwrap().to_string()
}

/// Waits until every migration is in `state`.
pub(super) async fn watch_until(plane: &ControlPlane, ids: &[String], state: &str) {
    let mut watch = vec!["migrate", "watch", "--until", state, "--timeout", "120s"];
    watch.extend(ids.iter().map(String::as_str));
    let watched = plane.ferry(&watch).await;
    assert!(watched.status.success(), "{}", text(&watched));
}

pub(super) async fn ready(plane: &ControlPlane, ids: &[String]) {
    watch_until(plane, ids, "ready_for_cutover").await;
}

/// One database of `host` assessed, its migration started and ready for cutover: its id.
pub(super) async fn ready_one(plane: &ControlPlane, host: &str, database: &str) -> String {
    preflight_inputs(plane, &[host]).await;
    let id = start(plane, host, database).await;
    ready(plane, std::slice::from_ref(&id)).await;
    id
}

/// A connection to a lab instance as the agents' login.
pub(super) async fn sql(lab: &ferry_sim::Lab, instance: &str) -> ferry_agent::sql::Connection {
    ferry_agent::sql::connect(&ferry_tests::fleet::lab_instance(
        &instance.to_ascii_lowercase(),
        lab.endpoint(instance).unwrap().address,
        "ferry",
        "Ferry-Passw0rd!",
    ))
    .await
    .unwrap()
}

/// The availability groups on a lab instance, by name.
pub(super) async fn groups(lab: &ferry_sim::Lab, instance: &str) -> Vec<String> {
    let query = "SELECT name FROM sys.availability_groups ORDER BY name";
    first_column(&mut sql(lab, instance).await, query).await
}

#[tokio::test]
async fn migrations_set_up_links_and_reach_ready_for_cutover() {
    // The data directory lives as long as the test.
    let Fixture {
        lab,
        plane,
        agents,
        dir: _dir,
        ..
    } = fixture(
        SCENARIO,
        &[("sqlhost", &["SQL22"]), ("oldhost", &["SQL16"])],
    )
    .await;

    // Nothing assessed or tested yet: the pre-flight says what to run.
    let refused = plane.ferry(&start_args("sqlhost", "Sales", &[])).await;
    let early = text(&refused);
    assert!(
        !refused.status.success()
            && early.contains("ferry assess run --host sqlhost")
            && early.contains("ferry target test mi-sales --host sqlhost"),
        "{early}"
    );
    preflight_inputs(&plane, &["sqlhost", "oldhost"]).await;
    // The lab's name resolves only through the agent's override: a warning, refused
    // until accepted.
    let warned = plane.ferry(&start_args("sqlhost", "Sales", &[])).await;
    let warned = text(&warned);
    assert!(
        warned.contains("NET-MI-DNS-OVERRIDE") && warned.contains("--accept-warnings"),
        "{warned}"
    );

    let mut ids = Vec::new();
    for database in ["Sales", "Orders"] {
        ids.push(start(&plane, "sqlhost", database).await);
    }
    // Many at once from a file: checked whole before anything starts.
    let file = _dir.path().join("migrations.toml");
    let file_arg = file.display().to_string();
    let from = |entries: &str| {
        std::fs::write(&file, entries).unwrap();
        [
            "migrate",
            "start",
            "--file",
            &file_arg,
            "--target",
            "mi-sales",
            "--accept-warnings",
        ]
    };
    let legacy = "[[migration]]\nhost = \"oldhost\"\ndatabase = \"Legacy\"\n";
    let bad = plane
        .ferry(&from(&format!(
            "{legacy}[[migration]]\nhost = \"oldhost\"\n"
        )))
        .await;
    assert!(
        !bad.status.success() && text(&bad).contains("missing field `database`"),
        "{}",
        text(&bad)
    );
    let from_file = plane.ferry_json(&from(legacy)).await;
    assert_eq!(from_file[0]["created"], true, "{from_file}");
    ids.push(from_file[0]["id"].as_str().unwrap().to_string());
    // Starting again returns the same migration; a second link is refused.
    let again = plane
        .ferry_json(&start_args("sqlhost", "Sales", &["--accept-warnings"]))
        .await;
    assert_eq!(
        (again[0]["created"].clone(), again[0]["id"].clone()),
        (json!(false), json!(ids[0]))
    );
    let second = plane
        .ferry(&start_args(
            "sqlhost",
            "Sales",
            &["--accept-warnings", "--link-name", "DAG_two"],
        ))
        .await;
    assert!(
        !second.status.success() && text(&second).contains("a database has one link"),
        "{}",
        text(&second)
    );

    // A hostile name stays a name end to end: it cannot name a link (an ARM resource
    // name), so the operator gives one; SQL Server's objects are quoted.
    let unnamed = plane
        .ferry(&start_args("sqlhost", HOSTILE, &["--accept-warnings"]))
        .await;
    assert!(
        !unnamed.status.success() && text(&unnamed).contains("--link-name"),
        "{}",
        text(&unnamed)
    );
    // A link name a URL parser would rewrite (`..` climbs from the link to the
    // managed instance itself) is refused before anything is made.
    for climbing in ["..", ".", ".x", "x."] {
        let refused = plane
            .ferry(&start_args(
                "sqlhost",
                HOSTILE,
                &["--accept-warnings", "--link-name", climbing],
            ))
            .await;
        assert!(
            !refused.status.success()
                && text(&refused).contains("link_name")
                && text(&refused).contains("cannot be an ARM resource name"),
            "{climbing}: {}",
            text(&refused)
        );
    }
    let hostile = plane
        .ferry_json(&start_args(
            "sqlhost",
            HOSTILE,
            &["--accept-warnings", "--link-name", "DAG_hostile"],
        ))
        .await;
    let hostile = hostile[0]["id"].as_str().unwrap().to_string();
    ids.push(hostile.clone());

    ready(&plane, &ids).await;

    for id in &ids {
        let shown = plane.ferry_json(&["migrate", "show", id]).await;
        let steps = shown["steps"].as_array().unwrap();
        assert_eq!(
            steps.len(),
            ferry_control::migration::journal::STEPS.len(),
            "{shown}"
        );
        assert!(steps.iter().all(|s| s["state"] == "done"), "{shown}");
        assert_eq!(
            shown["link"]["replica_state"], "LinkSynchronizing",
            "{shown}"
        );
        assert_eq!(
            shown["link"]["synchronization_health"], "HEALTHY",
            "{shown}"
        );
        // The certificate the MI authenticates SQL Server by, valid five years: no
        // warning.
        let certificate = shown["link"]["partner_certificate"].as_str().unwrap();
        assert!(certificate.starts_with("Cert_SQL"), "{shown}");
        assert!(!shown["link"]["partner_certificate_expiry"]
            .as_str()
            .unwrap()
            .is_empty());
        assert!(
            !shown["detail"].as_str().unwrap().contains("certificate"),
            "{shown}"
        );
    }
    // SQL Server's side, from the agents' DMV reports: connected, synchronizing
    // (asynchronous commit), seeding over.
    for id in &ids {
        let sql_side = shown_until(&plane, id, "SQL Server's side", |m| {
            m["sql_server"]["synchronization_state"] == "SYNCHRONIZING"
        })
        .await;
        let sql_side = &sql_side["sql_server"];
        assert_eq!(sql_side["connected_state"], "CONNECTED", "{sql_side}");
        assert_eq!(sql_side["seeding"], false, "{sql_side}");
        assert_eq!(sql_side["seeding_state"], "COMPLETED", "{sql_side}");
        assert!(
            sql_side["last_hardened_lsn"]
                .as_str()
                .is_some_and(|l| !l.is_empty()),
            "{sql_side}"
        );
    }
    let legacy = plane.ferry(&["migrate", "show", &ids[2]]).await;
    assert!(
        text(&legacy).contains("ready_for_cutover"),
        "{}",
        text(&legacy)
    );

    // SQL Server holds what the docs' script makes, named as it names it; on 2016 the
    // AG has no CLUSTER_TYPE (it needs the host's failover cluster).
    assert_eq!(
        groups(&lab, "SQL22").await,
        [
            "AG_Orders",
            "AG_Sales",
            &format!("AG_{HOSTILE}"),
            "DAG_hostile",
            "DAG_Orders",
            "DAG_Sales"
        ]
    );
    let y = ferry_agent::sql::rows(
        &mut sql(&lab, "SQL22").await,
        "y",
        "SELECT name FROM sys.databases WHERE name = N'y'",
        Duration::from_secs(10),
    )
    .await
    .unwrap();
    assert_eq!(y.len(), 1, "the hostile name dropped nothing");
    plane.ferry(&["migrate", "cancel", &hostile]).await;
    watch_until(&plane, std::slice::from_ref(&hostile), "cancelled").await;
    assert_eq!(groups(&lab, "SQL16").await, ["AG_Legacy", "DAG_Legacy"]);

    // Cancelled, Orders' link and groups go; the certificates stay while Sales uses
    // them, and go with Sales: both sides end as they were.
    let cancelled = plane.ferry(&["migrate", "cancel", &ids[1]]).await;
    assert!(cancelled.status.success(), "{}", text(&cancelled));
    watch_until(&plane, &ids[1..2], "cancelled").await;
    assert_eq!(groups(&lab, "SQL22").await, ["AG_Sales", "DAG_Sales"]);
    let orders = plane.ferry_json(&["migrate", "show", &ids[1]]).await;
    let teardown: Vec<&str> = orders["steps"].as_array().unwrap()
        [ferry_control::migration::journal::STEPS.len()..]
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        teardown,
        [
            "delete_link",
            "drop_distributed_availability_group",
            "drop_availability_group"
        ]
    );
    plane.ferry(&["migrate", "cancel", &ids[0]]).await;
    watch_until(&plane, &ids[0..1], "cancelled").await;
    assert!(groups(&lab, "SQL22").await.is_empty());
    let sales = plane.ferry_json(&["migrate", "show", &ids[0]]).await;
    let last =
        &sales["steps"].as_array().unwrap()[ferry_control::migration::journal::STEPS.len()..];
    assert_eq!(last.len(), 5, "{sales}");
    assert!(
        last.iter()
            .all(|s| s["state"] == "done" && s["already_done"] == false),
        "{sales}"
    );
    let again = plane.ferry(&["migrate", "cancel", &ids[0]]).await;
    assert!(!again.status.success() && text(&again).contains("cancelled already"));

    stop(plane, agents).await;
}

/// Waits until `ferry migrate show ID` answers what `ok` accepts; that answer.
pub(super) async fn shown_until(
    plane: &ControlPlane,
    id: &str,
    what: &str,
    ok: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    wait::until(what, LIMIT, || async {
        let shown = plane.ferry_json(&["migrate", "show", id]).await;
        if ok(&shown) {
            Ok(Some(shown))
        } else {
            Err(format!("{}: {}", shown["state"], shown["detail"]))
        }
    })
    .await
}

/// Waits until step `seq` of migration `id` is in `state`.
pub(super) async fn step_is(plane: &ControlPlane, id: &str, seq: usize, state: &str) {
    wait::until(&format!("step {seq} {state}"), LIMIT, || async {
        let shown = plane.ferry_json(&["migrate", "show", id]).await;
        match shown["steps"][seq]["state"].as_str() {
            Some(found) if found == state => Ok(Some(())),
            found => Err(format!("{found:?}: {}", shown["detail"])),
        }
    })
    .await
}

/// The links (distributed AGs) on managed instance `mi`, read over TDS as its admin.
pub(super) async fn mi_links(lab: &ferry_sim::Lab, mi: &str) -> Vec<String> {
    let mi = lab.managed_instance(mi).unwrap();
    let mut on_mi = ferry_agent::sql::connect(&ferry_tests::fleet::lab_instance(
        "mi",
        std::net::SocketAddr::new(mi.ip.into(), 1433),
        "miadmin",
        "Lab-Passw0rd!",
    ))
    .await
    .unwrap();
    let query = "SELECT name FROM sys.availability_groups WHERE is_distributed = 1 ORDER BY name";
    first_column(&mut on_mi, query).await
}

/// ARM as the control plane configured by `config` reaches it (for a test to act on
/// Azure from outside Ferry).
pub(super) fn outside_arm(dir: &std::path::Path, config: &str) -> ferry_control::azure::Arm {
    let path = dir.join("outside-arm.toml");
    std::fs::write(&path, config).unwrap();
    let settings = ferry_control::config::ControlConfig::from_file(&path)
        .unwrap()
        .azure;
    ferry_control::azure::connect(&settings).unwrap()
}

#[tokio::test]
async fn throttling_and_server_errors_from_arm_are_retried() {
    let Fixture {
        lab,
        plane,
        agents,
        dir: _dir,
        ..
    } = one_host().await;
    // The next ARM requests (the driver's first: listing the MI's trust certificates)
    // are throttled, then one fails on Azure's side.
    lab.control
        .fail_arm(
            ferry_sim::faults::ArmFault::Throttled {
                retry_after_secs: 1,
            },
            2,
        )
        .unwrap();
    let id = start(&plane, "sqlhost", "Sales").await;
    step_is(&plane, &id, 5, "done").await;
    lab.control
        .fail_arm(ferry_sim::faults::ArmFault::ServerError, 1)
        .unwrap();
    ready(&plane, std::slice::from_ref(&id)).await;
    let shown = plane.ferry_json(&["migrate", "show", &id]).await;
    let upload = &shown["steps"][4];
    assert_eq!(
        upload["attempts"], 3,
        "two throttled tries, then one through: {shown}"
    );
    // Each 429 said Retry-After: 1, and was honoured: the third try began at least
    // 2 s after the first (which followed the endpoint step at once).
    let first = shown["steps"][3]["finished_unix_ms"].as_i64().unwrap();
    let third = upload["started_unix_ms"].as_i64().unwrap();
    assert!(third - first >= 2000, "tried again too soon: {shown}");
    assert_eq!(shown["state"], "ready_for_cutover");
    stop(plane, agents).await;
}
