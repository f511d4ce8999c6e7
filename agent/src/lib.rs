//! ferry-agent: one small process per SQL Server host. It holds the SQL credentials
//! (they never leave the host), collects inventory, runs what the control plane asks,
//! and reports over mutually authenticated TLS. It only dials out.
//!
//! - [`config`]: the agent's configuration and its validation.
//! - [`control`]: enrollment, identity, renewal, the durable outbox and the session.
//! - [`sql`]: the only code that touches SQL Server (tiberius), queries in `.sql` files.
//! - [`inventory`]: collecting every configured instance's inventory.
//! - [`checks`]: the readiness checks, pure functions of what SQL Server answered.
//! - [`assessment`]: running the checks on every configured instance.
//! - [`load`]: sampling each instance's load for sizing the target.
//! - [`network`]: the connection test toward a target managed instance.
//! - [`workflow`]: the link's set-up on SQL Server as idempotent steps.
//! - [`every`]: the ticker of the agent's periodic work.
//! - [`monitor`]: the links' state from SQL Server's DMVs, reported at an interval.
//! - [`metrics`]: the agent's own metrics (memory, CPU, queries, commands, outbox).

pub mod assessment;
pub mod checks;
pub mod config;
pub mod control;
pub mod every;
pub mod inventory;
pub mod load;
pub mod metrics;
pub mod monitor;
pub mod network;
pub mod sql;
pub mod workflow;

use std::path::Path;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use ferry_proto::agent::v1::{command, report, Command, CommandResult};
use ferry_proto::codes::CommandError;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

use config::AgentConfig;
use control::identity::{Identity, IdentityError};
use control::outbox::{Outbox, OutboxError};
use control::renew::{renewal_loop, SharedIdentity};
use ferry_proto::clock::now_ms;

