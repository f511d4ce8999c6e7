//! Availability groups: the MI link's own statements (mi-link.md §2.1 (h) and (i),
//! §4.2 step 2) run verbatim, read back with the documented monitoring queries (§3.3,
//! §4.2 step 3); the LSNs following the log as a workload runs; and SQL Server's
//! errors for what a DBA gets wrong.

use std::time::Duration;

use tiberius::numeric::Numeric;

use super::{error_number, lab_on_manual_clock, reader, rows, run, sa, sa_on};

const SCENARIO: &str = r#"
[[instance]]
name = "SQL01"
version = "2022 CU13"
edition = "Enterprise"
hadr = true

[[instance.login]]
name = "sa"
password = "Lab-Passw0rd!"
sysadmin = true

[[instance.login]]
name = "reader"
password = "Reader-1"

[[instance.database]]
name = "Sales"
backups = [{ type = "D", hours_ago = 2.0 }]
workload = { log_bytes_per_sec = 1048576, transactions_per_sec = 100 }

[[instance.database]]
name = "Stock"
backups = [{ type = "D", hours_ago = 2.0 }]

[[instance]]
name = "OLD2016"
version = "2016 SP3"
hadr = true

[[instance.login]]
name = "sa"
password = "Lab-Passw0rd!"
sysadmin = true

[[instance.database]]
name = "Sales"

[[instance]]
name = "NOHADR"
version = "2019 CU20"

[[instance.login]]
name = "sa"
password = "Lab-Passw0rd!"
sysadmin = true

[[instance.database]]
name = "Sales"
"#;

/// mi-link.md §2.1 (h), with SQL01's name and its mirroring endpoint's URL.
const CREATE_AG: &str = "CREATE AVAILABILITY GROUP [AG_Sales]
WITH (CLUSTER_TYPE = NONE)
FOR DATABASE [Sales]
REPLICA ON N'SQL01' WITH (
   ENDPOINT_URL = 'TCP://sql01.contoso.local:5022',
   AVAILABILITY_MODE = SYNCHRONOUS_COMMIT,
   FAILOVER_MODE = MANUAL,
   SEEDING_MODE = AUTOMATIC);";

/// mi-link.md §2.1 (i).
const CREATE_DAG: &str = "CREATE AVAILABILITY GROUP [DAG_Sales]
WITH (DISTRIBUTED)
AVAILABILITY GROUP ON
  N'AG_Sales' WITH (
     LISTENER_URL = 'TCP://10.0.0.4:5022',
     AVAILABILITY_MODE = ASYNCHRONOUS_COMMIT,
     FAILOVER_MODE = MANUAL,
     SEEDING_MODE = AUTOMATIC,
     SESSION_TIMEOUT = 20),
  N'AG_Sales_MI' WITH (
     LISTENER_URL = 'tcp://mi01.abc123.database.windows.net:5022;Server=[mi01]',
     AVAILABILITY_MODE = ASYNCHRONOUS_COMMIT,
     FAILOVER_MODE = MANUAL,
     SEEDING_MODE = AUTOMATIC);";

/// mi-link.md §3.3, the distributed group's replicas.
const DAG_VIEW: &str =
    "SELECT ag.name, ag.is_distributed, ar.replica_server_name, ar.availability_mode_desc,
       ars.connected_state_desc, ars.role_desc, ars.operational_state_desc,
       ars.synchronization_health_desc
FROM sys.availability_groups ag
JOIN sys.availability_replicas ar ON ag.group_id = ar.group_id
LEFT JOIN sys.dm_hadr_availability_replica_states ars ON ars.replica_id = ar.replica_id
WHERE ag.is_distributed = 1
ORDER BY ar.replica_server_name";

/// mi-link.md §4.2 step 3, on SQL Server.
const LSNS: &str = "SELECT ag.name, db.name, drs.synchronization_state_desc, drs.end_of_log_lsn, drs.last_hardened_lsn
FROM sys.dm_hadr_database_replica_states drs
JOIN sys.databases db ON db.database_id = drs.database_id
JOIN sys.availability_groups ag ON ag.group_id = drs.group_id
WHERE ag.is_distributed = 1 AND db.name = 'Sales';";

fn text(row: &tiberius::Row, column: usize) -> Option<String> {
    row.get::<&str, _>(column).map(str::to_string)
}

