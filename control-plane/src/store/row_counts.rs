//! Row counts a cutover's validation compares (`cutover::gates::validation`): the
//! newest count of each side of a migration's database — SQL Server's, asked of the
//! agent (a CountRows command) and recorded from its report; the MI's, taken by the
//! control plane itself — each for the cutover request it was taken for. A count is
//! asked (no `counted_at`) and then recorded; asking again replaces it.

use sqlx::any::AnyRow;
use sqlx::AnyConnection;

use super::commands::{self, CommandRecord};
use super::{col, Store, StoreError};
pub use crate::cutover::row_counts::{RowCount, Side, TableRows};
use crate::fleet::identity::AgentId;

/// What the agent's RowCounts report carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqlCounted {
    pub command_id: String,
    pub migration_id: String,
    pub lsn_before: String,
    pub lsn_after: String,
    pub tables: Vec<TableRows>,
    pub counted_at_ms: i64,
    pub error: String,
}

impl Store {
    /// Asks the agent for SQL Server's count (`command`, a CountRows) for cutover
    /// request `requested_at_ms`, replacing the previous count.
    pub async fn ask_sql_count(
        &self,
        migration: &str,
        requested_at_ms: i64,
        command: &CommandRecord,
    ) -> Result<(), StoreError> {
        let _timed = self.timed("ask_sql_count");
        let mut tx = self.write().await?;
        commands::insert(&mut tx, command).await?;
        ask(
            &mut tx,
            (migration, Side::Sql),
            requested_at_ms,
            &command.id,
            command.created_at_ms,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Notes that the control plane counts the MI's side now, replacing the
    /// previous count.
    pub async fn ask_mi_count(
        &self,
        migration: &str,
        requested_at_ms: i64,
        now_ms: i64,
    ) -> Result<(), StoreError> {
        let _timed = self.timed("ask_mi_count");
        let mut tx = self.write().await?;
        ask(&mut tx, (migration, Side::Mi), requested_at_ms, "", now_ms).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Records the MI's count asked at `asked_at_ms` (unless a newer one was asked since).
    pub async fn record_mi_count(
        &self,
        migration: &str,
        asked_at_ms: i64,
        counted: Result<Vec<TableRows>, String>,
        now_ms: i64,
    ) -> Result<(), StoreError> {
        let _timed = self.timed("record_mi_count");
        let (tables, error) = match counted {
            Ok(tables) => (tables, String::new()),
            Err(error) => (Vec::new(), error),
        };
        self.execute(sqlx::query("UPDATE row_counts SET counted_at = $1, tables = $2, error = $3 WHERE migration_id = $4 AND side = 'mi' AND asked_at = $5")
            .bind(now_ms)
            .bind(tables_json(&tables)?)
            .bind(&error)
            .bind(migration)
            .bind(asked_at_ms))
            .await?;
        Ok(())
    }

    /// Both sides' newest counts of `migration`'s database.
    pub async fn row_counts(&self, migration: &str) -> Result<Vec<RowCount>, StoreError> {
        let _timed = self.timed("row_counts");
        let rows = sqlx::query("SELECT * FROM row_counts WHERE migration_id = $1 ORDER BY side")
            .bind(migration)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(decode).collect()
    }
}

async fn ask(
    conn: &mut AnyConnection,
    (migration, side): (&str, Side),
    requested_at_ms: i64,
    command_id: &str,
    now_ms: i64,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO row_counts (migration_id, side, requested_at, command_id, asked_at, counted_at, lsn_before, lsn_after, tables, error)
         VALUES ($1, $2, $3, $4, $5, NULL, '', '', '[]', '')
         ON CONFLICT (migration_id, side) DO UPDATE SET requested_at = excluded.requested_at, command_id = excluded.command_id,
             asked_at = excluded.asked_at, counted_at = NULL, lsn_before = '', lsn_after = '', tables = '[]', error = ''",
    )
    .bind(migration)
    .bind(side.as_str())
    .bind(requested_at_ms)
    .bind(command_id)
    .bind(now_ms)
    .execute(conn)
    .await?;
    Ok(())
}

/// Records SQL Server's count from the agent's report (inside the report's
/// transaction); false when it answers no count asked of this agent.
pub(crate) async fn record_sql_count(
    conn: &mut AnyConnection,
    agent: AgentId,
    counted: &SqlCounted,
) -> Result<bool, StoreError> {
    let changed = sqlx::query(
        "UPDATE row_counts SET counted_at = $1, lsn_before = $2, lsn_after = $3, tables = $4, error = $5
         WHERE migration_id = $6 AND side = 'sql' AND command_id = $7
           AND migration_id IN (SELECT id FROM migrations WHERE agent_id = $8)",
    )
    .bind(counted.counted_at_ms)
    .bind(&counted.lsn_before)
    .bind(&counted.lsn_after)
    .bind(tables_json(&counted.tables)?)
    .bind(&counted.error)
    .bind(&counted.migration_id)
    .bind(&counted.command_id)
    .bind(agent.to_string())
    .execute(conn)
    .await?
    .rows_affected();
    Ok(changed == 1)
}

fn tables_json(tables: &[TableRows]) -> Result<String, StoreError> {
    serde_json::to_string(tables).map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn decode(row: &AnyRow) -> Result<RowCount, StoreError> {
    let side = match col::<String>(row, "side")?.as_str() {
        "sql" => Side::Sql,
        "mi" => Side::Mi,
        other => return Err(StoreError::Corrupt(format!("row count side {other:?}"))),
    };
    let tables: String = col(row, "tables")?;
    Ok(RowCount {
        side,
        requested_at_ms: col(row, "requested_at")?,
        command_id: col(row, "command_id")?,
        asked_at_ms: col(row, "asked_at")?,
        counted_at_ms: col(row, "counted_at")?,
        lsn_before: col(row, "lsn_before")?,
        lsn_after: col(row, "lsn_after")?,
        tables: serde_json::from_str(&tables)
            .map_err(|e| StoreError::Corrupt(format!("column tables: {e}")))?,
        error: col(row, "error")?,
    })
}
