//! A database copied from one instance to another, as the MI link's seeding copies it:
//! its shape (files, compatibility level, collation), its user tables and their rows.
//! The destination shows the copy RESTORING while seeding runs and ONLINE once it
//! completes; later row copies bring it up to a newer point of the source. A copy
//! that is thrown away (seeding restarted) leaves nothing behind.

use rusqlite::{params, Connection};

use crate::engine::cached::Cached;

use super::row_log::{self, Replay, TableChanges};
use super::user_tables::{self, TableImage};
use super::{log, populate, Instance};

/// One database as its source holds it at one moment.
#[derive(Debug, Clone)]
pub struct DatabaseImage {
    pub name: String,
    pub compatibility_level: i64,
    pub collation: String,
    pub data_files: u32,
    pub log_files: u32,
    pub data_mb: u64,
    pub log_mb: u64,
    /// The source's log position the rows are as of, bytes.
    pub written: f64,
    pub tables: Vec<TableImage>,
}

impl Instance {
    /// Database `name` as its workload last left it (at most a workload step ago),
    /// rows and log position together; None if there is no such database.
    pub fn database_image(&self, name: &str) -> Option<DatabaseImage> {
        let catalog = self.definitions();
        let id = catalog.database_id(name)?;
        export(&catalog.conn, id)
            .map_err(|e| tracing::error!(database = name, error = %e, "cannot copy database"))
            .ok()
    }

    /// Starts a copy of `image` (without its rows): the database exists, RESTORING,
    /// its log at `image.written`. An earlier copy of the same name is replaced.
    pub fn restore_begin(&self, image: &DatabaseImage) -> rusqlite::Result<()> {
        let mut catalog = self.catalog();
        let conn = &catalog.conn;
        let tx = conn.unchecked_transaction()?;
        if let Some(id) = catalog.database_id(&image.name) {
            remove(&tx, id, &image.name)?;
        }
        let id: i64 = tx.one(
            "SELECT MAX(COALESCE(MAX(database_id), 0) + 1, 5) FROM \"sys.databases\"",
            [],
            |r| r.get(0),
        )?;
        let now = self.now_text();
        populate::insert_database(
            &tx,
            id,
            &image.name,
            image.compatibility_level,
            &image.collation,
            1,
            false,
            false,
            &now,
        )?;
        populate::insert_files(
            &tx,
            id,
            &image.name,
            image.data_files,
            image.log_files,
            image.data_mb,
            image.log_mb,
            false,
            0,
        )?;
        log::create(&tx, id, image.written)?;
        user_tables::create_schemas(&tx, id)?;
        populate::insert_database_counters(&tx, &image.name)?;
        tx.run(
            "UPDATE \"sys.databases\" SET state = 1, state_desc = 'RESTORING' WHERE database_id = ?1",
            [id],
        )?;
        log::refresh(&tx, id)?;
        tx.commit()?;
        catalog.shapes = super::shapes(&catalog.conn)?;
        Ok(())
    }

    /// Completes a copy begun with [`Instance::restore_begin`]: the tables and rows
    /// of `image` are in place and the database is ONLINE.
    pub fn restore_finish(&self, image: &DatabaseImage) -> rusqlite::Result<()> {
        let mut catalog = self.catalog();
        let Some(id) = catalog.database_id(&image.name) else {
            return Ok(());
        };
        let tx = catalog.conn.unchecked_transaction()?;
        let now = self.now_text();
        for table in &image.tables {
            user_tables::import(&tx, id, table, &now)?;
        }
        tx.run(
            "UPDATE \"sys.databases\" SET state = 0, state_desc = 'ONLINE' WHERE database_id = ?1",
            [id],
        )?;
        tx.commit()?;
        catalog.shapes = super::shapes(&catalog.conn)?;
        Ok(())
    }

    /// Brings a copy's rows up to `image` (a newer point of the source).
    pub fn restore_rows(&self, image: &DatabaseImage) -> rusqlite::Result<()> {
        let catalog = self.catalog();
        let tx = catalog.conn.unchecked_transaction()?;
        for table in &image.tables {
            user_tables::replace_rows(&tx, table)?;
        }
        tx.commit()
    }

