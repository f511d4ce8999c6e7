//! The link at work (mi-link.md §3, §4): seeding at the network's bandwidth on both
//! sides' views, the MI's copy RESTORING then ONLINE and read-only, the log trailing
//! by the network delay in asynchronous commit and not at all in synchronous commit,
//! planned failover only when synchronized, forced failover losing the tail and
//! leaving both sides primary, seeding restarted by a lost connection and failed by
//! a log backup.

use std::time::Duration;

use ferry_sim::engine::LabClock;
use ferry_sim::faults::Direction;
use ferry_sim::scenario::azure::{DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET};
use ferry_sim::scenario::WorkloadSpec;
use ferry_sim::Lab;
use serde_json::{json, Value};
use tiberius::EncryptionLevel;

use super::azure::{
    arm, complete, create_endpoint, create_groups, finish, link_databases, link_states,
    mi_certificate, put_link, token, upload_endpoint_certificate,
};
use super::{connect_at, error_number, free_port, lab_on_manual_clock, rows, run, sa, Client};

pub(super) const MB: f64 = 1_048_576.0;
/// 80 Mbit/s, bytes a second.
pub(super) const BANDWIDTH: f64 = 10_000_000.0;

/// Sales: 100 MB, a workload of 64 KB/s in 10 transactions a second (each a row of
/// Orders). The network to the MI: 80 Mbit/s (10 MB/s), 100 ms.
pub(super) const SCENARIO: &str = r#"
[[instance]]
name = "SQL01"
version = "2022 CU13"
edition = "Enterprise"
hadr = true

[[instance.database]]
name = "Sales"
data_mb = 100
backups = [{ type = "D", hours_ago = 2.0 }]
workload = { log_bytes_per_sec = 65536, transactions_per_sec = 10 }

[[instance.database.table]]
name = "Orders"
rows = 1000
columns = [
  { name = "id", type = "int", primary_key = true },
  { name = "amount", type = "decimal(10,2)" },
]

[[managed_instance]]
name = "mi-target"
dns_zone = "0a1b2c3d4e5f"
link_bandwidth_mbps = 80.0
link_latency_ms = 100.0

[azure]
speed = 10.0
"#;

/// Everything mi-link.md §2.1 and §2.2 set up, in order, for database Sales; returns
/// the ARM token. The link connects when the last step is done, and seeding starts.
pub(super) async fn set_up_link(lab: &Lab, clock: &LabClock, sql: &mut Client) -> String {
    let token = token(lab, DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET).await;
    let fqdn = lab.managed_instance("mi-target").unwrap().fqdn.clone();
    let port = free_port();
    create_endpoint(sql, port).await;
    let upload = upload_endpoint_certificate(lab, &token, sql).await;
    complete(lab, clock, &token, &upload).await;
    let mi_key = mi_certificate(lab, &token).await;
    run(
        sql,
        &format!("CREATE CERTIFICATE [{fqdn}] FROM BINARY = 0x{mi_key}"),
    )
    .await;
    create_groups(sql, port, &fqdn, "[Sales]").await;
    let link = json!({"properties": {
        "databases": [{"databaseName": "Sales"}],
        "partnerEndpoint": format!("TCP://127.0.0.1:{port}"),
        "instanceAvailabilityGroupName": "AG_Sales_MI",
        "partnerAvailabilityGroupName": "AG_Sales",
    }});
    let created = put_link(lab, &token, link).await;
    complete(lab, clock, &token, &created).await;
    token
}

/// A lab running [`SCENARIO`] with Sales linked to the MI (seeding has begun): the
/// lab, its clock, sa on SQL01, and an ARM token.
pub(super) async fn linked() -> (Lab, std::sync::Arc<LabClock>, Client, String) {
    let (lab, clock) = lab_on_manual_clock(SCENARIO).await;
    let mut sql = sa(&lab).await;
    let token = set_up_link(&lab, &clock, &mut sql).await;
    (lab, clock, sql, token)
}

pub(super) async fn mi_client(lab: &Lab) -> Client {
    let mi = lab.managed_instance("mi-target").unwrap();
    let address = std::net::SocketAddr::new(mi.ip.into(), 1433);
    connect_at(
        address,
        "miadmin",
        "Lab-Passw0rd!",
        EncryptionLevel::Required,
    )
    .await
    .unwrap()
}

