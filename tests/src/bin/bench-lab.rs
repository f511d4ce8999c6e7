//! Lab benchmark: starts a generated fleet in ferry-sim (default 1,000 instances, seed 7)
//! and prints how long it took and the process's resident memory, then runs a typical
//! catalog query (the agent's database inventory) many times over loopback with
//! tiberius and prints the latency percentiles.
//!
//! cargo run --release -p ferry-tests --bin bench-lab -- [--instances N] [--queries N]

use std::time::{Duration, Instant};

use clap::Parser;
use ferry_sim::measure::{percentile_ms, rss_mib};
use tiberius::{AuthMethod, Client, Config, EncryptionLevel};
use tokio::net::TcpStream;
use tokio_util::compat::TokioAsyncWriteCompatExt;

#[derive(Parser)]
struct Args {
    #[arg(long, default_value_t = 1000)]
    instances: usize,
    #[arg(long, default_value_t = 2000)]
    queries: usize,
    #[arg(long, default_value_t = 7)]
    seed: u64,
}

const QUERY: &str = include_str!("../../../agent/src/sql/queries/databases.sql");

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let scenario = ferry_sim::scenario::generate(args.instances, args.seed);
    let databases: usize = scenario.instances.iter().map(|i| i.databases.len()).sum();
    let started = Instant::now();
    let lab = ferry_sim::Lab::start(&scenario).await?;
    let start_time = started.elapsed();
    println!(
        "lab: {} instances ({databases} user databases) ready in {:.2} s, RSS {:.0} MiB",
        lab.endpoints.len(),
        start_time.as_secs_f64(),
        rss_mib()
    );

    let endpoint = lab.endpoints[lab.endpoints.len() / 2].clone();
    let mut config = Config::new();
    config.host("127.0.0.1");
    config.port(endpoint.address.port());
    config.authentication(AuthMethod::sql_server(&endpoint.login, &endpoint.password));
    config.encryption(EncryptionLevel::Required);
    config.trust_cert();
    let tcp = TcpStream::connect(endpoint.address).await?;
    tcp.set_nodelay(true)?;
    let mut client = Client::connect(config, tcp.compat_write()).await?;
    let mut latencies: Vec<Duration> = Vec::with_capacity(args.queries);
    let mut rows = 0;
    for _ in 0..args.queries {
        let t = Instant::now();
        rows = client
            .simple_query(QUERY)
            .await?
            .into_first_result()
            .await?
            .len();
        latencies.push(t.elapsed());
    }
    latencies.sort();
    let at = |p: f64| percentile_ms(&latencies, p);
    println!(
        "query (agent inventory, {rows} rows, full TLS) x{}: p50 {:.3} ms, p99 {:.3} ms, max {:.3} ms",
        args.queries,
        at(0.5),
        at(0.99),
        at(1.0)
    );
    println!("RSS after queries {:.0} MiB", rss_mib());
    Ok(())
}
