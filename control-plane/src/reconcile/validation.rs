//! Counting rows for the validation gate (`gates::validation`): SQL Server's side is
//! asked of the agent (a CountRows command, answered by a RowCounts report), the MI's
//! is counted by the control plane itself over TDS in a task of its own, so a long
//! count never holds up the driver. Both are recorded in the store
//! (`store::row_counts`), where the gate reads them.

use serde::{Deserialize, Serialize};

use super::mi_sql;
use crate::context::Context;
use crate::cutover::gates::validation::Needed;
use crate::migration::ACTOR;
use crate::store::commands::{CommandKind, CommandRecord};
use crate::store::migrations::MigrationRecord;
use crate::store::StoreError;

/// A CountRows command's parameters, kept as its payload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CountRequest {
    pub migration_id: String,
    pub instance: String,
    pub database: String,
    /// As schema.name; empty for every user table.
    pub tables: Vec<String>,
}

/// Asks for the counts `needed` says, for cutover request `requested_at_ms`.
pub async fn count(
    shared: &Context,
    m: &MigrationRecord,
    (fqdn, requested_at_ms): (&str, i64),
    needed: Needed,
    now_ms: i64,
) -> Result<(), StoreError> {
    let tables = &shared.config.cutover.validate_tables;
    if needed.sql {
        let request = CountRequest {
            migration_id: m.id.clone(),
            instance: m.instance.clone(),
            database: m.database.clone(),
            tables: tables.clone(),
        };
        let payload =
            serde_json::to_string(&request).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let ttl_ms = (shared.config.migrations.command_ttl_secs * 1000) as i64;
        let span = intent_span(m, "validation");
        let command = CommandRecord::pending(
            m.agent_id,
            CommandKind::CountRows,
            ACTOR,
            now_ms,
            now_ms + ttl_ms,
            &span.in_scope(crate::context::trace_context),
        )
        .with_payload(payload);
        shared
            .store
            .ask_sql_count(&m.id, requested_at_ms, &command)
            .await?;
        tracing::info!(migration = %m.id, command = %command.id, "asked the agent to count the rows on SQL Server");
        shared.sessions.wake(m.agent_id);
    }
    if needed.mi {
        shared
            .store
            .ask_mi_count(&m.id, requested_at_ms, now_ms)
            .await?;
        // The count is a fact once taken: recorded even if the lease moved meanwhile.
        let (store, clock) = (shared.store.unfenced(), shared.clock.clone());
        let settings = shared.config.cutover.mi_sql.clone();
        let (fqdn, migration, database, tables) = (
            fqdn.to_string(),
            m.id.clone(),
            m.database.clone(),
            tables.clone(),
        );
        let span = intent_span(m, "validation");
        tokio::spawn(tracing::Instrument::instrument(
            async move {
                let counted = mi_sql::row_counts(&settings, &fqdn, &database, &tables).await;
                if let Err(error) = &counted {
                    tracing::warn!(%migration, %error, "counting the rows on the MI failed");
                }
                let done_ms = clock.now_ms();
                if let Err(e) = store
                    .record_mi_count(&migration, now_ms, counted, done_ms)
                    .await
                {
                    tracing::error!(%migration, error = %e, "cannot record the MI's row count");
                }
            },
            span,
        ));
    }
    Ok(())
}

/// A span in `m`'s cutover trace.
pub(super) fn intent_span(m: &MigrationRecord, step: &str) -> tracing::Span {
    // Only the trace's parent: an intent that does not decode (the driver reports it)
    // starts a trace of its own.
    m.intent()
        .ok()
        .flatten()
        .unwrap_or_default()
        .span(&m.id, step)
}
