//! `ferry-control`: parses flags and environment over the config file, binds the
//! listener, and runs the control plane until SIGINT/SIGTERM.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, Subcommand};
use ferry_control::config::ControlConfig;
use ferry_control::fleet::ca::CertificateAuthority;
use ferry_control::fleet::identity::Role;
use ferry_control::store::operators::OperatorCertificate;
use ferry_control::store::Store;
use ferry_proto::clock::now_ms;

#[derive(Parser)]
#[command(name = "ferry-control", version, about = "Ferry's control plane")]
struct Cli {
    /// TOML config file (see deploy/ferry-control.example.toml).
    #[arg(long, env = "FERRY_CONFIG", global = true)]
    config: Option<PathBuf>,
    /// Data directory (CA, embedded database, operator credentials).
    #[arg(long, env = "FERRY_DATA_DIR", global = true)]
    data_dir: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    serve: ServeArgs,
}

#[derive(clap::Args)]
struct ServeArgs {
    /// Address to listen on, e.g. 0.0.0.0:7443 (port 0 picks a free port).
    #[arg(long, env = "FERRY_LISTEN")]
    listen: Option<SocketAddr>,
    /// Plain-HTTP address for /metrics, /healthz and /readyz, e.g. 127.0.0.1:9464
    /// (`[observability] listen`; none by default).
    #[arg(long, env = "FERRY_METRICS_LISTEN")]
    metrics_listen: Option<SocketAddr>,
    /// postgres://… for PostgreSQL; default SQLite in the data directory.
    #[arg(long, env = "FERRY_DATABASE_URL")]
    database_url: Option<String>,
    /// Extra name or IP for the server certificate (repeatable).
    #[arg(long = "server-name")]
    server_names: Vec<String>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the control plane (the default).
    Serve,
    /// Issue an operator's client certificate from the CA in the data directory and put
    /// it on record (audited); issuing a name again replaces its certificate at once.
    IssueOperator {
        #[arg(long)]
        name: String,
        /// viewer, operator, approver or admin.
        #[arg(long)]
        role: Role,
        /// Directory to write cert.pem, key.pem and ca.pem into.
        #[arg(long)]
        out: PathBuf,
        /// Lifetime, e.g. 12h or 7d (default: certificates.operator_ttl_secs). The
        /// `ferry` CLI renews it once two thirds have passed.
        #[arg(long, value_parser = ferry_control::cli::parse_duration)]
        ttl: Option<Duration>,
    },
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let mut config = match &cli.config {
        Some(path) => ControlConfig::from_file(path)?,
        None => ControlConfig::default(),
    };
    if let Some(dir) = cli.data_dir {
        config.data_dir = dir;
    }
    if let Some(url) = cli.serve.database_url {
        // A password on the command line is every local user's to read (ps).
        let from_environment = std::env::var("FERRY_DATABASE_URL").ok() == Some(url.clone());
        if url_has_password(&url) && !from_environment {
            anyhow::bail!("--database-url: a password on the command line is readable by every user of this host (ps): give it in database_password_file, or in FERRY_DATABASE_URL");
        }
        config.database_url = Some(url);
    }
    match cli.command {
        Some(Command::IssueOperator {
            name,
            role,
            out,
            ttl,
        }) => {
            let ttl = ttl.unwrap_or(Duration::from_secs(config.certificates.operator_ttl_secs));
            let issue = issue_operator(&config, &name, role, ttl, &out);
            tokio::runtime::Runtime::new()?.block_on(issue)
        }
        Some(Command::Serve) | None => {
            if let Some(listen) = cli.serve.listen {
                config.listen = listen;
            }
            if let Some(listen) = cli.serve.metrics_listen {
                config.observability.listen = Some(listen);
            }
            config.tls.server_names.extend(cli.serve.server_names);
            config.validate()?;
            // Metrics are kept for /metrics only when it is served; OTLP alone exports them.
            let _telemetry = match config.observability.listen {
                Some(_) => ferry_proto::telemetry::init_scrapeable("ferry-control", "info"),
                None => ferry_proto::telemetry::init("ferry-control", "info"),
            };
            tokio::runtime::Runtime::new()?.block_on(serve(config))
        }
    }
}

async fn serve(config: ControlConfig) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| {
            format!(
                "cannot listen on {} (set --listen or FERRY_LISTEN)",
                config.listen
            )
        })?;
    let metrics = match config.observability.listen {
        None => None,
        Some(address) => Some(tokio::net::TcpListener::bind(address).await.with_context(|| {
            format!("cannot listen on {address} for metrics (set [observability] listen or FERRY_METRICS_LISTEN)")
        })?),
    };
    // Tests and scripts read these lines to learn the ports; readiness is a successful
    // RPC, or /readyz.
    println!("ferry-control listening on {}", listener.local_addr()?);
    if let Some(metrics) = &metrics {
        println!(
            "ferry-control metrics on http://{}/metrics",
            metrics.local_addr()?
        );
    }
    let listeners = ferry_control::server::Listeners {
        grpc: listener,
        metrics,
    };
    ferry_control::run(config, listeners, shutdown_signal()).await?;
    Ok(())
}

async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("installing SIGTERM handler");
        tokio::select! { _ = interrupt => {}, _ = term.recv() => {} }
    }
    #[cfg(not(unix))]
    let _ = interrupt.await;
    tracing::info!("shutting down");
}

/// Issues an operator's certificate and puts it on record (replacing any earlier one
/// of that name at once), audited as the local user who ran it.
async fn issue_operator(
    config: &ControlConfig,
    name: &str,
    role: Role,
    ttl: Duration,
    out: &std::path::Path,
) -> anyhow::Result<()> {
    if ttl.is_zero() {
        anyhow::bail!("--ttl: must be greater than zero");
    }
    ferry_control::fleet::enrollment::validate_agent_name(name)
        .map_err(|p| anyhow::anyhow!("--name: {p}"))?;
    let provided = config
        .tls
        .ca_cert
        .as_deref()
        .zip(config.tls.ca_key.as_deref());
    let ca = CertificateAuthority::load_or_create(&config.data_dir.join("ca"), provided)?;
    let store = Store::open(&config.database_url_with_password()?).await?;
    let (issued, key) = ca.issue_operator(name, role, ttl)?;
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    ferry_control::server::write_operator_credentials(out, &ca, &issued.cert_pem, &key)?;
    let record = OperatorCertificate {
        name,
        role,
        serial: &issued.serial,
        not_after_ms: issued.not_after_ms,
    };
    let user = std::env::var("USER").unwrap_or_else(|_| "unknown".into());
    store
        .record_operator_issue(&record, &format!("local/{user}"), now_ms())
        .await?;
    store.close().await;
    println!(
        "wrote {} credentials for {name:?} to {}",
        role.as_str(),
        out.display()
    );
    Ok(())
}

/// Whether a database URL carries a password (`postgres://user:secret@...`).
fn url_has_password(url: &str) -> bool {
    url.split_once("://")
        .and_then(|(_, rest)| rest.split_once('@'))
        .is_some_and(|(userinfo, _)| userinfo.contains(':'))
}
