//! The facts the readiness checks look at, read over one connection: a fixed set of
//! catalog queries (no user data is read), each with the instance's query timeout. A
//! query that fails leaves its fact missing with SQL Server's reason (a permission, a
//! timeout); the others are still read. After a timeout the connection's state is
//! unknown, so the facts not yet read are missing too, naming the query that timed out.

use std::time::Duration;

use tiberius::Row;

use super::{
    big, column, int, literal, optional_text, quote_name, rows, text, Connection, SqlError,
};
use crate::checks::facts::*;

const SERVER: &str = include_str!("queries/assess/server.sql");
const DATABASES: &str = include_str!("queries/assess/databases.sql");
const BACKUPS: &str = include_str!("queries/assess/backups.sql");
const TRACE_FLAGS: &str = include_str!("queries/assess/trace_flags.sql");
const MASTER_KEY: &str = include_str!("queries/assess/master_key.sql");
const MIRRORING_ENDPOINTS: &str = include_str!("queries/assess/mirroring_endpoints.sql");
const CONFIGURATIONS: &str = include_str!("queries/assess/configurations.sql");
const LOGINS: &str = include_str!("queries/assess/logins.sql");
const LINKED_SERVERS: &str = include_str!("queries/assess/linked_servers.sql");
const JOB_STEPS: &str = include_str!("queries/assess/job_steps.sql");
const SERVER_TRIGGERS: &str = include_str!("queries/assess/server_triggers.sql");
const ENCRYPTION_KEYS: &str = include_str!("queries/assess/encryption_keys.sql");
const AVAILABILITY_DATABASES: &str = include_str!("queries/assess/availability_databases.sql");

/// Databases per query for the per-database catalog views (a UNION ALL each).
const DATABASES_PER_QUERY: usize = 50;
/// SQL Server 2019 is the first with accelerated database recovery.
const FIRST_WITH_ADR: u32 = 15;

/// Reads every fact over `conn`.
pub async fn collect(conn: &mut Connection, timeout: Duration) -> Facts {
    let mut reader = Reader {
        conn,
        timeout,
        broken: None,
    };
    let server = reader.one("server", SERVER, server).await;
    let major = server.as_ref().map_or(0, Server::major);
    let (adr, adr_group) = if major >= FIRST_WITH_ADR {
        (
            "CAST(d.is_accelerated_database_recovery_on AS int)",
            ", d.is_accelerated_database_recovery_on",
        )
    } else {
        ("CAST(NULL AS int)", "")
    };
    let databases_sql = DATABASES
        .replace("{adr}", adr)
        .replace("{adr_group}", adr_group);
    let databases = reader.all("databases", &databases_sql, database).await;
    let filegroups = reader
        .per_database("filegroups", &databases, filegroups_sql, filegroup)
        .await;
    let assemblies = reader
        .per_database("assemblies", &databases, assemblies_sql, assembly)
        .await;
    let references = reader
        .per_database("references", &databases, references_sql, reference)
        .await;
    let distributed_modules = reader
        .per_database(
            "distributed_modules",
            &databases,
            distributed_modules_sql,
            distributed_module,
        )
        .await;
    Facts {
        server,
        databases,
        filegroups,
        assemblies,
        references,
        distributed_modules,
        backups: reader.all("backups", BACKUPS, backup).await,
        trace_flags: reader.all("trace_flags", TRACE_FLAGS, trace_flag).await,
        master_key: reader
            .one("master_key", MASTER_KEY, |row| {
                Ok(int(row, "master_key", "keys")? > 0)
            })
            .await,
        mirroring_endpoints: reader
            .all("mirroring_endpoints", MIRRORING_ENDPOINTS, endpoint)
            .await,
        configurations: reader
            .all("configurations", CONFIGURATIONS, |row| {
                let q = "configurations";
                Ok((
                    text(row, q, "name")?,
                    i64::from(int(row, q, "value_in_use")?),
                ))
            })
            .await,
        logins: reader.all("logins", LOGINS, login).await,
        linked_servers: reader
            .all("linked_servers", LINKED_SERVERS, linked_server)
            .await,
        job_steps: reader.all("job_steps", JOB_STEPS, job_step).await,
        server_triggers: reader
            .all("server_triggers", SERVER_TRIGGERS, |row| {
                text(row, "server_triggers", "name")
            })
            .await,
        encryption_keys: reader
            .all("encryption_keys", ENCRYPTION_KEYS, encryption_key)
            .await,
        availability_databases: reader
            .all(
                "availability_databases",
                AVAILABILITY_DATABASES,
                availability_database,
            )
            .await,
    }
}

