//! Workloads on a manual clock: what ten seconds of load does to the counters, the
//! LSNs, the log's reuse wait and the file statistics, and what log backups and a
//! switch through SIMPLE recovery do to the log chain, read with the queries
//! Microsoft documents.

use std::time::Duration;

use ferry_sim::scenario::WorkloadSpec;

use super::{error_number, lab_on_manual_clock, rows, run, sa, Client};

const SCENARIO: &str = r#"
[[instance]]
name = "SQL01"
version = "2022 CU13"
edition = "Enterprise"

[[instance.login]]
name = "sa"
password = "Lab-Passw0rd!"
sysadmin = true

[[instance.database]]
name = "Orders"
log_mb = 64
backups = [{ type = "D", hours_ago = 2.0 }]
workload = { log_bytes_per_sec = 1048576, transactions_per_sec = 100, reads_per_sec = 200, writes_per_sec = 50, io_latency_ms = 4.0, sessions = 3 }

[[instance.database]]
name = "Scratch"
recovery = "SIMPLE"
log_mb = 64
workload = { log_bytes_per_sec = 1048576, transactions_per_sec = 10 }

[[instance.database]]
name = "Fresh"
"#;

async fn counter(client: &mut Client, database: &str, name: &str) -> i64 {
    let sql = format!(
        "SELECT cntr_value FROM sys.dm_os_performance_counters
         WHERE object_name LIKE '%:Databases%' AND counter_name = '{name}' AND instance_name = '{database}'"
    );
    rows(client, &sql).await[0].get::<i64, _>(0).unwrap()
}

async fn text(client: &mut Client, sql: &str) -> String {
    rows(client, sql).await[0]
        .get::<&str, _>(0)
        .unwrap()
        .to_string()
}

async fn number(client: &mut Client, sql: &str) -> i64 {
    rows(client, sql).await[0].get::<i64, _>(0).unwrap()
}

/// COUNT(*) is an int.
async fn count(client: &mut Client, sql: &str) -> i32 {
    rows(client, sql).await[0].get::<i32, _>(0).unwrap()
}

/// `VLF:block:slot` in hexadecimal, as sys.dm_db_log_stats shows an LSN, as one number.
fn lsn(text: &str) -> u128 {
    text.split(':').fold(0, |acc, part| {
        (acc << 32) + u128::from_str_radix(part, 16).unwrap()
    })
}

#[tokio::test]
async fn ten_seconds_of_workload_move_the_log_counters_and_file_statistics() {
    let (lab, clock) = lab_on_manual_clock(SCENARIO).await;
    let mut client = sa(&lab).await;
    let end_lsn = "SELECT log_end_lsn FROM sys.dm_db_log_stats(DB_ID('Orders'))";
    let reuse = "SELECT log_reuse_wait_desc FROM sys.databases WHERE name = 'Orders'";
    assert_eq!(
        counter(&mut client, "Orders", "Log Bytes Flushed/sec").await,
        0
    );
    let before = text(&mut client, end_lsn).await;
    assert_eq!(text(&mut client, reuse).await, "NOTHING");

    clock.advance(Duration::from_secs(10));

    assert_eq!(
        counter(&mut client, "Orders", "Log Bytes Flushed/sec").await,
        10 * 1_048_576
    );
    assert_eq!(
        counter(&mut client, "Orders", "Transactions/sec").await,
        1000
    );
    assert_eq!(
        counter(&mut client, "_Total", "Log Bytes Flushed/sec").await,
        20 * 1_048_576,
        "_Total sums every database"
    );
    let after = text(&mut client, end_lsn).await;
    assert!(lsn(&after) > lsn(&before), "{before} -> {after}");
    // FULL recovery with a full backup: only a log backup frees the log.
    assert_eq!(text(&mut client, reuse).await, "LOG_BACKUP");
    assert_eq!(
        text(
            &mut client,
            "SELECT log_reuse_wait_desc FROM sys.databases WHERE name = 'Scratch'"
        )
        .await,
        "NOTHING"
    );
    let used = number(
        &mut client,
        "USE Orders; SELECT used_log_space_in_bytes FROM sys.dm_db_log_space_usage",
    )
    .await;
    assert!(used >= 10 * 1_048_576, "{used}");
    client.simple_query("USE master").await.unwrap();

    let files = rows(
        &mut client,
        "SELECT SUM(num_of_reads), SUM(io_stall_read_ms) FROM sys.dm_io_virtual_file_stats(DB_ID('Orders'), NULL)",
    )
    .await;
    assert_eq!(files[0].get::<i64, _>(0), Some(2000));
    assert_eq!(files[0].get::<i64, _>(1), Some(8000));
    assert_eq!(
        count(
            &mut client,
            "SELECT COUNT(*) FROM sys.dm_exec_sessions WHERE database_id = DB_ID('Orders') AND is_user_process = 1"
        )
        .await,
        3
    );

    // The application stops: its sessions close and the counters stand still.
    lab.set_workload("SQL01", "Orders", &WorkloadSpec::default())
        .unwrap();
    clock.advance(Duration::from_secs(10));
    assert_eq!(
        counter(&mut client, "Orders", "Log Bytes Flushed/sec").await,
        10 * 1_048_576
    );
    assert_eq!(text(&mut client, end_lsn).await, after);
    assert_eq!(
        count(
            &mut client,
            "SELECT COUNT(*) FROM sys.dm_exec_sessions WHERE database_id = DB_ID('Orders')"
        )
        .await,
        0
    );
}

