//! Facts of an instance that is ready for the link, for tests to change one thing in.

use super::facts::*;

pub fn ready() -> Facts {
    Facts {
        server: Ok(Server {
            product_version: "16.0.4125.3".into(),
            build: [16, 0, 4125, 3],
            product_update_level: "CU13".into(),
            edition: "Enterprise Edition (64-bit)".into(),
            engine_edition: 3,
            hadr_enabled: true,
            clustered: false,
            collation: "SQL_Latin1_General_CP1_CI_AS".into(),
            issuer_procedure: true,
        }),
        databases: Ok(vec![Database {
            name: "Sales".into(),
            database_id: 5,
            state: "ONLINE".into(),
            recovery_model: "FULL".into(),
            compatibility_level: 160,
            collation: "SQL_Latin1_General_CP1_CI_AS".into(),
            encrypted: false,
            broker_enabled: true,
            accelerated_recovery: Some(true),
            size_bytes: 10 << 30,
            log_files: 1,
        }]),
        filegroups: Ok(vec![]),
        backups: Ok(vec![BackupHistory {
            database: "Sales".into(),
            last_full: Some("2026-11-22 01:00:00".into()),
            copy_only_fulls: 0,
        }]),
        trace_flags: Ok(vec![1800, 9567]),
        master_key: Ok(true),
        mirroring_endpoints: Ok(vec![]),
        configurations: Ok(vec![("xp_cmdshell".into(), 0)]),
        logins: Ok(vec![]),
        linked_servers: Ok(vec![]),
        assemblies: Ok(vec![]),
        references: Ok(vec![]),
        distributed_modules: Ok(vec![]),
        job_steps: Ok(vec![]),
        server_triggers: Ok(vec![]),
        encryption_keys: Ok(vec![]),
        availability_databases: Ok(vec![]),
    }
}

/// The first database of `facts`, to change.
pub fn sales(facts: &mut Facts) -> &mut Database {
    &mut facts.databases.as_mut().unwrap()[0]
}

/// The server of `facts`, to change.
pub fn server(facts: &mut Facts) -> &mut Server {
    facts.server.as_mut().unwrap()
}

/// The ids of the databases (or "instance") `check` finds in `facts`.
pub fn found(check: &super::Check, facts: &Facts) -> Vec<String> {
    (check.evaluate)(facts)
        .unwrap()
        .into_iter()
        .map(|h| h.database.unwrap_or_else(|| "instance".into()))
        .collect()
}
