//! Fills a new instance's catalog from its scenario: databases and their files,
//! filegroups, backup history, logins and roles, configurations, encryption keys,
//! assemblies, modules, linked servers, jobs, host and OS information, performance counters.

use rusqlite::{params, Connection};

use crate::scenario::{BackupKind, InstanceSpec};

use super::{log, modules, user_tables, InstanceInfo};

const SYSTEM_DATABASES: [&str; 4] = ["master", "tempdb", "model", "msdb"];

/// The two views of a database's files, with the column each keys the database by
/// (sys.database_files is per database: the lab's hidden `$database_id`).
pub const FILE_VIEWS: [(&str, &str); 2] = [
    ("sys.master_files", "database_id"),
    ("sys.database_files", "\"$database_id\""),
];

/// The first user database id, as on SQL Server.
const FIRST_USER_DATABASE: i64 = 5;

/// Log each database wrote before the lab's history begins, and between two backups
/// of its history (the end LSNs that backups record move on by this much).
const HISTORY_LOG: f64 = 64.0 * 1_048_576.0;
const LOG_BETWEEN_BACKUPS: f64 = 8.0 * 1_048_576.0;

pub fn populate(
    conn: &Connection,
    spec: &InstanceSpec,
    info: &InstanceInfo,
) -> rusqlite::Result<()> {
    let tx = conn.unchecked_transaction()?;
    let created = "2024-01-15 09:00:00.000";
    let level = i64::from(spec.version.default_compatibility_level());
    let mut databases: Vec<(i64, String)> = Vec::new();
    for (n, name) in SYSTEM_DATABASES.iter().enumerate() {
        // model is FULL by default; master, msdb and tempdb are SIMPLE.
        let recovery = if *name == "model" { 1 } else { 3 };
        insert_database(
            &tx,
            n as i64 + 1,
            name,
            level,
            &spec.collation,
            recovery,
            false,
            false,
            created,
        )?;
        insert_files(&tx, n as i64 + 1, name, 1, 1, 8, 2, false, 0)?;
        log::create(&tx, n as i64 + 1, HISTORY_LOG)?;
        user_tables::create_schemas(&tx, n as i64 + 1)?;
        databases.push((n as i64 + 1, name.to_string()));
    }
    for (n, db) in spec.databases.iter().enumerate() {
        let id = FIRST_USER_DATABASE + n as i64;
        let level = db.compatibility_level.map_or(level, i64::from);
        let collation = db.collation.as_deref().unwrap_or(&spec.collation);
        insert_database(
            &tx,
            id,
            &db.name,
            level,
            collation,
            db.recovery.code().0,
            db.tde,
            db.broker,
            created,
        )?;
        tx.execute(
            "UPDATE \"sys.databases\" SET is_accelerated_database_recovery_on = ?2 WHERE database_id = ?1",
            params![id, db.accelerated_recovery],
        )?;
        insert_files(
            &tx,
            id,
            &db.name,
            db.data_files,
            db.log_files,
            db.data_mb,
            db.log_mb,
            db.filestream,
            db.memory_optimized_files,
        )?;
        log::create(&tx, id, HISTORY_LOG)?;
        user_tables::create_schemas(&tx, id)?;
        for table in &db.tables {
            user_tables::create(&tx, (id, &db.name), table, created)?;
        }
        for definition in &db.modules {
            modules::create(&tx, id, definition, created)?;
        }
        if db.tde {
            tx.execute(
                "INSERT INTO \"sys.dm_database_encryption_keys\" (database_id, encryption_state, encryption_state_desc, create_date, key_algorithm, key_length, encryptor_type, percent_complete, encryption_scan_state, encryption_scan_state_desc)
                 VALUES (?1, 3, 'ENCRYPTED', ?2, 'AES', 256, 'CERTIFICATE', 0, 4, 'COMPLETE')",
                params![id, created],
            )?;
        }
        for (a, assembly) in db.assemblies.iter().enumerate() {
            tx.execute(
                "INSERT INTO \"sys.assemblies\" (\"$database_id\", name, principal_id, assembly_id, clr_name, permission_set, permission_set_desc, is_visible, create_date, modify_date, is_user_defined)
                 VALUES (?1, ?2, 1, ?3, ?4, 1, 'SAFE_ACCESS', 1, ?5, ?5, 1)",
                params![id, assembly, 65536 + a as i64, format!("{assembly}, version=1.0.0.0, culture=neutral, publickeytoken=null, processorarchitecture=msil"), created],
            )?;
        }
        // The history in the order it happened, with log written between backups.
        let mut backups: Vec<_> = db.backups.iter().collect();
        backups.sort_by(|a, b| b.hours_ago.total_cmp(&a.hours_ago));
        for backup in backups {
            let finished = info.started - time::Duration::seconds_f64(backup.hours_ago * 3600.0);
            let kind = match backup.kind {
                BackupKind::D => "D",
                BackupKind::I => "I",
                BackupKind::L => "L",
            };
            log::write_history(&tx, id, LOG_BETWEEN_BACKUPS)?;
            let lsns = log::backup(
                &tx,
                id,
                kind,
                backup.copy_only,
                &super::datetime_text(finished),
            )?;
            insert_backup(
                &tx,
                &info.name,
                &db.name,
                db.recovery.code().1,
                kind,
                backup.copy_only,
                finished,
                (db.data_mb as i64) << 20,
                lsns,
            )?;
        }
        databases.push((id, db.name.clone()));
    }
    // The system assembly every database has.
    for (id, _) in &databases {
        tx.execute(
            "INSERT INTO \"sys.assemblies\" (\"$database_id\", name, principal_id, assembly_id, clr_name, permission_set, permission_set_desc, is_visible, create_date, modify_date, is_user_defined)
             VALUES (?1, 'Microsoft.SqlServer.Types', 4, 1, 'microsoft.sqlserver.types, version=16.0.0.0, culture=neutral, publickeytoken=89845dcd8080cc91, processorarchitecture=msil', 3, 'UNSAFE_ACCESS', 1, ?2, ?2, 0)",
            params![id, created],
        )?;
    }
    populate_principals(&tx, spec, created)?;
    populate_configurations(&tx, spec)?;
    populate_server_objects(&tx, spec, info, created)?;
    populate_counters(&tx, &databases)?;
    populate_system_endpoints(&tx)?;
    for (id, _) in &databases {
        log::refresh_database(&tx, *id)?;
    }
    log::refresh_totals(&tx)?;
    for flag in &spec.trace_flags {
        tx.execute(
            "INSERT OR IGNORE INTO \"$trace_flags\" (flag) VALUES (?1)",
            params![flag],
        )?;
    }
    tx.commit()
}