#[tokio::test]
async fn log_backups_truncate_and_chain_their_lsns() {
    let (lab, clock) = lab_on_manual_clock(SCENARIO).await;
    let mut client = sa(&lab).await;
    clock.advance(Duration::from_secs(10));
    let last_backup = "SELECT TOP 1 CAST(first_lsn AS bigint), CAST(last_lsn AS bigint)
         FROM msdb.dbo.backupset WHERE database_name = 'Orders' ORDER BY backup_set_id DESC";

    run(&mut client, "BACKUP LOG [Orders] TO DISK = N'NUL'").await;
    let first = rows(&mut client, last_backup).await;
    let (first_start, first_end) = (
        first[0].get::<i64, _>(0).unwrap(),
        first[0].get::<i64, _>(1).unwrap(),
    );
    assert!(first_end > first_start);
    assert_eq!(
        text(
            &mut client,
            "SELECT log_reuse_wait_desc FROM sys.databases WHERE name = 'Orders'"
        )
        .await,
        "NOTHING"
    );
    assert_eq!(
        number(
            &mut client,
            "SELECT CAST(last_log_backup_lsn AS bigint) FROM sys.database_recovery_status WHERE database_id = DB_ID('Orders')"
        )
        .await,
        first_end
    );

    clock.advance(Duration::from_secs(5));
    run(&mut client, "BACKUP LOG [Orders] TO DISK = N'NUL'").await;
    let second = rows(&mut client, last_backup).await;
    assert_eq!(
        second[0].get::<i64, _>(0),
        Some(first_end),
        "a log backup starts where the last one ended"
    );
    assert!(second[0].get::<i64, _>(1).unwrap() > first_end);

    // The log each database holds, as DBCC SQLPERF reports it and as the documented
    // CROSS APPLY over sys.dm_db_log_stats shows it.
    let space = rows(&mut client, "DBCC SQLPERF(LOGSPACE)").await;
    let scratch = space
        .iter()
        .find(|r| r.get::<&str, _>(0) == Some("Scratch"))
        .expect("a row per database");
    assert_eq!(scratch.get::<f64, _>(1), Some(64.0));
    let stats = rows(
        &mut client,
        "SELECT d.name, ls.recovery_model, ls.log_truncation_holdup_reason
         FROM sys.databases AS d CROSS APPLY sys.dm_db_log_stats(d.database_id) AS ls
         WHERE d.database_id > 4 ORDER BY d.name",
    )
    .await;
    let described: Vec<(&str, &str)> = stats
        .iter()
        .map(|r| (r.get(0).unwrap(), r.get(1).unwrap()))
        .collect();
    assert_eq!(
        described,
        [("Fresh", "FULL"), ("Orders", "FULL"), ("Scratch", "SIMPLE")]
    );
}

#[tokio::test]
async fn a_switch_through_simple_recovery_breaks_the_log_chain() {
    let (lab, _clock) = lab_on_manual_clock(SCENARIO).await;
    let mut client = sa(&lab).await;
    // FULL recovery, but no full backup yet: the chain has not started.
    assert_eq!(
        error_number(&mut client, "BACKUP LOG Fresh TO DISK = 'NUL'").await,
        4214
    );
    for sql in [
        "BACKUP DATABASE Fresh TO DISK = 'NUL'",
        "BACKUP LOG Fresh TO DISK = 'NUL'",
        "ALTER DATABASE Fresh SET RECOVERY SIMPLE",
        "ALTER DATABASE Fresh SET RECOVERY FULL",
    ] {
        run(&mut client, sql).await;
    }
    // The full backup from before the switch no longer counts.
    assert_eq!(
        error_number(&mut client, "BACKUP LOG Fresh TO DISK = 'NUL'").await,
        4214
    );
}
