//! Cutover through the real binaries and the lab: `ferry cutover` switches both sides
//! to synchronous commit and then waits — the workload gate holds the failover back
//! while the application writes, and says why; `ferry cutover cancel` before the
//! failover returns both sides to asynchronous commit; once the application stops,
//! and the MI has applied every row (the validation gate compares the row counts; a
//! held redo holds the failover back), the gates open, the planned failover runs,
//! the database is verified ONLINE and
//! writable on the MI with every committed row, the MI's first full backup is awaited
//! and the link removed on both sides.

use super::migrations::{fixture, groups, mi_links, ready_one, stop, Fixture};
use super::*;

pub(super) const SCENARIO: &str = r#"
[[managed_instance]]
name = "mi-sales"
tier = "GeneralPurpose"
vcores = 8
storage_gb = 512
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
name = "Shop"
data_mb = 8
backups = [{ type = "D", hours_ago = 2.0 }]
workload = { log_bytes_per_sec = 8192, transactions_per_sec = 20 }

[[instance.database.table]]
name = "Orders"
rows = 500
columns = [
  { name = "id", type = "int", primary_key = true },
  { name = "amount", type = "decimal(10,2)" },
]
"#;

pub(super) const COUNT: &str = "SELECT CAST(COUNT(*) AS varchar(20)) FROM Shop.dbo.Orders";

/// `ferry migrate show ID` as JSON, once `pass` holds (within 60 s).
pub(super) async fn show_when(
    plane: &ControlPlane,
    id: &str,
    what: &str,
    pass: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let m = plane.ferry_json(&["migrate", "show", id]).await;
        if pass(&m) {
            return m;
        }
        assert!(std::time::Instant::now() < deadline, "{what}: {m:#}");
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}

/// Step `name` of `ferry migrate show`'s JSON (the newest of that name).
pub(super) fn step<'a>(m: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    m["steps"]
        .as_array()
        .unwrap()
        .iter()
        .rev()
        .find(|s| s["name"] == name)
        .unwrap_or_else(|| panic!("no step {name}: {m:#}"))
}

pub(super) fn gate<'a>(m: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    m["gates"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["name"] == name)
        .unwrap_or_else(|| panic!("no gate {name}: {m:#}"))
}

/// Stops the lab's application on `database` of SQL22 and cuts migration `id` over,
/// the operator confirming the traffic stopped (and `choices` given), until it
/// completes.
pub(super) async fn cut_over_stopped(
    plane: &ControlPlane,
    lab: &ferry_sim::Lab,
    (id, database): (&str, &str),
    choices: &[&str],
) {
    lab.set_workload("SQL22", database, &Default::default())
        .unwrap();
    let mut args = vec![
        "cutover",
        id,
        "--confirm-traffic-stopped",
        "--wait",
        "--timeout",
        "120s",
    ];
    args.extend(choices);
    let cut = plane.ferry(&args).await;
    assert!(cut.status.success(), "{}", text(&cut));
}

/// A connection to mi-sales as its administrator.
pub(super) async fn on_mi(lab: &ferry_sim::Lab) -> ferry_agent::sql::Connection {
    let mi = lab.managed_instance("mi-sales").unwrap();
    ferry_agent::sql::connect(&ferry_tests::fleet::lab_instance(
        "mi",
        std::net::SocketAddr::new(mi.ip.into(), 1433),
        &mi.spec.admin_login,
        &mi.spec.admin_password,
    ))
    .await
    .unwrap()
}

