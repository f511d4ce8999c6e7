//! The link at work: brings each database of a link up to the lab clock
//! (`replication`) and shows the result on both sides, as the real pair shows it:
//!
//! - on the managed instance, the seeded database (RESTORING while the copy runs,
//!   then ONLINE and read-only as the link's secondary), its rows as of the log it has
//!   hardened, its log position, and the link's groups;
//! - on SQL Server, the MI's member of the distributed group (connected, role,
//!   health, the last connection error) and its copy of each database (hardened LSN,
//!   send queue, lag);
//! - on both, automatic seeding's views.
//!
//! What moved in a look goes to the MI over SQL Server's connection to its link
//! endpoint (`wire`) before either side shows it; when the MI does not acknowledge,
//! neither side shows the progress, and the next look sends it again. A statement on
//! SQL Server is followed by a look, so in synchronous commit its commit returns
//! only after the MI has acknowledged hardening its log.

use std::time::Duration;

use crate::engine::{
    datetime_text, Instance, LinkGroups, RemoteDatabase, RemoteReplica, Replay, Seeding,
    SeedingOutcome,
};

use super::link::{observe, Link, LinkDatabase, Observation, Surroundings, MI_LINK_PORT};
use super::replication::{Conditions, Event, PartnerLog, Phase, CREATION_LIMIT};
use super::wire::{Progress, Wires};
use super::ManagedInstance;

/// The lab's wall-clock time at a point of the lab clock.
pub type TimeAt<'a> = &'a dyn Fn(Duration) -> time::OffsetDateTime;

/// Brings the `wanted` links of `mi` up to `now`. The managed instance's bandwidth
/// is shared by the databases that use it (seeding or catching up); a fault on one
/// path can slow or delay it further.
pub fn links(
    mi: &ManagedInstance,
    links: &mut [Link],
    around: &Surroundings,
    now: Duration,
    time_at: TimeAt,
    wanted: &dyn Fn(&Link) -> bool,
) {
    let busy = links
        .iter()
        .flat_map(|l| &l.databases)
        .filter(|d| d.replica.busy())
        .count()
        .max(1);
    let share = mi.spec.link_bandwidth_mbps * 125_000.0 / busy as f64;
    for link in links.iter_mut().filter(|l| wanted(l)) {
        let seen = observe(link, mi, around);
        let path = seen.path;
        let network = Network {
            bandwidth: path
                .bandwidth_mbps
                .map_or(share, |cap| share.min(cap * 125_000.0)),
            latency: Duration::from_secs_f64(mi.spec.link_latency_ms / 1000.0) + path.added_latency,
        };
        if let Err(e) = one(mi, link, &seen, now, network, (time_at, around.wires)) {
            tracing::error!(link = %link.name, error = %e, "the link could not move on");
        }
    }
}

/// How far each database of `link` has got, where the MI has not acknowledged it.
fn unshipped(link: &Link) -> Vec<Progress> {
    link.databases
        .iter()
        .filter_map(|d| {
            let (seeding, upto) = match d.replica.phase {
                Phase::Seeding { copied, .. } => (true, copied),
                Phase::Replicating => (false, d.replica.hardened),
                _ => return None,
            };
            let progress = Progress {
                link: link.name.clone(),
                database: d.name.clone(),
                seeding,
                upto,
            };
            (d.shipped.as_ref() != Some(&progress)).then_some(progress)
        })
        .collect()
}

/// Whether the link commits synchronously: ARM's `replicationMode` Sync and both
/// members SYNCHRONOUS_COMMIT in SQL Server's distributed group (mi-link.md §4.2).
pub fn synchronous(link: &Link, partner: Option<&Instance>) -> bool {
    link.sync
        && partner.is_some_and(|p| {
            let modes = p.link_member_modes(&link.name);
            !modes.is_empty() && modes.iter().all(|(_, sync)| *sync)
        })
}

/// Where a database's log stands on SQL Server, as the model reads it, and what of
/// it could have crossed a network `latency` long.
pub fn partner_log(partner: Option<&Instance>, database: &str, latency: Duration) -> PartnerLog {
    partner
        .and_then(|p| p.log_position(database, latency))
        .map_or(PartnerLog::default(), |p| PartnerLog {
            written: p.written,
            sent: p.written_before,
            rate: p.rate,
            log_backup: p.log_backup,
            size: p.data_bytes,
        })
}

/// The link's group names as the managed instance's side sees them.
pub fn mi_groups(mi: &ManagedInstance, link: &Link) -> LinkGroups {
    LinkGroups {
        link: link.name.clone(),
        local_group: link.instance_group.clone(),
        remote_group: link.partner_group.clone(),
        local_url: format!("tcp://{}:{MI_LINK_PORT}", mi.fqdn),
        remote_url: link.partner_endpoint.clone(),
        local_server: mi.spec.name.clone(),
    }
}

