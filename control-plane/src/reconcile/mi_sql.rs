//! The control plane's read-only checks on a target managed instance over TDS
//! (tiberius), signed in with `[cutover.mi_sql]`'s login: the database's state after
//! the failover, msdb's backup history, and the rows of the database's tables (the
//! validation gate's count). One connection per check, a timeout on
//! connecting and on each query; names reach T-SQL only quoted (as literals or
//! bracketed identifiers).

use std::time::Duration;

use ferry_proto::tsql::{literal, quote_name};
use tiberius::{AuthMethod, Client, Config, EncryptionLevel};
use tokio::net::TcpStream;
use tokio_util::compat::TokioAsyncWriteCompatExt;

use crate::cutover::settings::MiSqlSettings;
use crate::store::row_counts::TableRows;

/// A database on the MI as `sys.databases` and the link's group show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MiDatabase {
    /// ONLINE, RESTORING, ...
    pub state: String,
    pub read_only: bool,
    /// The MI's role in the link's distributed AG ('' once the link is gone).
    pub link_role: String,
}

/// `database` on the MI at `fqdn`, None when it has none of that name.
pub async fn database(
    settings: &MiSqlSettings,
    fqdn: &str,
    database: &str,
    link: &str,
) -> Result<Option<MiDatabase>, String> {
    let query = format!(
        "SELECT d.state_desc, CAST(d.is_read_only AS int) AS is_read_only,
            CAST((SELECT MAX(rs.role_desc) FROM sys.dm_hadr_availability_replica_states rs
             JOIN sys.availability_groups ag ON ag.group_id = rs.group_id
             WHERE rs.is_local = 1 AND ag.is_distributed = 1 AND ag.name = {link}) AS nvarchar(60)) AS link_role
         FROM sys.databases d WHERE d.name = {db}",
        db = literal(database),
        link = literal(link),
    );
    let rows = first_result(settings, fqdn, &query).await?;
    let Some(row) = rows.first() else {
        return Ok(None);
    };
    let text = |name: &str| -> Result<String, String> {
        row.try_get::<&str, _>(name)
            .map(|v| v.unwrap_or_default().to_string())
            .map_err(|e| format!("column {name}: {e}"))
    };
    Ok(Some(MiDatabase {
        state: text("state_desc")?,
        read_only: row
            .try_get::<i32, _>("is_read_only")
            .map_err(|e| format!("column is_read_only: {e}"))?
            .unwrap_or(1)
            != 0,
        link_role: text("link_role")?,
    }))
}

/// How many full backups (not COPY_ONLY) of `database` the MI's msdb records.
pub async fn full_backups(
    settings: &MiSqlSettings,
    fqdn: &str,
    database: &str,
) -> Result<i64, String> {
    let query = format!(
        "SELECT CAST(COUNT(*) AS int) AS n FROM msdb.dbo.backupset
         WHERE database_name = {} AND type = 'D' AND is_copy_only = 0",
        literal(database)
    );
    let rows = first_result(settings, fqdn, &query).await?;
    let n = rows
        .first()
        .map(|row| row.try_get::<i32, _>("n"))
        .transpose()
        .map_err(|e| format!("column n: {e}"))?
        .flatten()
        .unwrap_or(0);
    Ok(i64::from(n))
}

/// How long one table's count may take on the MI (a scan of its smallest index).
const COUNT_TIMEOUT: Duration = Duration::from_secs(600);

