//! Migrations: created (idempotent per host, instance and database: a live migration
//! for that database is returned instead of a second one, which the schema's unique
//! index also refuses), their state set only as `migration::State` allows, cancelled
//! and retried. Their steps' journal is [`super::steps`].

use sqlx::any::AnyRow;
use sqlx::AnyConnection;

use super::assessments::word;
use super::audit;
pub(super) use super::steps::insert_steps;
pub use super::steps::StepRecord;
use super::{agent_id, col, Store, StoreError};
use crate::fleet::identity::AgentId;
use crate::migration::journal::{self, STEPS};
use crate::migration::observe::Observation;
use crate::migration::{sql_list, Options, Phase, State};

#[derive(Debug, Clone, PartialEq)]
pub struct MigrationRecord {
    pub id: String,
    pub agent_id: AgentId,
    /// The host's name (its agent's), read with the record.
    pub host: String,
    pub instance: String,
    pub database: String,
    pub target_key: String,
    pub link_name: String,
    pub state: State,
    pub detail: String,
    pub options: Options,
    pub created_by: String,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
    pub certificate_name: String,
    /// DER, hex.
    pub certificate: String,
    pub listener_url: String,
    /// DER, hex.
    pub mi_certificate: String,
    /// JSON (`migration::observe::Observation`), '' before the first.
    pub observed: String,
    pub observed_at_ms: Option<i64>,
    pub progressed_at_ms: Option<i64>,
    /// JSON (`cutover::Intent`), '' when no cutover was asked for.
    pub cutover: String,
    /// The wave it belongs to, '' for none.
    pub wave: String,
    /// Raised by every operator change that bears on its cutover's gates (a wave
    /// paused, a plan applied, a cancel): the failover is journaled only under the
    /// revision its gates were judged at ([`Store::start_failover`]).
    pub revision: i64,
}

impl MigrationRecord {
    /// A migration about to be journaled: `id`, from `agent` (its id and name) of
    /// `instance`'s `database`, to `target_key` over `link_name`; preparing, nothing
    /// learnt yet.
    pub fn preparing(
        id: String,
        agent: (AgentId, String),
        (instance, database): (String, String),
        (target_key, link_name): (String, String),
        options: Options,
        (created_by, now_ms): (String, i64),
    ) -> MigrationRecord {
        MigrationRecord {
            id,
            agent_id: agent.0,
            host: agent.1,
            instance,
            database,
            target_key,
            link_name,
            state: State::Preparing,
            detail: "waiting for the first step".into(),
            options,
            created_by,
            created_at_ms: now_ms,
            updated_at_ms: now_ms,
            certificate_name: String::new(),
            certificate: String::new(),
            listener_url: String::new(),
            mi_certificate: String::new(),
            observed: String::new(),
            observed_at_ms: None,
            progressed_at_ms: None,
            cutover: String::new(),
            wave: String::new(),
            revision: 0,
        }
    }

    /// Its cutover's intent, None when no cutover was asked for. One that does not
    /// decode is an error naming the migration, never a default.
    pub fn intent(&self) -> Result<Option<crate::cutover::Intent>, StoreError> {
        if self.cutover.is_empty() {
            return Ok(None);
        }
        crate::cutover::Intent::decode(&self.cutover)
            .map(Some)
            .map_err(|e| StoreError::Corrupt(format!("migration {}: {e}", self.id)))
    }

    /// Its newest observation of the link, None before the first. One that does not
    /// decode is an error naming the migration, never a default.
    pub fn observation(&self) -> Result<Option<Observation>, StoreError> {
        if self.observed.is_empty() {
            return Ok(None);
        }
        serde_json::from_str(&self.observed).map(Some).map_err(|e| {
            StoreError::Corrupt(format!(
                "migration {}: the stored observation: {e}",
                self.id
            ))
        })
    }
}

const SELECT: &str =
    "SELECT m.*, a.name AS host FROM migrations m JOIN agents a ON a.id = m.agent_id";

