//! What CREATE, ALTER and DROP AVAILABILITY GROUP check and change. Error numbers and
//! texts are SQL Server's (sql-docs, "Database engine events and errors 31000-41399").

use std::collections::HashSet;

use rusqlite::OptionalExtension;

use crate::tds::tokens::Message;

use super::super::super::session::Output;
use super::super::super::{datetime_text, errors, log, new_guid};
use super::super::{require_any, sqlite, Target};
use super::rows::{self, Group};
use super::spec::{ClusterType, FailoverMode, GroupChange, GroupSpec, ReplicaSpec};

/// SQL Server 2016, where CREATE AVAILABILITY GROUP has no CLUSTER_TYPE.
const SQL_2016: u32 = 13;
/// One primary and eight secondaries.
const MAX_REPLICAS: usize = 9;
/// What lets a login other than sysadmin run the statements, as their permission
/// sections list.
const PERMISSIONS: [&str; 3] = [
    "CREATE AVAILABILITY GROUP",
    "ALTER ANY AVAILABILITY GROUP",
    "CONTROL SERVER",
];

pub fn create(t: &Target, spec: &GroupSpec) -> Result<Vec<Output>, Message> {
    require_permission(t)?;
    if !t.info.hadr {
        return Err(hadr_disabled());
    }
    if spec.options.cluster_type.is_some() && t.info.build.major() == SQL_2016 {
        return Err(errors::syntax_near("CLUSTER_TYPE"));
    }
    let conn = &t.catalog.conn;
    if rows::find(conn, &spec.name).map_err(sqlite)?.is_some() {
        return Err(Message::new(41106, 1, 16, format!("Cannot create an availability replica for availability group '{}'. An availability replica of the specified availability group already exists on this instance of SQL Server. Verify that the specified availability group name is correct and unique, then retry the operation. To remove the existing availability replica, run DROP AVAILABILITY GROUP command.", spec.name)));
    }
    for r in &spec.replicas {
        check_replica(r, spec.options.distributed)?;
    }
    if let Some(twice) = first_repeated(spec.replicas.iter().map(|r| r.name.as_str())) {
        return Err(Message::new(35235, 1, 16, format!("The system name '{twice}' was specified more than once in the REPLICA ON clause of this command. Reenter the command, specifying a different instance of SQL Server for each replica.")));
    }
    if spec.options.distributed {
        create_distributed(t, spec)
    } else {
        create_plain(t, spec)
    }
}

fn create_plain(t: &Target, spec: &GroupSpec) -> Result<Vec<Output>, Message> {
    let cluster_type = spec.options.cluster_type.unwrap_or(ClusterType::Wsfc);
    if cluster_type == ClusterType::Wsfc && !t.info.wsfc {
        return Err(Message::new(35220, 1, 16, "Could not process the operation. Always On Availability Groups replica manager is waiting for the host computer to start a Windows Server Failover Clustering (WSFC) cluster and join it. Either the local computer is not a cluster node, or the local cluster node is not online. If the computer is a cluster node, wait for it to join the cluster. If the computer is not a cluster node, add the computer to a WSFC cluster. Then, retry the operation."));
    }
    if spec.replicas.len() > MAX_REPLICAS {
        return Err(too_many_replicas(spec.replicas.len(), "", MAX_REPLICAS));
    }
    let local = local_replica(t, spec)?;
    if let Some(twice) = first_repeated(spec.databases.iter().map(String::as_str)) {
        return Err(Message::new(35234, 1, 16, format!("Database name '{twice}' was specified more than once. Reenter the command, specifying each database name only once.")));
    }
    let databases = spec
        .databases
        .iter()
        .map(|d| joinable(t, &spec.name, d, None).map(|(id, name)| (id, name, new_guid())))
        .collect::<Result<Vec<_>, _>>()?;
    let group = Group {
        id: new_guid(),
        name: spec.name.clone(),
        distributed: false,
        cluster_type,
    };
    write_group(t, &group, spec, &local, databases)
}