/// The rows of every user table of `database` on the MI (or of `tables`, as
/// schema.name), one COUNT_BIG at a time, as the agent counts SQL Server's.
pub async fn row_counts(
    settings: &MiSqlSettings,
    fqdn: &str,
    database: &str,
    tables: &[String],
) -> Result<Vec<TableRows>, String> {
    let limit = Duration::from_secs(settings.timeout_secs);
    let on_mi = |e: String| format!("on the MI {fqdn}: {e}");
    let mut client = connect_within(settings, fqdn).await?;
    let db = quote_name(database);
    let listed = query(
        &mut client,
        &format!(
            "SELECT s.name AS schema_name, t.name AS table_name FROM {db}.sys.tables AS t
             JOIN {db}.sys.schemas AS s ON s.schema_id = t.schema_id
             WHERE t.is_ms_shipped = 0 ORDER BY s.name, t.name"
        ),
        limit,
    )
    .await
    .map_err(on_mi)?;
    let mut counted = Vec::new();
    for row in &listed {
        let text = |name: &str| -> Result<String, String> {
            row.try_get::<&str, _>(name)
                .map(|v| v.unwrap_or_default().to_string())
                .map_err(|e| format!("column {name}: {e}"))
        };
        let (schema, name) = (text("schema_name")?, text("table_name")?);
        let qualified = format!("{schema}.{name}");
        if !tables.is_empty() && !tables.iter().any(|t| t.eq_ignore_ascii_case(&qualified)) {
            continue;
        }
        let sql = format!(
            "SELECT COUNT_BIG(*) AS n FROM {db}.{}.{}",
            quote_name(&schema),
            quote_name(&name)
        );
        let rows = query(&mut client, &sql, COUNT_TIMEOUT)
            .await
            .map_err(|e| on_mi(format!("counting {qualified}: {e}")))?;
        let n = rows
            .first()
            .map(|r| r.try_get::<i64, _>("n"))
            .transpose()
            .map_err(|e| format!("column n: {e}"))?
            .flatten()
            .unwrap_or(0);
        counted.push(TableRows {
            schema,
            name,
            rows: n,
        });
    }
    Ok(counted)
}

/// The first result set of `sql` on an open connection, within `limit`.
async fn query(
    client: &mut Client<tokio_util::compat::Compat<TcpStream>>,
    sql: &str,
    limit: Duration,
) -> Result<Vec<tiberius::Row>, String> {
    let work = async {
        let stream = client.simple_query(sql).await.map_err(|e| e.to_string())?;
        stream.into_first_result().await.map_err(|e| e.to_string())
    };
    tokio::time::timeout(limit, work)
        .await
        .map_err(|_| format!("no answer within {} s", limit.as_secs()))?
}

async fn first_result(
    settings: &MiSqlSettings,
    fqdn: &str,
    sql: &str,
) -> Result<Vec<tiberius::Row>, String> {
    let limit = Duration::from_secs(settings.timeout_secs);
    let mut client = connect_within(settings, fqdn).await?;
    query(&mut client, sql, limit)
        .await
        .map_err(|e| format!("on the MI {fqdn}: {e}"))
}

/// A connection to the MI at `fqdn`, within the settings' timeout.
async fn connect_within(
    settings: &MiSqlSettings,
    fqdn: &str,
) -> Result<Client<tokio_util::compat::Compat<TcpStream>>, String> {
    let limit = Duration::from_secs(settings.timeout_secs);
    tokio::time::timeout(limit, connect(settings, fqdn))
        .await
        .map_err(|_| format!("the MI {fqdn} did not answer within {} s", limit.as_secs()))?
        .map_err(|e| format!("on the MI {fqdn}: {e}"))
}

async fn connect(
    settings: &MiSqlSettings,
    fqdn: &str,
) -> Result<Client<tokio_util::compat::Compat<TcpStream>>, String> {
    let password_file = settings
        .password_file
        .as_ref()
        .ok_or("cutover.mi_sql.password_file is not set")?;
    let password = ferry_proto::private_files::read_secret(password_file)
        .map_err(|e| format!("cutover.mi_sql.password_file: {e}"))?;
    let mut config = Config::new();
    config.host(fqdn);
    config.port(settings.port);
    config.application_name("ferry-control");
    config.encryption(EncryptionLevel::Required);
    if settings.trust_server_certificate {
        config.trust_cert();
    } else if let Some(ca) = &settings.ca_file {
        config.trust_cert_ca(ca.display());
    }
    config.authentication(AuthMethod::sql_server(
        &settings.login,
        password.trim_end_matches(['\r', '\n']),
    ));
    let mapped = settings
        .hosts
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(fqdn));
    let tcp = match mapped.map(|(_, ip)| *ip) {
        Some(ip) => TcpStream::connect((ip, settings.port)).await,
        None => TcpStream::connect((fqdn, settings.port)).await,
    }
    .map_err(|e| format!("connecting to {fqdn}:{}: {e}", settings.port))?;
    tcp.set_nodelay(true).map_err(|e| e.to_string())?;
    Client::connect(config, tcp.compat_write())
        .await
        .map_err(|e| e.to_string())
}
