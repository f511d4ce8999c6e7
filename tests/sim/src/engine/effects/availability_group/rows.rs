//! The rows an availability group shows in the catalog views, written from its spec.
//! Defaults are the documented ones: FAILURE_CONDITION_LEVEL 3, HEALTH_CHECK_TIMEOUT
//! 30000 ms, AUTOMATED_BACKUP_PREFERENCE SECONDARY, SESSION_TIMEOUT 10 s,
//! BACKUP_PRIORITY 50, SEEDING_MODE MANUAL, SECONDARY_ROLE (ALLOW_CONNECTIONS = NO),
//! PRIMARY_ROLE (ALLOW_CONNECTIONS = ALL).

use rusqlite::{params, Connection, OptionalExtension};

use crate::engine::cached::Cached;

use super::spec::{
    BackupPreference, ClusterType, Coded, GroupOptions, PrimaryConnections, ReplicaSpec,
    SecondaryConnections, SeedingMode,
};

/// A group as the catalog holds it.
#[derive(Debug, Clone)]
pub struct Group {
    pub id: String,
    pub name: String,
    pub distributed: bool,
    pub cluster_type: ClusterType,
}

pub fn find(conn: &Connection, name: &str) -> rusqlite::Result<Option<Group>> {
    conn.one(
        "SELECT group_id, name, is_distributed, cluster_type FROM \"sys.availability_groups\" WHERE name = ?1",
        [name],
        |r| {
            Ok(Group {
                id: r.get(0)?,
                name: r.get(1)?,
                distributed: r.get(2)?,
                cluster_type: match r.get::<_, i64>(3)? {
                    0 => ClusterType::Wsfc,
                    1 => ClusterType::External,
                    _ => ClusterType::None,
                },
            })
        },
    )
    .optional()
}

pub fn insert_group(
    conn: &Connection,
    group: &Group,
    options: &GroupOptions,
) -> rusqlite::Result<()> {
    let (cluster, cluster_desc) = group.cluster_type.code();
    let preference = options
        .automated_backup_preference
        .unwrap_or(BackupPreference::Secondary);
    // WSFC groups have a cluster resource; the others do not.
    let resource = (group.cluster_type == ClusterType::Wsfc && !group.distributed)
        .then(|| super::super::super::new_guid().to_lowercase());
    conn.run(
        "INSERT INTO \"sys.availability_groups\" (group_id, name, resource_id, resource_group_id, failure_condition_level,
            health_check_timeout, automated_backup_preference, automated_backup_preference_desc, version, basic_features,
            dtc_support, db_failover, is_distributed, cluster_type, cluster_type_desc, required_synchronized_secondaries_to_commit,
            sequence_number, is_contained)
         VALUES (?1, ?2, ?3, ?3, ?4, ?5, ?6, ?7, 1, ?8, ?9, ?10, ?11, ?12, ?13, ?14, 1, ?15)",
        params![
            group.id,
            group.name,
            resource,
            options.failure_condition_level.unwrap_or(3),
            options.health_check_timeout.unwrap_or(30_000),
            preference.code().0,
            preference.description(),
            options.basic,
            options.dtc_support.unwrap_or(false),
            options.db_failover.unwrap_or(false),
            group.distributed,
            cluster,
            cluster_desc,
            options.required_synchronized_secondaries_to_commit.unwrap_or(0),
            options.contained,
        ],
    )?;
    conn.run(
        "INSERT INTO \"$availability_group\" (group_id) VALUES (?1)",
        [&group.id],
    )?;
    Ok(())
}

/// ALTER AVAILABILITY GROUP ... SET: the options it names.
pub fn update_group(conn: &Connection, id: &str, o: &GroupOptions) -> rusqlite::Result<()> {
    let preference = o.automated_backup_preference;
    conn.run(
        "UPDATE \"sys.availability_groups\" SET
            failure_condition_level = COALESCE(?2, failure_condition_level),
            health_check_timeout = COALESCE(?3, health_check_timeout),
            automated_backup_preference = COALESCE(?4, automated_backup_preference),
            automated_backup_preference_desc = COALESCE(?5, automated_backup_preference_desc),
            db_failover = COALESCE(?6, db_failover),
            dtc_support = COALESCE(?7, dtc_support),
            required_synchronized_secondaries_to_commit = COALESCE(?8, required_synchronized_secondaries_to_commit)
         WHERE group_id = ?1",
        params![
            id,
            o.failure_condition_level,
            o.health_check_timeout,
            preference.map(|p| p.code().0),
            preference.map(BackupPreference::description),
            o.db_failover,
            o.dtc_support,
            o.required_synchronized_secondaries_to_commit,
        ],
    )?;
    Ok(())
}

/// A configuration change moves the group's sequence number.
pub fn touch(conn: &Connection, id: &str) -> rusqlite::Result<()> {
    conn.run(
        "UPDATE \"sys.availability_groups\" SET sequence_number = sequence_number + 1 WHERE group_id = ?1",
        [id],
    )?;
    Ok(())
}