#[allow(clippy::too_many_arguments)]
pub fn insert_database(
    tx: &Connection,
    id: i64,
    name: &str,
    level: i64,
    collation: &str,
    recovery: i64,
    encrypted: bool,
    broker: bool,
    created: &str,
) -> rusqlite::Result<()> {
    let recovery_desc = match recovery {
        1 => "FULL",
        2 => "BULK_LOGGED",
        _ => "SIMPLE",
    };
    tx.execute(
        "INSERT INTO \"sys.databases\" (name, database_id, create_date, compatibility_level, collation_name, user_access, user_access_desc,
            is_read_only, is_auto_close_on, is_auto_shrink_on, state, state_desc, is_in_standby, snapshot_isolation_state, is_read_committed_snapshot_on,
            recovery_model, recovery_model_desc, page_verify_option, page_verify_option_desc, is_trustworthy_on, is_db_chaining_on, is_broker_enabled,
            is_encrypted, is_published, is_subscribed, is_merge_published, is_distributor, is_cdc_enabled, is_query_store_on, log_reuse_wait, log_reuse_wait_desc,
            containment, containment_desc, target_recovery_time_in_seconds, delayed_durability, delayed_durability_desc,
            is_memory_optimized_elevate_to_snapshot_on, is_accelerated_database_recovery_on, is_ledger_on, owner_sid)
         VALUES (?1, ?2, ?3, ?4, ?5, 0, 'MULTI_USER', 0, 0, 0, 0, 'ONLINE', 0, 0, 0, ?6, ?7, 2, 'CHECKSUM', 0, 0, ?8, ?9, 0, 0, 0, 0, 0, 0, 0, 'NOTHING',
                 0, 'NONE', 60, 0, 'DISABLED', 0, 0, 0, X'01')",
        params![name, id, created, level, collation, recovery, recovery_desc, broker, encrypted],
    )?;
    Ok(())
}

