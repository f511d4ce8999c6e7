//! The rows each committed transaction changed, at the log position where it ended:
//! what the log carries for a secondary to redo. Every user table has a journal (the
//! SQLite table `$changes.<table>`, filled by triggers on the table); a commit stamps
//! its entries with its log position. The MI link's copy replays the entries up to
//! the log it has hardened, so it holds exactly the rows SQL Server held at that
//! position, and a forced failover loses exactly the transactions after it.
//!
//! A copy (the MI's, while the link feeds it) journals nothing: its rows come from
//! its source's log; once it is writable it journals its own changes.
//!
//! A journal keeps its newest [`KEEP`] entries; a reader that needs older ones is told
//! they are gone (and copies the whole table instead).

use rusqlite::types::Value;
use rusqlite::{params, Connection, OptionalExtension};

use crate::engine::cached::Cached;

/// Entries a journal keeps per table.
const KEEP: i64 = 200_000;

/// One row's change: the row as the transaction left it, or None when it deleted it.
#[derive(Debug, Clone)]
pub struct RowChange {
    pub lsn: f64,
    pub rowid: i64,
    pub row: Option<Vec<Value>>,
}

/// The changes to one table over a range of the log, in commit order.
#[derive(Debug, Clone)]
pub struct TableChanges {
    pub sqlite_table: String,
    /// `schema.table`, as SQL Server names it.
    pub name: String,
    pub columns: Vec<String>,
    pub changes: Vec<RowChange>,
}

/// What the journals hold of a range of the log.
#[derive(Debug, Clone)]
pub enum Replay {
    Changes(Vec<TableChanges>),
    /// A journal no longer reaches back to the start of the range.
    Gone,
}

fn journal(table: &str) -> String {
    format!("$changes.{table}")
}

