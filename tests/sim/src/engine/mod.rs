//! The catalog engine: one simulated SQL Server instance's state in an in-memory SQLite
//! database, and the T-SQL it runs against it.
//!
//! - `catalog.sql`: the system views, with Microsoft's column names and types.
//! - `populate`: the rows a scenario implies.
//! - `log`: each database's transaction log: LSNs, truncation, backups, log space.
//! - `timeline`: when each database's log reached which position.
//! - `row_log`: the row changes each commit made, at its LSN, for a copy to redo.
//! - `workload`: the load each database carries, applied as the lab's clock moves.
//! - `user_tables`: a scenario's tables and rows; what INSERT, UPDATE and DELETE log.
//! - `modules`: a scenario's procedures, views, functions and triggers, and their
//!   cross-database references.
//! - `clock`: the lab's clock, real or moved by hand in tests.
//! - `translate`: T-SQL SELECT/INSERT/UPDATE/DELETE (parsed with sqlparser's MsSql
//!   dialect) rewritten for SQLite: names resolved, TOP, N'' literals, T-SQL functions.
//! - `functions`: T-SQL built-ins registered as SQLite functions (SERVERPROPERTY, CAST ...).
//! - `batch`: a batch split into statements, with a hand-written parser for the
//!   statements sqlparser does not know (BACKUP, DBCC, CREATE CERTIFICATE ...).
//! - `session`: runs a batch for one connection: variables, context database, results.
//! - `hold`: replies held back after the work is done (a fault).
//! - `effects/`: statements that change the instance, each enforcing SQL Server's rules.
//! - `partner`: what a link partner (a managed instance) sees of this instance.
//! - `replica`: what the MI link reads and writes on an instance from outside it.
//! - `image`: a database copied between instances, as seeding copies it.
//! - `errors`: SQL Server's messages by number.

mod batch;
mod cached;
pub mod clock;
mod effects;
pub mod errors;
mod functions;
pub mod hold;
mod image;
mod log;
mod modules;
pub mod partner;
mod populate;
mod replica;
mod row_log;
mod session;
mod timeline;
mod translate;
mod user_tables;
mod workload;

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use rusqlite::Connection;

use crate::scenario::{Build, Edition, InstanceSpec, ManagedInstanceSpec, WorkloadSpec};
use crate::tds::tokens::Collation;
use crate::tds::types::SqlType;

pub use clock::LabClock;
pub use effects::link::{LinkGroups, RemoteDatabase, RemoteReplica};
pub use effects::parse_endpoint_url;
pub use effects::seeding::{Outcome as SeedingOutcome, Seeding};
pub use image::DatabaseImage;
pub use log::lsn;
pub use replica::{LogPosition, Observer};
pub use row_log::{Replay, TableChanges};
pub use session::{Cancel, Output, Session, SessionLogin};

const CATALOG: &str = include_str!("catalog.sql");

/// The finest step the workloads advance by.
const WORKLOAD_STEP: Duration = Duration::from_millis(10);

/// What an instance says about itself; fixed while it runs.
#[derive(Debug, Clone)]
pub struct InstanceInfo {
    pub name: String,
    pub build: Build,
    pub edition: Edition,
    pub collation: String,
    pub collation_bytes: Collation,
    pub hadr: bool,
    /// The host is a node of a running Windows Server Failover Cluster.
    pub wsfc: bool,
    pub clustered: bool,
    pub host_platform: String,
    pub host_distribution: String,
    pub force_encryption: bool,
    pub started: time::OffsetDateTime,
    /// An Azure SQL Managed Instance, which describes itself as one instead of by
    /// its engine's build and edition.
    pub managed: bool,
}

/// The version every Azure SQL Managed Instance reports (SERVERPROPERTY, @@VERSION).
pub const MANAGED_PRODUCT_VERSION: &str = "12.0.2000.8";

impl InstanceInfo {
    /// @@VERSION, shaped as SQL Server prints it.
    pub fn version_text(&self) -> String {
        if self.managed {
            return format!(
                "Microsoft SQL Azure (RTM) - {MANAGED_PRODUCT_VERSION} \n\tJan 15 2024 09:00:00 \n\tCopyright (C) 2022 Microsoft Corporation\n"
            );
        }
        let level = match &self.build.update_level {
            Some(cu) => format!("{}-{cu}", self.build.level),
            None => self.build.level.clone(),
        };
        let os = if self.host_platform == "Linux" {
            format!("{} <X64>", self.host_distribution)
        } else {
            format!(
                "{} 10.0 <X64> (Build 20348: ) (Hypervisor)",
                self.host_distribution
            )
        };
        format!(
            "Microsoft SQL Server {} ({level}) - {} (X64) \n\tJan 15 2024 09:00:00 \n\tCopyright (C) {} Microsoft Corporation\n\t{} on {os}\n",
            self.build.year(),
            self.build.product_version(),
            self.build.year(),
            self.edition.display()
        )
    }
}