fn lsn(row: &tiberius::Row, column: usize) -> i128 {
    row.get::<Numeric, _>(column).unwrap().value()
}

#[tokio::test]
async fn the_link_statements_build_a_group_and_a_distributed_group() {
    let (lab, clock) = lab_on_manual_clock(SCENARIO).await;
    let mut client = sa(&lab).await;
    run(&mut client, CREATE_AG).await;
    run(
        &mut client,
        "ALTER AVAILABILITY GROUP [AG_Sales] GRANT CREATE ANY DATABASE;",
    )
    .await;
    run(&mut client, CREATE_DAG).await;

    let groups = rows(
        &mut client,
        "SELECT name, is_distributed, cluster_type_desc FROM sys.availability_groups ORDER BY name",
    )
    .await;
    let groups: Vec<_> = groups
        .iter()
        .map(|r| {
            (
                text(r, 0).unwrap(),
                r.get::<bool, _>(1).unwrap(),
                text(r, 2).unwrap(),
            )
        })
        .collect();
    assert_eq!(groups[0], ("AG_Sales".into(), false, "none".into()));
    assert_eq!(groups[1].0, "DAG_Sales");
    assert!(groups[1].1);

    // The local member is the primary and connected; the MI's group has not joined.
    let dag = rows(&mut client, DAG_VIEW).await;
    assert_eq!(dag.len(), 2);
    assert_eq!(text(&dag[0], 2).as_deref(), Some("AG_Sales"));
    assert_eq!(text(&dag[0], 3).as_deref(), Some("ASYNCHRONOUS_COMMIT"));
    assert_eq!(text(&dag[0], 4).as_deref(), Some("CONNECTED"));
    assert_eq!(text(&dag[0], 5).as_deref(), Some("PRIMARY"));
    assert_eq!(text(&dag[1], 2).as_deref(), Some("AG_Sales_MI"));
    assert_eq!(text(&dag[1], 4).as_deref(), Some("DISCONNECTED"));
    assert_eq!(text(&dag[1], 5), None);
    let url = rows(
        &mut client,
        "SELECT endpoint_url FROM sys.availability_replicas WHERE replica_server_name = 'AG_Sales_MI'",
    )
    .await;
    assert_eq!(
        text(&url[0], 0).as_deref(),
        Some("tcp://mi01.abc123.database.windows.net:5022;Server=[mi01]")
    );

    // The database is in the group, and its LSNs follow the log as the workload runs.
    let joined = rows(
        &mut client,
        "SELECT CAST(CASE WHEN d.replica_id = r.replica_id THEN 1 ELSE 0 END AS int), c.database_name
         FROM sys.databases d JOIN sys.availability_replicas r ON r.replica_id = d.replica_id
         JOIN sys.availability_databases_cluster c ON c.group_database_id = d.group_database_id
         WHERE d.name = 'Sales'",
    )
    .await;
    assert_eq!(joined[0].get::<i32, _>(0), Some(1));
    let before = rows(&mut client, LSNS).await;
    assert_eq!(text(&before[0], 0).as_deref(), Some("DAG_Sales"));
    assert_eq!(text(&before[0], 2).as_deref(), Some("SYNCHRONIZED"));
    assert_eq!(lsn(&before[0], 3), lsn(&before[0], 4));
    clock.advance(Duration::from_secs(10));
    let after = rows(&mut client, LSNS).await;
    assert!(lsn(&after[0], 3) > lsn(&before[0], 3));
    assert_eq!(lsn(&after[0], 3), lsn(&after[0], 4));
    let commit = rows(
        &mut client,
        "SELECT CAST(COUNT(last_commit_time) AS int) FROM sys.dm_hadr_database_replica_states WHERE database_id = DB_ID('Sales')",
    )
    .await;
    assert_eq!(commit[0].get::<i32, _>(0), Some(2));

    // §3.1: every replica this instance knows, the MI's not yet connected.
    let connections = rows(
        &mut client,
        "SELECT r.replica_server_name, r.endpoint_url,
       rs.connected_state_desc, rs.last_connect_error_description,
       rs.last_connect_error_number, rs.last_connect_error_timestamp
FROM sys.dm_hadr_availability_replica_states rs
JOIN sys.availability_replicas r ON rs.replica_id = r.replica_id;",
    )
    .await;
    assert_eq!(connections.len(), 3);
    // §3.2: no rows while seeding has not started.
    let seeding = rows(
        &mut client,
        "SELECT ag.local_database_name, ar.current_state, ar.is_source, ag.internal_state_desc,
       ag.database_size_bytes/1048576 AS db_mb, ag.transferred_size_bytes/1048576 AS done_mb,
       ag.transfer_rate_bytes_per_second/1048576 AS mb_s,
       ag.total_disk_io_wait_time_ms/1000, ag.total_network_wait_time_ms/1000,
       ag.is_compression_enabled, ag.start_time_utc, ag.estimate_time_complete_utc,
       ar.completion_time, ar.number_of_attempts
FROM sys.dm_hadr_physical_seeding_stats ag
JOIN sys.dm_hadr_automatic_seeding ar ON ag.local_physical_seeding_id = ar.operation_id;",
    )
    .await;
    assert!(seeding.is_empty());
    // §3.3: no secondary has connected, so the health query has no row yet.
    let health = rows(
        &mut client,
        "DECLARE @link sysname = N'DAG_Sales';
SELECT rs.synchronization_health_desc
FROM sys.availability_groups ag
JOIN sys.dm_hadr_availability_replica_states rs ON ag.group_id = rs.group_id
WHERE rs.is_local = 0 AND rs.role = 2 AND ag.is_distributed = 1 AND ag.name = @link;",
    )
    .await;
    assert!(health.is_empty());

    // mi-link.md §4.2 step 2: synchronous commit on both members.
    run(
        &mut client,
        "ALTER AVAILABILITY GROUP [DAG_Sales] MODIFY AVAILABILITY GROUP ON
           'AG_Sales' WITH (AVAILABILITY_MODE = SYNCHRONOUS_COMMIT),
           'AG_Sales_MI' WITH (AVAILABILITY_MODE = SYNCHRONOUS_COMMIT);",
    )
    .await;
    let modes = rows(&mut client, DAG_VIEW).await;
    assert!(modes
        .iter()
        .all(|r| text(r, 3).as_deref() == Some("SYNCHRONOUS_COMMIT")));

    // Clean-up as §4.2 step 5 does it: the database stays, outside any group.
    run(&mut client, "DROP AVAILABILITY GROUP [DAG_Sales];").await;
    run(&mut client, "DROP AVAILABILITY GROUP [AG_Sales];").await;
    let left = rows(
        &mut client,
        "SELECT (SELECT COUNT(*) FROM sys.availability_groups) + (SELECT COUNT(*) FROM sys.availability_replicas)
              + (SELECT COUNT(*) FROM sys.dm_hadr_database_replica_states)
              + (SELECT COUNT(*) FROM sys.databases WHERE replica_id IS NOT NULL)",
    )
    .await;
    assert_eq!(left[0].get::<i32, _>(0), Some(0));
}

