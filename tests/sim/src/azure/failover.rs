//! Failover and breaking the link, on both sides (mi-link.md §4):
//!
//! - planned failover needs synchronous commit on both sides and every database
//!   caught up; then the MI becomes primary with nothing lost. With SQL Server 2022
//!   or later the link stays and SQL Server becomes secondary (read-only); with
//!   2016 to 2019 failover breaks the link and SQL Server is left as it was.
//! - forced failover makes the MI primary with what it has hardened, whatever SQL
//!   Server has; SQL Server does not hear of it and stays primary too (split brain,
//!   §4.4) until someone sets it secondary.
//! - deleting the link leaves the MI's copy as an independent, writable database
//!   at what it had received; SQL Server keeps its groups (its DAG must still be
//!   dropped there).
//!
//! The lab does not ship log from the MI back to SQL Server after a failover.

use std::time::Duration;

use crate::engine::{lsn, Instance, Replay};

use super::link::{Failover, Link, LinkError};
use super::replicate::mi_groups;
use super::replication::Phase;
use super::ManagedInstance;

/// What a failover did to the link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The link stays, the MI primary.
    Kept,
    /// The link is gone (SQL Server before 2022).
    Broken,
}

/// Fails `link` over to the MI. `partner` is the SQL Server that answers at the
/// partner endpoint, if any; `sync` whether both sides commit synchronously.
pub fn failover(
    mi: &ManagedInstance,
    link: &mut Link,
    partner: Option<&Instance>,
    kind: Failover,
    sync: bool,
) -> Result<Outcome, LinkError> {
    if link.failover.is_some() {
        return Err(refused(
            "the managed instance is already the link's primary",
        ));
    }
    if kind == Failover::Planned {
        let Some(partner) = partner else {
            return Err(refused("SQL Server is not connected"));
        };
        if !sync {
            return Err(refused("the link must be in synchronous commit on both SQL Server (ALTER AVAILABILITY GROUP ... MODIFY AVAILABILITY GROUP ON ... SYNCHRONOUS_COMMIT) and the managed instance (replicationMode Sync)"));
        }
        if let Some(db) = link
            .databases
            .iter()
            .find(|d| d.replica.phase != Phase::Replicating || !d.replica.caught_up)
        {
            return Err(refused(&format!("database '{}' is not synchronized with SQL Server yet; wait for it to catch up, or stop the workload", db.name)));
        }
        let kept = partner.info.build.parts[0] >= 16;
        promote(mi, link, kind).map_err(internal)?;
        if !kept {
            leave(mi, link).map_err(internal)?;
            return Ok(Outcome::Broken);
        }
        partner.set_link_role(&link.name, false).map_err(internal)?;
        return Ok(Outcome::Kept);
    }
    promote(mi, link, kind).map_err(internal)?;
    Ok(Outcome::Kept)
}

/// The MI's member becomes primary; the MI's copies keep the rows they had hardened.
fn promote(mi: &ManagedInstance, link: &mut Link, kind: Failover) -> rusqlite::Result<()> {
    for db in &mut link.databases {
        settle_rows(mi, db)?;
    }
    mi.engine.set_link_role(&link.name, true)?;
    link.failover = Some(kind);
    link.instance_role = "Primary".into();
    Ok(())
}

/// The link is deleted on the MI: seeded copies stay, writable, with what they had
/// received; a copy still seeding is dropped.
pub fn leave(mi: &ManagedInstance, link: &mut Link) -> rusqlite::Result<()> {
    for db in &mut link.databases {
        match db.replica.phase {
            Phase::Replicating => settle_rows(mi, db)?,
            _ => mi.engine.remove_database(&db.name)?,
        }
    }
    mi.engine.leave_link(&mi_groups(mi, link))
}

/// The rows the MI had the log for when the link stopped: recovery redoes all of it.
/// From now on the copy is writable and its own changes are journaled.
fn settle_rows(mi: &ManagedInstance, db: &mut super::link::LinkDatabase) -> rusqlite::Result<()> {
    super::replicate::redo(mi, db)?;
    mi.engine.journal_rows(&db.name)
}

/// The transactions a forced failover lost from one database: SQL Server's log past
/// what the MI had hardened, and the row changes it held, per table.
#[derive(Debug, Clone, serde::Serialize)]
pub struct LostTail {
    pub database: String,
    /// The MI's last hardened LSN, and SQL Server's end of log then (decimal LSNs).
    pub from_lsn: String,
    pub to_lsn: String,
    pub log_bytes: u64,
    /// `schema.table` and how many row changes (inserts and deletes) were lost.
    pub row_changes: Vec<(String, usize)>,
}

/// What a forced failover of `link` lost, as `source` (its SQL Server, whether the
/// MI could reach it or not) stood when it happened.
pub fn lost(link: &Link, source: &Instance) -> Vec<LostTail> {
    link.databases
        .iter()
        .filter_map(|db| {
            let end = source.log_position(&db.name, Duration::ZERO)?.written;
            let from = db.replica.hardened;
            let row_changes = match source.log_rows(&db.name, from, end) {
                Some(Replay::Changes(tables)) => tables
                    .iter()
                    .map(|t| (t.name.clone(), t.changes.len()))
                    .collect(),
                _ => Vec::new(),
            };
            Some(LostTail {
                database: db.name.clone(),
                from_lsn: lsn(from).to_string(),
                to_lsn: lsn(end.max(from)).to_string(),
                log_bytes: (end - from).max(0.0) as u64,
                row_changes,
            })
        })
        .collect()
}

fn refused(why: &str) -> LinkError {
    LinkError {
        number: 0,
        text: format!("The planned failover cannot start: {why}."),
    }
}

fn internal(e: rusqlite::Error) -> LinkError {
    LinkError {
        number: 0,
        text: format!("ferry-sim: the failover could not be applied: {e}"),
    }
}
