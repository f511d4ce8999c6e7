//! Each database's transaction log, as far as a migration can see it: the end LSN, the
//! active part that cannot be truncated yet and why, the log file's size (it grows when
//! the active log outgrows it), and what full and log backups change.
//!
//! The state is the `$log` table. The functions that change it change only it; the
//! caller refreshes the views that show it once it has made its changes (`refresh`,
//! or `refresh_database` per database and `refresh_totals` once):
//! sys.dm_db_log_stats, sys.dm_db_log_space_usage,
//! sys.database_recovery_status, `log_reuse_wait_desc` in sys.databases, the
//! `SQLServer:Databases` counters and sys.dm_io_virtual_file_stats.
//!
//! Truncation follows the documented rules: in SIMPLE recovery, and in FULL or
//! BULK_LOGGED before the first full backup (the log chain has not started), a
//! checkpoint truncates the log; once the chain has started only a log backup does.
//! https://learn.microsoft.com/sql/relational-databases/logs/the-transaction-log-sql-server
//!
//! LSNs use the decimal form of `numeric(25,0)` columns: VLF sequence number × 10^15 +
//! 512-byte block × 10^5 + slot. The lab counts a VLF as 256 MiB of LSN space whatever
//! the file layout, and the slot as the byte within the block (plus one), so an LSN is
//! a pure function of the bytes written and every write moves it; SQLite keeps integers
//! in 64 bits, which lasts about 2 TB of log per database.

use rusqlite::{params, Connection};

use crate::engine::cached::Cached;

const MIB: f64 = 1_048_576.0;
const VLF_LSN_BYTES: i64 = 256 * 1_048_576;
const FIRST_VLF: i64 = 37;
/// Log a checkpoint cannot truncate: the records of transactions still in flight.
pub const IN_FLIGHT: f64 = 512.0 * 1024.0;
/// sys.databases.target_recovery_time_in_seconds: indirect checkpoints keep about this
/// much of the newest log active.
const CHECKPOINT_SECS: f64 = 60.0;

/// The decimal LSN after `written` bytes of log.
pub fn lsn(written: f64) -> i64 {
    let (vlf, block, slot) = position(written);
    vlf * 1_000_000_000_000_000 + block * 100_000 + slot
}

/// The LSN as sys.dm_db_log_stats shows it: hexadecimal VLF:block:slot.
pub fn lsn_text(written: f64) -> String {
    let (vlf, block, slot) = position(written);
    format!("{vlf:08X}:{block:08X}:{slot:04X}")
}

fn position(written: f64) -> (i64, i64, i64) {
    let w = written.max(0.0) as i64;
    (
        FIRST_VLF + w / VLF_LSN_BYTES,
        (w % VLF_LSN_BYTES) / 512,
        w % 512 + 1,
    )
}

/// One database's row of `$log`.
#[derive(Debug, Clone, Default)]
struct Log {
    written: f64,
    flushed: f64,
    transactions: f64,
    flushes: f64,
    reads: f64,
    writes: f64,
    read_stall_ms: f64,
    write_stall_ms: f64,
    log_stall_ms: f64,
    active: f64,
    since_log_backup: f64,
    chain: bool,
    log_backup_written: Option<f64>,
    log_backup_time: Option<String>,
    last_full_lsn: Option<i64>,
    last_commit_time: Option<String>,
}

impl Log {
    fn load(conn: &Connection, id: i64) -> rusqlite::Result<Log> {
        conn.one(
            "SELECT written, flushed, transactions, flushes, reads, writes, read_stall_ms, write_stall_ms, log_stall_ms,
                    active, since_log_backup, chain, log_backup_written, log_backup_time, last_full_lsn, last_commit_time
             FROM \"$log\" WHERE database_id = ?1",
            [id],
            |r| {
                Ok(Log {
                    written: r.get(0)?,
                    flushed: r.get(1)?,
                    transactions: r.get(2)?,
                    flushes: r.get(3)?,
                    reads: r.get(4)?,
                    writes: r.get(5)?,
                    read_stall_ms: r.get(6)?,
                    write_stall_ms: r.get(7)?,
                    log_stall_ms: r.get(8)?,
                    active: r.get(9)?,
                    since_log_backup: r.get(10)?,
                    chain: r.get(11)?,
                    log_backup_written: r.get(12)?,
                    log_backup_time: r.get(13)?,
                    last_full_lsn: r.get(14)?,
                    last_commit_time: r.get(15)?,
                })
            },
        )
    }