#[allow(clippy::too_many_arguments)]
pub fn insert_files(
    tx: &Connection,
    database_id: i64,
    database: &str,
    data_files: u32,
    log_files: u32,
    data_mb: u64,
    log_mb: u64,
    filestream: bool,
    memory_optimized: u32,
) -> rusqlite::Result<()> {
    // Sizes are in 8-KB pages; several files share the declared size.
    let pages = |mb: u64, files: u32| (mb * 128 / u64::from(files.max(1))) as i64;
    let mut files: Vec<(i64, &str, i64, String, i64)> = Vec::new(); // type, desc, data space, name, size
    for n in 0..data_files {
        let name = if n == 0 {
            database.to_string()
        } else {
            format!("{database}_data{}", n + 1)
        };
        files.push((0, "ROWS", 1, name, pages(data_mb, data_files)));
    }
    for n in 0..log_files {
        let name = if n == 0 {
            format!("{database}_log")
        } else {
            format!("{database}_log{}", n + 1)
        };
        files.push((1, "LOG", 0, name, pages(log_mb, log_files)));
    }
    let mut filegroups = vec![(1i64, "PRIMARY".to_string(), "FG", "ROWS_FILEGROUP")];
    if filestream {
        filegroups.push((
            2,
            "FileStreamGroup".into(),
            "FD",
            "FILESTREAM_DATA_FILEGROUP",
        ));
        files.push((2, "FILESTREAM", 2, format!("{database}_fs"), 0));
    }
    if memory_optimized > 0 {
        let space = filegroups.len() as i64 + 1;
        filegroups.push((
            space,
            "MemoryOptimizedGroup".into(),
            "FX",
            "MEMORY_OPTIMIZED_DATA_FILEGROUP",
        ));
        for n in 0..memory_optimized {
            files.push((
                2,
                "FILESTREAM",
                space,
                format!("{database}_mod{}", n + 1),
                0,
            ));
        }
    }
    for (n, (kind, desc, space, name, size)) in files.iter().enumerate() {
        let file_id = n as i64 + 1;
        let extension = match kind {
            0 if n == 0 => "mdf",
            0 => "ndf",
            1 => "ldf",
            _ => "",
        };
        let physical = if extension.is_empty() {
            format!("D:\\Data\\{name}")
        } else {
            format!("D:\\Data\\{name}.{extension}")
        };
        for (table, id_column) in FILE_VIEWS {
            tx.execute(
                &format!(
                    "INSERT INTO \"{table}\" ({id_column}, file_id, type, type_desc, data_space_id, name, physical_name, state, state_desc, size, max_size, growth,
                        is_media_read_only, is_read_only, is_sparse, is_percent_growth)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 0, 'ONLINE', ?8, -1, 8192, 0, 0, 0, 0)"
                ),
                params![database_id, file_id, kind, desc, space, name, physical, size],
            )?;
        }
    }
    for (space, name, kind, desc) in filegroups {
        tx.execute(
            "INSERT INTO \"sys.filegroups\" (\"$database_id\", name, data_space_id, type, type_desc, is_default, is_system, is_read_only, is_autogrow_all_files)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, 0, 0, 0)",
            params![database_id, name, space, kind, desc, space == 1],
        )?;
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
pub fn insert_backup(
    tx: &Connection,
    server: &str,
    database: &str,
    recovery: &str,
    kind: &str,
    copy_only: bool,
    finished: time::OffsetDateTime,
    size: i64,
    lsns: log::BackupLsns,
) -> rusqlite::Result<()> {
    let id: i64 = tx.query_row(
        "SELECT COALESCE(MAX(backup_set_id), 0) + 1 FROM \"msdb.dbo.backupset\"",
        [],
        |r| r.get(0),
    )?;
    let started = finished - time::Duration::minutes(5);
    tx.execute(
        "INSERT INTO \"msdb.dbo.backupset\" (backup_set_id, backup_set_uuid, media_set_id, first_family_number, name, user_name, software_major_version,
            backup_start_date, backup_finish_date, type, first_lsn, last_lsn, checkpoint_lsn, database_backup_lsn, backup_size, database_name,
            server_name, machine_name, recovery_model, is_copy_only, is_snapshot, compressed_backup_size)
         VALUES (?1, ?2, ?1, 1, NULL, 'sa', 16, ?3, ?4, ?5, ?6, ?7, ?13, ?14, ?8, ?9, ?10, ?10, ?11, ?12, 0, ?8)",
        params![
            id,
            super::new_guid(),
            super::datetime_text(started),
            super::datetime_text(finished),
            kind,
            lsns.first,
            lsns.last,
            size,
            database,
            server,
            recovery,
            copy_only,
            lsns.checkpoint,
            lsns.database_backup
        ],
    )?;
    Ok(())
}

