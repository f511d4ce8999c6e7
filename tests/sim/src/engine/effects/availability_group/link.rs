//! The rows the MI link writes on each side, where no statement of the instance's own
//! makes them: on the managed instance, the groups the link creates when a database
//! is seeded (its availability group and its member of the distributed group, as
//! SECONDARY); on both sides, what each sees of the other replica and of the other's
//! copy of each database (connected, role, health, hardened LSN, queues); and the
//! role changes a failover makes.

use rusqlite::{params, Connection, OptionalExtension};

use crate::engine::cached::Cached;

use super::rows::{self, Group};
use super::spec::{
    AvailabilityMode, ClusterType, FailoverMode, GroupOptions, ReplicaSpec, SeedingMode,
};

/// The names of a link's groups, as one side sees them.
#[derive(Debug, Clone)]
pub struct LinkGroups {
    /// The distributed group (the link's name).
    pub link: String,
    /// This side's availability group, and the other side's.
    pub local_group: String,
    pub remote_group: String,
    pub local_url: String,
    pub remote_url: String,
    /// This side's server name, the one replica of its availability group.
    pub local_server: String,
}

/// What one side shows of the other member of the distributed group.
#[derive(Debug, Clone)]
pub struct RemoteReplica {
    pub connected: bool,
    pub primary: bool,
    pub healthy: bool,
    /// The last connection error: number, text, time.
    pub error: Option<(u32, String, String)>,
}

/// What one side shows of the other's copy of a database.
#[derive(Debug, Clone)]
pub struct RemoteDatabase {
    /// sys.dm_hadr_database_replica_states.synchronization_state: 0 NOT SYNCHRONIZING,
    /// 1 SYNCHRONIZING, 2 SYNCHRONIZED.
    pub state: i64,
    pub healthy: bool,
    pub hardened_lsn: i64,
    pub hardened_time: Option<String>,
    pub send_queue_kb: i64,
    pub send_rate: i64,
    pub lag_secs: i64,
}

const STATES: [&str; 3] = ["NOT SYNCHRONIZING", "SYNCHRONIZING", "SYNCHRONIZED"];

fn distributed(conn: &Connection, name: &str) -> rusqlite::Result<Option<Group>> {
    Ok(rows::find(conn, name)?.filter(|g| g.distributed))
}

/// The replica id of member `member` in group `group_id`.
fn member(conn: &Connection, group_id: &str, member: &str) -> rusqlite::Result<Option<String>> {
    conn.one(
        "SELECT replica_id FROM \"sys.availability_replicas\" WHERE group_id = ?1 AND replica_server_name = ?2",
        params![group_id, member],
        |r| r.get(0),
    )
    .optional()
}

/// On the side that receives a seeded database: its availability group and its
/// member of the distributed group (created with the first database), and the
/// database in both, SECONDARY in the distributed group.
pub fn join_as_secondary(
    conn: &Connection,
    names: &LinkGroups,
    database: (i64, &str),
    now: &str,
) -> rusqlite::Result<()> {
    let replica = |name: &str, url: &str, mode| ReplicaSpec {
        name: name.to_string(),
        endpoint_url: Some(url.to_string()),
        availability_mode: Some(mode),
        failover_mode: Some(FailoverMode::Manual),
        seeding_mode: Some(SeedingMode::Automatic),
        ..ReplicaSpec::default()
    };
    let group = match rows::find(conn, &names.local_group)? {
        Some(g) => g,
        None => {
            let g = Group {
                id: crate::engine::new_guid(),
                name: names.local_group.clone(),
                distributed: false,
                cluster_type: ClusterType::None,
            };
            rows::insert_group(conn, &g, &GroupOptions::default())?;
            let spec = replica(
                &names.local_server,
                &names.local_url,
                AvailabilityMode::Synchronous,
            );
            rows::insert_replica(conn, &g.id, &spec, true, &[], now)?;
            g
        }
    };
    let dag = match distributed(conn, &names.link)? {
        Some(g) => g,
        None => {
            let g = Group {
                id: crate::engine::new_guid(),
                name: names.link.clone(),
                distributed: true,
                cluster_type: ClusterType::None,
            };
            let options = GroupOptions {
                distributed: true,
                ..GroupOptions::default()
            };
            rows::insert_group(conn, &g, &options)?;
            let asynchronous = AvailabilityMode::Asynchronous;
            let remote = replica(&names.remote_group, &names.remote_url, asynchronous);
            let local = replica(&names.local_group, &names.local_url, asynchronous);
            rows::insert_replica(conn, &g.id, &remote, false, &[], now)?;
            rows::insert_replica(conn, &g.id, &local, true, &[], now)?;
            set_local_role(conn, &g.id, false)?;
            g
        }
    };
    let local_replica = rows::local_replica(conn, &group.id)?.unwrap_or_default();
    let dag_replica = rows::local_replica(conn, &dag.id)?.unwrap_or_default();
    let group_database_id = crate::engine::new_guid();
    rows::insert_database(
        conn,
        &group.id,
        &local_replica,
        &group_database_id,
        database,
        false,
    )?;
    rows::insert_database(
        conn,
        &dag.id,
        &dag_replica,
        &group_database_id,
        database,
        true,
    )?;
    conn.run(
        "UPDATE \"sys.dm_hadr_database_replica_states\" SET is_primary_replica = 0, synchronization_state = 1,
            synchronization_state_desc = 'SYNCHRONIZING', is_commit_participant = 0
         WHERE group_id = ?1 AND database_id = ?2",
        params![dag.id, database.0],
    )?;
    Ok(())
}