    fn store(&self, conn: &Connection, id: i64) -> rusqlite::Result<()> {
        conn.prepare_cached(
            "UPDATE \"$log\" SET written = ?2, flushed = ?3, transactions = ?4, flushes = ?5, reads = ?6, writes = ?7,
                read_stall_ms = ?8, write_stall_ms = ?9, log_stall_ms = ?10, active = ?11, since_log_backup = ?12,
                chain = ?13, log_backup_written = ?14, log_backup_time = ?15, last_full_lsn = ?16,
                last_commit_time = ?17
             WHERE database_id = ?1",
        )?
        .execute(params![
            id,
            self.written,
            self.flushed,
            self.transactions,
            self.flushes,
            self.reads,
            self.writes,
            self.read_stall_ms,
            self.write_stall_ms,
            self.log_stall_ms,
            self.active,
            self.since_log_backup,
            self.chain,
            self.log_backup_written,
            self.log_backup_time,
            self.last_full_lsn,
            self.last_commit_time
        ])?;
        Ok(())
    }
}

/// What a database's recovery model lets truncate its log.
fn recovery_model(conn: &Connection, id: i64) -> rusqlite::Result<String> {
    conn.prepare_cached("SELECT recovery_model_desc FROM \"sys.databases\" WHERE database_id = ?1")?
        .query_row([id], |r| r.get(0))
}

fn truncates_at_checkpoint(recovery: &str, log: &Log) -> bool {
    recovery == "SIMPLE" || !log.chain
}

/// A new database's log, `written` bytes into its life.
pub fn create(conn: &Connection, id: i64, written: f64) -> rusqlite::Result<()> {
    conn.run(
        "INSERT INTO \"$log\" (database_id, written, active) VALUES (?1, ?2, ?3)",
        params![id, written, IN_FLIGHT],
    )?;
    conn.run(
        "INSERT INTO \"sys.database_recovery_status\" (database_id, database_guid, family_guid, recovery_fork_guid, first_recovery_fork_guid)
         VALUES (?1, ?2, ?2, ?3, ?3)",
        params![id, super::new_guid(), super::new_guid()],
    )?;
    conn.run(
        "INSERT INTO \"sys.dm_io_virtual_file_stats\" (database_name, database_id, file_id, sample_ms, num_of_reads, num_of_bytes_read,
            io_stall_read_ms, num_of_writes, num_of_bytes_written, io_stall_write_ms, io_stall, size_on_disk_bytes)
         SELECT d.name, f.database_id, f.file_id, 0, 0, 0, 0, 0, 0, 0, 0, f.size * 8192
         FROM \"sys.master_files\" f JOIN \"sys.databases\" d ON d.database_id = f.database_id
         WHERE f.database_id = ?1 AND f.type IN (0, 1)",
        [id],
    )?;
    Ok(())
}

/// Log written before the lab started (a scenario's history): the end LSN and the
/// active log move, the counters since the instance started do not. The views are
/// refreshed by the caller.
pub fn write_history(conn: &Connection, id: i64, bytes: f64) -> rusqlite::Result<()> {
    write(conn, id, bytes, 0.0, |_| {})
}

/// Log a copy of the database received from its primary (the MI link): the end LSN
/// moves to match the primary's, the counters do not. The views are refreshed by the
/// caller.
pub fn receive(conn: &Connection, id: i64, bytes: f64) -> rusqlite::Result<()> {
    write(conn, id, bytes, 0.0, |_| {})
}

/// Bytes of log database `id` has written since it began.
pub fn written(conn: &Connection, id: i64) -> rusqlite::Result<f64> {
    Ok(Log::load(conn, id)?.written)
}

