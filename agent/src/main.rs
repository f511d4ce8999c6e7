//! `ferry-agent enroll` and `ferry-agent run`: parse flags over the config file, start
//! logging, call the library, stop on SIGINT/SIGTERM.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};
use ferry_agent::config::AgentConfig;
use tokio_util::sync::CancellationToken;

#[derive(Parser)]
#[command(
    name = "ferry-agent",
    version,
    about = "Ferry's agent for SQL Server hosts"
)]
struct Cli {
    /// TOML config file (see deploy/ferry-agent.example.toml).
    #[arg(long, env = "FERRY_AGENT_CONFIG", global = true)]
    config: Option<PathBuf>,
    /// State directory (identity and outbox); overrides the config file.
    #[arg(long, env = "FERRY_AGENT_STATE_DIR", global = true)]
    state_dir: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Enroll with a control plane using a one-time token.
    Enroll {
        /// e.g. https://ferry.example.com:7443
        #[arg(long, env = "FERRY_CONTROL_PLANE")]
        control_plane: String,
        #[arg(long, env = "FERRY_ENROLLMENT_TOKEN")]
        token: String,
        /// The name to enroll under (default: this host's name).
        #[arg(long)]
        name: Option<String>,
    },
    /// Run: keep a session with the control plane and serve it.
    Run,
    /// Show this host's identity, certificate expiry and outbox backlog (offline; reads
    /// the state directory only).
    Status,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let mut config = match &cli.config {
        Some(path) => AgentConfig::from_file(path)?,
        None => AgentConfig::default(),
    };
    if let Some(dir) = cli.state_dir {
        config.state_dir = dir;
    }
    config.validate()?;
    // tiberius logs every message SQL Server sends as its own ERROR or INFO line,
    // including errors the agent expects and handles (root_trust's "already added as
    // trusted issuer" on every run); the agent logs the failures that matter itself,
    // with their step or check. RUST_LOG brings tiberius's back.
    let _telemetry = ferry_proto::telemetry::init("ferry-agent", "info,tiberius=off");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        match cli.command {
            Command::Enroll {
                control_plane,
                token,
                name,
            } => {
                let name = name.unwrap_or_else(ferry_agent::host_name);
                let identity = ferry_agent::control::enroll::enroll(
                    &config.state_dir,
                    &control_plane,
                    &token,
                    &name,
                )
                .await
                .context("enrollment failed")?;
                println!(
                    "enrolled as {} ({}); identity saved in {}",
                    identity.name,
                    identity.agent_id,
                    config.state_dir.display()
                );
                Ok(())
            }
            Command::Status => {
                print!("{}", ferry_agent::status(&config.state_dir).await?);
                Ok(())
            }
            Command::Run => {
                let cancel = CancellationToken::new();
                tokio::spawn(stop_on_signal(cancel.clone()));
                ferry_agent::run(config, cancel)
                    .await
                    .map_err(anyhow::Error::from)
            }
        }
    })
}

async fn stop_on_signal(cancel: CancellationToken) {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut term) => tokio::select! { _ = interrupt => {}, _ = term.recv() => {} },
            Err(_) => {
                let _ = interrupt.await;
            }
        }
    }
    #[cfg(not(unix))]
    let _ = interrupt.await;
    tracing::info!("stopping");
    cancel.cancel();
}