/// A replica's row in sys.availability_replicas and, for the local one, CONNECTED and
/// PRIMARY in sys.dm_hadr_availability_replica_states; a remote one stays
/// DISCONNECTED with no role until its instance joins.
pub fn insert_replica(
    conn: &Connection,
    group_id: &str,
    r: &ReplicaSpec,
    local: bool,
    owner_sid: &[u8],
    now: &str,
) -> rusqlite::Result<String> {
    let id = super::super::super::new_guid();
    let (mode, mode_desc) = r.availability_mode.map(Coded::code).unwrap_or((0, ""));
    let (failover, failover_desc) = r.failover_mode.map(Coded::code).unwrap_or((1, ""));
    let (seeding, seeding_desc) = r.seeding_mode.unwrap_or(SeedingMode::Manual).code();
    let (primary, primary_desc) = r
        .primary_connections
        .unwrap_or(PrimaryConnections::All)
        .code();
    let (secondary, secondary_desc) = r
        .secondary_connections
        .unwrap_or(SecondaryConnections::No)
        .code();
    conn.run(
        "INSERT INTO \"sys.availability_replicas\" (replica_id, group_id, replica_metadata_id, replica_server_name, owner_sid,
            endpoint_url, availability_mode, availability_mode_desc, failover_mode, failover_mode_desc, session_timeout,
            primary_role_allow_connections, primary_role_allow_connections_desc, secondary_role_allow_connections,
            secondary_role_allow_connections_desc, create_date, modify_date, backup_priority, read_only_routing_url,
            seeding_mode, seeding_mode_desc)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?16, ?17, ?18, ?19, ?20)",
        params![
            id,
            group_id,
            local.then_some(65536),
            r.name,
            owner_sid,
            r.endpoint_url,
            mode,
            mode_desc,
            failover,
            failover_desc,
            r.session_timeout.unwrap_or(10),
            primary,
            primary_desc,
            secondary,
            secondary_desc,
            now,
            r.backup_priority.unwrap_or(50),
            r.read_only_routing_url,
            seeding,
            seeding_desc,
        ],
    )?;
    if local {
        conn.run(
            "INSERT INTO \"sys.dm_hadr_availability_replica_states\" (replica_id, group_id, is_local, role, role_desc,
                operational_state, operational_state_desc, connected_state, connected_state_desc, recovery_health,
                recovery_health_desc, synchronization_health, synchronization_health_desc, write_lease_remaining_ticks,
                current_configuration_commit_start_time_utc)
             VALUES (?1, ?2, 1, 1, 'PRIMARY', 2, 'ONLINE', 1, 'CONNECTED', 1, 'ONLINE', 2, 'HEALTHY', NULL, NULL)",
            params![id, group_id],
        )?;
    } else {
        conn.run(
            "INSERT INTO \"sys.dm_hadr_availability_replica_states\" (replica_id, group_id, is_local, connected_state,
                connected_state_desc, synchronization_health, synchronization_health_desc)
             VALUES (?1, ?2, 0, 0, 'DISCONNECTED', 0, 'NOT_HEALTHY')",
            params![id, group_id],
        )?;
    }
    Ok(id)
}

/// ALTER ... MODIFY REPLICA ON / MODIFY AVAILABILITY GROUP ON: the options it names.
pub fn update_replica(
    conn: &Connection,
    id: &str,
    r: &ReplicaSpec,
    now: &str,
) -> rusqlite::Result<()> {
    let mode = r.availability_mode.map(Coded::code);
    let failover = r.failover_mode.map(Coded::code);
    let seeding = r.seeding_mode.map(Coded::code);
    let primary = r.primary_connections.map(Coded::code);
    let secondary = r.secondary_connections.map(Coded::code);
    conn.run(
        "UPDATE \"sys.availability_replicas\" SET
            endpoint_url = COALESCE(?2, endpoint_url),
            availability_mode = COALESCE(?3, availability_mode), availability_mode_desc = COALESCE(?4, availability_mode_desc),
            failover_mode = COALESCE(?5, failover_mode), failover_mode_desc = COALESCE(?6, failover_mode_desc),
            seeding_mode = COALESCE(?7, seeding_mode), seeding_mode_desc = COALESCE(?8, seeding_mode_desc),
            primary_role_allow_connections = COALESCE(?9, primary_role_allow_connections),
            primary_role_allow_connections_desc = COALESCE(?10, primary_role_allow_connections_desc),
            secondary_role_allow_connections = COALESCE(?11, secondary_role_allow_connections),
            secondary_role_allow_connections_desc = COALESCE(?12, secondary_role_allow_connections_desc),
            session_timeout = COALESCE(?13, session_timeout), backup_priority = COALESCE(?14, backup_priority),
            read_only_routing_url = COALESCE(?15, read_only_routing_url), modify_date = ?16
         WHERE replica_id = ?1",
        params![
            id,
            r.endpoint_url,
            mode.map(|m| m.0),
            mode.map(|m| m.1),
            failover.map(|m| m.0),
            failover.map(|m| m.1),
            seeding.map(|m| m.0),
            seeding.map(|m| m.1),
            primary.map(|m| m.0),
            primary.map(|m| m.1),
            secondary.map(|m| m.0),
            secondary.map(|m| m.1),
            r.session_timeout,
            r.backup_priority,
            r.read_only_routing_url,
            now,
        ],
    )?;
    Ok(())
}