#[tokio::test]
async fn cutover_waits_for_its_gates_and_moves_every_committed_row() {
    let Fixture {
        lab,
        plane,
        agents,
        dir: _dir,
        ..
    } = fixture(SCENARIO, &[("sqlhost", &["SQL22"])]).await;
    let id = ready_one(&plane, "sqlhost", "Shop").await;

    // The application still writes: both sides go synchronous, then the workload gate
    // holds the failover back and says what would open it.
    let cut = plane.ferry(&["cutover", &id]).await;
    assert!(cut.status.success(), "{}", text(&cut));
    let waiting = show_when(&plane, &id, "the failover waits for the workload", |m| {
        step(m, "failover")["detail"]
            .as_str()
            .is_some_and(|d| d.contains("workload:"))
    })
    .await;
    assert_eq!(waiting["state"], "cutting_over", "{waiting:#}");
    assert_eq!(step(&waiting, "failover")["state"], "pending");
    for name in ["synchronous_commit", "mi_synchronous_commit"] {
        assert_eq!(step(&waiting, name)["state"], "done", "{name}: {waiting:#}");
    }
    let workload = gate(&waiting, "workload");
    assert_eq!(workload["open"], false);
    assert!(
        workload["reason"]
            .as_str()
            .unwrap()
            .contains("--confirm-traffic-stopped"),
        "{workload}"
    );
    assert_eq!(waiting["link"]["replication_mode"], "Sync", "{waiting:#}");

    // Cancelled before its failover: both sides asynchronous again, still linked.
    let cancelled = plane.ferry(&["cutover", "cancel", &id]).await;
    assert!(cancelled.status.success(), "{}", text(&cancelled));
    let back = show_when(&plane, &id, "rolled back", |m| {
        m["state"] == "ready_for_cutover"
            && m["link"]["replication_mode"] == "Async"
            && m["sql_server"]["synchronous_commit"] == false
    })
    .await;
    assert_eq!(step(&back, "failover")["state"], "skipped", "{back:#}");
    for name in ["mi_asynchronous_commit", "asynchronous_commit"] {
        assert_eq!(step(&back, name)["state"], "done", "{name}: {back:#}");
    }

    // The application stops writing but stays connected: the workload gate counts
    // its sessions. Then it goes, but the MI applies none of the log it hardens (its
    // redo held): the counts differ, and the validation gate holds the failover back
    // and names the table.
    let idle = ferry_sim::scenario::WorkloadSpec {
        sessions: 2,
        ..Default::default()
    };
    lab.set_workload("SQL22", "Shop", &idle).unwrap();
    let cut = plane.ferry(&["cutover", &id]).await;
    assert!(cut.status.success(), "{}", text(&cut));
    show_when(
        &plane,
        &id,
        "the idle application's sessions hold it",
        |m| {
            m["gates"].as_array().is_some_and(|g| !g.is_empty())
                && gate(m, "workload")["reason"]
                    .as_str()
                    .is_some_and(|r| r.starts_with("2 user session(s)"))
        },
    )
    .await;
    let cancelled = plane.ferry(&["cutover", "cancel", &id]).await;
    assert!(cancelled.status.success(), "{}", text(&cancelled));
    show_when(&plane, &id, "rolled back again", |m| {
        m["state"] == "ready_for_cutover"
    })
    .await;
    lab.control.set_redo_held("mi-sales", true).unwrap();
    lab.set_workload("SQL22", "Shop", &Default::default())
        .unwrap();
    ferry_agent::sql::execute(
        &mut super::migrations::sql(&lab, "SQL22").await,
        "write",
        "INSERT INTO Shop.dbo.Orders (id, amount) VALUES (990000, 2.5)",
        std::time::Duration::from_secs(5),
    )
    .await
    .unwrap();
    let cut = plane.ferry(&["cutover", &id]).await;
    assert!(cut.status.success(), "{}", text(&cut));
    let differ = show_when(&plane, &id, "the counts differ", |m| {
        gate(m, "validation")["reason"]
            .as_str()
            .is_some_and(|r| r.contains("rows differ"))
    })
    .await;
    let validation = gate(&differ, "validation");
    assert!(
        validation["reason"]
            .as_str()
            .unwrap()
            .contains("dbo.Orders: "),
        "{validation}"
    );
    assert_eq!(step(&differ, "failover")["state"], "pending", "{differ:#}");
    for name in ["workload", "replication", "health"] {
        assert_eq!(gate(&differ, name)["open"], true, "{name}: {differ:#}");
    }

    // Redo resumes: the counts agree, the gates open, and the cutover runs to the end.
    lab.control.set_redo_held("mi-sales", false).unwrap();
    let watched = plane
        .ferry(&[
            "migrate",
            "watch",
            &id,
            "--until",
            "completed",
            "--timeout",
            "120s",
        ])
        .await;
    assert!(watched.status.success(), "{}", text(&watched));
    let done = plane.ferry_json(&["migrate", "show", &id]).await;
    assert_eq!(done["state"], "completed", "{done:#}");
    let failover = step(&done, "failover");
    let detail = failover["detail"].as_str().unwrap();
    assert!(detail.contains("every gate holds"), "{failover}");
    assert!(
        detail.contains("validation: SQL Server: 1 table(s)"),
        "{failover}"
    );
    assert!(step(&done, "verify_on_mi")["detail"]
        .as_str()
        .unwrap()
        .contains("ONLINE and writable"));

    // Every committed row is on the MI, which now takes writes.
    let on_sql = first_column(&mut super::migrations::sql(&lab, "SQL22").await, COUNT).await;
    let mut mi = on_mi(&lab).await;
    let rows: i64 = on_sql[0].parse().unwrap();
    assert!(rows > 500, "the workload added rows: {rows}");
    assert_eq!(first_column(&mut mi, COUNT).await, on_sql);
    ferry_agent::sql::execute(
        &mut mi,
        "write",
        "INSERT INTO Shop.dbo.Orders (id, amount) VALUES (990001, 1.5)",
        std::time::Duration::from_secs(5),
    )
    .await
    .unwrap();

    // The link is gone on both sides; SQL Server keeps AG_Shop and the database.
    assert!(mi_links(&lab, "mi-sales").await.is_empty());
    assert_eq!(groups(&lab, "SQL22").await, ["AG_Shop"]);

    // Every intent change, gate decision and step is in the audit log.
    let target = format!("migration/{id}");
    let audit = plane
        .ferry_json(&["audit", "--target", &target, "--limit", "1000"])
        .await;
    let actions: Vec<&str> = audit
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    for action in [
        "migration.start",
        "cutover.start",
        "cutover.cancel",
        "cutover.gates_open",
        "step.done",
    ] {
        assert!(actions.contains(&action), "{action}: {actions:?}");
    }
    let gates = audit
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == "cutover.gates_open")
        .unwrap();
    assert!(
        gates["detail"]
            .as_str()
            .unwrap()
            .contains("\"replication\""),
        "{gates}"
    );

    // A completed migration is not torn down.
    let refused = plane.ferry(&["migrate", "cancel", &id]).await;
    assert!(!refused.status.success(), "{}", text(&refused));
    stop(plane, agents).await;
}

