//! `ferry-lab`: a whole Ferry fleet on this machine. Starts the lab (simulated SQL
//! Server instances), a control plane on the embedded SQLite store, one enrolled agent
//! per instance, runs a fleet readiness assessment, prints the summary, then migrates
//! the Ready databases of a few hosts to the lab's managed instance over the MI link
//! until they are ready for cutover, stops the lab's workload on them and cuts them
//! over (`--no-cutover` leaves them ready), verifying every committed row on the MI,
//! prints where to look next, and keeps running for the `ferry` CLI until interrupted
//! (or exits, `--once`).

use std::path::PathBuf;
use std::time::Instant;

use clap::Parser;
use ferry_control::cli::assess;
use ferry_tests::fleet::{Fleet, Options};
use ferry_tests::{lab_cutover, lab_migrations};

/// The agents' load sampling in the lab: every 5 s, in one-minute windows (production
/// defaults are 30 s and 10 min).
const LOAD_SAMPLE_SECS: u64 = 5;
const LOAD_WINDOW_SECS: u64 = 60;

#[derive(Parser)]
#[command(
    name = "ferry-lab",
    about = "A whole Ferry fleet on this machine, against the lab"
)]
struct Args {
    /// A scenario file (TOML) instead of a generated fleet.
    #[arg(long, conflicts_with = "generate")]
    scenario: Option<PathBuf>,
    /// Generate this many varied instances.
    #[arg(long, default_value_t = 20)]
    generate: usize,
    /// Seed for the generated fleet (the same seed gives the same fleet).
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Where the control plane and the agents keep their state (cleared on start).
    #[arg(long, default_value = "ferry-lab-data")]
    data_dir: PathBuf,
    /// The control plane's address.
    #[arg(long, default_value = "127.0.0.1:7443")]
    listen: std::net::SocketAddr,
    /// The control plane's /metrics, /healthz and /readyz (what
    /// deploy/observability/prometheus.yml scrapes).
    #[arg(long, default_value = "127.0.0.1:9464")]
    metrics_listen: std::net::SocketAddr,
    /// Migrate the Ready databases up to 2 GiB (at most two each, smallest first) of this many hosts
    /// to the lab's managed instance; 0 skips migrations.
    #[arg(long, default_value_t = 3)]
    migrate_hosts: usize,
    /// Leave the migrations ready for cutover instead of cutting them over.
    #[arg(long)]
    no_cutover: bool,
    /// Exit after printing the summary instead of serving the CLI.
    #[arg(long)]
    once: bool,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                // tiberius's lines are each SQL Server message, expected ones too
                // (see ferry-agent's main).
                .unwrap_or_else(|_| "error,tiberius=off".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let _metrics = ferry_proto::telemetry::init_scrape_only("ferry-control");
    let args = Args::parse();
    let mut scenario = match &args.scenario {
        Some(path) => ferry_sim::Scenario::load(path)?,
        None => ferry_sim::scenario::generate(args.generate, args.seed),
    };
    if args.migrate_hosts > 0 {
        ferry_tests::lab_migrations::add_target(&mut scenario)?;
        ferry_tests::lab_migrations::add_tables(&mut scenario);
    }
    let started = Instant::now();
    let options = Options {
        data_dir: args.data_dir.clone(),
        listen: args.listen,
        enroll_parallelism: 16,
        // Short windows so that SKU recommendations appear within a minute.
        load_sampling: Some((LOAD_SAMPLE_SECS, LOAD_WINDOW_SECS)),
        control_plane_process: false,
        metrics_listen: Some(args.metrics_listen),
    };
    let mut fleet = Fleet::start(&scenario, &options).await?;
    eprintln!(
        "ferry-lab: {} lab instances, control plane at {}, {} agents enrolled ({:.1} s)",
        fleet.lab.endpoints.len(),
        fleet.control_plane,
        fleet.lab.endpoints.len(),
        started.elapsed().as_secs_f64()
    );
    let assessing = Instant::now();
    let report = fleet
        .assess_all(|run| eprint!("\r{}", assess::progress_line(run)))
        .await?;
    eprintln!();
    println!(
        "Readiness for Azure SQL Managed Instance (assessed in {:.1} s):",
        assessing.elapsed().as_secs_f64()
    );
    print!("{}", assess::summary_text(&report));
    let mut rules: Vec<_> = report.rules.iter().filter(|r| r.instances > 0).collect();
    let rank = |severity: &str| match severity {
        "blocker" => 0,
        "warning" => 1,
        _ => 2,
    };
    rules.sort_by(|a, b| {
        rank(&a.severity).cmp(&rank(&b.severity)).then(
            b.databases
                .max(b.instances)
                .cmp(&a.databases.max(a.instances)),
        )
    });
    println!("Most common findings:");
    for rule in rules.iter().take(8) {
        println!(
            "  {:<28} {:<8} {:>4} instance(s) {:>5} database(s)  {}",
            rule.check_id, rule.severity, rule.instances, rule.databases, rule.title
        );
    }
    if args.migrate_hosts > 0 {
        let ready =
            lab_migrations::ready_databases(&mut fleet, &report, args.migrate_hosts).await?;
        if !args.no_cutover {
            lab_cutover::cut_over(&mut fleet, &ready).await?;
        }
    }
    let env = format!(
        "FERRY_CONTROL_PLANE={} FERRY_CREDENTIALS={}",
        fleet.control_plane,
        fleet.credentials.display()
    );
    println!("\nWhere to look next (in another terminal, after `cargo build --release`):");
    println!("  {env} target/release/ferry assess report");
    if let Some(host) = report.instances.iter().find(|i| i.readiness == "not_ready") {
        println!(
            "  {env} target/release/ferry assess show --host {}",
            host.host
        );
    }
    println!(
        "  {env} target/release/ferry assess sku    (SKU and monthly cost, after the first {LOAD_WINDOW_SECS} s of load)"
    );
    println!("  {env} target/release/ferry migrate ls");
    println!("  docs/checks/README.md explains every check.");
    if let Some(url) = &fleet.metrics_url {
        println!(
            "\nMetrics: {url} (and /healthz, /readyz); every metric in docs/reference/metrics.md."
        );
        if ferry_tests::prometheus::installed() {
            println!("  prometheus --config.file=deploy/observability/prometheus.yml --storage.tsdb.path=ferry-lab-data/prometheus");
            println!("  scrapes it (the alerts in deploy/observability/alerts.yml; dashboards in deploy/observability/grafana/).");
        } else {
            println!("  With Prometheus installed (apt-get install prometheus), deploy/observability/prometheus.yml scrapes it.");
        }
    }
    if args.once {
        fleet.stop().await;
        return Ok(());
    }
    println!("\nferry-lab keeps the fleet running; Ctrl-C stops it.");
    tokio::signal::ctrl_c().await?;
    fleet.stop().await;
    Ok(())
}