/// A replica's id in a group, by server name (or member group name).
pub fn replica_id(
    conn: &Connection,
    group_id: &str,
    name: &str,
) -> rusqlite::Result<Option<String>> {
    conn.one(
        "SELECT replica_id FROM \"sys.availability_replicas\" WHERE group_id = ?1 AND replica_server_name = ?2",
        params![group_id, name],
        |r| r.get(0),
    )
    .optional()
}

/// The local replica's id in a group.
pub fn local_replica(conn: &Connection, group_id: &str) -> rusqlite::Result<Option<String>> {
    conn.one(
        "SELECT replica_id FROM \"sys.dm_hadr_availability_replica_states\" WHERE group_id = ?1 AND is_local = 1",
        [group_id],
        |r| r.get(0),
    )
    .optional()
}

pub fn delete_replica(conn: &Connection, id: &str) -> rusqlite::Result<()> {
    for table in [
        "sys.availability_replicas",
        "sys.dm_hadr_availability_replica_states",
    ] {
        conn.execute(
            &format!("DELETE FROM \"{table}\" WHERE replica_id = ?1"),
            [id],
        )?;
    }
    Ok(())
}

/// A database joins a group on its primary: sys.availability_databases_cluster, the
/// local row of sys.dm_hadr_database_replica_states (its LSNs follow the log; see
/// log::refresh_database) and, for a plain group, sys.databases.replica_id.
pub fn insert_database(
    conn: &Connection,
    group_id: &str,
    replica_id: &str,
    group_database_id: &str,
    database: (i64, &str),
    distributed: bool,
) -> rusqlite::Result<()> {
    let (database_id, name) = database;
    if !distributed {
        conn.run(
            "INSERT INTO \"sys.availability_databases_cluster\" (group_id, group_database_id, database_name) VALUES (?1, ?2, ?3)",
            params![group_id, group_database_id, name],
        )?;
        conn.run(
            "UPDATE \"sys.databases\" SET replica_id = ?2, group_database_id = ?3 WHERE database_id = ?1",
            params![database_id, replica_id, group_database_id],
        )?;
    }
    conn.run(
        "INSERT INTO \"sys.dm_hadr_database_replica_states\" (database_id, group_id, replica_id, group_database_id, is_local,
            is_primary_replica, synchronization_state, synchronization_state_desc, is_commit_participant, synchronization_health,
            synchronization_health_desc, database_state, database_state_desc, is_suspended, log_send_queue_size, log_send_rate,
            redo_queue_size, redo_rate, filestream_send_rate, low_water_mark_for_ghosts, secondary_lag_seconds)
         VALUES (?1, ?2, ?3, ?4, 1, 1, 2, 'SYNCHRONIZED', 1, 2, 'HEALTHY', 0, 'ONLINE', 0, 0, 0, 0, 0, 0, 0, NULL)",
        params![database_id, group_id, replica_id, group_database_id],
    )?;
    Ok(())
}

/// A database leaves every group on this instance that holds it through `group_id`:
/// the plain group and the distributed groups it is a member of.
pub fn delete_database(
    conn: &Connection,
    group_id: &str,
    database: (i64, &str),
) -> rusqlite::Result<()> {
    let (database_id, name) = database;
    conn.run(
        "DELETE FROM \"sys.availability_databases_cluster\" WHERE group_id = ?1 AND database_name = ?2",
        params![group_id, name],
    )?;
    conn.run(
        "DELETE FROM \"sys.dm_hadr_database_replica_states\" WHERE database_id = ?1",
        [database_id],
    )?;
    conn.run(
        "UPDATE \"sys.databases\" SET replica_id = NULL, group_database_id = NULL WHERE database_id = ?1",
        [database_id],
    )?;
    Ok(())
}

/// The databases of a plain group: (database_id, name, group_database_id).
pub fn databases(
    conn: &Connection,
    group_id: &str,
) -> rusqlite::Result<Vec<(i64, String, String)>> {
    conn.prepare_cached(
        "SELECT d.database_id, d.name, c.group_database_id FROM \"sys.availability_databases_cluster\" c
         JOIN \"sys.databases\" d ON d.name = c.database_name WHERE c.group_id = ?1",
    )?
    .query_map([group_id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
    .collect()
}

pub fn delete_group(conn: &Connection, id: &str) -> rusqlite::Result<()> {
    conn.run(
        "UPDATE \"sys.databases\" SET replica_id = NULL, group_database_id = NULL
         WHERE replica_id IN (SELECT replica_id FROM \"sys.availability_replicas\" WHERE group_id = ?1)",
        [id],
    )?;
    for table in [
        "sys.availability_groups",
        "sys.availability_replicas",
        "sys.availability_databases_cluster",
        "sys.dm_hadr_availability_replica_states",
        "sys.dm_hadr_database_replica_states",
        "$availability_group",
    ] {
        conn.execute(
            &format!("DELETE FROM \"{table}\" WHERE group_id = ?1"),
            [id],
        )?;
    }
    Ok(())
}