/// The one database of DAG_Sales as ARM reports it.
pub(super) async fn arm_database(lab: &Lab, token: &str) -> Value {
    link_databases(lab, token).await.remove(0)
}

pub(super) async fn one_text(client: &mut Client, sql: &str) -> String {
    rows(client, sql).await[0]
        .get::<&str, _>(0)
        .unwrap()
        .to_string()
}

pub(super) async fn one_number(client: &mut Client, sql: &str) -> f64 {
    let found = rows(client, sql).await;
    let row = &found[0];
    row.try_get::<i64, _>(0)
        .ok()
        .flatten()
        .map(|n| n as f64)
        .or_else(|| row.try_get::<i32, _>(0).ok().flatten().map(f64::from))
        .or_else(|| {
            row.try_get::<tiberius::numeric::Numeric, _>(0)
                .ok()
                .flatten()
                .map(|n| n.value() as f64)
        })
        .unwrap()
}

/// (SQL Server's end of log, the MI's hardened LSN as SQL Server sees it), from the
/// cutover recipe's query on SQL Server (mi-link.md §4.2 step 3).
async fn sql_lsns(sql: &mut Client) -> (i128, i128) {
    let found = rows(
        sql,
        "SELECT drs.is_local, drs.end_of_log_lsn, drs.last_hardened_lsn
         FROM sys.dm_hadr_database_replica_states drs
         JOIN sys.databases db ON db.database_id = drs.database_id
         JOIN sys.availability_groups ag ON ag.group_id = drs.group_id
         WHERE ag.is_distributed = 1 AND db.name = 'Sales' ORDER BY drs.is_local DESC",
    )
    .await;
    assert_eq!(found.len(), 2, "the local row and the MI's");
    let lsn = |n: usize, c: usize| {
        found[n]
            .get::<tiberius::numeric::Numeric, _>(c)
            .unwrap()
            .value()
    };
    (lsn(0, 1), lsn(1, 2))
}

/// The MI's hardened LSN from its own view (mi-link.md §4.2 step 3, MI side).
async fn mi_lsn(mi: &mut Client) -> i128 {
    let found = rows(
        mi,
        "SELECT drs.last_hardened_lsn FROM sys.dm_hadr_database_replica_states drs
         JOIN sys.databases db ON db.database_id = drs.database_id
         WHERE db.name = 'Sales' AND drs.is_primary_replica = 1",
    )
    .await;
    found[0]
        .get::<tiberius::numeric::Numeric, _>(0)
        .unwrap()
        .value()
}