/// A distributed group on its global primary: one member is a plain group whose
/// primary replica is here; its databases show in the distributed group too.
fn create_distributed(t: &Target, spec: &GroupSpec) -> Result<Vec<Output>, Message> {
    if !spec.databases.is_empty() {
        return Err(errors::syntax_near("DATABASE"));
    }
    if spec.replicas.len() != 2 {
        return Err(too_many_replicas(spec.replicas.len(), "distributed", 2));
    }
    let conn = &t.catalog.conn;
    let mut local = None;
    for member in &spec.replicas {
        if let Some(group) = rows::find(conn, &member.name).map_err(sqlite)? {
            if !group.distributed {
                local = Some((member.name.clone(), group));
                break;
            }
        }
    }
    let Some((local_name, member)) = local else {
        return Err(no_local_replica(&spec.name));
    };
    let group = Group {
        id: new_guid(),
        name: spec.name.clone(),
        distributed: true,
        cluster_type: member.cluster_type,
    };
    let databases = rows::databases(conn, &member.id).map_err(sqlite)?;
    write_group(t, &group, spec, &local_name, databases)
}

/// A new group's rows: the group, its replicas (the one named `local` is this
/// instance's) and its databases (id, name, group_database_id) with their LSNs.
fn write_group(
    t: &Target,
    group: &Group,
    spec: &GroupSpec,
    local: &str,
    databases: Vec<(i64, String, String)>,
) -> Result<Vec<Output>, Message> {
    let conn = &t.catalog.conn;
    rows::insert_group(conn, group, &spec.options).map_err(sqlite)?;
    let now = now();
    let owner = owner_sid(t)?;
    let mut local_id = String::new();
    for r in &spec.replicas {
        let is_local = r.name.eq_ignore_ascii_case(local);
        let id =
            rows::insert_replica(conn, &group.id, r, is_local, &owner, &now).map_err(sqlite)?;
        if is_local {
            local_id = id;
        }
    }
    for (id, name, group_database_id) in databases {
        rows::insert_database(
            conn,
            &group.id,
            &local_id,
            &group_database_id,
            (id, &name),
            group.distributed,
        )
        .and_then(|()| log::refresh_replica_states(conn, id))
        .map_err(sqlite)?;
    }
    Ok(Vec::new())
}

