//! The only code that touches SQL Server (tiberius). One connection per instance at a
//! time, a timeout on connecting and on every query, and errors that carry SQL Server's
//! own error number. Queries live in `queries/*.sql`.
//!
//! - [`inventory`]: what the instance is and which databases it holds.
//! - [`assessment`]: the facts the readiness checks look at.
//! - [`load`]: one reading of the load counters, for sizing.
//! - [`link_status`]: the SQL Server side of the MI links, from the DMVs.
//! - [`row_counts`]: a database's rows per user table, for a cutover's validation.

pub mod assessment;
pub mod inventory;
pub mod link_status;
pub mod load;
pub mod row_counts;

use std::future::Future;
use std::time::Duration;

use tiberius::{AuthMethod, Client, Config, EncryptionLevel, Row};
use tokio::net::TcpStream;
use tokio_util::compat::{Compat, TokioAsyncWriteCompatExt};

use crate::config::{Auth, Encryption, InstanceConfig};

/// A connection to one instance, named as the agent's configuration names it (its
/// queries are counted under that name).
pub struct Connection {
    client: Client<Compat<TcpStream>>,
    instance: String,
}

impl std::ops::Deref for Connection {
    type Target = Client<Compat<TcpStream>>;
    fn deref(&self) -> &Self::Target {
        &self.client
    }
}