fn populate_principals(
    tx: &Connection,
    spec: &InstanceSpec,
    created: &str,
) -> rusqlite::Result<()> {
    let roles = [
        "public",
        "sysadmin",
        "securityadmin",
        "serveradmin",
        "setupadmin",
        "processadmin",
        "diskadmin",
        "dbcreator",
        "bulkadmin",
    ];
    for (n, role) in roles.iter().enumerate() {
        let id = if n == 0 { 2 } else { 2 + n as i64 };
        tx.execute(
            "INSERT INTO \"sys.server_principals\" (name, principal_id, sid, type, type_desc, is_disabled, create_date, modify_date, is_fixed_role)
             VALUES (?1, ?2, X'02', 'R', 'SERVER_ROLE', 0, ?3, ?3, ?4)",
            params![role, id, created, n != 0],
        )?;
    }
    for (n, login) in spec.logins.iter().enumerate() {
        let id = if login.name.eq_ignore_ascii_case("sa") {
            1
        } else {
            256 + n as i64
        };
        let (kind, desc) = if login.windows {
            ("U", "WINDOWS_LOGIN")
        } else {
            ("S", "SQL_LOGIN")
        };
        tx.execute(
            "INSERT INTO \"sys.server_principals\" (name, principal_id, sid, type, type_desc, is_disabled, create_date, modify_date, default_database_name,
                default_language_name, is_fixed_role, \"$password\")
             VALUES (?1, ?2, ?3, ?4, ?5, 0, ?6, ?6, 'master', 'us_english', 0, ?7)",
            params![login.name, id, id.to_le_bytes().to_vec(), kind, desc, created, login.password],
        )?;
        if login.sysadmin {
            tx.execute(
                "INSERT INTO \"sys.server_role_members\" VALUES (3, ?1)",
                params![id],
            )?;
        }
        for permission in &login.permissions {
            tx.execute(
                "INSERT INTO \"sys.server_permissions\" (class, class_desc, major_id, minor_id, grantee_principal_id, grantor_principal_id, type, permission_name, state, state_desc)
                 VALUES (100, 'SERVER', 0, 0, ?1, 1, '', ?2, 'G', 'GRANT')",
                params![id, permission.to_ascii_uppercase()],
            )?;
        }
    }
    Ok(())
}

/// The sp_configure options the migration checks read, with their documented ids.
const CONFIGURATIONS: &[(i64, &str, i64, i64, i64, &str)] = &[
    (
        518,
        "show advanced options",
        0,
        0,
        1,
        "show advanced options",
    ),
    (
        1562,
        "clr enabled",
        0,
        0,
        1,
        "CLR user code execution enabled in the server",
    ),
    (
        1568,
        "default trace enabled",
        1,
        0,
        1,
        "Enable or disable the default trace",
    ),
    (
        1576,
        "remote admin connections",
        0,
        0,
        1,
        "Dedicated Admin Connections are allowed from remote clients",
    ),
    (
        1580,
        "filestream access level",
        0,
        0,
        2,
        "Sets the FILESTREAM access level",
    ),
    (
        16390,
        "xp_cmdshell",
        0,
        0,
        1,
        "Enable or disable command shell",
    ),
    (
        16391,
        "Ad Hoc Distributed Queries",
        0,
        0,
        1,
        "Enable or disable Ad Hoc Distributed Queries",
    ),
    (
        1544,
        "max server memory (MB)",
        2_147_483_647,
        128,
        2_147_483_647,
        "Maximum size of server memory (MB)",
    ),
    (
        1539,
        "max degree of parallelism",
        0,
        0,
        32767,
        "maximum degree of parallelism",
    ),
    (
        1589,
        "backup compression default",
        0,
        0,
        1,
        "Enable compression of backups by default",
    ),
];