/// The database mirroring endpoint, if any, read on its own (the connection test).
pub async fn mirroring_endpoints(
    conn: &mut Connection,
    timeout: Duration,
) -> Fact<Vec<MirroringEndpoint>> {
    let mut reader = Reader {
        conn,
        timeout,
        broken: None,
    };
    reader
        .all("mirroring_endpoints", MIRRORING_ENDPOINTS, endpoint)
        .await
}

struct Reader<'c> {
    conn: &'c mut Connection,
    timeout: Duration,
    /// Set once a query timed out: the connection may be mid-answer.
    broken: Option<String>,
}

impl Reader<'_> {
    async fn all<T>(
        &mut self,
        name: &'static str,
        sql: &str,
        parse: impl Fn(&Row) -> Result<T, SqlError>,
    ) -> Fact<Vec<T>> {
        let answer = self.query(name, sql).await?;
        answer
            .iter()
            .map(&parse)
            .collect::<Result<_, _>>()
            .map_err(|e| Missing(e.to_string()))
    }

    async fn one<T>(
        &mut self,
        name: &'static str,
        sql: &str,
        parse: impl Fn(&Row) -> Result<T, SqlError>,
    ) -> Fact<T> {
        self.all(name, sql, parse)
            .await?
            .into_iter()
            .next()
            .ok_or_else(|| Missing(format!("{name}: SQL Server returned no row")))
    }

    /// A per-database catalog view of every online database, a UNION ALL of
    /// `select(database)` per chunk; missing when the databases are.
    async fn per_database<T>(
        &mut self,
        name: &'static str,
        databases: &Fact<Vec<Database>>,
        select: fn(&str) -> String,
        parse: impl Fn(&Row) -> Result<T, SqlError>,
    ) -> Fact<Vec<T>> {
        let online: Vec<&str> = got(databases)?
            .iter()
            .filter(|d| d.online())
            .map(|d| d.name.as_str())
            .collect();
        let mut found = Vec::new();
        for chunk in online.chunks(DATABASES_PER_QUERY) {
            let sql = chunk
                .iter()
                .map(|d| select(d))
                .collect::<Vec<_>>()
                .join("\nUNION ALL\n");
            found.extend(self.all(name, &sql, &parse).await?);
        }
        Ok(found)
    }

    /// The rows of one query, unless an earlier query left the connection unusable.
    async fn query(&mut self, name: &'static str, sql: &str) -> Fact<Vec<Row>> {
        if let Some(earlier) = &self.broken {
            return Err(Missing(format!(
                "{name}: not read because {earlier}; assess again"
            )));
        }
        rows(self.conn, name, sql, self.timeout).await.map_err(|e| {
            if matches!(e, SqlError::Timeout { .. }) {
                self.broken = Some(e.to_string());
            }
            Missing(e.to_string())
        })
    }
}

fn filegroups_sql(database: &str) -> String {
    let db = quote_name(database);
    format!(
        "SELECT {name} AS database_name, fg.name, fg.type, \
         CAST((SELECT COUNT(*) FROM {db}.sys.database_files AS f WHERE f.data_space_id = fg.data_space_id) AS int) AS files \
         FROM {db}.sys.filegroups AS fg WHERE fg.type IN ('FD', 'FX')",
        name = literal(database)
    )
}

fn assemblies_sql(database: &str) -> String {
    let db = quote_name(database);
    format!(
        "SELECT {name} AS database_name, a.name, a.permission_set_desc \
         FROM {db}.sys.assemblies AS a WHERE a.is_user_defined = 1",
        name = literal(database)
    )
}