impl std::ops::DerefMut for Connection {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.client
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SqlError {
    #[error("configuration: {0}")]
    Config(String),
    #[error("cannot connect to {address}: {reason}")]
    Connect { address: String, reason: String },
    #[error("{what} timed out after {after:?}")]
    Timeout { what: String, after: Duration },
    #[error("SQL Server error {number} (state {state}, class {class}) in {query}: {message}")]
    Server {
        query: &'static str,
        number: u32,
        state: u8,
        class: u8,
        message: String,
    },
    #[error("{query}: {reason}")]
    Query { query: &'static str, reason: String },
}

/// Opens a connection as the instance's configuration says, within its connect timeout.
pub async fn connect(instance: &InstanceConfig) -> Result<Connection, SqlError> {
    let mut config = Config::new();
    config.host(&instance.host);
    config.port(instance.port);
    config.application_name("ferry-agent");
    config.encryption(match instance.encryption {
        Encryption::Required => EncryptionLevel::Required,
        Encryption::LoginOnly => EncryptionLevel::Off,
        Encryption::Off => EncryptionLevel::NotSupported,
    });
    if instance.trust_server_certificate {
        config.trust_cert();
    } else if let Some(ca) = &instance.ca_file {
        config.trust_cert_ca(ca.display());
    }
    match &instance.auth {
        Auth::SqlLogin { username, .. } => {
            let password = instance.auth.password().map_err(SqlError::Config)?.unwrap_or_default();
            config.authentication(AuthMethod::sql_server(username, password));
        }
        Auth::Integrated => {
            return Err(SqlError::Config(
                "integrated (Windows/Kerberos) authentication is not supported by this build of ferry-agent; use auth.method = \"sql_login\"".into(),
            ))
        }
    }
    let address = config.get_addr();
    let limit = Duration::from_secs(instance.connect_timeout_secs);
    let connect = async {
        let tcp = TcpStream::connect(&address)
            .await
            .map_err(|e| SqlError::Connect {
                address: address.clone(),
                reason: e.to_string(),
            })?;
        tcp.set_nodelay(true).map_err(|e| SqlError::Connect {
            address: address.clone(),
            reason: e.to_string(),
        })?;
        Client::connect(config, tcp.compat_write())
            .await
            .map_err(|e| match e {
                tiberius::error::Error::Server(_) => query_error("login", e),
                other => SqlError::Connect {
                    address: address.clone(),
                    reason: other.to_string(),
                },
            })
    };
    let what = format!("connecting to {address}");
    let client = within((&instance.name, limit), what, connect).await?;
    Ok(Connection {
        client,
        instance: instance.name.clone(),
    })
}

/// Runs `future` on `instance` with a deadline; its duration and outcome are counted
/// under `what` (`crate::metrics`).
async fn within<T>(
    (instance, limit): (&str, Duration),
    what: impl Into<String>,
    future: impl Future<Output = Result<T, SqlError>>,
) -> Result<T, SqlError> {
    let what = what.into();
    let started = std::time::Instant::now();
    let result = tokio::time::timeout(limit, future)
        .await
        .map_err(|_| SqlError::Timeout {
            what: what.clone(),
            after: limit,
        })
        .and_then(|result| result);
    let outcome = match &result {
        Ok(_) => crate::metrics::SqlOutcome::Ok,
        Err(SqlError::Timeout { .. }) => crate::metrics::SqlOutcome::Timeout,
        Err(SqlError::Server { number, .. }) => crate::metrics::SqlOutcome::Server(*number),
        Err(SqlError::Connect { .. }) => crate::metrics::SqlOutcome::Connect,
        Err(_) => crate::metrics::SqlOutcome::Other,
    };
    crate::metrics::sql((instance, &what), outcome, started.elapsed());
    result
}

/// The first result set of `sql`, within `timeout`.
pub async fn rows(
    conn: &mut Connection,
    name: &'static str,
    sql: &str,
    timeout: Duration,
) -> Result<Vec<Row>, SqlError> {
    let instance = conn.instance.clone();
    within((&instance, timeout), name, async {
        let stream = conn
            .simple_query(sql)
            .await
            .map_err(|e| query_error(name, e))?;
        stream
            .into_first_result()
            .await
            .map_err(|e| query_error(name, e))
    })
    .await
}

/// Whether `sql`, which selects one int column `n` (a count, a flag), finds more than
/// zero in its first row; no row is zero.
pub async fn positive(
    conn: &mut Connection,
    name: &'static str,
    sql: &str,
    timeout: Duration,
) -> Result<bool, SqlError> {
    let rows = rows(conn, name, sql, timeout).await?;
    let n = rows.first().map(|row| int(row, name, "n")).transpose()?;
    Ok(n.unwrap_or(0) > 0)
}

/// Runs `sql` for its effect, reading every result it returns, within `timeout`.
pub async fn execute(
    conn: &mut Connection,
    name: &'static str,
    sql: &str,
    timeout: Duration,
) -> Result<(), SqlError> {
    let instance = conn.instance.clone();
    within((&instance, timeout), name, async {
        conn.simple_query(sql)
            .await
            .map_err(|e| query_error(name, e))?
            .into_results()
            .await
            .map_err(|e| query_error(name, e))
    })
    .await?;
    Ok(())
}

/// A column's value, None for NULL; a wrong type names the query and the column.
pub fn column<'a, T: tiberius::FromSql<'a>>(
    row: &'a Row,
    query: &'static str,
    column: &str,
) -> Result<Option<T>, SqlError> {
    row.try_get::<T, _>(column).map_err(|e| SqlError::Query {
        query,
        reason: format!("column {column}: {e}"),
    })
}

/// A text column; NULL reads as empty.
pub fn text(row: &Row, query: &'static str, name: &str) -> Result<String, SqlError> {
    Ok(column::<&str>(row, query, name)?
        .unwrap_or_default()
        .to_string())
}

/// A nullable text column.
pub fn optional_text(
    row: &Row,
    query: &'static str,
    name: &str,
) -> Result<Option<String>, SqlError> {
    Ok(column::<&str>(row, query, name)?.map(str::to_string))
}

/// An int column; NULL reads as 0.
pub fn int(row: &Row, query: &'static str, name: &str) -> Result<i32, SqlError> {
    Ok(column::<i32>(row, query, name)?.unwrap_or_default())
}

/// A bigint column; NULL reads as 0.
pub fn big(row: &Row, query: &'static str, name: &str) -> Result<i64, SqlError> {
    Ok(column::<i64>(row, query, name)?.unwrap_or_default())
}

pub use ferry_proto::tsql::{literal, plain_literal, quote_name};

/// Maps a tiberius error from the named query.
pub fn query_error(query: &'static str, error: tiberius::error::Error) -> SqlError {
    match error {
        tiberius::error::Error::Server(token) => SqlError::Server {
            query,
            number: token.code(),
            state: token.state(),
            class: token.class(),
            message: token.message().to_string(),
        },
        other => SqlError::Query {
            query,
            reason: other.to_string(),
        },
    }
}