#[tokio::test]
async fn databases_and_replicas_join_and_leave() {
    let (lab, _clock) = lab_on_manual_clock(SCENARIO).await;
    let mut client = sa(&lab).await;
    run(&mut client, CREATE_AG).await;
    run(&mut client, CREATE_DAG).await;
    // A database added to the group shows in the distributed group too.
    run(
        &mut client,
        "ALTER AVAILABILITY GROUP [AG_Sales] ADD DATABASE [Stock];",
    )
    .await;
    let in_dag = rows(
        &mut client,
        "SELECT COUNT(*) FROM sys.dm_hadr_database_replica_states s JOIN sys.availability_groups g ON g.group_id = s.group_id
         WHERE g.name = 'DAG_Sales' AND s.database_id = DB_ID('Stock')",
    )
    .await;
    assert_eq!(in_dag[0].get::<i32, _>(0), Some(1));
    assert_eq!(
        error_number(
            &mut client,
            "ALTER AVAILABILITY GROUP [AG_Sales] ADD DATABASE [Stock];"
        )
        .await,
        35280
    );
    run(
        &mut client,
        "ALTER AVAILABILITY GROUP [AG_Sales] REMOVE DATABASE [Stock];",
    )
    .await;
    assert_eq!(
        error_number(
            &mut client,
            "ALTER AVAILABILITY GROUP [AG_Sales] REMOVE DATABASE [Stock];"
        )
        .await,
        35281
    );

    run(
        &mut client,
        "ALTER AVAILABILITY GROUP [AG_Sales] ADD REPLICA ON N'SQL02' WITH (ENDPOINT_URL = 'TCP://sql02:5022',
           AVAILABILITY_MODE = ASYNCHRONOUS_COMMIT, FAILOVER_MODE = MANUAL, SECONDARY_ROLE (ALLOW_CONNECTIONS = ALL));",
    )
    .await;
    run(
        &mut client,
        "ALTER AVAILABILITY GROUP [AG_Sales] MODIFY REPLICA ON N'SQL02' WITH (BACKUP_PRIORITY = 10);",
    )
    .await;
    let replica = rows(
        &mut client,
        "SELECT r.secondary_role_allow_connections_desc, r.backup_priority, s.connected_state_desc
         FROM sys.availability_replicas r JOIN sys.dm_hadr_availability_replica_states s ON s.replica_id = r.replica_id
         WHERE r.replica_server_name = 'SQL02'",
    )
    .await;
    assert_eq!(text(&replica[0], 0).as_deref(), Some("ALL"));
    assert_eq!(replica[0].get::<i32, _>(1), Some(10));
    assert_eq!(text(&replica[0], 2).as_deref(), Some("DISCONNECTED"));
    assert_eq!(
        error_number(
            &mut client,
            "ALTER AVAILABILITY GROUP [AG_Sales] REMOVE REPLICA ON N'SQL01';"
        )
        .await,
        35284
    );
    run(
        &mut client,
        "ALTER AVAILABILITY GROUP [AG_Sales] REMOVE REPLICA ON N'SQL02';",
    )
    .await;
    assert_eq!(
        error_number(
            &mut client,
            "ALTER AVAILABILITY GROUP [AG_Sales] REMOVE REPLICA ON N'SQL02';"
        )
        .await,
        35283
    );
}