fn quoted(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// The columns of SQLite table `table`, in order.
pub fn column_names(conn: &Connection, table: &str) -> rusqlite::Result<Vec<String>> {
    conn.prepare_cached("SELECT name FROM pragma_table_info(?1) ORDER BY cid")?
        .query_map([table], |r| r.get(0))?
        .collect()
}

/// The columns of SQLite table `table`, in order, quoted.
pub fn quoted_columns(conn: &Connection, table: &str) -> rusqlite::Result<Vec<String>> {
    Ok(column_names(conn, table)?
        .iter()
        .map(|c| quoted(c))
        .collect())
}

/// Journals `table`'s changes from now on (its generated rows are in already).
pub fn track(conn: &Connection, table: &str) -> rusqlite::Result<()> {
    let columns = quoted_columns(conn, table)?;
    let list = columns.join(", ");
    let new: Vec<String> = columns.iter().map(|c| format!("new.{c}")).collect();
    let (j, t) = (quoted(&journal(table)), quoted(table));
    let trigger = |what: &str| quoted(&format!("{}.{what}", journal(table)));
    let inserted = format!(
        "INSERT INTO {j} (op, rid, {list}) VALUES ('I', new.rowid, {});",
        new.join(", ")
    );
    let deleted = format!("INSERT INTO {j} (op, rid) VALUES ('D', old.rowid);");
    let index = |what: &str| quoted(&format!("{}.{what}", journal(table)));
    conn.execute_batch(&format!(
        "CREATE TABLE IF NOT EXISTS {j} (seq INTEGER PRIMARY KEY, op TEXT NOT NULL, rid INTEGER NOT NULL, lsn REAL, {list});
         CREATE INDEX IF NOT EXISTS {} ON {j} (lsn);
         CREATE INDEX IF NOT EXISTS {} ON {j} (seq) WHERE lsn IS NULL;
         CREATE TRIGGER IF NOT EXISTS {} AFTER INSERT ON {t} BEGIN {inserted} END;
         CREATE TRIGGER IF NOT EXISTS {} AFTER DELETE ON {t} BEGIN {deleted} END;
         CREATE TRIGGER IF NOT EXISTS {} AFTER UPDATE ON {t} BEGIN {deleted} {inserted} END;",
        index("by_lsn"),
        index("unstamped"),
        trigger("insert"),
        trigger("delete"),
        trigger("update"),
    ))
}

/// Drops `table`'s journal (the table is being dropped; its triggers go with it).
pub fn drop_journal(conn: &Connection, table: &str) -> rusqlite::Result<()> {
    conn.execute_batch(&format!("DROP TABLE IF EXISTS {}", quoted(&journal(table))))
}

/// Stamps the entries `table`'s last statement left: one transaction that ended at
/// log position `to`, or (`each_row`) one transaction per row, ending evenly spaced
/// after `from` up to `to` (the workload's). Then trims the journal to [`KEEP`].
pub fn stamp(
    conn: &Connection,
    table: &str,
    (from, to): (f64, f64),
    each_row: bool,
) -> rusqlite::Result<()> {
    let j = quoted(&journal(table));
    let (first, count): (Option<i64>, i64) = conn.one(
        &format!("SELECT MIN(seq), COUNT(*) FROM {j} WHERE lsn IS NULL"),
        [],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    let Some(first) = first else {
        return Ok(());
    };
    let step = if each_row {
        (to - from) / count as f64
    } else {
        0.0
    };
    let start = if each_row { from } else { to };
    conn.run(
        &format!("UPDATE {j} SET lsn = MIN(?3, ?1 + (seq - ?2 + 1) * ?4) WHERE lsn IS NULL"),
        params![start, first, to, step],
    )?;
    trim(conn, table)
}

/// Keeps the newest [`KEEP`] entries; `$user_tables.journal_from` remembers the
/// newest log position whose entries are gone.
fn trim(conn: &Connection, table: &str) -> rusqlite::Result<()> {
    let j = quoted(&journal(table));
    let cut: Option<i64> = conn
        .one(
            &format!("SELECT MAX(seq) - ?1 FROM {j} HAVING MAX(seq) - MIN(seq) >= ?1 + ?1 / 10"),
            [KEEP],
            |r| r.get(0),
        )
        .optional()?;
    let Some(cut) = cut else {
        return Ok(());
    };
    let gone: f64 = conn.one(
        &format!("SELECT MAX(lsn) FROM {j} WHERE seq <= ?1"),
        [cut],
        |r| r.get(0),
    )?;
    conn.run(&format!("DELETE FROM {j} WHERE seq <= ?1"), [cut])?;
    conn.run(
        "UPDATE \"$user_tables\" SET journal_from = MAX(journal_from, ?2) WHERE sqlite_table = ?1",
        params![table, gone],
    )?;
    Ok(())
}

/// The changes committed to database `database_id`'s user tables after log position
/// `after` up to `upto`.
pub fn between(
    conn: &Connection,
    database_id: i64,
    after: f64,
    upto: f64,
) -> rusqlite::Result<Replay> {
    let tables: Vec<(String, f64, String)> = conn
        .prepare_cached(
            "SELECT sqlite_table, journal_from, schema_name || '.' || name FROM \"$user_tables\" WHERE database_id = ?1 ORDER BY object_id",
        )?
        .query_map([database_id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<Result<_, _>>()?;
    if tables.iter().any(|(_, from, _)| *from > after) {
        return Ok(Replay::Gone);
    }
    let mut out = Vec::with_capacity(tables.len());
    for (table, _, name) in tables {
        let columns = column_names(conn, &table)?;
        let width = columns.len();
        let mut select = conn.prepare_cached(&format!(
            "SELECT lsn, rid, op, * FROM {} WHERE lsn > ?1 AND lsn <= ?2 ORDER BY seq",
            quoted(&journal(&table))
        ))?;
        // The journal's own columns (seq, op, rid, lsn) come before the row's.
        let row_at = 3 + 4;
        let changes = select
            .query_map(params![after, upto], |r| {
                let op: String = r.get(2)?;
                let row = match op.as_str() {
                    "I" => Some(
                        (row_at..row_at + width)
                            .map(|n| r.get::<_, Value>(n))
                            .collect::<Result<_, _>>()?,
                    ),
                    _ => None,
                };
                Ok(RowChange {
                    lsn: r.get(0)?,
                    rowid: r.get(1)?,
                    row,
                })
            })?
            .collect::<Result<Vec<_>, _>>()?;
        if !changes.is_empty() {
            out.push(TableChanges {
                sqlite_table: table,
                name,
                columns,
                changes,
            });
        }
    }
    Ok(Replay::Changes(out))
}

/// Redoes `changes` on a copy of their tables (which journals nothing while it is one).
pub fn apply(conn: &Connection, changes: &[TableChanges]) -> rusqlite::Result<()> {
    for table in changes {
        let t = quoted(&table.sqlite_table);
        let names: Vec<String> = table.columns.iter().map(|c| quoted(c)).collect();
        let marks = vec!["?"; names.len() + 1].join(", ");
        let mut insert = conn.prepare_cached(&format!(
            "INSERT OR REPLACE INTO {t} (rowid, {}) VALUES ({marks})",
            names.join(", ")
        ))?;
        let mut delete = conn.prepare_cached(&format!("DELETE FROM {t} WHERE rowid = ?1"))?;
        for change in &table.changes {
            match &change.row {
                Some(row) => {
                    let rowid = Value::Integer(change.rowid);
                    insert.execute(rusqlite::params_from_iter(
                        std::iter::once(&rowid).chain(row),
                    ))?
                }
                None => delete.execute([change.rowid])?,
            };
        }
        // Generated keys go on after the newest row (a generated key is its rowid).
        conn.run(
            &format!("UPDATE \"$user_tables\" SET next_key = MAX(next_key, (SELECT COALESCE(MAX(rowid), 0) + 1 FROM {t})) WHERE sqlite_table = ?1"),
            [&table.sqlite_table],
        )?;
        super::user_tables::recount(conn, &table.sqlite_table)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(conn: &Connection) {
        conn.execute_batch(
            "CREATE TABLE \"$user_tables\" (sqlite_table text PRIMARY KEY, database_id int, object_id int,
                schema_name text DEFAULT 'dbo', name text DEFAULT 't',
                next_key int NOT NULL DEFAULT 1, journal_from real NOT NULL DEFAULT 0);
             CREATE TABLE \"d.dbo.t\" (id INTEGER NOT NULL, v BLOB, PRIMARY KEY (id));
             INSERT INTO \"$user_tables\" (sqlite_table, database_id, object_id) VALUES ('d.dbo.t', 5, 1);
             CREATE TABLE \"sys.partitions\" (object_id int, index_id int, rows int);",
        )
        .unwrap();
    }

    #[test]
    fn a_copy_replays_exactly_the_changes_up_to_a_position() {
        let source = Connection::open_in_memory().unwrap();
        table(&source);
        track(&source, "d.dbo.t").unwrap();
        source
            .execute_batch("INSERT INTO \"d.dbo.t\" VALUES (1, x'00ff'), (2, NULL), (3, x'01')")
            .unwrap();
        stamp(&source, "d.dbo.t", (100.0, 400.0), true).unwrap();
        source
            .execute_batch("UPDATE \"d.dbo.t\" SET v = x'02' WHERE id = 1; DELETE FROM \"d.dbo.t\" WHERE id = 2")
            .unwrap();
        stamp(&source, "d.dbo.t", (400.0, 500.0), false).unwrap();
        let copy = Connection::open_in_memory().unwrap();
        table(&copy);
        let rows = |conn: &Connection| -> Vec<(i64, Option<Vec<u8>>)> {
            conn.prepare("SELECT id, v FROM \"d.dbo.t\" ORDER BY id")
                .unwrap()
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap()
        };
        // Up to 300: the first two rows' transactions (at 200 and 300), not the third's.
        let Replay::Changes(first) = between(&source, 5, 0.0, 300.0).unwrap() else {
            panic!("the journal reaches back");
        };
        apply(&copy, &first).unwrap();
        assert_eq!(rows(&copy), vec![(1, Some(vec![0, 255])), (2, None)]);
        let Replay::Changes(rest) = between(&source, 5, 300.0, 500.0).unwrap() else {
            panic!("the journal reaches back");
        };
        apply(&copy, &rest).unwrap();
        assert_eq!(rows(&copy), rows(&source));
        // Once writable, the copy journals its own changes, and only those.
        track(&copy, "d.dbo.t").unwrap();
        copy.execute_batch("INSERT INTO \"d.dbo.t\" VALUES (9, NULL)")
            .unwrap();
        stamp(&copy, "d.dbo.t", (500.0, 600.0), false).unwrap();
        let Replay::Changes(own) = between(&copy, 5, 0.0, 600.0).unwrap() else {
            panic!("the journal reaches back");
        };
        assert_eq!(own[0].changes.len(), 1, "{own:?}");
    }
}