/// How a name in the catalog is reached: directly, or through a derived table that
/// hides the lab's `$` columns and, for per-database views, filters to one database.
#[derive(Debug, Clone)]
pub struct TableShape {
    /// The SQLite table name (`sys.databases`, `msdb.dbo.backupset`, `Sales.dbo.Orders`).
    pub table: String,
    pub visible: Vec<String>,
    /// Each column's declared type, by lower-case name.
    pub types: HashMap<String, SqlType>,
    pub per_database: bool,
    pub hidden: bool,
    pub system: bool,
}

/// The catalog of one instance and the shapes of its tables.
pub struct Catalog {
    pub conn: Connection,
    pub shapes: HashMap<String, TableShape>,
    /// How far along the lab's clock the workloads have been applied.
    advanced_to: std::time::Duration,
    /// How many databases have a workload; none means nothing to catch up.
    workloads: i64,
    /// The TCP ports endpoints listen on, by endpoint id.
    listeners: RefCell<HashMap<i64, std::net::TcpListener>>,
}

impl Catalog {
    pub fn shape(&self, table: &str) -> Option<&TableShape> {
        self.shapes.get(&table.to_ascii_lowercase())
    }

    /// Whether database `name` is RESTORING (being seeded), and so cannot be opened.
    pub fn restoring(&self, name: &str) -> bool {
        self.conn
            .query_row(
                "SELECT state_desc = 'RESTORING' FROM \"sys.databases\" WHERE name = ?1",
                [name],
                |r| r.get(0),
            )
            .unwrap_or(false)
    }

    /// The database id for a name (case-insensitive), if it exists.
    pub fn database_id(&self, name: &str) -> Option<i64> {
        self.conn
            .query_row(
                "SELECT database_id FROM \"sys.databases\" WHERE name = ?1",
                [name],
                |r| r.get(0),
            )
            .ok()
    }

    /// Whether endpoint `id` listens on `address`.
    pub fn listening(&self, id: i64, address: std::net::SocketAddr) -> bool {
        self.endpoint_at(address) == Some(id)
    }

    /// The endpoint listening on `address`, if any.
    pub fn endpoint_at(&self, address: std::net::SocketAddr) -> Option<i64> {
        self.listeners
            .borrow()
            .iter()
            .find(|(_, l)| l.local_addr().is_ok_and(|a| a == address))
            .map(|(id, _)| *id)
    }

    /// Endpoint `id` listens with `listener` from now on (its old port closes).
    pub fn keep_listener(&self, id: i64, listener: std::net::TcpListener) {
        self.listeners.borrow_mut().insert(id, listener);
    }

    pub fn close_listener(&self, id: i64) {
        self.listeners.borrow_mut().remove(&id);
    }

    /// The canonical spelling of a database name.
    pub fn database_name(&self, name: &str) -> Option<String> {
        self.conn
            .query_row(
                "SELECT name FROM \"sys.databases\" WHERE name = ?1",
                [name],
                |r| r.get(0),
            )
            .ok()
    }
}

pub struct Instance {
    pub info: Arc<InstanceInfo>,
    catalog: Mutex<Catalog>,
    next_spid: std::sync::atomic::AtomicU16,
    clock: Arc<LabClock>,
    observers: Mutex<Vec<std::sync::Weak<dyn Observer>>>,
    /// The held-replies fault (`hold`).
    pub held_replies: hold::ReplyHold,
}

impl Instance {
    /// An instance on the real clock.
    pub fn new(spec: &InstanceSpec) -> anyhow::Result<Arc<Instance>> {
        Instance::with_clock(spec, Arc::new(LabClock::real()))
    }

    /// An instance whose workloads follow `clock`.
    pub fn with_clock(spec: &InstanceSpec, clock: Arc<LabClock>) -> anyhow::Result<Arc<Instance>> {
        Instance::build(spec, false, clock)
    }

    /// A managed instance: the engine its update policy follows, describing itself
    /// as Azure SQL Managed Instance.
    pub fn managed(
        spec: &ManagedInstanceSpec,
        clock: Arc<LabClock>,
    ) -> anyhow::Result<Arc<Instance>> {
        Instance::build(&spec.engine_spec(), true, clock)
    }