pub fn alter(t: &Target, name: &str, change: &GroupChange) -> Result<Vec<Output>, Message> {
    require_permission(t)?;
    let conn = &t.catalog.conn;
    let group = rows::find(conn, name)
        .map_err(sqlite)?
        .ok_or_else(|| missing(name))?;
    let now = now();
    match change {
        GroupChange::Set(options) => {
            if options.cluster_type.is_some() || options.distributed || options.basic {
                return Err(errors::syntax_near(if options.cluster_type.is_some() {
                    "CLUSTER_TYPE"
                } else {
                    "("
                }));
            }
            if options.role_secondary {
                if !group.distributed {
                    return Err(errors::syntax_near("ROLE"));
                }
                demote(t, &group)?;
            }
            rows::update_group(conn, &group.id, options).map_err(sqlite)?;
        }
        GroupChange::AddDatabases(names) => {
            distributed_refuses(&group, "ADD DATABASE")?;
            let local = local_id(t, &group)?;
            let memberships = distributed_memberships(t, &group)?;
            for database in names {
                let (id, name) = joinable(t, &group.name, database, Some(&group.id))?;
                let group_database_id = new_guid();
                rows::insert_database(conn, &group.id, &local, &group_database_id, (id, &name), false)
                    .map_err(sqlite)?;
                for (dag, dag_replica) in &memberships {
                    rows::insert_database(conn, dag, dag_replica, &group_database_id, (id, &name), true)
                        .map_err(sqlite)?;
                }
                log::refresh_replica_states(conn, id).map_err(sqlite)?;
            }
        }
        GroupChange::RemoveDatabase(database) => {
            distributed_refuses(&group, "REMOVE DATABASE")?;
            let member = rows::databases(conn, &group.id)
                .map_err(sqlite)?
                .into_iter()
                .find(|(_, n, _)| n.eq_ignore_ascii_case(database));
            let Some((id, name, _)) = member else {
                return Err(Message::new(35281, 1, 16, format!("Database '{database}' cannot be removed from availability group '{}'. The database is not joined to the specified availability group. Verify that the database name and the availability group name are correct, then retry the operation.", group.name)));
            };
            rows::delete_database(conn, &group.id, (id, &name)).map_err(sqlite)?;
        }
        GroupChange::AddReplicas(replicas) => {
            distributed_refuses(&group, "ADD REPLICA")?;
            let owner = owner_sid(t)?;
            for r in replicas {
                check_replica(r, false)?;
                if rows::replica_id(conn, &group.id, &r.name).map_err(sqlite)?.is_some() {
                    return Err(Message::new(35282, 1, 16, format!("Availability replica '{}' cannot be added to availability group '{}'. The availability group already contains an availability replica with the specified name. Verify that the availability replica name and the availability group name are correct, then retry the operation.", r.name, group.name)));
                }
                rows::insert_replica(conn, &group.id, r, false, &owner, &now).map_err(sqlite)?;
            }
        }
        GroupChange::ModifyReplica(r) => {
            distributed_refuses(&group, "MODIFY REPLICA")?;
            modify(t, &group, r, &now)?;
        }
        GroupChange::ModifyMembers(members) => {
            if !group.distributed {
                return Err(errors::syntax_near("AVAILABILITY"));
            }
            for r in members {
                if r.failover_mode == Some(FailoverMode::Automatic) {
                    return Err(automatic_failover_distributed());
                }
                modify(t, &group, r, &now)?;
            }
        }
        GroupChange::RemoveReplica(replica) => {
            let id = rows::replica_id(conn, &group.id, replica)
                .map_err(sqlite)?
                .ok_or_else(|| Message::new(35283, 1, 16, format!("Availability replica '{replica}' cannot be removed from availability group '{}'. The availability group does not contain an availability replica with the specified name. Verify that the availability replica name is correct, then retry the operation.", group.name)))?;
            if local_id(t, &group)? == id {
                return Err(Message::new(35284, 1, 16, format!("Availability replica '{replica}' cannot be removed from availability group '{}', because this replica is on the local instance of SQL Server. If the local availability replica is a secondary replica, connect to the server instance that is currently hosting the primary replica, and re-run the command.", group.name)));
            }
            rows::delete_replica(conn, &id).map_err(sqlite)?;
        }
        GroupChange::CreateAnyDatabase(grant) => {
            conn.execute(
                "UPDATE \"$availability_group\" SET create_any_database = ?2 WHERE group_id = ?1",
                rusqlite::params![group.id, grant],
            )
            .map_err(sqlite)?;
        }
        // A failover runs on the replica that is to become primary; here, where the
        // local replica already is, SQL Server refuses both kinds. A forced failover
        // of a distributed group whose local member is primary is the same mistake.
        GroupChange::Failover | GroupChange::ForceFailover
            if !group.distributed || (*change == GroupChange::ForceFailover && local_is_primary(t, &group)?) =>
        {
            return Err(Message::new(41122, 1, 16, format!("Cannot failover availability group '{}' to this instance of SQL Server. The local availability replica is already the primary replica of the availability group. To failover this availability group to another instance of SQL Server, run the failover command on that instance of SQL Server. If local instance of SQL Server is intended to host the primary replica of the availability group, then no action is required.", group.name)));
        }
        GroupChange::Failover => {
            return Err(errors::not_modelled(
                "ALTER AVAILABILITY GROUP ... FAILOVER of a distributed availability group",
            ))
        }
        GroupChange::ForceFailover => {
            return Err(errors::not_modelled(
                "ALTER AVAILABILITY GROUP ... FORCE_FAILOVER_ALLOW_DATA_LOSS of a distributed availability group whose local member is secondary",
            ))
        }
        GroupChange::Offline => {
            return Err(errors::not_modelled("ALTER AVAILABILITY GROUP ... OFFLINE"))
        }
    }
    // Every configuration change moves the group's sequence number, once.
    rows::touch(conn, &group.id).map_err(sqlite)?;
    Ok(Vec::new())
}

pub fn drop(t: &Target, name: &str) -> Result<Vec<Output>, Message> {
    require_permission(t)?;
    let conn = &t.catalog.conn;
    let Some(group) = rows::find(conn, name).map_err(sqlite)? else {
        return Err(errors::cannot_drop("availability group", name));
    };
    rows::delete_group(conn, &group.id).map_err(sqlite)?;
    Ok(Vec::new())
}

fn require_permission(t: &Target) -> Result<(), Message> {
    require_any(t, &PERMISSIONS)
}

/// The first name given twice (names compare without case).
fn first_repeated<'a>(names: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    let mut seen = HashSet::new();
    names.into_iter().find(|n| !seen.insert(n.to_lowercase()))
}

/// Error 35233; `kind` fills the message's blank (empty for a plain group).
fn too_many_replicas(count: usize, kind: &str, max: usize) -> Message {
    Message::new(35233, 1, 16, format!("Cannot create an availability group containing {count} availability replica(s). The maximum number of availability replicas in an availability group {kind} is {max}. Reenter your CREATE AVAILABILITY GROUP command specifying fewer availability replicas."))
}