fn populate_configurations(tx: &Connection, spec: &InstanceSpec) -> rusqlite::Result<()> {
    for (id, name, default, min, max, description) in CONFIGURATIONS {
        let value = spec
            .configurations
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map_or(*default, |(_, v)| *v);
        let dynamic = *id != 1580;
        let advanced = !matches!(*id, 518 | 1562 | 1568 | 1576 | 1589);
        tx.execute(
            "INSERT INTO \"sys.configurations\" VALUES (?1, ?2, ?3, ?4, ?5, ?3, ?6, ?7, ?8)",
            params![id, name, value, min, max, description, dynamic, advanced],
        )?;
    }
    Ok(())
}

fn populate_server_objects(
    tx: &Connection,
    spec: &InstanceSpec,
    info: &InstanceInfo,
    created: &str,
) -> rusqlite::Result<()> {
    tx.execute(
        "INSERT INTO \"sys.servers\" (server_id, name, product, provider, data_source, is_linked, is_remote_login_enabled, is_rpc_out_enabled, is_data_access_enabled, modify_date)
         VALUES (0, ?1, 'SQL Server', 'SQLNCLI', ?1, 0, 1, 1, 0, ?2)",
        params![info.name, created],
    )?;
    for (n, linked) in spec.linked_servers.iter().enumerate() {
        tx.execute(
            "INSERT INTO \"sys.servers\" (server_id, name, product, provider, data_source, is_linked, is_remote_login_enabled, is_rpc_out_enabled, is_data_access_enabled, modify_date)
             VALUES (?1, ?2, ?3, ?4, ?5, 1, 1, 0, 1, ?6)",
            params![n as i64 + 1, linked.name, linked.product, linked.provider, linked.data_source, created],
        )?;
    }
    for (n, trigger) in spec.server_triggers.iter().enumerate() {
        tx.execute(
            "INSERT INTO \"sys.server_triggers\" VALUES (?1, ?2, 100, 'SERVER', 0, 'TR', 'SQL_TRIGGER', ?3, ?3, 0, 0)",
            params![trigger, 1_000_000 + n as i64, created],
        )?;
    }
    for job in &spec.jobs {
        let job_id = super::new_guid();
        tx.execute(
            "INSERT INTO \"msdb.dbo.sysjobs\" (job_id, originating_server_id, name, enabled, description, start_step_id, category_id, owner_sid, date_created, date_modified, version_number)
             VALUES (?1, 0, ?2, ?3, '', 1, 0, X'01', ?4, ?4, 1)",
            params![job_id, job.name, job.enabled, created],
        )?;
        for (n, step) in job.steps.iter().enumerate() {
            tx.execute(
                "INSERT INTO \"msdb.dbo.sysjobsteps\" (job_id, step_id, step_name, subsystem, command, flags, database_name, on_success_action, on_fail_action, retry_attempts)
                 VALUES (?1, ?2, ?3, ?4, ?5, 0, 'master', 1, 2, 0)",
                params![job_id, n as i64 + 1, step.name, step.subsystem, step.command],
            )?;
        }
    }
    let host = &spec.host;
    tx.execute(
        "INSERT INTO \"sys.dm_os_host_info\" VALUES (?1, ?2, ?3, '', 48, 1033, 'X64')",
        params![
            host.platform,
            host.distribution,
            if host.platform == "Linux" {
                "5.15"
            } else {
                "10.0"
            }
        ],
    )?;
    tx.execute(
        "INSERT INTO \"sys.dm_os_sys_info\" (cpu_count, hyperthread_ratio, physical_memory_kb, virtual_memory_kb, committed_kb, committed_target_kb,
            visible_target_kb, max_workers_count, scheduler_count, scheduler_total_count, sqlserver_start_time, affinity_type, affinity_type_desc,
            virtual_machine_type, virtual_machine_type_desc, socket_count, cores_per_socket, numa_node_count, ms_ticks, cpu_ticks, sqlserver_start_time_ms_ticks)
         VALUES (?1, ?1, ?2, 137438953344, ?3, ?3, ?3, 512, ?1, ?1, ?4, 2, 'AUTO', 1, 'HYPERVISOR', 1, ?1, 1, 0, 0, 0)",
        params![host.cpu_count, host.memory_mb as i64 * 1024, (host.memory_mb as i64 * 1024) * 3 / 4, super::datetime_text(info.started)],
    )?;
    let committed_kb = (host.memory_mb as i64 * 1024) * 3 / 4;
    for (id, name, used_kb) in [
        (1, "internal", committed_kb / 20),
        (2, "default", committed_kb - committed_kb / 20),
    ] {
        tx.execute(
            "INSERT INTO \"sys.dm_resource_governor_resource_pools\" VALUES (?1, ?2, ?3, 0, ?4, 0, ?4, ?5, ?5)",
            params![id, name, super::datetime_text(info.started), used_kb, committed_kb],
        )?;
    }
    Ok(())
}

