//! The control plane's one `Store`: sqlx over SQLite (a file in the data directory, the
//! embedded default) or PostgreSQL (for HA: several stateless replicas share it).
//!
//! - `schema/<dialect>/NNNN_*.sql`: schema files per dialect, embedded at build time and
//!   applied in order once (recorded in `ferry_schema`).
//! - One method per named operation, grouped by concept: [`tokens`], [`agents`],
//!   [`inventory`], [`labels`], [`load`], [`commands`], [`assessments`],
//!   [`connection_tests`], [`migrations`], [`observations`] (the driver's readings of
//!   many links at once), [`steps`], [`cutovers`], [`waves`], [`link_status`],
//!   [`leases`], [`audit`], [`refused_reports`], [`operators`], [`fleet_counts`] (the
//!   gauges' counts), [`retention`] (forgetting what is past its horizon). Each times
//!   itself (`metrics`: `db.client.operation.duration` by operation; [`counted`]
//!   counts a piece of work's operations).
//!   Queries are written once, in the SQL both dialects share (`$n` parameters,
//!   `ON CONFLICT`, `RETURNING`).
//! - The conformance suite (`tests/tests/store_conformance/`, in ferry-tests) runs on
//!   SQLite always and on PostgreSQL when `FERRY_TEST_DATABASE_URL` is set.

pub mod agents;
pub mod assessments;
pub mod audit;
pub mod commands;
pub mod connection_tests;
pub mod cutovers;
pub mod fleet_counts;
pub mod groups;
pub mod inventory;
pub mod labels;
pub mod leases;
pub mod link_status;
pub mod load;
mod metrics;
pub use metrics::counted;
pub mod migrations;
pub mod observations;
pub mod operators;
pub mod refused_reports;
pub mod retention;
pub mod row_counts;
pub mod seeding;
pub mod steps;
pub mod targets;
pub mod tokens;
pub mod waves;

use std::time::Duration;

use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{AnyPool, Executor, Row};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