    /// The row changes database `name` committed after log position `after` up to
    /// `upto`; None if there is no such database.
    pub fn log_rows(&self, name: &str, after: f64, upto: f64) -> Option<Replay> {
        let catalog = self.definitions();
        let id = catalog.database_id(name)?;
        row_log::between(&catalog.conn, id, after, upto)
            .map_err(|e| tracing::error!(database = name, error = %e, "cannot read the row log"))
            .ok()
    }

    /// Journals the changes to database `name`'s user tables from now on: a copy,
    /// which takes its rows from its source's log, once it is writable.
    pub fn journal_rows(&self, name: &str) -> rusqlite::Result<()> {
        let catalog = self.definitions();
        let Some(id) = catalog.database_id(name) else {
            return Ok(());
        };
        let tables: Vec<String> = catalog
            .conn
            .prepare("SELECT sqlite_table FROM \"$user_tables\" WHERE database_id = ?1")?
            .query_map([id], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        for table in tables {
            row_log::track(&catalog.conn, &table)?;
        }
        Ok(())
    }

    /// Redoes row changes read from a copy's source.
    pub fn redo_rows(&self, changes: &[TableChanges]) -> rusqlite::Result<()> {
        let catalog = self.catalog();
        let tx = catalog.conn.unchecked_transaction()?;
        row_log::apply(&tx, changes)?;
        tx.commit()
    }

    /// Throws a copy away: the database and every row that describes it.
    pub fn remove_database(&self, name: &str) -> rusqlite::Result<()> {
        let mut catalog = self.catalog();
        let Some(id) = catalog.database_id(name) else {
            return Ok(());
        };
        let tx = catalog.conn.unchecked_transaction()?;
        remove(&tx, id, name)?;
        tx.commit()?;
        catalog.shapes = super::shapes(&catalog.conn)?;
        Ok(())
    }

    /// Moves a copy's log to `written` bytes (the log it has received).
    pub fn receive_log(&self, name: &str, written: f64) -> rusqlite::Result<()> {
        let catalog = self.catalog();
        let Some(id) = catalog.database_id(name) else {
            return Ok(());
        };
        let conn = &catalog.conn;
        let behind = written - log::written(conn, id)?;
        if behind > 0.0 {
            log::receive(conn, id, behind)?;
            log::refresh(conn, id)?;
        }
        Ok(())
    }
}

fn export(conn: &Connection, id: i64) -> rusqlite::Result<DatabaseImage> {
    let (name, compatibility_level, collation): (String, i64, String) = conn.one(
        "SELECT name, compatibility_level, collation_name FROM \"sys.databases\" WHERE database_id = ?1",
        [id],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
    )?;
    let files = |kind: i64| -> rusqlite::Result<(u32, u64)> {
        conn.one(
            "SELECT COUNT(*), COALESCE(SUM(size), 0) / 128 FROM \"sys.master_files\" WHERE database_id = ?1 AND type = ?2",
            params![id, kind],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
    };
    let (data_files, data_mb) = files(0)?;
    let (log_files, log_mb) = files(1)?;
    Ok(DatabaseImage {
        name,
        compatibility_level,
        collation,
        data_files,
        log_files,
        data_mb,
        log_mb,
        written: log::written(conn, id)?,
        tables: user_tables::export(conn, id)?,
    })
}

/// Deletes database `id` from every catalog table that keys rows by database, its
/// user tables, and its performance counters.
fn remove(conn: &Connection, id: i64, name: &str) -> rusqlite::Result<()> {
    let user: Vec<String> = conn
        .prepare("SELECT sqlite_table FROM \"$user_tables\" WHERE database_id = ?1")?
        .query_map([id], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    for table in user {
        conn.execute(&format!("DROP TABLE IF EXISTS \"{table}\""), [])?;
        row_log::drop_journal(conn, &table)?;
    }
    let keyed: Vec<(String, String)> = conn
        .prepare(
            "SELECT m.name, c.name FROM sqlite_master m JOIN pragma_table_info(m.name) c
             WHERE m.type = 'table' AND c.name IN ('database_id', '$database_id')",
        )?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    for (table, column) in keyed {
        conn.execute(
            &format!("DELETE FROM \"{table}\" WHERE \"{column}\" = ?1"),
            [id],
        )?;
    }
    conn.run(
        "DELETE FROM \"sys.dm_os_performance_counters\" WHERE object_name = 'SQLServer:Databases' AND instance_name = ?1",
        [name],
    )?;
    log::refresh_totals(conn)
}