#[tokio::test]
async fn mistakes_get_sql_servers_errors() {
    let (lab, _clock) = lab_on_manual_clock(SCENARIO).await;
    let mut client = sa(&lab).await;
    let replica = "REPLICA ON N'SQL01' WITH (ENDPOINT_URL = 'TCP://sql01:5022', AVAILABILITY_MODE = SYNCHRONOUS_COMMIT, FAILOVER_MODE = MANUAL)";
    let cases = [
        // The default cluster type is WSFC, and this host is no cluster node.
        (format!("CREATE AVAILABILITY GROUP [AG1] FOR DATABASE [Sales] {replica}"), 35220),
        (
            "CREATE AVAILABILITY GROUP [AG1] WITH (CLUSTER_TYPE = NONE) FOR DATABASE [Sales]
             REPLICA ON N'SQL01' WITH (ENDPOINT_URL = 'TCP://sql01:5022', AVAILABILITY_MODE = SYNCHRONOUS_COMMIT)"
                .to_string(),
            41197,
        ),
        (
            "CREATE AVAILABILITY GROUP [AG1] WITH (CLUSTER_TYPE = NONE) FOR DATABASE [Sales]
             REPLICA ON N'SQL01' WITH (ENDPOINT_URL = 'TCP://sql01:5022', FAILOVER_MODE = MANUAL)"
                .to_string(),
            41198,
        ),
        (
            "CREATE AVAILABILITY GROUP [AG1] WITH (CLUSTER_TYPE = NONE) FOR DATABASE [Sales]
             REPLICA ON N'SQL01' WITH (AVAILABILITY_MODE = SYNCHRONOUS_COMMIT, FAILOVER_MODE = MANUAL)"
                .to_string(),
            35236,
        ),
        (
            "CREATE AVAILABILITY GROUP [AG1] WITH (CLUSTER_TYPE = NONE) FOR DATABASE [Sales]
             REPLICA ON N'SQL01' WITH (ENDPOINT_URL = 'sql01:5022', AVAILABILITY_MODE = SYNCHRONOUS_COMMIT, FAILOVER_MODE = MANUAL)"
                .to_string(),
            35232,
        ),
        (
            "CREATE AVAILABILITY GROUP [AG1] WITH (CLUSTER_TYPE = NONE) FOR DATABASE [Sales]
             REPLICA ON N'OTHER' WITH (ENDPOINT_URL = 'TCP://other:5022', AVAILABILITY_MODE = SYNCHRONOUS_COMMIT, FAILOVER_MODE = MANUAL)"
                .to_string(),
            35237,
        ),
        (format!("CREATE AVAILABILITY GROUP [AG1] WITH (CLUSTER_TYPE = NONE) FOR DATABASE [Nope] {replica}"), 35238),
        (format!("CREATE AVAILABILITY GROUP [AG1] WITH (CLUSTER_TYPE = NONE) FOR DATABASE [msdb] {replica}"), 35249),
        (format!("CREATE AVAILABILITY GROUP [AG1] WITH (CLUSTER_TYPE = NONE) FOR DATABASE [Sales], [Sales] {replica}"), 35234),
        ("ALTER AVAILABILITY GROUP [Nope] GRANT CREATE ANY DATABASE".to_string(), 41100),
        ("DROP AVAILABILITY GROUP [Nope]".to_string(), 15151),
    ];
    for (sql, number) in &cases {
        assert_eq!(error_number(&mut client, sql).await, *number, "{sql}");
    }

    run(&mut client, CREATE_AG).await;
    let again = [
        (CREATE_AG.to_string(), 41106),
        (CREATE_AG.replace("[AG_Sales]", "[AG_Other]"), 35244),
        (
            "ALTER AVAILABILITY GROUP [AG_Sales] FAILOVER".to_string(),
            41122,
        ),
        (
            "ALTER AVAILABILITY GROUP [AG_Sales] FORCE_FAILOVER_ALLOW_DATA_LOSS".to_string(),
            41122,
        ),
        (
            CREATE_DAG.replace(
                "FAILOVER_MODE = MANUAL,\n     SEEDING_MODE = AUTOMATIC,\n     SESSION_TIMEOUT",
                "FAILOVER_MODE = AUTOMATIC,\n     SEEDING_MODE = AUTOMATIC,\n     SESSION_TIMEOUT",
            ),
            35277,
        ),
        (
            CREATE_DAG.replace("N'AG_Sales' WITH", "N'AG_Elsewhere' WITH"),
            35237,
        ),
    ];
    for (sql, number) in &again {
        assert_eq!(error_number(&mut client, sql).await, *number, "{sql}");
    }

    run(&mut client, CREATE_DAG).await;
    assert_eq!(
        error_number(
            &mut client,
            "ALTER AVAILABILITY GROUP [DAG_Sales] FORCE_FAILOVER_ALLOW_DATA_LOSS"
        )
        .await,
        41122
    );
    // SET (ROLE = SECONDARY) demotes this side of the distributed group.
    run(
        &mut client,
        "ALTER AVAILABILITY GROUP [DAG_Sales] SET (ROLE = SECONDARY)",
    )
    .await;
    let role = rows(
        &mut client,
        "SELECT s.role_desc FROM sys.dm_hadr_availability_replica_states s JOIN sys.availability_replicas r ON r.replica_id = s.replica_id
         WHERE r.replica_server_name = 'AG_Sales' AND s.group_id = (SELECT group_id FROM sys.availability_groups WHERE name = 'DAG_Sales')",
    )
    .await;
    assert_eq!(text(&role[0], 0).as_deref(), Some("SECONDARY"));
    assert_eq!(
        error_number(
            &mut client,
            "ALTER AVAILABILITY GROUP [AG_Sales] SET (ROLE = SECONDARY)"
        )
        .await,
        102
    );

    let mut reader = reader(&lab).await;
    assert_eq!(
        error_number(&mut reader, "DROP AVAILABILITY GROUP [AG_Sales]").await,
        15247
    );

    // Always On off: 35221. SQL Server 2016 has no CLUSTER_TYPE, and its groups are WSFC.
    let mut off = sa_on(&lab, "NOHADR").await;
    assert_eq!(error_number(&mut off, CREATE_AG).await, 35221);
    let mut old = sa_on(&lab, "OLD2016").await;
    assert_eq!(
        error_number(&mut old, &CREATE_AG.replace("SQL01", "OLD2016")).await,
        102
    );
    run(
        &mut old,
        &CREATE_AG
            .replace("SQL01", "OLD2016")
            .replace("WITH (CLUSTER_TYPE = NONE)\n", ""),
    )
    .await;
    let wsfc = rows(
        &mut old,
        "SELECT cluster_type_desc FROM sys.availability_groups",
    )
    .await;
    assert_eq!(text(&wsfc[0], 0).as_deref(), Some("wsfc"));
}