impl Store {
    /// Creates the migration with its steps pending, audited, and returns None; or,
    /// when the database has a live migration, creates nothing and returns that one.
    pub async fn create_migration(
        &self,
        migration: &MigrationRecord,
    ) -> Result<Option<MigrationRecord>, StoreError> {
        let _timed = self.timed("create_migration");
        let mut tx = self.write().await?;
        if let Some(existing) = live(
            &mut tx,
            migration.agent_id,
            &migration.instance,
            &migration.database,
        )
        .await?
        {
            return Ok(Some(existing));
        }
        let options = serde_json::to_string(&migration.options)
            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        sqlx::query(
            "INSERT INTO migrations (id, agent_id, instance_name, database_name, target_id, link_name, state, detail, options, created_by, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11)",
        )
        .bind(&migration.id)
        .bind(migration.agent_id.to_string())
        .bind(&migration.instance)
        .bind(&migration.database)
        .bind(&migration.target_key)
        .bind(&migration.link_name)
        .bind(migration.state.as_str())
        .bind(&migration.detail)
        .bind(&options)
        .bind(&migration.created_by)
        .bind(migration.created_at_ms)
        .execute(&mut *tx)
        .await?;
        insert_steps(
            &mut tx,
            &migration.id,
            Phase::Setup,
            &journal::names(&STEPS),
        )
        .await?;
        let detail = format!(
            "agent={} instance={} database={} target={} link={} options={}",
            migration.agent_id,
            migration.instance,
            migration.database,
            migration.target_key,
            migration.link_name,
            options
        );
        let by = (
            migration.id.as_str(),
            migration.created_by.as_str(),
            "migration.start",
        );
        record(&mut tx, by, &detail, migration.created_at_ms).await?;
        tx.commit().await?;
        Ok(None)
    }

    /// The live (not cancelled) migration of a database, if any.
    pub async fn live_migration(
        &self,
        agent: AgentId,
        instance: &str,
        database: &str,
    ) -> Result<Option<MigrationRecord>, StoreError> {
        let _timed = self.timed("live_migration");
        let mut conn = self.pool.acquire().await?;
        live(&mut conn, agent, instance, database).await
    }

    /// A migration (not cancelled) to target `target` of a database named `database`
    /// or under link `link` (case-insensitively): a managed instance holds one of each.
    pub async fn migration_on_target(
        &self,
        target: &str,
        database: &str,
        link: &str,
    ) -> Result<Option<MigrationRecord>, StoreError> {
        let _timed = self.timed("migration_on_target");
        let row = sqlx::query(&format!(
            "{SELECT} WHERE m.target_id = $1 AND m.state <> 'cancelled'
                AND (LOWER(m.database_name) = LOWER($2) OR LOWER(m.link_name) = LOWER($3))
             ORDER BY m.created_at LIMIT 1"
        ))
        .bind(target)
        .bind(database)
        .bind(link)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(decode).transpose()
    }