#[tokio::test]
async fn a_database_seeds_catches_up_and_fails_over_without_loss() {
    let (lab, clock, mut sql, token) = linked().await;
    assert_eq!(
        link_states(&lab, &token).await,
        vec![("Copying".to_string(), None)]
    );
    let mut mi = mi_client(&lab).await;
    assert_eq!(
        one_text(
            &mut mi,
            "SELECT state_desc FROM sys.databases WHERE name = 'Sales'"
        )
        .await,
        "RESTORING"
    );
    assert_eq!(
        error_number(&mut mi, "USE [Sales]").await,
        927,
        "a database being restored cannot be opened"
    );

    // 10 MB/s: half of the 100 MiB after five seconds, on both sides.
    clock.advance(Duration::from_secs(5));
    let seeding =
        "SELECT ag.transferred_size_bytes, ag.database_size_bytes, ar.current_state, ar.is_source
         FROM sys.dm_hadr_physical_seeding_stats ag
         JOIN sys.dm_hadr_automatic_seeding ar ON ag.local_physical_seeding_id = ar.operation_id";
    for (client, source) in [(&mut sql, true), (&mut mi, false)] {
        let found = rows(client, seeding).await;
        assert_eq!(found.len(), 1, "one seeding in progress");
        let transferred = found[0].get::<i64, _>(0).unwrap() as f64;
        assert!((transferred - 5.0 * BANDWIDTH).abs() < MB, "{transferred}");
        assert_eq!(found[0].get::<i64, _>(1), Some(100 * 1_048_576));
        assert_eq!(found[0].get::<&str, _>(2), Some("SEEDING"));
        assert_eq!(found[0].get::<bool, _>(3), Some(source));
    }

    // Seeded at 10.5 s; the 680 KB written meanwhile arrive within a tenth of a second.
    clock.advance(Duration::from_secs(6));
    assert!(
        rows(&mut sql, seeding).await.is_empty(),
        "no rows once seeding is done"
    );
    assert_eq!(
        one_text(
            &mut sql,
            "SELECT current_state FROM sys.dm_hadr_automatic_seeding"
        )
        .await,
        "COMPLETED"
    );
    let db = arm_database(&lab, &token).await;
    assert_eq!(db["replicaState"], "LinkSynchronizing", "{db}");
    assert_eq!(db["synchronizationHealth"], "HEALTHY");
    assert_eq!(db["connectedState"], "CONNECTED");
    assert_eq!(
        one_text(
            &mut mi,
            "SELECT state_desc FROM sys.databases WHERE name = 'Sales'"
        )
        .await,
        "ONLINE"
    );
    // Asynchronous commit: the MI trails by the network delay, 100 ms of 64 KB/s.
    let (end, remote) = sql_lsns(&mut sql).await;
    assert!(end > remote, "the MI trails SQL Server: {end} vs {remote}");
    let hardened = mi_lsn(&mut mi).await;
    assert_eq!(hardened, remote, "both sides agree on what the MI hardened");
    assert_eq!(
        db["lastHardenedLsn"].as_str().unwrap(),
        hardened.to_string(),
        "ARM's decimal string"
    );
    assert_eq!(
        one_text(&mut sql, "SELECT synchronization_state_desc FROM sys.dm_hadr_database_replica_states WHERE is_local = 0").await,
        "SYNCHRONIZING"
    );
    // The secondary is readable, not writable.
    assert_eq!(
        error_number(
            &mut mi,
            "INSERT INTO Sales.dbo.Orders (id, amount) VALUES (999999, 1)"
        )
        .await,
        3906
    );

    // A planned failover needs synchronous commit: it fails, and nothing changes.
    let planned = json!({"failoverType": "Planned"});
    let path = "/distributedAvailabilityGroups/DAG_Sales/failover";
    let refused = arm(&lab, &token, "POST", path, Some(planned.clone())).await;
    let (status, _) = finish(&lab, &clock, &token, &refused).await;
    assert_eq!(status["status"], "Failed", "{status}");
    assert_eq!(status["error"]["code"], "FailoverNotPossible");

    // The cutover recipe: stop the workload, synchronous commit on both sides.
    lab.set_workload("SQL01", "Sales", &WorkloadSpec::default())
        .unwrap();
    run(
        &mut sql,
        "ALTER AVAILABILITY GROUP [DAG_Sales] MODIFY AVAILABILITY GROUP ON
        'AG_Sales' WITH (AVAILABILITY_MODE = SYNCHRONOUS_COMMIT),
        'AG_Sales_MI' WITH (AVAILABILITY_MODE = SYNCHRONOUS_COMMIT)",
    )
    .await;
    let patch = arm(
        &lab,
        &token,
        "PATCH",
        "/distributedAvailabilityGroups/DAG_Sales",
        Some(json!({"properties": {"replicationMode": "Sync"}})),
    )
    .await;
    complete(&lab, &clock, &token, &patch).await;
    let (end, remote) = sql_lsns(&mut sql).await;
    assert_eq!(end, remote, "synchronous commit: the MI has every commit");
    assert_eq!(mi_lsn(&mut mi).await, end);
    assert_eq!(
        one_text(&mut sql, "SELECT synchronization_state_desc FROM sys.dm_hadr_database_replica_states WHERE is_local = 0").await,
        "SYNCHRONIZED"
    );
    // A committed row reaches the MI with its commit.
    run(
        &mut sql,
        "INSERT INTO Sales.dbo.Orders (id, amount) VALUES (900001, 12.5)",
    )
    .await;
    let count = "SELECT COUNT(*) FROM Sales.dbo.Orders";
    let source_rows = one_number(&mut sql, count).await;
    assert!(
        source_rows > 1000.0,
        "the workload added rows: {source_rows}"
    );
    assert_eq!(one_number(&mut mi, count).await, source_rows);

    let started = arm(&lab, &token, "POST", path, Some(planned)).await;
    let done = complete(&lab, &clock, &token, &started).await;
    assert_eq!(
        done.json["properties"]["instanceLinkRole"], "Primary",
        "{}",
        done.json
    );
    assert_eq!(done.json["properties"]["partnerLinkRole"], "Secondary");
    // The MI's first full backup as primary comes five minutes later (at the lab's
    // speed); a cutover waits for it before removing the link (§4.2 step 7).
    let backups =
        "SELECT COUNT(*) FROM msdb.dbo.backupset WHERE database_name = 'Sales' AND type = 'D'";
    assert_eq!(one_number(&mut mi, backups).await, 0.0);
    clock.advance(Duration::from_secs(30));
    assert_eq!(one_number(&mut mi, backups).await, 1.0);
    // SQL Server 2022 keeps the link as the secondary: read-only now; the MI takes writes.
    assert_eq!(
        error_number(
            &mut sql,
            "INSERT INTO Sales.dbo.Orders (id, amount) VALUES (900002, 1)"
        )
        .await,
        3906
    );
    run(
        &mut mi,
        "INSERT INTO Sales.dbo.Orders (id, amount) VALUES (900002, 1)",
    )
    .await;
    assert_eq!(one_number(&mut mi, count).await, source_rows + 1.0);

    // Breaking the link leaves the MI's database as it is; SQL Server keeps its DAG.
    let delete = arm(
        &lab,
        &token,
        "DELETE",
        "/distributedAvailabilityGroups/DAG_Sales",
        None,
    )
    .await;
    assert_eq!(complete(&lab, &clock, &token, &delete).await.status, 204);
    assert_eq!(one_number(&mut mi, count).await, source_rows + 1.0);
    assert_eq!(
        one_number(&mut mi, "SELECT COUNT(*) FROM sys.availability_groups").await,
        0.0
    );
    run(
        &mut mi,
        "INSERT INTO Sales.dbo.Orders (id, amount) VALUES (900003, 1)",
    )
    .await;
    assert_eq!(
        one_number(
            &mut sql,
            "SELECT COUNT(*) FROM sys.availability_groups WHERE is_distributed = 1"
        )
        .await,
        1.0
    );
}