/// Where the last log backup (not COPY_ONLY) ended, bytes; None before the first.
pub fn last_log_backup(conn: &Connection, id: i64) -> rusqlite::Result<Option<f64>> {
    let log = Log::load(conn, id)?;
    Ok(log.log_backup_time.and(log.log_backup_written))
}

/// The core of every write: `bytes` more log, of which a checkpoint keeps
/// `keep_per_sec` × 60 s active where it may truncate; `count` adds to the counters.
/// The log file grows when the active log outgrows it.
fn write(
    conn: &Connection,
    id: i64,
    bytes: f64,
    keep_per_sec: f64,
    count: impl FnOnce(&mut Log),
) -> rusqlite::Result<()> {
    let mut log = Log::load(conn, id)?;
    let recovery = recovery_model(conn, id)?;
    log.written += bytes;
    log.since_log_backup += bytes;
    log.active += bytes;
    if truncates_at_checkpoint(&recovery, &log) {
        log.active = log.active.min(IN_FLIGHT + keep_per_sec * CHECKPOINT_SECS);
    }
    count(&mut log);
    log.store(conn, id)?;
    grow_log_file(conn, id, log.active)
}

/// What the log did over a stretch of time: bytes and commits, data-file reads and
/// writes and their stall. `keep_per_sec` is the log rate a checkpoint keeps active.
#[derive(Debug, Clone, Copy, Default)]
pub struct Activity {
    pub bytes: f64,
    pub transactions: f64,
    pub reads: f64,
    pub writes: f64,
    pub latency_ms: f64,
    pub keep_per_sec: f64,
    /// The seconds up to `now` the log was written over (0: at once, one statement).
    pub over_secs: f64,
}

/// Writes log and I/O into a database up to `now`: the end LSN moves, the active log
/// grows or is truncated by checkpoints, and the counters since the instance started
/// count it. Returns where the log stood before and after.
pub fn append(conn: &Connection, id: i64, a: Activity, now: &str) -> rusqlite::Result<(f64, f64)> {
    let from = written(conn, id)?;
    let to = from + a.bytes;
    super::timeline::mark(conn, id, (now, a.over_secs), (from, to))?;
    write(conn, id, a.bytes, a.keep_per_sec, |log| {
        if a.transactions > 0.0 {
            log.last_commit_time = Some(now.to_string());
        }
        log.flushed += a.bytes;
        log.transactions += a.transactions;
        log.flushes += log_flushes(a);
        log.reads += a.reads;
        log.writes += a.writes;
        log.read_stall_ms += a.reads * a.latency_ms;
        log.write_stall_ms += a.writes * a.latency_ms;
        log.log_stall_ms += log_flushes(a) * a.latency_ms;
    })?;
    Ok((from, to))
}

/// Every commit flushes the log; large transactions also flush every full 60 KB block.
fn log_flushes(a: Activity) -> f64 {
    a.transactions.max(a.bytes / 61_440.0)
}

/// Autogrowth: the first log file grows by its growth increment until the active log
/// fits. The lab's files have no maximum size.
fn grow_log_file(conn: &Connection, id: i64, active: f64) -> rusqlite::Result<()> {
    let (pages, growth): (i64, i64) = conn
        .prepare_cached(
            "SELECT SUM(size), MAX(growth) FROM \"sys.master_files\" WHERE database_id = ?1 AND type = 1",
        )?
        .query_row([id], |r| {
            Ok((
                r.get::<_, Option<i64>>(0)?.unwrap_or(0),
                r.get::<_, Option<i64>>(1)?.unwrap_or(0),
            ))
        })?;
    let needed = (active / 8192.0).ceil() as i64;
    if needed <= pages || growth <= 0 {
        return Ok(());
    }
    let steps = (needed - pages + growth - 1) / growth;
    for (table, id_column) in super::populate::FILE_VIEWS {
        conn.execute(
            &format!(
                "UPDATE \"{table}\" SET size = size + ?2 WHERE {id_column} = ?1 AND type = 1
                 AND file_id = (SELECT MIN(file_id) FROM \"sys.master_files\" WHERE database_id = ?1 AND type = 1)"
            ),
            params![id, steps * growth],
        )?;
    }
    Ok(())
}

/// The log sequence numbers a backup records in msdb.dbo.backupset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BackupLsns {
    pub first: i64,
    pub last: i64,
    pub checkpoint: i64,
    pub database_backup: Option<i64>,
}