/// Error 35232 unless the URL is `TCP://host:port[;...]`.
fn check_url(url: &str) -> Result<(), Message> {
    match parse_endpoint_url(url) {
        Some(_) => Ok(()),
        None => Err(Message::new(35232, 1, 16, format!("The specified endpoint URL '{url}' is invalid. Reenter the command specifying the correct URL. For information about specifying the endpoint URL for an availability replica, see SQL Server Books Online."))),
    }
}

fn hadr_disabled() -> Message {
    Message::new(35221, 1, 16, "Could not process the operation. Always On Availability Groups replica manager is disabled on this instance of SQL Server. Enable Always On Availability Groups, by using the SQL Server Configuration Manager. Then, restart the SQL Server service, and retry the currently operation. For information about how to enable and disable Always On Availability Groups, see SQL Server Books Online.")
}

fn missing(name: &str) -> Message {
    Message::new(41100, 1, 16, format!("The availability group '{name}' and/or its local availability replica does not exist. Verify that the specified availability group name is correct, and that the local availability replica has joined the availability group, then retry the operation."))
}

fn no_local_replica(name: &str) -> Message {
    Message::new(35237, 1, 16, format!("None of the specified replicas for availability group {name} maps to the instance of SQL Server to which you are connected. Reenter the command, specifying this server instance to host one of the replicas. This replica will be the initial primary replica."))
}

fn automatic_failover_distributed() -> Message {
    Message::new(
        35277,
        1,
        16,
        "Automatic failover is not supported for distributed availability group replica.",
    )
}

/// The options every replica must name (classes 15 as documented) and a well-formed
/// `TCP://host:port` URL.
fn check_replica(r: &ReplicaSpec, distributed: bool) -> Result<(), Message> {
    let Some(url) = &r.endpoint_url else {
        return Err(Message::new(35236, 1, 15, format!("The endpoint URL was not specified for the availability replica hosted by server instance '{}'. Reenter the command, specifying the endpoint URL of this instance of SQL Server.", r.name)));
    };
    if r.availability_mode.is_none() {
        return Err(Message::new(41198, 1, 15, format!("The AVAILABILITY_MODE option has not been specified for the replica '{}'. Reenter the command, specifying an availability mode for the replica.", r.name)));
    }
    if r.failover_mode.is_none() {
        return Err(Message::new(41197, 1, 15, format!("The FAILOVER_MODE option has not been specified for the replica '{}'. Reenter the command, specifying a failover mode for the replica.", r.name)));
    }
    if distributed && r.failover_mode == Some(FailoverMode::Automatic) {
        return Err(automatic_failover_distributed());
    }
    check_url(url)
}

/// `TCP://host:port`, optionally followed by `;Server=[name]` or `;Database=[db]` as
/// the MI link's listener URLs are.
pub fn parse_endpoint_url(url: &str) -> Option<(String, u16)> {
    let address = url.split(';').next()?;
    let rest = address
        .get(..6)
        .filter(|s| s.eq_ignore_ascii_case("tcp://"))
        .map(|_| &address[6..])?;
    let (host, port) = rest.trim_end_matches('/').rsplit_once(':')?;
    let port: u16 = port.parse().ok()?;
    (!host.is_empty() && port > 0).then(|| (host.to_string(), port))
}

/// The name in REPLICA ON that is this instance (@@SERVERNAME), or error 35237.
fn local_replica(t: &Target, spec: &GroupSpec) -> Result<String, Message> {
    spec.replicas
        .iter()
        .find(|r| r.name.eq_ignore_ascii_case(&t.info.name))
        .map(|r| r.name.clone())
        .ok_or_else(|| no_local_replica(&spec.name))
}