#[tokio::test]
async fn a_statement_reaches_the_mi_one_network_delay_after_it_commits() {
    let (lab, clock, mut sql, _) = linked().await;
    clock.advance(Duration::from_secs(12));
    lab.set_workload("SQL01", "Sales", &WorkloadSpec::default())
        .unwrap();
    clock.advance(Duration::from_secs(1));
    let mut mi = mi_client(&lab).await;
    let count = "SELECT COUNT(*) FROM Sales.dbo.Orders";
    let before = one_number(&mut mi, count).await;
    assert_eq!(one_number(&mut sql, count).await, before);
    run(
        &mut sql,
        "INSERT INTO Sales.dbo.Orders (id, amount) VALUES (700001, 1)",
    )
    .await;
    // Asynchronous commit: SQL Server has it at once; the MI 100 ms later.
    let (end, remote) = sql_lsns(&mut sql).await;
    assert!(end > remote);
    clock.advance(Duration::from_millis(90));
    assert_eq!(one_number(&mut mi, count).await, before);
    clock.advance(Duration::from_millis(20));
    assert_eq!(one_number(&mut mi, count).await, before + 1.0);
    let (end, remote) = sql_lsns(&mut sql).await;
    assert_eq!(end, remote);
}

#[tokio::test]
async fn a_forced_failover_loses_exactly_the_unhardened_tail_and_splits_the_brain() {
    let (lab, clock, mut sql, token) = linked().await;
    clock.advance(Duration::from_secs(12));
    let mut mi = mi_client(&lab).await;
    let count = "SELECT COUNT(*) FROM Sales.dbo.Orders";
    // 150 ms to the MI, 10 transactions a second: the MI has every row but the last
    // 1.5 transactions' (each row its own transaction, at its own LSN).
    let faults = &lab.control;
    faults
        .shape("SQL01", "mi-target", Duration::from_millis(50), None)
        .unwrap();
    clock.advance(Duration::from_secs(1));
    let on_sql = one_number(&mut sql, count).await;
    assert_eq!(one_number(&mut mi, count).await, on_sql - 2.0);

    // The workload stops and the MI catches up; the network to the MI breaks, and
    // SQL Server commits two more rows (asynchronous commit does not wait).
    lab.set_workload("SQL01", "Sales", &WorkloadSpec::default())
        .unwrap();
    clock.advance(Duration::from_secs(1));
    let before = one_number(&mut sql, count).await;
    assert_eq!(one_number(&mut mi, count).await, before);
    faults
        .cut("SQL01", "mi-target", Direction::ToManagedInstance)
        .unwrap();
    run(
        &mut sql,
        "INSERT INTO Sales.dbo.Orders (id, amount) VALUES (800001, 1)",
    )
    .await;
    run(
        &mut sql,
        "UPDATE Sales.dbo.Orders SET amount = 4321.5 WHERE id = 1",
    )
    .await;
    clock.advance(Duration::from_secs(1));
    let (end, remote) = sql_lsns(&mut sql).await;
    assert!(end > remote);
    let forced = arm(
        &lab,
        &token,
        "POST",
        "/distributedAvailabilityGroups/DAG_Sales/failover",
        Some(json!({"failoverType": "ForcedAllowDataLoss"})),
    )
    .await;
    complete(&lab, &clock, &token, &forced).await;
    // The MI keeps exactly what it had hardened: the new row and the change are lost
    // (an update is a delete and an insert of the row), and the lab's record says so, from the MI's last hardened LSN to SQL Server's end
    // of log.
    assert_eq!(one_number(&mut mi, count).await, before);
    assert_eq!(one_number(&mut sql, count).await, before + 1.0);
    let first = "SELECT amount FROM Sales.dbo.Orders WHERE id = 1";
    assert!(one_number(&mut mi, first).await != one_number(&mut sql, first).await);
    let lost = faults.lost();
    assert_eq!(lost.len(), 1, "{lost:?}");
    assert_eq!(lost[0].tail.database, "Sales");
    assert_eq!(
        lost[0].tail.row_changes,
        vec![("dbo.Orders".to_string(), 3)]
    );
    assert_eq!(lost[0].tail.from_lsn, mi_lsn(&mut mi).await.to_string());
    assert_eq!(lost[0].tail.to_lsn, sql_lsns(&mut sql).await.0.to_string());
    let answer =
        super::https::call_plain("GET", &format!("{}lost", lab.control_url), &[], None).await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.json[0]["row_changes"], json!([["dbo.Orders", 3]]));
    // Split brain (mi-link.md §4.4): both sides' own member is PRIMARY.
    let role = "SELECT rs.role_desc FROM sys.availability_groups ag
        JOIN sys.dm_hadr_availability_replica_states rs ON ag.group_id = rs.group_id
        WHERE rs.is_local = 1 AND ag.is_distributed = 1 AND ag.name = 'DAG_Sales'";
    assert_eq!(one_text(&mut sql, role).await, "PRIMARY");
    assert_eq!(one_text(&mut mi, role).await, "PRIMARY");
    run(
        &mut mi,
        "INSERT INTO Sales.dbo.Orders (id, amount) VALUES (900001, 1)",
    )
    .await;
    run(
        &mut sql,
        "INSERT INTO Sales.dbo.Orders (id, amount) VALUES (900001, 2)",
    )
    .await;
    // The fix: the former primary becomes secondary, and stops taking writes.
    run(
        &mut sql,
        "ALTER AVAILABILITY GROUP [DAG_Sales] SET (ROLE = SECONDARY)",
    )
    .await;
    assert_eq!(one_text(&mut sql, role).await, "SECONDARY");
    assert_eq!(
        error_number(
            &mut sql,
            "INSERT INTO Sales.dbo.Orders (id, amount) VALUES (900002, 2)"
        )
        .await,
        3906
    );
}