/// Credentials for operator `name` with `role`, issued by `ferry-control
/// issue-operator` from `plane`'s CA into `dir/<name>`.
pub(super) async fn issue_operator(
    plane: &ControlPlane,
    dir: &std::path::Path,
    name: &str,
    role: &str,
) -> std::path::PathBuf {
    let out = dir.join(name);
    let issued = tokio::process::Command::new(ferry_tests::binaries::binary("ferry-control"))
        .arg("--config")
        .arg(plane.config_path())
        .arg("--data-dir")
        .arg(&plane.data_dir)
        .args(["issue-operator", "--name", name, "--role", role, "--out"])
        .arg(&out)
        .output()
        .await
        .unwrap();
    assert!(issued.status.success(), "{}", text(&issued));
    out
}

#[tokio::test]
async fn a_window_and_approvals_hold_the_failover_until_both_are_given() {
    let Fixture {
        lab,
        plane,
        config,
        agents,
        dir,
    } = fixture(super::migrations::SCENARIO, &[("sqlhost", &["SQL22"])]).await;
    let id = ready_one(&plane, "sqlhost", "Sales").await;
    // One approver needed; bob is one (admin, who asks, cannot be the only one).
    let plane = super::migrations::restart_with(
        plane,
        (dir.path(), &config.replace("approvals = 0\n", "")),
        "cutover",
        "approvals = 1",
    )
    .await;
    let bob = issue_operator(&plane, dir.path(), "bob", "approver").await;

    // The window opens in a few seconds.
    lab.set_workload("SQL22", "Sales", &Default::default())
        .unwrap();
    let now = ferry_proto::clock::now_ms();
    let rfc3339 = ferry_control::rfc3339::format;
    let (opens, closes) = (now + 8_000, now + 3_600_000);
    let (start_at, end_at) = (rfc3339(opens), rfc3339(closes));
    let window = ["--window-start", &start_at, "--window-end", &end_at];
    let mut args = vec!["cutover", &id, "--confirm-traffic-stopped"];
    args.extend(window);
    let cut = plane.ferry(&args).await;
    assert!(cut.status.success(), "{}", text(&cut));
    let waiting = show_when(&plane, &id, "the window and the approval queue it", |m| {
        !m["gates"].as_array().unwrap().is_empty() && gate(m, "approval")["queued"] == true
    })
    .await;
    assert!(gate(&waiting, "approval")["reason"]
        .as_str()
        .unwrap()
        .contains("1 more"));

    // Its requester approves: not enough. bob does: the approval holds.
    let own = plane.ferry(&["cutover", "approve", &id]).await;
    assert!(own.status.success(), "{}", text(&own));
    let alone = show_when(&plane, &id, "the requester alone", |m| {
        gate(m, "approval")["reason"]
            .as_str()
            .is_some_and(|r| r.contains("cannot be its only approver"))
    })
    .await;
    assert_eq!(gate(&alone, "approval")["open"], false);
    let approved = plane.ferry_as(&bob, &["cutover", "approve", &id]).await;
    assert!(approved.status.success(), "{}", text(&approved));
    // bob, an approver, cannot start a cutover (the operator role).
    let refused = plane.ferry_as(&bob, &["cutover", "cancel", &id]).await;
    assert!(!refused.status.success(), "{}", text(&refused));

    super::migrations::watch_until(&plane, std::slice::from_ref(&id), "completed").await;
    let done = plane.ferry_json(&["migrate", "show", &id]).await;
    let failover = step(&done, "failover");
    assert!(
        failover["started_unix_ms"].as_i64().unwrap() >= opens,
        "inside the window: {failover}"
    );
    let target = format!("migration/{id}");
    let audit = plane.ferry_json(&["audit", "--target", &target]).await;
    let approvals: Vec<&str> = audit
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "cutover.approve")
        .map(|e| e["actor"].as_str().unwrap())
        .collect();
    assert_eq!(approvals.len(), 2, "{approvals:?}");
    assert!(approvals.iter().any(|a| a.contains("bob")), "{approvals:?}");
    stop(plane, agents).await;
}