/// A link's share of the network: bytes a second, and the one-way delay.
#[derive(Clone, Copy)]
struct Network {
    bandwidth: f64,
    latency: Duration,
}

fn one(
    mi: &ManagedInstance,
    link: &mut Link,
    seen: &Observation,
    now: Duration,
    Network { bandwidth, latency }: Network,
    (time_at, wires): (TimeAt, &Wires),
) -> rusqlite::Result<()> {
    let partner = seen.partner.clone();
    // After a failover the MI is primary: the lab does not ship log back.
    let shipping = link.failover.is_none();
    let sync = synchronous(link, partner.as_deref());
    let mut remote = Vec::new();
    let groups = mi_groups(mi, link);
    let mut logs = Vec::with_capacity(link.databases.len());
    for (n, db) in link.databases.iter_mut().enumerate() {
        let log = partner_log(partner.as_deref(), &db.name, latency);
        logs.push(log);
        let ready = shipping && seen.connected && seen.database_errors[n].is_none();
        let conditions = Conditions {
            ready,
            sync,
            bandwidth,
            latency,
            cancel_at: link.created_at + CREATION_LIMIT,
        };
        let events = if shipping {
            db.replica.advance(now, &log, conditions)
        } else {
            Vec::new()
        };
        for event in events {
            happened(mi, &groups, db, partner.as_deref(), event, now, time_at)?;
        }
    }
    // What moved goes over the wire; each side shows only what the MI acknowledged.
    let progress = unshipped(link);
    let carried = partner
        .as_ref()
        .filter(|_| shipping && seen.connected && !progress.is_empty());
    if let Some(partner) = carried {
        let sent = wires.ship(&partner.info.name, mi.link_address(), progress.clone());
        if let Err(why) = sent {
            tracing::warn!(link = %link.name, why, "the link's progress did not reach the MI");
            return Ok(());
        }
        for p in progress {
            if let Some(db) = link.databases.iter_mut().find(|d| d.name == p.database) {
                db.shipped = Some(p);
            }
        }
    }
    for (db, log) in link.databases.iter_mut().zip(logs) {
        if matches!(db.replica.phase, Phase::Seeding { .. }) {
            let running = SeedingOutcome::Running;
            show_seeding(mi, &groups, db, partner.as_deref(), running, time_at, now)?;
        }
        if db.replica.phase == Phase::Replicating && shipping {
            mi.engine.receive_log(&db.name, db.replica.hardened)?;
            receive_rows(db, partner.as_deref());
            if seen.redo_held {
                let behind = db.replica.hardened > db.rows_at;
                db.redo_behind_since = db.redo_behind_since.or(behind.then_some(now));
            } else {
                db.redo_behind_since = None;
                redo(mi, db)?;
            }
            let state = db.replica.synchronization_state(seen.connected, sync);
            mi.engine
                .show_link_local_state(&groups.link, &db.name, state)?;
            remote.push((
                db.name.clone(),
                remote_database(db, &log, seen.connected, sync, time_at),
            ));
        }
    }
    let Some(partner) = partner else {
        return Ok(());
    };
    let error = seen
        .error
        .as_ref()
        .map(|e| (e.number, e.text.clone(), datetime_text(time_at(now))));
    let replica = RemoteReplica {
        connected: seen.connected,
        primary: link.failover.is_some(),
        healthy: seen.connected && link.databases.iter().all(|d| d.replica.caught_up),
        error,
    };
    partner.show_link_remote(&link.name, &link.instance_group, &replica, &remote)?;
    mi.engine.show_link_remote(
        &link.name,
        &link.partner_group,
        &RemoteReplica {
            primary: link.failover.is_none(),
            healthy: seen.connected,
            ..replica
        },
        &[],
    )
}

/// What SQL Server shows of the MI's copy of a database.
fn remote_database(
    db: &LinkDatabase,
    log: &PartnerLog,
    connected: bool,
    sync: bool,
    time_at: TimeAt,
) -> RemoteDatabase {
    let r = &db.replica;
    let backlog = r.backlog(log);
    RemoteDatabase {
        state: r.synchronization_state(connected, sync),
        healthy: connected && r.caught_up,
        hardened_lsn: crate::engine::lsn(r.hardened),
        hardened_time: r.hardened_at.map(|t| datetime_text(time_at(t))),
        send_queue_kb: (backlog / 1024.0).ceil() as i64,
        send_rate: (r.transfer_rate / 1024.0) as i64,
        lag_secs: r.lag_secs(log),
    }
}

