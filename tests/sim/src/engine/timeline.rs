//! When each database's log was written: points of (time, log position) in
//! `$log_timeline`, so that a link partner can ask where the log stood one network
//! delay ago. A workload's log grows evenly over its step (two points, its start and
//! end); a statement's is written at once (two points at the same time). Log written
//! by anything else counts as written at the start of the next stretch, or now.
//! Points older than [`KEEP_SECS`] go, except each database's newest.

use rusqlite::{params, Connection, OptionalExtension};

use crate::engine::cached::Cached;

/// How far back the timeline reaches, seconds (the longest delay a fault can add to a
/// link is a minute).
const KEEP_SECS: f64 = 600.0;
const SECS_PER_DAY: f64 = 86_400.0;

/// Log position `from` became `to` over the `over_secs` seconds ending at `now`
/// (the lab's time, as `datetime_text` writes it).
pub fn mark(
    conn: &Connection,
    id: i64,
    (now, over_secs): (&str, f64),
    (from, to): (f64, f64),
) -> rusqlite::Result<()> {
    let end: f64 = conn.one("SELECT julianday(?1)", [now], |r| r.get(0))?;
    let start = end - over_secs / SECS_PER_DAY;
    let last: Option<(f64, f64)> = conn
        .one(
            "SELECT at, written FROM \"$log_timeline\" WHERE database_id = ?1 ORDER BY at DESC, written DESC LIMIT 1",
            [id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    let mut insert = conn.prepare_cached(
        "INSERT INTO \"$log_timeline\" (database_id, at, written) VALUES (?1, ?2, ?3)",
    )?;
    if last != Some((start, from)) {
        insert.execute(params![id, start, from])?;
    }
    insert.execute(params![id, end, to])?;
    conn.run(
        "DELETE FROM \"$log_timeline\" WHERE database_id = ?1 AND at < ?2
           AND at < (SELECT MAX(at) FROM \"$log_timeline\" WHERE database_id = ?1)",
        params![id, end - KEEP_SECS / SECS_PER_DAY],
    )?;
    Ok(())
}

/// Where database `id`'s log stood at time `at`, if the timeline says; None when
/// nothing was written since (the log as it stands now).
pub fn written_at(conn: &Connection, id: i64, at: &str) -> rusqlite::Result<Option<f64>> {
    let t: f64 = conn.one("SELECT julianday(?1)", [at], |r| r.get(0))?;
    let after: Option<(f64, f64)> = conn
        .one(
            "SELECT at, written FROM \"$log_timeline\" WHERE database_id = ?1 AND at > ?2
             ORDER BY at, written LIMIT 1",
            params![id, t],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    let Some((t1, w1)) = after else {
        return Ok(None);
    };
    let before: Option<(f64, f64)> = conn
        .one(
            "SELECT at, written FROM \"$log_timeline\" WHERE database_id = ?1 AND at <= ?2
             ORDER BY at DESC, written DESC LIMIT 1",
            params![id, t],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    Ok(Some(match before {
        // Evenly between the two points around it.
        Some((t0, w0)) => w0 + (w1 - w0) * (t - t0) / (t1 - t0),
        None => w1,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_log_stood_where_its_writes_had_brought_it() {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(
            "CREATE TABLE \"$log_timeline\" (database_id int NOT NULL, at real NOT NULL, written real NOT NULL)",
        )
        .unwrap();
        let at = |s: u32| format!("2026-01-01 00:00:{s:02}.000");
        // A workload writes 1000 bytes from 10 s to 20 s, then a statement 500 at 30 s.
        mark(&conn, 5, (&at(20), 10.0), (0.0, 1000.0)).unwrap();
        mark(&conn, 5, (&at(30), 0.0), (1000.0, 1500.0)).unwrap();
        let w = |s: u32| written_at(&conn, 5, &at(s)).unwrap();
        assert_eq!(w(5), Some(0.0));
        assert!((w(15).unwrap() - 500.0).abs() < 0.01, "{:?}", w(15));
        assert!((w(29).unwrap() - 1000.0).abs() < 0.01, "{:?}", w(29));
        assert_eq!(w(30), None, "all of it by then");
    }
}
