//! Workloads in the catalog: each database's rates (`$workload`) and the application
//! sessions they hold open (`$workload_sessions`, shown in sys.dm_exec_sessions), and
//! how the catalog catches up with the lab's clock: whatever time has passed since the
//! last look is applied to the log, I/O and CPU (the default resource pool's
//! total_cpu_usage_ms) of every database with a workload before
//! the next statement reads anything. Each transaction inserts a real row into the
//! database's first user table when it has one.

use rusqlite::{params, Connection};

use crate::engine::cached::Cached;
use crate::scenario::WorkloadSpec;

use super::log::{self, Activity};
use super::row_log;
use super::user_tables;

/// Applies `secs` seconds of every workload, ending at `now`.
pub fn advance(conn: &Connection, secs: f64, now: &str) -> rusqlite::Result<()> {
    if secs <= 0.0 {
        return Ok(());
    }
    let mut rates = conn.prepare_cached(
        "SELECT database_id, log_bytes_per_sec, transactions_per_sec, reads_per_sec, writes_per_sec, io_latency_ms,
                pending_rows,
                (SELECT sqlite_table FROM \"$user_tables\" u WHERE u.database_id = w.database_id ORDER BY object_id LIMIT 1)
         FROM \"$workload\" w",
    )?;
    let loads: Vec<(i64, WorkloadSpec, f64, Option<String>)> = rates
        .query_map([], |r| {
            Ok((
                r.get(0)?,
                WorkloadSpec {
                    log_bytes_per_sec: r.get(1)?,
                    transactions_per_sec: r.get(2)?,
                    reads_per_sec: r.get(3)?,
                    writes_per_sec: r.get(4)?,
                    io_latency_ms: r.get(5)?,
                    sessions: 0,
                },
                r.get(6)?,
                r.get(7)?,
            ))
        })?
        .collect::<Result<_, _>>()?;
    let mut cpu = 0.0;
    for (id, load, pending, table) in loads {
        let (from, to) = log::append(
            conn,
            id,
            Activity {
                bytes: load.log_bytes_per_sec * secs,
                transactions: load.transactions_per_sec * secs,
                reads: load.reads_per_sec * secs,
                writes: load.writes_per_sec * secs,
                latency_ms: load.io_latency_ms,
                keep_per_sec: load.log_bytes_per_sec,
                over_secs: secs,
            },
            now,
        )?;
        // Each transaction inserts a row into the database's first table.
        if let Some(table) = table {
            let due = pending + load.transactions_per_sec * secs;
            let rows = due.floor();
            user_tables::generate(conn, &table, rows as u64)?;
            row_log::stamp(conn, &table, (from, to), true)?;
            conn.prepare_cached(
                "UPDATE \"$workload\" SET pending_rows = ?2 WHERE database_id = ?1",
            )?
            .execute(params![id, due - rows])?;
        }
        log::refresh_database(conn, id)?;
        cpu += cpu_ms(&load, secs);
    }
    // The instance cannot use more CPU than the host has.
    conn.prepare_cached(
        "UPDATE \"sys.dm_resource_governor_resource_pools\" SET total_cpu_usage_ms = total_cpu_usage_ms
            + MIN(?1, (SELECT cpu_count FROM \"sys.dm_os_sys_info\") * ?2) WHERE pool_id = 2",
    )?
    .execute(params![cpu.round() as i64, (secs * 1000.0).round() as i64])?;
    log::refresh_totals(conn)
}

/// CPU time a workload costs over `secs`: a lab cost model (2 ms per transaction, 0.1 ms
/// per page read or written), so that an instance's CPU follows its work.
fn cpu_ms(load: &WorkloadSpec, secs: f64) -> f64 {
    (load.transactions_per_sec * 2.0 + (load.reads_per_sec + load.writes_per_sec) * 0.1) * secs
}

/// Replaces database `id`'s workload. Sessions are opened with ids from `spid` or
/// closed (the newest first) to match. Returns how many databases now have a workload.
pub fn set(
    conn: &Connection,
    id: i64,
    load: &WorkloadSpec,
    login: &str,
    now: &str,
    mut spid: impl FnMut() -> u16,
) -> rusqlite::Result<i64> {
    if load.is_idle() {
        conn.run("DELETE FROM \"$workload\" WHERE database_id = ?1", [id])?;
    } else {
        conn.run(
            "INSERT OR REPLACE INTO \"$workload\" (database_id, log_bytes_per_sec, transactions_per_sec, reads_per_sec, writes_per_sec, io_latency_ms, sessions)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                id,
                load.log_bytes_per_sec,
                load.transactions_per_sec,
                load.reads_per_sec,
                load.writes_per_sec,
                load.io_latency_ms,
                load.sessions
            ],
        )?;
    }
    let open: Vec<i64> = conn
        .prepare_cached("SELECT session_id FROM \"$workload_sessions\" WHERE database_id = ?1 ORDER BY session_id DESC")?
        .query_map([id], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    let wanted = load.sessions as usize;
    for session in open.iter().take(open.len().saturating_sub(wanted)) {
        conn.run(
            "DELETE FROM \"sys.dm_exec_sessions\" WHERE session_id = ?1",
            [session],
        )?;
        conn.run(
            "DELETE FROM \"$workload_sessions\" WHERE session_id = ?1",
            [session],
        )?;
    }
    for _ in open.len()..wanted {
        let session = spid();
        conn.run(
            "INSERT INTO \"sys.dm_exec_sessions\" (session_id, login_time, host_name, program_name, client_interface_name, login_name, status,
                is_user_process, database_id, open_transaction_count, transaction_isolation_level, row_count)
             VALUES (?1, ?2, 'app01', 'Core Microsoft SqlClient Data Provider', '.Net SqlClient Data Provider', ?3, 'sleeping', 1, ?4, 0, 2, 0)",
            params![session, now, login, id],
        )?;
        conn.run(
            "INSERT INTO \"$workload_sessions\" (session_id, database_id) VALUES (?1, ?2)",
            params![session, id],
        )?;
    }
    conn.one("SELECT COUNT(*) FROM \"$workload\"", [], |r| r.get(0))
}