/// Makes an event of the model show on the instances.
fn happened(
    mi: &ManagedInstance,
    groups: &LinkGroups,
    db: &mut LinkDatabase,
    partner: Option<&Instance>,
    event: Event,
    now: Duration,
    time_at: TimeAt,
) -> rusqlite::Result<()> {
    match event {
        Event::SeedingStarted => {
            let id = || crate::engine::new_guid().to_lowercase();
            db.seeding_ids = (id(), id());
            db.seeding_started = datetime_text(time_at(now));
            db.pending = partner.and_then(|p| p.database_image(&db.name));
            if let Some(image) = &db.pending {
                mi.engine.restore_begin(image)?;
            }
        }
        Event::SeedingAborted => {
            let at = datetime_text(time_at(now));
            let lost = SeedingOutcome::Failed(
                10054,
                "The connection to the partner was lost; seeding restarts when it is back.".into(),
                at,
            );
            show_seeding(mi, groups, db, partner, lost, time_at, now)?;
            mi.engine.remove_database(&db.name)?;
            db.pending = None;
        }
        Event::Seeded { .. } => {
            if let Some(image) = db.pending.take() {
                mi.engine.restore_finish(&image)?;
                db.rows_at = image.written;
                db.received = image.written;
                db.redo.clear();
            }
            mi.engine.join_link_as_secondary(groups, &db.name)?;
            let at = db.replica.seeded_at.unwrap_or(now);
            let done = SeedingOutcome::Completed(datetime_text(time_at(at)));
            show_seeding(mi, groups, db, partner, done, time_at, now)?;
        }
        Event::Failed(e) => {
            let failed =
                SeedingOutcome::Failed(e.number, e.text.clone(), datetime_text(time_at(now)));
            show_seeding(mi, groups, db, partner, failed, time_at, now)?;
        }
    }
    Ok(())
}

/// The row changes in the log the MI hardened come with it: SQL Server's row log
/// from `received` up to `hardened`. When that log no longer reaches back, a whole
/// copy of the rows is taken instead, to show once the MI has hardened its position.
fn receive_rows(db: &mut LinkDatabase, partner: Option<&Instance>) {
    let upto = db.replica.hardened;
    if db.pending.is_some() || upto <= db.received {
        return;
    }
    match partner.and_then(|p| p.log_rows(&db.name, db.received, upto)) {
        Some(Replay::Changes(changes)) => {
            db.redo.extend(changes);
            db.received = upto;
        }
        Some(Replay::Gone) => {
            tracing::warn!(database = %db.name, "SQL Server's row log no longer reaches back to the MI's; copying the rows whole");
            db.redo.clear();
            db.pending = partner.and_then(|p| p.database_image(&db.name));
        }
        None => {}
    }
}

/// The MI redoes what it has received: its rows become SQL Server's as of the log
/// it has hardened, never a row it has not received the log for.
pub fn redo(mi: &ManagedInstance, db: &mut LinkDatabase) -> rusqlite::Result<()> {
    if let Some(image) = &db.pending {
        if db.replica.hardened < image.written {
            return Ok(());
        }
        mi.engine.restore_rows(image)?;
        db.rows_at = image.written;
        db.received = image.written;
        db.pending = None;
    }
    if !db.redo.is_empty() {
        mi.engine.redo_rows(&db.redo)?;
        db.redo.clear();
    }
    db.rows_at = db.rows_at.max(db.received);
    Ok(())
}

/// The seeding attempt's rows on both sides.
fn show_seeding(
    mi: &ManagedInstance,
    groups: &LinkGroups,
    db: &LinkDatabase,
    partner: Option<&Instance>,
    outcome: SeedingOutcome,
    time_at: TimeAt,
    now: Duration,
) -> rusqlite::Result<()> {
    let (size, copied) = match db.replica.phase {
        Phase::Seeding { size, copied, .. } => (size, copied),
        _ => (0.0, 0.0),
    };
    let rate = db.replica.transfer_rate;
    let estimate = (rate > 0.0).then(|| {
        datetime_text(time_at(
            now + Duration::from_secs_f64((size - copied) / rate),
        ))
    });
    let attempt = |is_source: bool, ids: (String, String), remote: String| Seeding {
        operation_id: ids.0,
        remote_operation_id: ids.1,
        link: groups.link.clone(),
        database: db.name.clone(),
        remote_machine: remote,
        is_source,
        attempt: db.replica.attempts,
        transferred: copied,
        size,
        rate,
        started: db.seeding_started.clone(),
        estimate: estimate.clone(),
        outcome: outcome.clone(),
    };
    let (mine, theirs) = db.seeding_ids.clone();
    mi.engine.show_seeding(&attempt(
        false,
        (mine.clone(), theirs.clone()),
        partner.map_or_else(String::new, |p| p.info.name.clone()),
    ))?;
    if let Some(p) = partner {
        p.show_seeding(&attempt(true, (theirs, mine), mi.spec.name.clone()))?;
    }
    Ok(())
}