    fn build(
        spec: &InstanceSpec,
        managed: bool,
        clock: Arc<LabClock>,
    ) -> anyhow::Result<Arc<Instance>> {
        let info = Arc::new(InstanceInfo {
            name: spec.name.clone(),
            build: spec.version.clone(),
            edition: spec.edition,
            collation: spec.collation.clone(),
            collation_bytes: Collation::from_name(&spec.collation),
            hadr: spec.hadr,
            wsfc: spec.wsfc(),
            clustered: spec.clustered,
            host_platform: spec.host.platform.clone(),
            host_distribution: spec.host.distribution.clone(),
            force_encryption: spec.force_encryption,
            started: time::OffsetDateTime::now_utc(),
            managed,
        });
        let conn = Connection::open_in_memory()?;
        conn.set_prepared_statement_cache_capacity(cached::CAPACITY);
        conn.execute_batch(&case_insensitive_text(CATALOG))?;
        functions::register(&conn, info.clone())?;
        populate::populate(&conn, spec, &info)?;
        let shapes = shapes(&conn)?;
        let instance = Arc::new(Instance {
            info,
            catalog: Mutex::new(Catalog {
                conn,
                shapes,
                advanced_to: clock.elapsed(),
                workloads: 0,
                listeners: RefCell::new(HashMap::new()),
            }),
            next_spid: std::sync::atomic::AtomicU16::new(51),
            clock,
            observers: Mutex::new(Vec::new()),
            held_replies: hold::ReplyHold::default(),
        });
        for database in spec.databases.iter().filter(|d| !d.workload.is_idle()) {
            instance.set_workload(&database.name, &database.workload)?;
        }
        instance.run_setup(&spec.setup)?;
        Ok(instance)
    }

    /// Runs a scenario's setup batches as sa; the first error stops the instance
    /// from starting, naming the batch and SQL Server's message.
    fn run_setup(self: &Arc<Self>, batches: &[String]) -> anyhow::Result<()> {
        if batches.is_empty() {
            return Ok(());
        }
        let sa = SessionLogin {
            name: "sa".into(),
            principal_id: 1,
            sysadmin: true,
            permissions: Vec::new(),
        };
        let mut session = Session::open(self.clone(), sa, "master")
            .map_err(|m| anyhow::anyhow!("instance '{}': {}", self.info.name, m.text))?;
        for (n, batch) in batches.iter().enumerate() {
            let failure = session
                .execute(batch, Vec::new(), &Cancel::default())
                .into_iter()
                .find_map(|o| match o {
                    Output::Message(m) if m.class > 10 => Some(m),
                    _ => None,
                });
            if let Some(m) = failure {
                anyhow::bail!(
                    "instance '{}': setup[{n}] failed with Msg {}, Level {}: {}",
                    self.info.name,
                    m.number,
                    m.class,
                    m.text
                );
            }
        }
        Ok(())
    }

    /// The catalog, for one statement at a time, with the workloads applied up to now
    /// (in steps of 10 ms: closer looks see the same log, and cost nothing).
    pub fn catalog(&self) -> MutexGuard<'_, Catalog> {
        let mut catalog = self.definitions();
        let now = self.clock.elapsed();
        if catalog.workloads > 0 && now >= catalog.advanced_to + WORKLOAD_STEP {
            let secs = (now - catalog.advanced_to).as_secs_f64();
            catalog.advanced_to = now;
            let at = self.now_text();
            if let Err(e) = workload::advance(&catalog.conn, secs, &at) {
                tracing::error!(instance = %self.info.name, error = %e, "workloads could not advance");
            }
        } else {
            catalog.advanced_to = catalog.advanced_to.max(now);
        }
        catalog
    }

    /// The catalog as it stands, without running the workloads up to now: for facts
    /// workloads never change (endpoints, certificates, groups, backups), so that a
    /// link partner's look does not pay for every database's log.
    pub fn definitions(&self) -> MutexGuard<'_, Catalog> {
        self.catalog
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Changes a database's workload from now on (what ran until now is applied at
    /// the old rates). An idle spec stops it and closes its sessions.
    pub fn set_workload(&self, database: &str, load: &WorkloadSpec) -> anyhow::Result<()> {
        load.validate().map_err(anyhow::Error::msg)?;
        let mut catalog = self.catalog();
        let id = catalog.database_id(database).ok_or_else(|| {
            anyhow::anyhow!("instance '{}' has no database '{database}'", self.info.name)
        })?;
        let login: String = catalog
            .conn
            .query_row(
                "SELECT name FROM \"sys.server_principals\" WHERE type = 'S' AND principal_id > 1 ORDER BY principal_id",
                [],
                |r| r.get(0),
            )
            .unwrap_or_else(|_| "sa".to_string());
        let now = self.now_text();
        catalog.workloads = workload::set(&catalog.conn, id, load, &login, &now, || {
            self.allocate_spid()
        })?;
        Ok(())
    }

    /// The lab's time: the instance's start plus the lab clock's elapsed time.
    pub fn now_text(&self) -> String {
        datetime_text(self.info.started + self.clock.elapsed())
    }

    /// A session id for a new connection (user sessions start at 51).
    pub fn allocate_spid(&self) -> u16 {
        self.next_spid
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    }

    /// Checks a SQL login; Some(login) when the name and password match.
    pub fn authenticate(&self, name: &str, password: &str) -> Option<SessionLogin> {
        let catalog = self.catalog();
        let (principal_id, stored): (i64, Option<String>) = catalog
            .conn
            .query_row(
                "SELECT principal_id, \"$password\" FROM \"sys.server_principals\" WHERE name = ?1 AND type = 'S' AND is_disabled = 0",
                [name],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .ok()?;
        if stored.as_deref() != Some(password) {
            return None;
        }
        session::login_for(&catalog, principal_id).ok()
    }
}