/// The modules' names in other databases and on other servers. (Rows for DDL
/// triggers, which are not in sys.objects, are left out.)
fn references_sql(database: &str) -> String {
    let db = quote_name(database);
    format!(
        "SELECT {name} AS database_name, s.name AS schema_name, o.name AS object_name, o.type_desc, \
         d.referenced_server_name, d.referenced_database_name, d.referenced_schema_name, d.referenced_entity_name \
         FROM {db}.sys.sql_expression_dependencies AS d \
         JOIN {db}.sys.objects AS o ON o.object_id = d.referencing_id \
         JOIN {db}.sys.schemas AS s ON s.schema_id = o.schema_id \
         WHERE d.referenced_database_name IS NOT NULL OR d.referenced_server_name IS NOT NULL",
        name = literal(database)
    )
}

/// The modules that may begin distributed transactions; the checks read the text.
/// UPPER makes the filter independent of the database's collation.
fn distributed_modules_sql(database: &str) -> String {
    let db = quote_name(database);
    format!(
        "SELECT {name} AS database_name, s.name AS schema_name, o.name AS object_name, o.type_desc, m.definition \
         FROM {db}.sys.sql_modules AS m \
         JOIN {db}.sys.objects AS o ON o.object_id = m.object_id \
         JOIN {db}.sys.schemas AS s ON s.schema_id = o.schema_id \
         WHERE UPPER(m.definition) LIKE N'%DISTRIBUTED%'",
        name = literal(database)
    )
}

fn module_name(row: &Row, q: &'static str) -> Result<ModuleName, SqlError> {
    Ok(ModuleName {
        database: text(row, q, "database_name")?,
        schema: text(row, q, "schema_name")?,
        name: text(row, q, "object_name")?,
        kind: text(row, q, "type_desc")?,
    })
}

fn reference(row: &Row) -> Result<Reference, SqlError> {
    let q = "references";
    Ok(Reference {
        module: module_name(row, q)?,
        server: optional_text(row, q, "referenced_server_name")?,
        database: optional_text(row, q, "referenced_database_name")?,
        schema: optional_text(row, q, "referenced_schema_name")?,
        entity: text(row, q, "referenced_entity_name")?,
    })
}

fn distributed_module(row: &Row) -> Result<Module, SqlError> {
    let q = "distributed_modules";
    Ok(Module {
        module: module_name(row, q)?,
        definition: text(row, q, "definition")?,
    })
}

fn server(row: &Row) -> Result<Server, SqlError> {
    let q = "server";
    let product_version = text(row, q, "product_version")?;
    let mut build = [0u32; 4];
    for (slot, part) in build.iter_mut().zip(product_version.split('.')) {
        *slot = part.parse().map_err(|_| SqlError::Query {
            query: q,
            reason: format!("ProductVersion {product_version:?} is not a build number"),
        })?;
    }
    Ok(Server {
        build,
        product_update_level: text(row, q, "product_update_level")?,
        edition: text(row, q, "edition")?,
        engine_edition: int(row, q, "engine_edition")?,
        hadr_enabled: int(row, q, "hadr_enabled")? == 1,
        clustered: int(row, q, "clustered")? == 1,
        collation: text(row, q, "collation")?,
        issuer_procedure: int(row, q, "issuer_procedure")? == 1,
        product_version,
    })
}

fn database(row: &Row) -> Result<Database, SqlError> {
    let q = "databases";
    let adr = column::<i32>(row, q, "accelerated_recovery")?;
    Ok(Database {
        name: text(row, q, "name")?,
        database_id: int(row, q, "database_id")?,
        state: text(row, q, "state_desc")?,
        recovery_model: text(row, q, "recovery_model_desc")?,
        compatibility_level: int(row, q, "compatibility_level")?,
        collation: text(row, q, "collation_name")?,
        encrypted: int(row, q, "is_encrypted")? == 1,
        broker_enabled: int(row, q, "is_broker_enabled")? == 1,
        accelerated_recovery: adr.map(|v| v == 1),
        size_bytes: big(row, q, "size_bytes")?,
        log_files: int(row, q, "log_files")?,
    })
}

