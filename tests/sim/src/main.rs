//! `ferry-sim`: starts a lab from a scenario file or a generated fleet, prints one line
//! per instance (and per managed instance, with the lab's Azure endpoints) when it is
//! ready, and runs until interrupted.

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
    /// Where to write the lab Azure CA's certificate (PEM), which clients of its
    /// token authority and ARM endpoint trust. Default: in the temporary directory.
    #[arg(long)]
    azure_ca_file: Option<PathBuf>,
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
    for mi in &lab.managed {
        println!(
            "managed instance {} at {} ({}) login {} password {}",
            mi.spec.name, mi.fqdn, mi.ip, mi.spec.admin_login, mi.spec.admin_password
        );
    }
    if let Some(azure) = &lab.azure {
        let path = args.azure_ca_file.unwrap_or_else(|| {
            std::env::temp_dir().join(format!("ferry-sim-azure-ca-{}.pem", std::process::id()))
        });
        std::fs::write(&path, &azure.ca_pem).map_err(|e| {
            anyhow::anyhow!("--azure-ca-file {}: cannot write: {e}", path.display())
        })?;
        println!(
            "azure authority {} arm {} tenant {} subscription {} ca {}",
            azure.authority,
            azure.arm,
            azure.tenant,
            azure.subscription,
            path.display()
        );
    }
    println!("control {}", lab.control_url);
    println!(
        "ready: {} instances, {} managed instances in {:.2} s",
        lab.endpoints.len(),
        lab.managed.len(),
        started.elapsed().as_secs_f64()
    );
    tokio::signal::ctrl_c().await?;
    Ok(())
}