/// SQL Server's default collations compare text without case; SQLite's text columns do
/// so with COLLATE NOCASE.
fn case_insensitive_text(schema: &str) -> String {
    schema
        .lines()
        .map(|line| {
            let trimmed = line.trim_start();
            let column_type = trimmed.split_whitespace().nth(1).unwrap_or("");
            if is_text(column_type) && !trimmed.starts_with("--") {
                match line.strip_suffix(',') {
                    Some(body) => format!("{body} COLLATE NOCASE,"),
                    None => format!("{line} COLLATE NOCASE"),
                }
            } else {
                line.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
        .replace("(max)", MAX_LENGTH)
}

/// How the catalog's SQLite tables spell `(max)`: a length SQLite accepts.
const MAX_LENGTH: &str = "(2147483647)";

fn is_text(declared: &str) -> bool {
    matches!(
        SqlType::parse(declared),
        Some(SqlType::NVarChar(_) | SqlType::VarChar(_))
    )
}

/// Whether the batch parses as T-SQL (the fuzzer's door to the parser: it must refuse
/// what it cannot read, never panic).
pub fn parses(sql: &str) -> bool {
    batch::parse_batch(sql).is_ok()
}

/// A declared SQL Server type as a user table's SQLite column declares it, following
/// the catalog's own rules (see `case_insensitive_text`).
pub fn sqlite_type(declared: &str) -> String {
    let ty = declared.replace("(max)", MAX_LENGTH);
    if is_text(declared) {
        format!("{ty} COLLATE NOCASE")
    } else {
        ty
    }
}

fn shapes(conn: &Connection) -> rusqlite::Result<HashMap<String, TableShape>> {
    let user: std::collections::HashSet<String> = conn
        .prepare("SELECT sqlite_table FROM \"$user_tables\"")?
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    let mut tables = conn.prepare("SELECT name FROM sqlite_master WHERE type = 'table'")?;
    let names: Vec<String> = tables
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    let mut out = HashMap::new();
    for table in names {
        if table.starts_with('$') {
            continue;
        }
        let mut info = conn.prepare(&format!("PRAGMA table_info(\"{table}\")"))?;
        let declared: Vec<(String, String)> = info
            .query_map([], |r| Ok((r.get(1)?, r.get(2)?)))?
            .collect::<Result<_, _>>()?;
        let types = declared
            .iter()
            .filter_map(|(c, t)| Some((c.to_ascii_lowercase(), SqlType::parse(t)?)))
            .collect();
        let columns: Vec<String> = declared.into_iter().map(|(c, _)| c).collect();
        let per_database = columns.iter().any(|c| c == "$database_id");
        let hidden = columns.iter().any(|c| c.starts_with('$'));
        let visible = columns
            .into_iter()
            .filter(|c| !c.starts_with('$'))
            .collect();
        let system = !user.contains(&table);
        out.insert(
            table.to_ascii_lowercase(),
            TableShape {
                table,
                visible,
                types,
                per_database,
                hidden,
                system,
            },
        );
    }
    Ok(out)
}

/// A new uniqueidentifier as SQL Server prints it.
pub fn new_guid() -> String {
    uuid::Uuid::new_v4().to_string().to_uppercase()
}

/// A timestamp as the catalog stores it (datetime precision).
pub fn datetime_text(t: time::OffsetDateTime) -> String {
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}.{:03}",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.millisecond()
    )
}