#[tokio::test]
async fn seeding_restarts_after_a_lost_connection_and_fails_after_a_log_backup() {
    let (lab, clock, mut sql, token) = linked().await;
    clock.advance(Duration::from_secs(5));
    // The network breaks (the endpoint stops answering): the copy is thrown away.
    run(
        &mut sql,
        "ALTER ENDPOINT database_mirroring_endpoint STATE = STOPPED",
    )
    .await;
    let db = arm_database(&lab, &token).await;
    assert_eq!(db["connectedState"], "DISCONNECTED");
    let mut mi = mi_client(&lab).await;
    assert_eq!(
        one_number(
            &mut mi,
            "SELECT COUNT(*) FROM sys.databases WHERE name = 'Sales'"
        )
        .await,
        0.0
    );
    run(
        &mut sql,
        "ALTER ENDPOINT database_mirroring_endpoint STATE = STARTED",
    )
    .await;
    clock.advance(Duration::from_secs(5));
    let found = rows(
        &mut sql,
        "SELECT transferred_size_bytes FROM sys.dm_hadr_physical_seeding_stats",
    )
    .await;
    let transferred = found[0].get::<i64, _>(0).unwrap() as f64;
    assert!(
        (transferred - 5.0 * BANDWIDTH).abs() < MB,
        "started again: {transferred}"
    );
    assert_eq!(
        one_number(
            &mut sql,
            "SELECT MAX(number_of_attempts) FROM sys.dm_hadr_automatic_seeding"
        )
        .await,
        2.0
    );
    // A log backup while seeding runs truncates log the seeding needs: 1408, for good.
    run(
        &mut sql,
        "BACKUP LOG [Sales] TO DISK = N'D:\\Backup\\Sales.trn'",
    )
    .await;
    clock.advance(Duration::from_secs(6));
    assert_eq!(
        link_states(&lab, &token).await,
        vec![("LinkCreationError".to_string(), Some(1408))]
    );
    assert_eq!(
        one_text(&mut mi, "SELECT current_state FROM sys.dm_hadr_automatic_seeding WHERE is_source = 0 AND number_of_attempts = 2").await,
        "FAILED"
    );
}