fn filegroup(row: &Row) -> Result<Filegroup, SqlError> {
    let q = "filegroups";
    Ok(Filegroup {
        database: text(row, q, "database_name")?,
        name: text(row, q, "name")?,
        kind: text(row, q, "type")?.trim().to_string(),
        files: int(row, q, "files")?,
    })
}

fn assembly(row: &Row) -> Result<Assembly, SqlError> {
    let q = "assemblies";
    Ok(Assembly {
        database: text(row, q, "database_name")?,
        name: text(row, q, "name")?,
        permission_set: text(row, q, "permission_set_desc")?,
    })
}

fn backup(row: &Row) -> Result<BackupHistory, SqlError> {
    let q = "backups";
    Ok(BackupHistory {
        database: text(row, q, "database_name")?,
        last_full: optional_text(row, q, "last_full")?,
        copy_only_fulls: int(row, q, "copy_only_fulls")?,
    })
}

fn trace_flag(row: &Row) -> Result<i32, SqlError> {
    Ok(i32::from(
        column::<i16>(row, "trace_flags", "TraceFlag")?.unwrap_or_default(),
    ))
}

fn endpoint(row: &Row) -> Result<MirroringEndpoint, SqlError> {
    let q = "mirroring_endpoints";
    Ok(MirroringEndpoint {
        name: text(row, q, "name")?,
        state: text(row, q, "state_desc")?,
        port: int(row, q, "port")?,
        connection_auth: text(row, q, "connection_auth_desc")?,
        encryption_algorithm: text(row, q, "encryption_algorithm_desc")?,
        encryption_enabled: int(row, q, "is_encryption_enabled")? == 1,
        ip_address: optional_text(row, q, "ip_address")?,
    })
}

fn login(row: &Row) -> Result<Login, SqlError> {
    let q = "logins";
    Ok(Login {
        name: text(row, q, "name")?,
        kind: text(row, q, "type")?.trim().to_string(),
        disabled: int(row, q, "is_disabled")? == 1,
    })
}

fn linked_server(row: &Row) -> Result<LinkedServer, SqlError> {
    let q = "linked_servers";
    Ok(LinkedServer {
        name: text(row, q, "name")?,
        provider: text(row, q, "provider")?,
        product: text(row, q, "product")?,
    })
}

fn job_step(row: &Row) -> Result<JobStep, SqlError> {
    let q = "job_steps";
    Ok(JobStep {
        job: text(row, q, "job_name")?,
        step: text(row, q, "step_name")?,
        subsystem: text(row, q, "subsystem")?,
        command: text(row, q, "command")?,
        job_enabled: int(row, q, "enabled")? == 1,
    })
}

fn encryption_key(row: &Row) -> Result<EncryptionKey, SqlError> {
    let q = "encryption_keys";
    // https://learn.microsoft.com/sql/relational-databases/system-dynamic-management-views/sys-dm-database-encryption-keys-transact-sql
    let state = match int(row, q, "encryption_state")? {
        0 => "NO_DATABASE_ENCRYPTION_KEY",
        1 => "UNENCRYPTED",
        2 => "ENCRYPTION_IN_PROGRESS",
        3 => "ENCRYPTED",
        4 => "KEY_CHANGE_IN_PROGRESS",
        5 => "DECRYPTION_IN_PROGRESS",
        6 => "PROTECTION_CHANGE_IN_PROGRESS",
        _ => "UNKNOWN",
    };
    Ok(EncryptionKey {
        database_id: int(row, q, "database_id")?,
        state: state.into(),
        certificate: optional_text(row, q, "certificate")?,
        encryptor_type: text(row, q, "encryptor_type")?,
    })
}

fn availability_database(row: &Row) -> Result<AvailabilityDatabase, SqlError> {
    let q = "availability_databases";
    Ok(AvailabilityDatabase {
        group: text(row, q, "group_name")?,
        distributed: int(row, q, "is_distributed")? == 1,
        database: text(row, q, "database_name")?,
    })
}