/// A user database that may join `group`: it exists (35238), is not a system database
/// (35249), and is in no group yet (35280 this one, 35244 another).
fn joinable(
    t: &Target,
    group: &str,
    database: &str,
    group_id: Option<&str>,
) -> Result<(i64, String), Message> {
    let conn = &t.catalog.conn;
    let row: Option<(i64, String, Option<String>)> = conn
        .query_row(
            "SELECT d.database_id, d.name, r.group_id FROM \"sys.databases\" d
             LEFT JOIN \"sys.availability_replicas\" r ON r.replica_id = d.replica_id WHERE d.name = ?1",
            [database],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .optional()
        .map_err(sqlite)?;
    let Some((id, name, current)) = row else {
        return Err(Message::new(35238, 1, 16, format!("Database '{database}' cannot be added to availability group '{group}'. The database does not exist on this SQL Server instance. Verify that the database name is correct, then retry the operation.")));
    };
    if id <= 4 {
        return Err(Message::new(35249, 1, 16, format!("An attempt to add or join a system database, '{name}', to an availability group failed. Specify only user databases for this operation.")));
    }
    match current {
        Some(c) if Some(c.as_str()) == group_id => Err(Message::new(35280, 1, 16, format!("Database '{name}' cannot be added to availability group '{group}'. The database is already joined to the specified availability group. Verify that the database name is correct and that the database is not joined to an availability group, then retry the operation."))),
        Some(_) => Err(Message::new(35244, 1, 16, format!("Database '{name}' cannot be added to availability group '{group}'. The database is currently joined to another availability group. Verify that the database name is correct and that the database is not joined to an availability group, then retry the operation."))),
        None => Ok((id, name)),
    }
}

/// A distributed group's databases and replicas are its member groups'; SQL Server's
/// error for naming them on the distributed group is not documented.
fn distributed_refuses(group: &Group, what: &str) -> Result<(), Message> {
    if group.distributed {
        Err(errors::not_modelled(&format!(
            "ALTER AVAILABILITY GROUP ... {what} on a distributed availability group"
        )))
    } else {
        Ok(())
    }
}

fn local_is_primary(t: &Target, group: &Group) -> Result<bool, Message> {
    let local = local_id(t, group)?;
    t.catalog
        .conn
        .query_row(
            "SELECT role = 1 FROM \"sys.dm_hadr_availability_replica_states\" WHERE replica_id = ?1",
            [&local],
            |r| r.get::<_, Option<bool>>(0),
        )
        .map(|primary| primary.unwrap_or(false))
        .map_err(sqlite)
}

fn local_id(t: &Target, group: &Group) -> Result<String, Message> {
    rows::local_replica(&t.catalog.conn, &group.id)
        .map_err(sqlite)?
        .ok_or_else(|| missing(&group.name))
}

/// The distributed groups that `group` is the local member of: (group id, replica id).
fn distributed_memberships(t: &Target, group: &Group) -> Result<Vec<(String, String)>, Message> {
    t.catalog
        .conn
        .prepare(
            "SELECT r.group_id, r.replica_id FROM \"sys.availability_replicas\" r
             JOIN \"sys.availability_groups\" g ON g.group_id = r.group_id
             JOIN \"sys.dm_hadr_availability_replica_states\" s ON s.replica_id = r.replica_id
             WHERE g.is_distributed = 1 AND s.is_local = 1 AND r.replica_server_name = ?1",
        )
        .and_then(|mut s| {
            s.query_map([&group.name], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect()
        })
        .map_err(sqlite)
}

fn modify(t: &Target, group: &Group, r: &ReplicaSpec, now: &str) -> Result<(), Message> {
    let conn = &t.catalog.conn;
    let id = rows::replica_id(conn, &group.id, &r.name)
        .map_err(sqlite)?
        .ok_or_else(|| Message::new(41167, 1, 16, format!("An error occurred while attempting to access availability replica '{}' in availability group '{}'. The availability replica is not found in the availability group configuration. Verify that the availability group and availability replica names are correct, then retry the command.", r.name, group.name)))?;
    if let Some(url) = &r.endpoint_url {
        check_url(url)?;
    }
    rows::update_replica(conn, &id, r, now).map_err(sqlite)
}

/// SET (ROLE = SECONDARY) on a distributed group's primary: the local member becomes
/// a secondary of the distributed group; its databases stop being the primary copy.
fn demote(t: &Target, group: &Group) -> Result<(), Message> {
    super::link::set_local_role(&t.catalog.conn, &group.id, false).map_err(sqlite)
}

fn owner_sid(t: &Target) -> Result<Vec<u8>, Message> {
    t.catalog
        .conn
        .query_row(
            "SELECT sid FROM \"sys.server_principals\" WHERE principal_id = ?1",
            [t.login.principal_id],
            |r| r.get::<_, Option<Vec<u8>>>(0),
        )
        .optional()
        .map_err(sqlite)
        .map(|s| s.flatten().unwrap_or_default())
}

fn now() -> String {
    datetime_text(time::OffsetDateTime::now_utc())
}