#[tokio::test]
async fn an_expired_endpoint_certificate_disconnects_the_link() {
    let (lab, clock, mut sql, _) = linked().await;
    lab.set_workload("SQL01", "Sales", &WorkloadSpec::default())
        .unwrap();
    clock.advance(Duration::from_secs(12));
    let before = token(&lab, DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET).await;
    assert_eq!(
        arm_database(&lab, &before).await["replicaState"],
        "LinkSynchronizing"
    );
    // The endpoint certificate expires on 2030-01-01; five years on, it has.
    clock.advance(Duration::from_secs(5 * 366 * 24 * 3600));
    let after = token(&lab, DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET).await;
    let db = arm_database(&lab, &after).await;
    assert_eq!(db["connectedState"], "DISCONNECTED", "{db}");
    assert!(
        db["mostRecentLinkError"]
            .as_str()
            .unwrap()
            .starts_with("9642:"),
        "{db}"
    );
    assert_eq!(
        one_text(
            &mut sql,
            "SELECT rs.connected_state_desc FROM sys.dm_hadr_availability_replica_states rs
             JOIN sys.availability_replicas r ON r.replica_id = rs.replica_id
             WHERE r.replica_server_name = 'AG_Sales_MI'"
        )
        .await,
        "DISCONNECTED"
    );
}

#[tokio::test]
async fn the_instance_cannot_scale_while_a_link_creates_a_database() {
    let (lab, clock, _sql, token) = linked().await;
    let scale = json!({"properties": {"vCores": 16, "storageSizeInGB": 512}});
    // Seeding runs: management operations wait for it (mi-link.md §2.2).
    let refused = arm(&lab, &token, "PATCH", "", Some(scale.clone())).await;
    assert_eq!(refused.status, 400, "{}", refused.json);
    assert_eq!(refused.error_code(), "OperationCanNotStartDueToMiLink");
    let odd = json!({"properties": {"vCores": 12}});
    let invalid = arm(&lab, &token, "PATCH", "", Some(odd)).await;
    assert_eq!(
        invalid.error_code(),
        "InvalidParameterValue",
        "{}",
        invalid.json
    );
    // Seeded: the update is a long-running operation; the instance reports the new size.
    clock.advance(Duration::from_secs(12));
    let started = arm(&lab, &token, "PATCH", "", Some(scale)).await;
    assert_eq!(started.status, 202, "{}", started.json);
    let before = arm(&lab, &token, "GET", "", None).await;
    assert_eq!(before.json["properties"]["vCores"], 8, "{}", before.json);
    clock.advance(Duration::from_secs(3600 / 10));
    let after = arm(&lab, &token, "GET", "", None).await;
    assert_eq!(after.json["properties"]["vCores"], 16, "{}", after.json);
    assert_eq!(after.json["sku"]["capacity"], 16);
    assert_eq!(after.json["properties"]["storageSizeInGB"], 512);
}