#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    #[error(transparent)]
    Config(#[from] config::ConfigError),
    #[error(transparent)]
    Identity(#[from] IdentityError),
    #[error(transparent)]
    Outbox(#[from] OutboxError),
    #[error(transparent)]
    Session(#[from] control::session::Fatal),
}

/// What the agent's tasks share.
pub struct Agent {
    pub config: AgentConfig,
    pub identity: SharedIdentity,
    pub outbox: Outbox,
    /// One command at a time: bounded load on the SQL Server.
    commands: Semaphore,
    pub metrics: metrics::ProcessMetrics,
}

/// The outbox database's path under the state directory.
pub fn outbox_path(state_dir: &Path) -> std::path::PathBuf {
    state_dir.join("outbox.db")
}

/// Runs the agent until `cancel` fires or the control plane refuses it for good.
pub async fn run(config: AgentConfig, cancel: CancellationToken) -> Result<(), AgentError> {
    config.validate()?;
    let identity = Identity::load(&config.state_dir)?;
    tracing::info!(agent = %identity.agent_id, name = %identity.name, control_plane = %identity.control_plane, "agent starting");
    let outbox = Outbox::open(&outbox_path(&config.state_dir)).await?;
    let agent = Arc::new(Agent {
        identity: Arc::new(RwLock::new(identity)),
        outbox,
        commands: Semaphore::new(1),
        config,
        metrics: metrics::ProcessMetrics::register(),
    });
    let tasks = CancellationToken::new();
    let renewal = tokio::spawn(renewal_loop(
        agent.config.state_dir.clone(),
        agent.identity.clone(),
        Duration::from_secs(agent.config.max_backoff_secs),
        tasks.clone(),
    ));
    let inventory = tokio::spawn(inventory_loop(agent.clone(), tasks.clone()));
    let load = tokio::spawn(load::sampling_loop(agent.clone(), tasks.clone()));
    let links = tokio::spawn(monitor::monitoring_loop(agent.clone(), tasks.clone()));
    let result = control::session::run(agent.clone(), cancel).await;
    tasks.cancel();
    let _ = tokio::join!(renewal, inventory, load, links);
    agent.outbox.close().await;
    Ok(result?)
}

/// Collects and queues inventory now and then every interval.
async fn inventory_loop(agent: Arc<Agent>, cancel: CancellationToken) {
    let mut every = every::Every::new(
        Duration::from_secs(agent.config.inventory_interval_secs),
        cancel,
    );
    while every.tick().await {
        let permit = agent.commands.acquire().await;
        let collected = inventory::collect(&agent.config).await;
        drop(permit);
        if let Err(e) = agent
            .outbox
            .append(report::Body::Inventory(collected))
            .await
        {
            tracing::error!(error = %e, "cannot queue the inventory report");
        }
        if let Err(e) = agent.outbox.prune().await {
            tracing::warn!(error = %e, "pruning the outbox failed");
        }
    }
}

impl Agent {
    /// Runs a command once: a redelivered id that already ran is skipped (its result is
    /// already in the outbox or delivered).
    pub async fn execute(self: Arc<Self>, command: Command) {
        use tracing::Instrument;
        let parent = ferry_proto::telemetry::from_map(&command.trace_context);
        let span = tracing::info_span!("agent.command", command = %command.command_id);
        let span = ferry_proto::telemetry::child_span(span, parent);
        self.execute_now(command).instrument(span).await
    }

    async fn execute_now(self: Arc<Self>, command: Command) {
        let Ok(_permit) = self.commands.acquire().await else {
            return;
        };
        let id = command.command_id.clone();
        match self.outbox.was_executed(&id).await {
            Ok(true) => {
                tracing::debug!(command = %id, "command already ran; skipping redelivery");
                return;
            }
            Ok(false) => {}
            Err(e) => {
                tracing::error!(command = %id, error = %e, "cannot check whether the command ran");
                return;
            }
        }
        let failed = |error: CommandError, message: String| CommandResult {
            command_id: id.clone(),
            ok: false,
            error_code: error.code().into(),
            error_message: message,
        };
        let done = || CommandResult {
            command_id: id.clone(),
            ok: true,
            ..Default::default()
        };
        let (kind, started) = (command_kind(&command.kind), std::time::Instant::now());
        let (bodies, result) = if command.expires_unix_ms > 0 && command.expires_unix_ms < now_ms()
        {
            (
                vec![],
                failed(
                    CommandError::CommandExpired,
                    "the command arrived after its deadline".into(),
                ),
            )
        } else {
            match command.kind {
                Some(command::Kind::CollectInventory(_)) => {
                    let collected = inventory::collect(&self.config).await;
                    (vec![report::Body::Inventory(collected)], done())
                }
                Some(command::Kind::RunAssessment(_)) => {
                    let assessed = assessment::run(&self.config, &id).await;
                    (vec![report::Body::Assessment(assessed)], done())
                }
                Some(command::Kind::TestConnection(request)) => {
                    let tested = network::test(&self.config, &id, request).await;
                    (vec![report::Body::ConnectionTest(tested)], done())
                }
                Some(command::Kind::RunLinkSteps(request)) => {
                    let ran = workflow::run::run(&self.config, &id, *request).await;
                    (vec![report::Body::LinkSteps(ran)], done())
                }
                Some(command::Kind::ReadLinkStatus(request)) => {
                    match monitor::read_now(&self.config, &request.instance).await {
                        Ok(status) => (
                            status.map(report::Body::LinkStatus).into_iter().collect(),
                            done(),
                        ),
                        Err(e) => (vec![], failed(CommandError::LinkStatus, e)),
                    }
                }
                Some(command::Kind::CountRows(request)) => {
                    let counted = sql::row_counts::count(&self.config, &id, request).await;
                    (vec![report::Body::RowCounts(counted)], done())
                }
                None => (
                    vec![],
                    failed(
                        CommandError::CommandUnknown,
                        "this agent does not know the command's kind; upgrade ferry-agent".into(),
                    ),
                ),
            }
        };
        tracing::info!(command = %id, ok = result.ok, "command finished");
        metrics::command(kind, result.ok, started.elapsed());
        if let Err(e) = self.outbox.append_command_outcome(bodies, result).await {
            tracing::error!(command = %id, error = %e, "cannot queue the command's result");
        }
    }
}

/// The command's kind, as its metrics label it.
fn command_kind(kind: &Option<command::Kind>) -> &'static str {
    match kind {
        Some(command::Kind::CollectInventory(_)) => "collect_inventory",
        Some(command::Kind::RunAssessment(_)) => "run_assessment",
        Some(command::Kind::TestConnection(_)) => "test_connection",
        Some(command::Kind::RunLinkSteps(_)) => "run_link_steps",
        Some(command::Kind::ReadLinkStatus(_)) => "read_link_status",
        Some(command::Kind::CountRows(_)) => "count_rows",
        None => "unknown",
    }
}

/// A summary of the agent's local state for `ferry-agent status`: identity,
/// certificate validity and outbox backlog. Reads the state directory only.
pub async fn status(state_dir: &Path) -> Result<String, AgentError> {
    let identity = Identity::load(state_dir)?;
    let certificate = match identity.validity_ms() {
        Ok((_, not_after)) => {
            let left = (not_after - now_ms()) / 1000;
            if left > 0 {
                format!("valid for {}h {}m more", left / 3600, (left % 3600) / 60)
            } else {
                format!("expired {}s ago: enroll again", -left)
            }
        }
        Err(e) => format!("unreadable: {e}"),
    };
    let outbox = Outbox::open(&outbox_path(state_dir)).await?;
    let (pending, acked) = outbox.counts().await?;
    let dead = outbox.dead_letters().await?;
    outbox.close().await;
    let mut status = format!(
        "agent:         {} ({})\ncontrol plane: {}\ncertificate:   {certificate}\noutbox:        {pending} report(s) waiting, {acked} delivered (kept a week)\n",
        identity.name, identity.agent_id, identity.control_plane
    );
    for (report_id, reason) in dead.iter().take(10) {
        status.push_str(&format!("refused:       report {report_id}: {reason}\n"));
    }
    Ok(status)
}

/// This host's name, for the hello message and the default agent name.
pub fn host_name() -> String {
    std::env::var("HOSTNAME")
        .ok()
        .filter(|h| !h.is_empty())
        .or_else(|| {
            std::fs::read_to_string("/etc/hostname")
                .ok()
                .map(|h| h.trim().to_string())
        })
        .or_else(|| std::env::var("COMPUTERNAME").ok())
        .unwrap_or_else(|| "localhost".into())
}
