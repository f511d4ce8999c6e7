//! `ferry-sim`: starts a lab from a scenario file or a generated fleet, prints one line
//! per instance when it is ready, and runs until interrupted.

use std::path::PathBuf;

use clap::Parser;
use ferry_sim::{Lab, Scenario};

#[derive(Parser)]
#[command(
    name = "ferry-sim",
    about = "The Ferry lab: simulated SQL Server instances over real TDS"
)]
struct Args {
    /// A scenario file (TOML).
    #[arg(required_unless_present = "generate", conflicts_with = "generate")]
    scenario: Option<PathBuf>,
    /// Generate this many varied instances instead of reading a file.
    #[arg(long)]
    generate: Option<usize>,
    /// Seed for --generate (the same seed gives the same fleet).
    #[arg(long, default_value_t = 1)]
    seed: u64,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    let scenario = match (args.scenario, args.generate) {
        (Some(path), _) => Scenario::load(&path)?,
        (None, Some(count)) => ferry_sim::scenario::generate(count, args.seed),
        (None, None) => unreachable!("clap requires one of them"),
    };
    let started = std::time::Instant::now();
    let lab = Lab::start(&scenario).await?;
    for e in &lab.endpoints {
        println!(
            "instance {} listening on {} login {} password {}",
            e.name, e.address, e.login, e.password
        );
    }
    println!(
        "ready: {} instances in {:.2} s",
        lab.endpoints.len(),
        started.elapsed().as_secs_f64()
    );
    tokio::signal::ctrl_c().await?;
    Ok(())
}