/// (version, name, sql) per dialect, in order.
const SQLITE_SCHEMA: &[(i64, &str, &str)] = &[
    (1, "fleet", include_str!("schema/sqlite/0001_fleet.sql")),
    (
        2,
        "assessments",
        include_str!("schema/sqlite/0002_assessments.sql"),
    ),
    (3, "labels", include_str!("schema/sqlite/0003_labels.sql")),
    (4, "load", include_str!("schema/sqlite/0004_load.sql")),
    (5, "targets", include_str!("schema/sqlite/0005_targets.sql")),
    (
        6,
        "connections",
        include_str!("schema/sqlite/0006_connections.sql"),
    ),
    (
        7,
        "migrations",
        include_str!("schema/sqlite/0007_migrations.sql"),
    ),
    (
        8,
        "link_status",
        include_str!("schema/sqlite/0008_link_status.sql"),
    ),
    (9, "cutover", include_str!("schema/sqlite/0009_cutover.sql")),
    (
        10,
        "row_counts",
        include_str!("schema/sqlite/0010_row_counts.sql"),
    ),
    (
        11,
        "cutover_groups",
        include_str!("schema/sqlite/0011_cutover_groups.sql"),
    ),
    (
        12,
        "fencing",
        include_str!("schema/sqlite/0012_fencing.sql"),
    ),
    (
        13,
        "refused_reports",
        include_str!("schema/sqlite/0013_refused_reports.sql"),
    ),
    (
        14,
        "revocation_clock",
        include_str!("schema/sqlite/0014_revocation_clock.sql"),
    ),
    (
        15,
        "previous_serial",
        include_str!("schema/sqlite/0015_previous_serial.sql"),
    ),
    (
        16,
        "operators",
        include_str!("schema/sqlite/0016_operators.sql"),
    ),
    (17, "paging", include_str!("schema/sqlite/0017_paging.sql")),
    (
        18,
        "retention",
        include_str!("schema/sqlite/0018_retention.sql"),
    ),
];
const POSTGRES_SCHEMA: &[(i64, &str, &str)] = &[
    (1, "fleet", include_str!("schema/postgres/0001_fleet.sql")),
    (
        2,
        "assessments",
        include_str!("schema/postgres/0002_assessments.sql"),
    ),
    (3, "labels", include_str!("schema/postgres/0003_labels.sql")),
    (4, "load", include_str!("schema/postgres/0004_load.sql")),
    (
        5,
        "targets",
        include_str!("schema/postgres/0005_targets.sql"),
    ),
    (
        6,
        "connections",
        include_str!("schema/postgres/0006_connections.sql"),
    ),
    (
        7,
        "migrations",
        include_str!("schema/postgres/0007_migrations.sql"),
    ),
    (
        8,
        "link_status",
        include_str!("schema/postgres/0008_link_status.sql"),
    ),
    (
        9,
        "cutover",
        include_str!("schema/postgres/0009_cutover.sql"),
    ),
    (
        10,
        "row_counts",
        include_str!("schema/postgres/0010_row_counts.sql"),
    ),
    (
        11,
        "cutover_groups",
        include_str!("schema/postgres/0011_cutover_groups.sql"),
    ),
    (
        12,
        "fencing",
        include_str!("schema/postgres/0012_fencing.sql"),
    ),
    (
        13,
        "refused_reports",
        include_str!("schema/postgres/0013_refused_reports.sql"),
    ),
    (
        14,
        "revocation_clock",
        include_str!("schema/postgres/0014_revocation_clock.sql"),
    ),
    (
        15,
        "previous_serial",
        include_str!("schema/postgres/0015_previous_serial.sql"),
    ),
    (
        16,
        "operators",
        include_str!("schema/postgres/0016_operators.sql"),
    ),
    (
        17,
        "paging",
        include_str!("schema/postgres/0017_paging.sql"),
    ),
    (
        18,
        "retention",
        include_str!("schema/postgres/0018_retention.sql"),
    ),
];

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database URL {0:?} is not supported: use sqlite://PATH or postgres://USER@HOST/DB")]
    UnsupportedUrl(String),
    #[error("cannot open the database: {0}")]
    Open(#[source] sqlx::Error),
    #[error("applying schema {version} ({name}) failed: {source}")]
    Schema {
        version: i64,
        name: &'static str,
        #[source]
        source: sqlx::Error,
    },
    #[error("the database holds schema version {found}, newer than this binary knows ({known}); upgrade ferry-control")]
    SchemaTooNew { found: i64, known: i64 },
    #[error("stored row is corrupt: {0}")]
    Corrupt(String),
    #[error("database error: {0}")]
    Query(#[from] sqlx::Error),
    /// A change of a migration's state its table does not allow (`migration::State`):
    /// a bug, refused before anything was written.
    #[error("a migration cannot go from {from} to {to}")]
    Transition {
        from: &'static str,
        to: &'static str,
    },
    /// A fenced store's write, refused: its holder no longer holds the lease under
    /// that epoch (another replica took it over). Nothing was written.
    #[error("lease {lease} is no longer held under epoch {epoch}: this replica does not drive any more; nothing was written")]
    Fenced { lease: String, epoch: i64 },
}

#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
    dialect: Dialect,
    /// Set on a driver's store: every write checks it ([`leases`]).
    fence: Option<std::sync::Arc<leases::Fence>>,
}

impl Store {
    /// Opens (creating if needed) the database at `url` and brings its schema up to date.
    pub async fn open(url: &str) -> Result<Self, StoreError> {
        sqlx::any::install_default_drivers();
        let dialect = if url.starts_with("sqlite:") {
            Dialect::Sqlite
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Dialect::Postgres
        } else {
            return Err(StoreError::UnsupportedUrl(url.to_string()));
        };
        if let Some(file) = sqlite_file(url) {
            // Owner-only before SQLite opens it (its journal takes the same mode).
            ferry_proto::private_files::restrict_file(file).map_err(|e| {
                StoreError::Open(sqlx::Error::Configuration(
                    format!("{}: {e}", file.display()).into(),
                ))
            })?;
        }
        let options = AnyPoolOptions::new().acquire_timeout(Duration::from_secs(10));
        let options = match dialect {
            // One writer at a time is SQLite's model; WAL lets readers proceed meanwhile.
            // FULL: a commit the control plane answered for survives power loss (an
            // fsync of the log per commit; heartbeats are written in batches).
            Dialect::Sqlite => options.max_connections(4).after_connect(|conn, _| {
                Box::pin(async move {
                    conn.execute("PRAGMA journal_mode = WAL; PRAGMA busy_timeout = 10000; PRAGMA foreign_keys = ON; PRAGMA synchronous = FULL;").await?;
                    Ok(())
                })
            }),
            Dialect::Postgres => options.max_connections(16),
        };
        let pool = options.connect(url).await.map_err(StoreError::Open)?;
        let store = Self {
            pool,
            dialect,
            fence: None,
        };
        store.apply_schema().await?;
        Ok(store)
    }