/// The local member's role in distributed group `group_id`, and whether its
/// databases take writes (a secondary's do not).
pub(super) fn set_local_role(
    conn: &Connection,
    group_id: &str,
    primary: bool,
) -> rusqlite::Result<()> {
    let (role, desc) = if primary {
        (1, "PRIMARY")
    } else {
        (2, "SECONDARY")
    };
    conn.run(
        "UPDATE \"sys.dm_hadr_availability_replica_states\" SET role = ?2, role_desc = ?3 WHERE group_id = ?1 AND is_local = 1",
        params![group_id, role, desc],
    )?;
    conn.run(
        "UPDATE \"sys.dm_hadr_database_replica_states\" SET is_primary_replica = ?2 WHERE group_id = ?1 AND is_local = 1",
        params![group_id, primary],
    )?;
    Ok(())
}

/// A failover: this side's member of distributed group `link` becomes primary (or
/// secondary). False if there is no such group.
pub fn set_role(conn: &Connection, link: &str, primary: bool) -> rusqlite::Result<bool> {
    let Some(dag) = distributed(conn, link)? else {
        return Ok(false);
    };
    set_local_role(conn, &dag.id, primary)?;
    rows::touch(conn, &dag.id)?;
    Ok(true)
}

/// The link is gone from this side: its distributed group and this side's
/// availability group, and their rows; the databases stay, writable.
pub fn leave(conn: &Connection, names: &LinkGroups) -> rusqlite::Result<()> {
    for name in [&names.link, &names.local_group] {
        if let Some(group) = rows::find(conn, name)? {
            rows::delete_group(conn, &group.id)?;
        }
    }
    Ok(())
}

/// What this side sees of the other member of distributed group `link`.
pub fn show_remote(
    conn: &Connection,
    link: &str,
    remote_group: &str,
    seen: &RemoteReplica,
) -> rusqlite::Result<()> {
    let Some(dag) = distributed(conn, link)? else {
        return Ok(());
    };
    let Some(replica) = member(conn, &dag.id, remote_group)? else {
        return Ok(());
    };
    let (role, role_desc) = match (seen.connected, seen.primary) {
        (false, _) => (None, None),
        (true, true) => (Some(1), Some("PRIMARY")),
        (true, false) => (Some(2), Some("SECONDARY")),
    };
    let health = if seen.healthy {
        (2, "HEALTHY")
    } else {
        (0, "NOT_HEALTHY")
    };
    let connected = if seen.connected {
        (1, "CONNECTED")
    } else {
        (0, "DISCONNECTED")
    };
    let (number, text, at) = seen
        .error
        .clone()
        .map_or((None, None, None), |(n, t, a)| (Some(n), Some(t), Some(a)));
    conn.run(
        "UPDATE \"sys.dm_hadr_availability_replica_states\" SET role = ?2, role_desc = ?3, connected_state = ?4,
            connected_state_desc = ?5, synchronization_health = ?6, synchronization_health_desc = ?7,
            operational_state = NULL, operational_state_desc = NULL,
            last_connect_error_number = COALESCE(?8, last_connect_error_number),
            last_connect_error_description = COALESCE(?9, last_connect_error_description),
            last_connect_error_timestamp = COALESCE(?10, last_connect_error_timestamp)
         WHERE replica_id = ?1",
        params![replica, role, role_desc, connected.0, connected.1, health.0, health.1, number, text, at],
    )?;
    Ok(())
}