/// Whether a log backup is possible: the log chain has started with a full backup
/// (error 4214 otherwise).
pub fn has_chain(conn: &Connection, id: i64) -> rusqlite::Result<bool> {
    Ok(Log::load(conn, id)?.chain)
}

/// A backup of kind `D` (full), `I` (differential) or `L` (log) finishing at
/// `finished`: what it records and what it changes. A full backup starts the log chain
/// in FULL and BULK_LOGGED recovery; a log backup truncates the log. Copy-only backups
/// change nothing.
pub fn backup(
    conn: &Connection,
    id: i64,
    kind: &str,
    copy_only: bool,
    finished: &str,
) -> rusqlite::Result<BackupLsns> {
    let mut log = Log::load(conn, id)?;
    let recovery = recovery_model(conn, id)?;
    let oldest_active = log.written - log.active.min(IN_FLIGHT);
    let lsns = if kind == "L" {
        let first = log.log_backup_written.unwrap_or(oldest_active);
        if !copy_only {
            log.log_backup_written = Some(log.written);
            log.log_backup_time = Some(finished.to_string());
            log.since_log_backup = 0.0;
            log.active = log.active.min(IN_FLIGHT);
        }
        BackupLsns {
            first: lsn(first),
            last: lsn(log.written),
            checkpoint: lsn(oldest_active),
            database_backup: log.last_full_lsn,
        }
    } else {
        let checkpoint = lsn(oldest_active);
        let lsns = BackupLsns {
            first: checkpoint,
            last: lsn(log.written),
            checkpoint,
            database_backup: log.last_full_lsn,
        };
        if kind == "D" && !copy_only {
            log.last_full_lsn = Some(checkpoint);
            if recovery != "SIMPLE" && !log.chain {
                log.chain = true;
                log.log_backup_written = Some(oldest_active);
            }
        }
        lsns
    };
    log.store(conn, id)?;
    Ok(lsns)
}

/// After ALTER DATABASE ... SET RECOVERY: SIMPLE breaks the log chain, and a later
/// switch back to FULL needs a new full backup before log backups work again.
pub fn recovery_changed(conn: &Connection, id: i64) -> rusqlite::Result<()> {
    let mut log = Log::load(conn, id)?;
    if recovery_model(conn, id)? == "SIMPLE" {
        log.chain = false;
        log.log_backup_written = None;
        log.active = log.active.min(IN_FLIGHT);
    }
    log.store(conn, id)
}

/// Rewrites every view that shows database `id`'s log, and the `_Total` counters.
pub fn refresh(conn: &Connection, id: i64) -> rusqlite::Result<()> {
    refresh_database(conn, id)?;
    refresh_totals(conn)
}

/// The `_Total` instance of the `SQLServer:Databases` counters: the sum over databases.
pub fn refresh_totals(conn: &Connection) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "UPDATE \"sys.dm_os_performance_counters\" AS t SET cntr_value =
            (SELECT COALESCE(SUM(s.cntr_value), 0) FROM \"sys.dm_os_performance_counters\" s
             WHERE s.object_name = t.object_name AND s.counter_name = t.counter_name AND s.instance_name <> '_Total')
         WHERE t.object_name = 'SQLServer:Databases' AND t.instance_name = '_Total' AND t.counter_name <> 'Percent Log Used'",
    )?
    .execute([])?;
    Ok(())
}

