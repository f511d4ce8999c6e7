//! What the MI link changes on an instance that no statement of its own changes: the
//! link is run from outside the engine (`crate::azure`), which reads where a
//! database's log stands and writes what each side shows of the other. Before each
//! statement the instance lets its observers (the link) catch up with the lab clock,
//! so what a statement reads is as current as its workloads. Only the log's position
//! runs the workloads up to now; what the link writes needs the definitions only.

use std::sync::Weak;
use std::time::Duration;

use crate::engine::cached::Cached;

use super::effects::link::{self, LinkGroups, RemoteDatabase, RemoteReplica};
use super::effects::seeding::{self, Seeding};
use super::effects::{record_backup, TakenBackup};
use super::{datetime_text, log, timeline, Instance};

/// Something outside the engine whose state this instance's views show.
pub trait Observer: Send + Sync {
    /// Brings what `instance` shows (and whatever a statement there can change) up
    /// to the lab clock's now.
    fn catch_up(&self, instance: &Instance);
}

/// Where a database's log stands, for the link that ships it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LogPosition {
    pub written: f64,
    /// Where the log stood `delay` ago (the delay asked for).
    pub written_before: f64,
    /// Bytes per second its workload writes now.
    pub rate: f64,
    /// Where the last log backup (not COPY_ONLY) ended.
    pub log_backup: Option<f64>,
    /// The data files' size, bytes.
    pub data_bytes: f64,
}

impl Instance {
    /// Adds an observer, told to catch up before each statement.
    pub fn watch(&self, observer: Weak<dyn Observer>) {
        self.observers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(observer);
    }

    /// Lets every observer catch up; called with no catalog lock held.
    pub(super) fn catch_up(&self) {
        let observers: Vec<_> = self
            .observers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .filter_map(Weak::upgrade)
            .collect();
        for observer in observers {
            observer.catch_up(self);
        }
    }

    /// Where database `database`'s log stands now, and stood `delay` ago.
    pub fn log_position(&self, database: &str, delay: Duration) -> Option<LogPosition> {
        let then = datetime_text(self.info.started + self.clock.elapsed().saturating_sub(delay));
        let catalog = self.catalog();
        let id = catalog.database_id(database)?;
        let conn = &catalog.conn;
        let read = || -> rusqlite::Result<LogPosition> {
            let rate: f64 = conn
                .one(
                    "SELECT COALESCE((SELECT log_bytes_per_sec FROM \"$workload\" WHERE database_id = ?1), 0)",
                    [id],
                    |r| r.get(0),
                )?;
            let pages = data_pages(conn, id)?;
            let written = log::written(conn, id)?;
            Ok(LogPosition {
                written,
                written_before: timeline::written_at(conn, id, &then)?.unwrap_or(written),
                rate,
                log_backup: log::last_log_backup(conn, id)?,
                data_bytes: pages as f64 * 8192.0,
            })
        };
        read()
            .map_err(|e| tracing::error!(database, error = %e, "cannot read the log position"))
            .ok()
    }

    /// A seeded database joins the link's groups on this (receiving) side.
    pub fn join_link_as_secondary(
        &self,
        names: &LinkGroups,
        database: &str,
    ) -> rusqlite::Result<()> {
        let catalog = self.catalog();
        let Some(id) = catalog.database_id(database) else {
            return Ok(());
        };
        let now = self.now_text();
        let tx = catalog.conn.unchecked_transaction()?;
        link::join_as_secondary(&tx, names, (id, database), &now)?;
        log::refresh_replica_states(&tx, id)?;
        tx.commit()
    }

    /// What this side sees of the other member of `link` and of its databases.
    pub fn show_link_remote(
        &self,
        link_name: &str,
        remote_group: &str,
        replica: &RemoteReplica,
        databases: &[(String, RemoteDatabase)],
    ) -> rusqlite::Result<()> {
        let catalog = self.definitions();
        let tx = catalog.conn.unchecked_transaction()?;
        link::show_remote(&tx, link_name, remote_group, replica)?;
        for (name, seen) in databases {
            if let Some(id) = catalog.database_id(name) {
                link::show_remote_database(&tx, link_name, remote_group, id, seen)?;
            }
        }
        tx.commit()
    }

    /// This side's copy of `database` in `link`, as a secondary: 0 NOT SYNCHRONIZING,
    /// 1 SYNCHRONIZING, 2 SYNCHRONIZED.
    pub fn show_link_local_state(
        &self,
        link_name: &str,
        database: &str,
        state: i64,
    ) -> rusqlite::Result<()> {
        let catalog = self.definitions();
        match catalog.database_id(database) {
            Some(id) => link::show_local_state(&catalog.conn, link_name, id, state),
            None => Ok(()),
        }
    }

    pub fn show_seeding(&self, attempt: &Seeding) -> rusqlite::Result<()> {
        let catalog = self.definitions();
        let id = catalog.database_id(&attempt.database);
        seeding::show(&catalog.conn, attempt, id)
    }

    /// This side's member of `link` becomes primary or secondary; false if this side
    /// has no such distributed group.
    pub fn set_link_role(&self, link_name: &str, primary: bool) -> rusqlite::Result<bool> {
        link::set_role(&self.definitions().conn, link_name, primary)
    }

    /// The link's groups are gone from this side; its databases stay.
    pub fn leave_link(&self, names: &LinkGroups) -> rusqlite::Result<()> {
        link::leave(&self.definitions().conn, names)
    }

    /// Each member of distributed group `link` and whether it is SYNCHRONOUS_COMMIT.
    pub fn link_member_modes(&self, link_name: &str) -> Vec<(String, bool)> {
        link::member_modes(&self.definitions().conn, link_name).unwrap_or_default()
    }

    /// The managed instance's automatic full backup of `database`, taken now (the
    /// first one after it became primary is what a cutover waits for, mi-link.md
    /// §4.2 step 7).
    pub fn automatic_full_backup(&self, database: &str) -> rusqlite::Result<()> {
        let catalog = self.catalog();
        let Some(id) = catalog.database_id(database) else {
            return Ok(());
        };
        let conn = &catalog.conn;
        let pages = data_pages(conn, id)?;
        let taken = TakenBackup {
            database: (id, database),
            recovery: "FULL",
            kind: "D",
            copy_only: false,
            bytes: pages * 8192,
            finished: self.info.started + self.clock.elapsed(),
        };
        record_backup(conn, &self.info.name, &taken)
    }

    /// Whether this side's member of `link` is primary.
    pub fn link_is_primary(&self, link_name: &str) -> bool {
        link::is_primary(&self.definitions().conn, link_name).unwrap_or(false)
    }
}

/// The size of database `id`'s data files, 8-KB pages.
fn data_pages(conn: &rusqlite::Connection, id: i64) -> rusqlite::Result<i64> {
    conn.one(
        "SELECT COALESCE(SUM(size), 0) FROM \"sys.master_files\" WHERE database_id = ?1 AND type = 0",
        [id],
        |r| r.get(0),
    )
}
