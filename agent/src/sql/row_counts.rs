//! A CountRows command: every user table's rows of one database (`COUNT_BIG(*)`, one
//! table at a time), between two readings of the database's end of log, so the
//! control plane knows whether anything was written while it counted (the same end of
//! log the link status reports: the database's copy in the link's distributed AG).
//! Reads only.

use std::time::Duration;

use ferry_proto::agent::v1::{CountRows, RowCounts, TableRows};
use ferry_proto::clock::now_ms;
use ferry_proto::tsql::{literal, quote_name};

use super::{big, rows, text, Connection, SqlError};
use crate::config::AgentConfig;

const TABLES: &str = include_str!("queries/validate/tables.sql");

/// How long one table's count may take: a count scans the table's smallest index,
/// which on a large table takes far longer than the instance's query timeout.
const COUNT_TIMEOUT: Duration = Duration::from_secs(600);

pub async fn count(config: &AgentConfig, command_id: &str, request: CountRows) -> RowCounts {
    let mut report = RowCounts {
        command_id: command_id.to_string(),
        migration_id: request.migration_id.clone(),
        ..Default::default()
    };
    if let Err(error) = count_into(config, &request, &mut report).await {
        tracing::warn!(migration = %request.migration_id, %error, "rows could not be counted");
        report.tables.clear();
        report.error = error;
    }
    report.counted_unix_ms = now_ms();
    report
}

async fn count_into(
    config: &AgentConfig,
    request: &CountRows,
    report: &mut RowCounts,
) -> Result<(), String> {
    if request.database.is_empty() {
        return Err("the command names no database".into());
    }
    let instance = config.instance(&request.instance)?;
    let timeout = Duration::from_secs(instance.query_timeout_secs);
    let mut conn = super::connect(instance)
        .await
        .map_err(|e| format!("connecting to {}: {e}", instance.name))?;
    let db = quote_name(&request.database);
    let lsn_query = format!(
        "SELECT CAST(MAX(l.end_of_log_lsn) AS varchar(30)) AS lsn FROM sys.dm_hadr_database_replica_states AS l JOIN sys.availability_groups AS ag ON ag.group_id = l.group_id WHERE ag.is_distributed = 1 AND l.is_local = 1 AND l.database_id = DB_ID({})",
        literal(&request.database)
    );
    report.end_of_log_before = end_of_log(&mut conn, &lsn_query, timeout)
        .await
        .map_err(|e| e.to_string())?;
    let listed = rows(
        &mut conn,
        "user tables",
        &format!("USE {db}; {TABLES}"),
        timeout,
    )
    .await
    .map_err(|e| e.to_string())?;
    for row in &listed {
        let schema = text(row, "user tables", "schema_name").map_err(|e| e.to_string())?;
        let name = text(row, "user tables", "table_name").map_err(|e| e.to_string())?;
        let wanted = request.tables.is_empty()
            || request
                .tables
                .iter()
                .any(|t| t.eq_ignore_ascii_case(&format!("{schema}.{name}")));
        if !wanted {
            continue;
        }
        let sql = format!(
            "SELECT COUNT_BIG(*) AS n FROM {db}.{}.{}",
            quote_name(&schema),
            quote_name(&name)
        );
        let counted = rows(&mut conn, "row count", &sql, COUNT_TIMEOUT)
            .await
            .map_err(|e| format!("counting {schema}.{name}: {e}"))?;
        let rows = counted
            .first()
            .map(|r| big(r, "row count", "n"))
            .transpose()
            .map_err(|e| e.to_string())?
            .unwrap_or(0);
        report.tables.push(TableRows { schema, name, rows });
    }
    if let Some(missing) = request.tables.iter().find(|t| {
        !report
            .tables
            .iter()
            .any(|f| t.eq_ignore_ascii_case(&format!("{}.{}", f.schema, f.name)))
    }) {
        return Err(format!(
            "no user table {missing} in {}: name tables as schema.name",
            request.database
        ));
    }
    report.end_of_log_after = end_of_log(&mut conn, &lsn_query, timeout)
        .await
        .map_err(|e| e.to_string())?;
    Ok(())
}

async fn end_of_log(
    conn: &mut Connection,
    sql: &str,
    timeout: Duration,
) -> Result<String, SqlError> {
    let found = rows(conn, "end of log", sql, timeout).await?;
    Ok(match found.first() {
        Some(row) => text(row, "end of log", "lsn")?,
        None => String::new(),
    })
}