/// Rewrites every view that shows database `id`'s log from `$log`, but not `_Total`.
pub fn refresh_database(conn: &Connection, id: i64) -> rusqlite::Result<()> {
    let log = Log::load(conn, id)?;
    let (name, recovery): (String, String) = conn
        .prepare_cached(
            "SELECT name, recovery_model_desc FROM \"sys.databases\" WHERE database_id = ?1",
        )?
        .query_row([id], |r| Ok((r.get(0)?, r.get(1)?)))?;
    let (log_pages, data_pages): (i64, i64) = conn
        .prepare_cached(
            "SELECT COALESCE(SUM(CASE WHEN type = 1 THEN size END), 0), COALESCE(SUM(CASE WHEN type = 0 THEN size END), 0)
             FROM \"sys.master_files\" WHERE database_id = ?1",
        )?
        .query_row([id], |r| Ok((r.get(0)?, r.get(1)?)))?;
    let log_size = log_pages as f64 * 8192.0;
    let active = log.active.min(log_size);
    let waiting = !truncates_at_checkpoint(&recovery, &log) && log.active > IN_FLIGHT;
    let (reuse_wait, reuse_wait_desc) = if waiting {
        (2, "LOG_BACKUP")
    } else {
        (0, "NOTHING")
    };
    conn.prepare_cached(
        "UPDATE \"sys.databases\" SET log_reuse_wait = ?2, log_reuse_wait_desc = ?3 WHERE database_id = ?1",
    )?
    .execute(params![id, reuse_wait, reuse_wait_desc])?;

    let percent = if log_size > 0.0 {
        active / log_size * 100.0
    } else {
        0.0
    };
    let counters: [(&str, f64); 7] = [
        ("Log Bytes Flushed/sec", log.flushed),
        ("Transactions/sec", log.transactions),
        ("Log Flushes/sec", log.flushes),
        ("Data File(s) Size (KB)", data_pages as f64 * 8.0),
        ("Log File(s) Size (KB)", log_size / 1024.0),
        ("Log File(s) Used Size (KB)", active / 1024.0),
        ("Percent Log Used", percent),
    ];
    let mut set = conn.prepare_cached(
        "UPDATE \"sys.dm_os_performance_counters\" SET cntr_value = ?3
         WHERE object_name = 'SQLServer:Databases' AND counter_name = ?1 AND instance_name = ?2",
    )?;
    for (counter, value) in counters {
        set.execute(params![counter, name, value.floor() as i64])?;
    }

    conn.prepare_cached(
        "UPDATE \"sys.dm_io_virtual_file_stats\" SET
            num_of_reads = CAST(?2 / ?4 AS INTEGER), num_of_bytes_read = CAST(?2 / ?4 AS INTEGER) * 8192,
            io_stall_read_ms = CAST(?3 / ?4 AS INTEGER),
            num_of_writes = CAST(?5 / ?4 AS INTEGER), num_of_bytes_written = CAST(?5 / ?4 AS INTEGER) * 8192,
            io_stall_write_ms = CAST(?6 / ?4 AS INTEGER),
            io_stall = CAST(?3 / ?4 AS INTEGER) + CAST(?6 / ?4 AS INTEGER),
            size_on_disk_bytes = (SELECT f.size * 8192 FROM \"sys.master_files\" f WHERE f.database_id = ?1 AND f.file_id = \"sys.dm_io_virtual_file_stats\".file_id)
         WHERE database_id = ?1 AND file_id IN (SELECT file_id FROM \"sys.master_files\" WHERE database_id = ?1 AND type = 0)",
    )?
    .execute(params![
        id,
        log.reads,
        log.read_stall_ms,
        data_file_count(conn, id)?.max(1) as f64,
        log.writes,
        log.write_stall_ms,
    ])?;
    conn.prepare_cached(
        "UPDATE \"sys.dm_io_virtual_file_stats\" SET
            num_of_writes = CAST(?2 AS INTEGER), num_of_bytes_written = CAST(?3 AS INTEGER),
            io_stall_write_ms = CAST(?4 AS INTEGER), io_stall = io_stall_read_ms + CAST(?4 AS INTEGER),
            size_on_disk_bytes = (SELECT f.size * 8192 FROM \"sys.master_files\" f WHERE f.database_id = ?1 AND f.file_id = \"sys.dm_io_virtual_file_stats\".file_id)
         WHERE database_id = ?1 AND file_id IN (SELECT file_id FROM \"sys.master_files\" WHERE database_id = ?1 AND type = 1)",
    )?
    .execute(params![id, log.flushes, log.flushed, log.log_stall_ms])?;

    let mb = |bytes: f64| bytes / MIB;
    let vlfs = |bytes: f64| (bytes / (log_size / 4.0).max(1.0)).ceil().max(1.0) as i64;
    let log_backup_lsn = log
        .log_backup_written
        .filter(|_| log.log_backup_time.is_some());
    conn.prepare_cached(
        "INSERT OR REPLACE INTO \"sys.dm_db_log_stats\" (database_id, recovery_model, log_min_lsn, log_end_lsn, current_vlf_sequence_number,
            current_vlf_size_mb, total_vlf_count, total_log_size_mb, active_vlf_count, active_log_size_mb, log_truncation_holdup_reason,
            log_backup_time, log_backup_lsn, log_since_last_log_backup_mb, log_checkpoint_lsn, log_since_last_checkpoint_mb,
            log_recovery_lsn, log_recovery_size_mb, recovery_vlf_count)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, 4, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?3, ?9, ?8)",
    )?
    .execute(params![
        id,
        recovery,
        lsn_text(log.written - active),
        lsn_text(log.written),
        position(log.written).0,
        mb(log_size / 4.0),
        mb(log_size),
        vlfs(active).min(4),
        mb(active),
        reuse_wait_desc,
        log.log_backup_time,
        log_backup_lsn.map(lsn_text),
        mb(log.since_log_backup),
        lsn_text(log.written - active.min(IN_FLIGHT)),
        mb(active.min(IN_FLIGHT)),
    ])?;
    conn.prepare_cached(
        "INSERT OR REPLACE INTO \"sys.dm_db_log_space_usage\" (\"$database_id\", database_id, total_log_size_in_bytes, used_log_space_in_bytes,
            used_log_space_in_percent, log_space_in_bytes_since_last_backup)
         VALUES (?1, ?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![id, log_size as i64, active as i64, percent, log.since_log_backup as i64])?;
    // Where the next log backup starts, from the chain's first full backup on: NULL
    // only outside a chain ("pseudo-simple"), as DBAs read it.
    let next_log_backup_from = log.log_backup_written.filter(|_| log.chain);
    conn.prepare_cached(
        "UPDATE \"sys.database_recovery_status\" SET last_log_backup_lsn = ?2 WHERE database_id = ?1",
    )?
    .execute(params![id, next_log_backup_from.map(lsn)])?;
    write_replica_states(conn, id, &log, active)
}

/// The LSNs of database `id`'s own rows in its availability groups, after it joins one.
pub fn refresh_replica_states(conn: &Connection, id: i64) -> rusqlite::Result<()> {
    let log = Log::load(conn, id)?;
    let log_size = log_size(conn, id)?;
    write_replica_states(conn, id, &log, log.active.min(log_size))
}

/// The primary's own rows of its availability groups: the log it has written is
/// hardened as written.
fn write_replica_states(
    conn: &Connection,
    id: i64,
    log: &Log,
    active: f64,
) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "UPDATE \"sys.dm_hadr_database_replica_states\" SET end_of_log_lsn = ?2, last_hardened_lsn = ?2, last_commit_lsn = ?2,
            last_commit_time = ?3, truncation_lsn = ?4, recovery_lsn = ?4
         WHERE database_id = ?1 AND is_local = 1",
    )?
    .execute(params![id, lsn(log.written), log.last_commit_time, lsn(log.written - active)])?;
    Ok(())
}

/// The size of database `id`'s log files, bytes.
fn log_size(conn: &Connection, id: i64) -> rusqlite::Result<f64> {
    let pages: i64 = conn
        .prepare_cached(
            "SELECT COALESCE(SUM(size), 0) FROM \"sys.master_files\" WHERE database_id = ?1 AND type = 1",
        )?
        .query_row([id], |r| r.get(0))?;
    Ok(pages as f64 * 8192.0)
}

fn data_file_count(conn: &Connection, id: i64) -> rusqlite::Result<i64> {
    conn.prepare_cached(
        "SELECT COUNT(*) FROM \"sys.master_files\" WHERE database_id = ?1 AND type = 0",
    )?
    .query_row([id], |r| r.get(0))
}