/// The endpoints every instance has, ids below 65536 (user endpoints come after).
fn populate_system_endpoints(tx: &Connection) -> rusqlite::Result<()> {
    for (id, name, protocol, protocol_desc, admin) in [
        (1, "Dedicated Admin Connection", 2, "TCP", true),
        (2, "TSQL Local Machine", 4, "SHARED_MEMORY", false),
        (3, "TSQL Named Pipes", 3, "NAMED_PIPES", false),
        (4, "TSQL Default TCP", 2, "TCP", false),
        (5, "TSQL Default VIA", 5, "VIA", false),
    ] {
        tx.execute(
            "INSERT INTO \"sys.endpoints\" (endpoint_id, name, principal_id, protocol, protocol_desc, type, type_desc, state, state_desc, is_admin_endpoint)
             VALUES (?1, ?2, 1, ?3, ?4, 2, 'TSQL', 0, 'STARTED', ?5)",
            params![id, name, protocol, protocol_desc, admin],
        )?;
        if protocol == 2 {
            tx.execute(
                "INSERT INTO \"sys.tcp_endpoints\" (endpoint_id, name, principal_id, protocol, protocol_desc, type, type_desc, state, state_desc,
                    is_admin_endpoint, port, is_dynamic_port, ip_address)
                 VALUES (?1, ?2, 1, 2, 'TCP', 2, 'TSQL', 0, 'STARTED', ?3, 0, 1, NULL)",
                params![id, name, admin],
            )?;
        }
    }
    Ok(())
}

/// A database's instance of the `SQLServer:Databases` counters.
pub fn insert_database_counters(tx: &Connection, name: &str) -> rusqlite::Result<()> {
    let mut insert = tx.prepare_cached(
        "INSERT INTO \"sys.dm_os_performance_counters\" VALUES ('SQLServer:Databases', ?1, ?2, 0, ?3)",
    )?;
    for (counter, kind) in [
        ("Log Bytes Flushed/sec", 272_696_576),
        ("Transactions/sec", 272_696_576),
        ("Log Flushes/sec", 272_696_576),
        ("Data File(s) Size (KB)", 65792),
        ("Log File(s) Size (KB)", 65792),
        ("Log File(s) Used Size (KB)", 65792),
        ("Percent Log Used", 65792),
    ] {
        insert.execute(params![counter, name, kind])?;
    }
    Ok(())
}

/// The counters mi-link.md §3.3 and §5.3 name, per database or per replica.
fn populate_counters(tx: &Connection, databases: &[(i64, String)]) -> rusqlite::Result<()> {
    for name in databases.iter().map(|(_, n)| n.as_str()).chain(["_Total"]) {
        insert_database_counters(tx, name)?;
    }
    let mut insert =
        tx.prepare("INSERT INTO \"sys.dm_os_performance_counters\" VALUES (?1, ?2, ?3, ?4, ?5)")?;
    for counter in [
        "Bytes Sent to Replica/sec",
        "Flow Control Time (ms/sec)",
        "Flow Control/sec",
        "Resent Messages/sec",
        "Bytes Received from Replica/sec",
    ] {
        insert.execute(params![
            "SQLServer:Availability Replica",
            counter,
            "_Total",
            0,
            272_696_576
        ])?;
    }
    for counter in [
        "Log Send Queue",
        "Redo Queue KB",
        "Log Bytes Received/sec",
        "Transaction Delay",
    ] {
        insert.execute(params![
            "SQLServer:Database Replica",
            counter,
            "_Total",
            0,
            65792
        ])?;
    }
    Ok(())
}