    pub async fn migration(&self, id: &str) -> Result<Option<MigrationRecord>, StoreError> {
        let _timed = self.timed("migration");
        let row = sqlx::query(&format!("{SELECT} WHERE m.id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(decode).transpose()
    }

    /// Every migration, newest first.
    pub async fn migrations(&self) -> Result<Vec<MigrationRecord>, StoreError> {
        let _timed = self.timed("migrations");
        let rows = sqlx::query(&format!("{SELECT} ORDER BY m.created_at DESC, m.id"))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(decode).collect()
    }

    /// At most `limit` migrations, newest first, after the migration `after` (created
    /// at, id); only those in `state` and of `host` (a name, any case, or an agent id)
    /// when given.
    pub async fn migrations_page(
        &self,
        state: Option<State>,
        host: &str,
        after: Option<(i64, &str)>,
        limit: u32,
    ) -> Result<Vec<MigrationRecord>, StoreError> {
        let _timed = self.timed("migrations_page");
        let sql = format!(
            "{SELECT} WHERE ($1 = '' OR m.state = $1)
               AND ($2 = '' OR LOWER(a.name) = LOWER($2) OR m.agent_id = $2)
               AND ($3 = 0 OR m.created_at < $4 OR (m.created_at = $4 AND m.id > $5))
             ORDER BY m.created_at DESC, m.id LIMIT $6"
        );
        let (created_at, id) = after.unwrap_or_default();
        let rows = sqlx::query(&sql)
            .bind(state.map(State::as_str).unwrap_or_default())
            .bind(host)
            .bind(i64::from(after.is_some()))
            .bind(created_at)
            .bind(id)
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(decode).collect()
    }

    /// Migrations the driver works on: set-up running, or the link watched.
    pub async fn active_migrations(&self) -> Result<Vec<MigrationRecord>, StoreError> {
        let _timed = self.timed("active_migrations");
        let rows = sqlx::query(&format!(
            "{SELECT} WHERE m.state NOT IN ({}) ORDER BY m.created_at, m.id",
            sql_list(&[State::Failed, State::Cancelled, State::Completed])
        ))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(decode).collect()
    }

    /// Sets what the migration learned from Azure: the MI's certificate (DER, hex).
    pub async fn set_mi_certificate(
        &self,
        migration: &str,
        certificate_hex: &str,
    ) -> Result<(), StoreError> {
        let _timed = self.timed("set_mi_certificate");
        self.execute(
            sqlx::query("UPDATE migrations SET mi_certificate = $1 WHERE id = $2")
                .bind(certificate_hex)
                .bind(migration),
        )
        .await?;
        Ok(())
    }

    /// Sets the migration's state and detail, when it is still in state `from` (what
    /// the caller read: an operator's change since, such as a cutover started, is not
    /// overwritten); an observation of the link comes with its JSON and whether it
    /// showed progress. False when the state had changed.
    pub async fn set_migration_state(
        &self,
        (migration, from): (&str, State),
        state: State,
        detail: &str,
        observed: Option<(&str, bool)>,
        now_ms: i64,
    ) -> Result<bool, StoreError> {
        let _timed = self.timed("set_migration_state");
        if !from.may_become(state) {
            return Err(StoreError::Transition {
                from: from.as_str(),
                to: state.as_str(),
            });
        }
        let (observed, progressed) = observed.unwrap_or(("", false));
        let changed = self.execute(sqlx::query(
            "UPDATE migrations SET state = $1, detail = $2, updated_at = $3,
                observed = CASE WHEN $4 = '' THEN observed ELSE $4 END,
                observed_at = CASE WHEN $4 = '' THEN observed_at ELSE $3 END,
                progressed_at = CASE WHEN $5 = 1 OR progressed_at IS NULL THEN $3 ELSE progressed_at END
             WHERE id = $6 AND state = $7",
        )
        .bind(state.as_str())
        .bind(detail)
        .bind(now_ms)
        .bind(observed)
        .bind(i64::from(progressed))
        .bind(migration)
        .bind(from.as_str()))
        .await?;
        Ok(changed == 1)
    }

    /// Starts cancelling a migration: the steps of a cutover not yet begun are skipped
    /// and its teardown steps (`steps`, names in order) journaled after the rest,
    /// audited. Refused once a cutover's failover began (the MI may be primary).
    pub async fn cancel_migration(
        &self,
        migration: &str,
        steps: &[&str],
        actor: &str,
        now_ms: i64,
    ) -> Result<Change, StoreError> {
        let _timed = self.timed("cancel_migration");
        let mut tx = self.write().await?;
        bump_revisions(&mut tx, "id = $1", Some(migration)).await?;
        if failover_begun(&mut tx, migration).await? {
            return Ok(Change::Refused);
        }
        let changed = sqlx::query(&format!("UPDATE migrations SET state = 'cancelling', detail = 'removing what the migration made', updated_at = $1 WHERE id = $2 AND state NOT IN ({})", sql_list(&[State::Cancelling, State::Cancelled, State::Completed])))
            .bind(now_ms)
            .bind(migration)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if changed == 0 {
            return Ok(Change::Unchanged);
        }
        skip_pending(&mut tx, migration, Phase::Cutover).await?;
        insert_steps(&mut tx, migration, Phase::Teardown, steps).await?;
        record(
            &mut tx,
            (migration, actor, "migration.cancel"),
            &format!("steps={}", steps.join(",")),
            now_ms,
        )
        .await?;
        tx.commit().await?;
        Ok(Change::Made)
    }

    /// Starts a failed migration again from its first step not done (as a set-up, a
    /// cutover or a cancel, by the phase its journal ends with), audited. False when
    /// it is not failed.
    pub async fn retry_migration(
        &self,
        migration: &str,
        actor: &str,
        now_ms: i64,
    ) -> Result<bool, StoreError> {
        let _timed = self.timed("retry_migration");
        let mut tx = self.write().await?;
        let phase: Option<String> = sqlx::query_scalar(
            "SELECT phase FROM migration_steps WHERE migration_id = $1 ORDER BY seq DESC LIMIT 1",
        )
        .bind(migration)
        .fetch_optional(&mut *tx)
        .await?;
        let resumes = phase
            .as_deref()
            .and_then(Phase::parse)
            .unwrap_or(Phase::Setup)
            .resumes_in();
        let changed = sqlx::query(
            "UPDATE migrations SET state = $1, detail = 'retrying', updated_at = $2, progressed_at = NULL WHERE id = $3 AND state = 'failed'",
        )
        .bind(resumes.as_str())
        .bind(now_ms)
        .bind(migration)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if changed == 0 {
            return Ok(false);
        }
        sqlx::query("UPDATE migration_steps SET state = 'pending', command_id = '', operation = '', started_at = NULL, finished_at = NULL WHERE migration_id = $1 AND state NOT IN ('done', 'skipped')")
            .bind(migration)
            .execute(&mut *tx)
            .await?;
        // Its cutover group's failed application hook runs again.
        sqlx::query("DELETE FROM group_hooks WHERE state = 'failed' AND group_name = (SELECT cutover_group FROM migrations WHERE id = $1)")
            .bind(migration)
            .execute(&mut *tx)
            .await?;
        record(&mut tx, (migration, actor, "migration.retry"), "", now_ms).await?;
        tx.commit().await?;
        Ok(true)
    }
}

/// Audits `action` on migration `migration` by `actor`.
pub(super) async fn record(
    conn: &mut AnyConnection,
    (migration, actor, action): (&str, &str, &str),
    detail: &str,
    at_ms: i64,
) -> Result<(), StoreError> {
    let target = format!("migration/{migration}");
    audit::record_on(conn, target, (actor, action), detail, at_ms).await
}

/// What an operator's change to a migration came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    Made,
    /// Not in a state the change applies to; nothing changed.
    Unchanged,
    /// Refused: a cutover's failover began, so the MI may own the database.
    Refused,
}

/// Whether a cutover's failover step of `migration` began (running or done).
pub(super) async fn failover_begun(
    conn: &mut AnyConnection,
    migration: &str,
) -> Result<bool, StoreError> {
    let n: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM migration_steps WHERE migration_id = $1 AND name = $2 AND state IN ('running', 'done')",
    )
    .bind(migration)
    .bind(journal::FAILOVER)
    .fetch_one(conn)
    .await?;
    Ok(n > 0)
}