    /// A transaction that will write. On SQLite it takes the write lock at BEGIN
    /// (IMMEDIATE), so it waits its turn (busy_timeout) instead of failing with
    /// "database is locked" when it upgrades from reading after another writer committed.
    /// A fenced store checks its lease first, in the same transaction.
    async fn write(&self) -> Result<sqlx::Transaction<'static, sqlx::Any>, StoreError> {
        let mut tx = match self.dialect {
            Dialect::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await?,
            Dialect::Postgres => self.pool.begin().await?,
        };
        self.check_fence(&mut tx).await?;
        Ok(tx)
    }

    /// Runs one writing statement and says how many rows it changed: alone, or in a
    /// transaction that checks the fence first when this store is fenced.
    async fn execute<'q>(
        &self,
        query: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
    ) -> Result<u64, StoreError> {
        if self.fence.is_none() {
            return Ok(query.execute(&self.pool).await?.rows_affected());
        }
        let mut tx = self.write().await?;
        let changed = query.execute(&mut *tx).await?.rows_affected();
        tx.commit().await?;
        Ok(changed)
    }

    /// Times the named operation until the returned guard drops ([`metrics`]).
    fn timed(&self, operation: &'static str) -> metrics::Timed {
        metrics::Timed::start(operation, self.dialect)
    }

    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }

    async fn apply_schema(&self) -> Result<(), StoreError> {
        let files = match self.dialect {
            Dialect::Sqlite => SQLITE_SCHEMA,
            Dialect::Postgres => POSTGRES_SCHEMA,
        };
        let mut conn = self.pool.acquire().await.map_err(StoreError::Open)?;
        if self.dialect == Dialect::Postgres {
            // Replicas starting together must not apply the same file twice.
            conn.execute("SELECT pg_advisory_lock(7461001)").await?;
        }
        let result = async {
            conn.execute("CREATE TABLE IF NOT EXISTS ferry_schema (version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)")
                .await?;
            let current: i64 = sqlx::query("SELECT COALESCE(MAX(version), 0) AS v FROM ferry_schema")
                .fetch_one(&mut *conn)
                .await?
                .try_get("v")?;
            let known = files.last().map(|f| f.0).unwrap_or(0);
            if current > known {
                return Err(StoreError::SchemaTooNew { found: current, known });
            }
            for &(version, name, sql) in files.iter().filter(|f| f.0 > current) {
                let apply = async {
                    let mut tx = sqlx::Connection::begin(&mut *conn).await?;
                    sqlx::raw_sql(sql).execute(&mut *tx).await?;
                    sqlx::query("INSERT INTO ferry_schema (version, name, applied_at) VALUES ($1, $2, $3)")
                        .bind(version)
                        .bind(name)
                        .bind(ferry_proto::clock::now_ms())
                        .execute(&mut *tx)
                        .await?;
                    tx.commit().await
                };
                apply.await.map_err(|source| StoreError::Schema { version, name, source })?;
            }
            Ok(())
        }
        .await;
        if self.dialect == Dialect::Postgres {
            conn.execute("SELECT pg_advisory_unlock(7461001)").await?;
        }
        result
    }
}

/// The database file a `sqlite://PATH?...` URL names (none for an in-memory one).
fn sqlite_file(url: &str) -> Option<&std::path::Path> {
    let path = url.strip_prefix("sqlite://")?.split('?').next()?;
    (!path.is_empty() && !path.starts_with(':')).then(|| std::path::Path::new(path))
}

/// Parses a stored agent id.
fn agent_id(text: &str) -> Result<crate::fleet::identity::AgentId, StoreError> {
    text.parse()
        .map_err(|_| StoreError::Corrupt(format!("agent id {text:?}")))
}

/// Reads a column, naming it when the stored value is unusable.
fn col<'r, T>(row: &'r AnyRow, name: &str) -> Result<T, StoreError>
where
    T: sqlx::Decode<'r, sqlx::Any> + sqlx::Type<sqlx::Any>,
{
    row.try_get(name)
        .map_err(|e| StoreError::Corrupt(format!("column {name}: {e}")))
}