/// SQL Server 2019: the planned failover breaks the link (mi-link.md §4.1), so there
/// is no link left to delete on the MI (nor one to keep: `--keep-link` is refused);
/// the cutover still verifies the database there, waits for its first backup and
/// drops the distributed AG on SQL Server, and `AG_<db>` too, as asked.
#[tokio::test]
async fn a_sql_server_2019_cutover_breaks_the_link_and_completes() {
    let scenario = SCENARIO.replace("version = \"2022 CU13\"", "version = \"2019 CU20\"");
    assert_ne!(scenario, SCENARIO);
    let Fixture {
        lab,
        plane,
        agents,
        dir: _dir,
        ..
    } = fixture(&scenario, &[("sqlhost", &["SQL22"])]).await;
    let id = ready_one(&plane, "sqlhost", "Shop").await;
    let kept = plane.ferry(&["cutover", &id, "--keep-link"]).await;
    assert!(
        !kept.status.success() && text(&kept).contains("before SQL Server 2022"),
        "{}",
        text(&kept)
    );
    cut_over_stopped(&plane, &lab, (&id, "Shop"), &["--drop-sql-objects"]).await;
    let done = plane.ferry_json(&["migrate", "show", &id]).await;
    assert_eq!(done["state"], "completed", "{done:#}");
    let deleted = step(&done, "delete_link");
    assert_eq!(
        deleted["already_done"], true,
        "the failover broke it: {deleted}"
    );
    let on_sql = first_column(&mut super::migrations::sql(&lab, "SQL22").await, COUNT).await;
    assert_eq!(first_column(&mut on_mi(&lab).await, COUNT).await, on_sql);
    assert!(mi_links(&lab, "mi-sales").await.is_empty());
    assert!(
        groups(&lab, "SQL22").await.is_empty(),
        "AG_Shop dropped on request"
    );
    stop(plane, agents).await;
}

/// `--keep-link` (SQL Server 2022): the failover leaves the link in place, SQL Server
/// its secondary, ready for a failback; nothing is removed.
#[tokio::test]
async fn a_kept_link_leaves_sql_server_its_secondary_for_a_failback() {
    let Fixture {
        lab,
        plane,
        agents,
        dir: _dir,
        ..
    } = fixture(SCENARIO, &[("sqlhost", &["SQL22"])]).await;
    let id = ready_one(&plane, "sqlhost", "Shop").await;
    cut_over_stopped(&plane, &lab, (&id, "Shop"), &["--keep-link"]).await;
    let done = plane.ferry_json(&["migrate", "show", &id]).await;
    assert!(
        done["detail"]
            .as_str()
            .unwrap()
            .contains("the link is kept"),
        "{done:#}"
    );
    assert!(
        done["steps"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["name"] != "delete_link"),
        "{done:#}"
    );
    assert_eq!(mi_links(&lab, "mi-sales").await.len(), 1);
    let role = first_column(
        &mut super::migrations::sql(&lab, "SQL22").await,
        "SELECT CAST(rs.role_desc AS varchar(20)) FROM sys.availability_groups ag
         JOIN sys.dm_hadr_availability_replica_states rs ON rs.group_id = ag.group_id
         WHERE ag.is_distributed = 1 AND rs.is_local = 1",
    )
    .await;
    assert_eq!(role, ["SECONDARY"]);
    stop(plane, agents).await;
}