/// Marks the pending steps of `phase` skipped.
async fn skip_pending(
    conn: &mut AnyConnection,
    migration: &str,
    phase: Phase,
) -> Result<(), StoreError> {
    sqlx::query("UPDATE migration_steps SET state = 'skipped' WHERE migration_id = $1 AND phase = $2 AND state = 'pending'")
        .bind(migration)
        .bind(phase.as_str())
        .execute(conn)
        .await?;
    Ok(())
}

/// The live (not cancelled) migration of a database.
async fn live(
    conn: &mut AnyConnection,
    agent: AgentId,
    instance: &str,
    database: &str,
) -> Result<Option<MigrationRecord>, StoreError> {
    let row = sqlx::query(&format!(
        "{SELECT} WHERE m.agent_id = $1 AND m.instance_name = $2 AND m.database_name = $3 AND m.state <> 'cancelled'"
    ))
    .bind(agent.to_string())
    .bind(instance)
    .bind(database)
    .fetch_optional(conn)
    .await?;
    row.as_ref().map(decode).transpose()
}

/// Raises the revision of the migrations `filter` selects (a SQL condition on
/// `migrations`, its parameter `$1`), so that a failover judged before an operator's
/// change is not journaled after it ([`Store::start_failover`]). Locks their rows.
pub(super) async fn bump_revisions(
    conn: &mut AnyConnection,
    filter: &str,
    parameter: Option<&str>,
) -> Result<(), StoreError> {
    let statement = format!("UPDATE migrations SET revision = revision + 1 WHERE {filter}");
    let mut query = sqlx::query(&statement);
    if let Some(parameter) = parameter {
        query = query.bind(parameter);
    }
    query.execute(conn).await?;
    Ok(())
}

/// Locks migration `migration`'s row for the rest of the transaction (on PostgreSQL;
/// SQLite's write transactions are serial already). Every change that races another
/// on a migration's steps (the driver starting a step, a cancel, a forced cutover)
/// takes it first, so the one that comes second sees what the first did.
pub(super) async fn lock_migration(
    conn: &mut AnyConnection,
    migration: &str,
) -> Result<(), StoreError> {
    sqlx::query("UPDATE migrations SET updated_at = updated_at WHERE id = $1")
        .bind(migration)
        .execute(conn)
        .await?;
    Ok(())
}

fn decode(row: &AnyRow) -> Result<MigrationRecord, StoreError> {
    let agent: String = col(row, "agent_id")?;
    let options: String = col(row, "options")?;
    Ok(MigrationRecord {
        id: col(row, "id")?,
        agent_id: agent_id(&agent)?,
        host: col(row, "host")?,
        instance: col(row, "instance_name")?,
        database: col(row, "database_name")?,
        target_key: col(row, "target_id")?,
        link_name: col(row, "link_name")?,
        state: word(row, "state", State::parse)?,
        detail: col(row, "detail")?,
        options: serde_json::from_str(&options)
            .map_err(|e| StoreError::Corrupt(format!("migration options: {e}")))?,
        created_by: col(row, "created_by")?,
        created_at_ms: col(row, "created_at")?,
        updated_at_ms: col(row, "updated_at")?,
        certificate_name: col(row, "certificate_name")?,
        certificate: col(row, "certificate")?,
        listener_url: col(row, "listener_url")?,
        mi_certificate: col(row, "mi_certificate")?,
        observed: col(row, "observed")?,
        observed_at_ms: col(row, "observed_at")?,
        progressed_at_ms: col(row, "progressed_at")?,
        cutover: col(row, "cutover")?,
        wave: col(row, "wave")?,
        revision: col(row, "revision")?,
    })
}