/// What this side sees of the other member's copy of database `database_id` in
/// distributed group `link`.
pub fn show_remote_database(
    conn: &Connection,
    link: &str,
    remote_group: &str,
    database_id: i64,
    seen: &RemoteDatabase,
) -> rusqlite::Result<()> {
    let Some(dag) = distributed(conn, link)? else {
        return Ok(());
    };
    let Some(replica) = member(conn, &dag.id, remote_group)? else {
        return Ok(());
    };
    let group_database_id: Option<String> = conn
        .one(
            "SELECT group_database_id FROM \"sys.dm_hadr_database_replica_states\" WHERE group_id = ?1 AND database_id = ?2 AND is_local = 1",
            params![dag.id, database_id],
            |r| r.get(0),
        )
        .optional()?;
    let Some(group_database_id) = group_database_id else {
        return Ok(());
    };
    let state = seen.state.clamp(0, 2);
    let health = if seen.healthy {
        (2, "HEALTHY")
    } else {
        (0, "NOT_HEALTHY")
    };
    conn.run(
        "DELETE FROM \"sys.dm_hadr_database_replica_states\" WHERE group_id = ?1 AND replica_id = ?2 AND database_id = ?3",
        params![dag.id, replica, database_id],
    )?;
    conn.run(
        "INSERT INTO \"sys.dm_hadr_database_replica_states\" (database_id, group_id, replica_id, group_database_id, is_local,
            is_primary_replica, synchronization_state, synchronization_state_desc, is_commit_participant, synchronization_health,
            synchronization_health_desc, database_state, database_state_desc, is_suspended, last_sent_lsn, last_sent_time,
            last_received_lsn, last_received_time, last_hardened_lsn, last_hardened_time, last_redone_lsn, last_redone_time,
            log_send_queue_size, log_send_rate, redo_queue_size, redo_rate, filestream_send_rate, end_of_log_lsn,
            last_commit_lsn, last_commit_time, low_water_mark_for_ghosts, secondary_lag_seconds)
         VALUES (?1, ?2, ?3, ?4, 0, 0, ?5, ?6, ?7, ?8, ?9, NULL, NULL, 0, ?10, ?11, ?10, ?11, ?10, ?11, ?10, ?11,
            ?12, ?13, 0, ?13, 0, ?10, ?10, ?11, 0, ?14)",
        params![
            database_id,
            dag.id,
            replica,
            group_database_id,
            state,
            STATES[state as usize],
            state == 2,
            health.0,
            health.1,
            seen.hardened_lsn,
            seen.hardened_time,
            seen.send_queue_kb,
            seen.send_rate,
            seen.lag_secs,
        ],
    )?;
    Ok(())
}

/// This side's own copy of database `database_id` in distributed group `link`: its
/// synchronization state as a secondary.
pub fn show_local_state(
    conn: &Connection,
    link: &str,
    database_id: i64,
    state: i64,
) -> rusqlite::Result<()> {
    let Some(dag) = distributed(conn, link)? else {
        return Ok(());
    };
    let state = state.clamp(0, 2);
    conn.run(
        "UPDATE \"sys.dm_hadr_database_replica_states\" SET synchronization_state = ?3, synchronization_state_desc = ?4,
            synchronization_health = ?5, synchronization_health_desc = ?6
         WHERE group_id = ?1 AND database_id = ?2 AND is_local = 1 AND is_primary_replica = 0",
        params![
            dag.id,
            database_id,
            state,
            STATES[state as usize],
            if state > 0 { 2 } else { 0 },
            if state > 0 { "HEALTHY" } else { "NOT_HEALTHY" }
        ],
    )?;
    Ok(())
}

/// The members' availability modes of distributed group `link`, by member name.
pub fn member_modes(conn: &Connection, link: &str) -> rusqlite::Result<Vec<(String, bool)>> {
    let Some(dag) = distributed(conn, link)? else {
        return Ok(Vec::new());
    };
    conn.prepare_cached(
        "SELECT replica_server_name, availability_mode = 1 FROM \"sys.availability_replicas\" WHERE group_id = ?1",
    )?
    .query_map([&dag.id], |r| Ok((r.get(0)?, r.get(1)?)))?
    .collect()
}

/// Whether this side's member of distributed group `link` is primary.
pub fn is_primary(conn: &Connection, link: &str) -> rusqlite::Result<bool> {
    let Some(dag) = distributed(conn, link)? else {
        return Ok(false);
    };
    Ok(conn
        .one(
            "SELECT role FROM \"sys.dm_hadr_availability_replica_states\" WHERE group_id = ?1 AND is_local = 1",
            [&dag.id],
            |r| r.get::<_, Option<i64>>(0),
        )
        .optional()?
        .flatten()
        == Some(1))
}
