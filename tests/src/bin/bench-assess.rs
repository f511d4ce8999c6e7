//! Benchmark: a fleet-wide readiness assessment of N generated lab instances end to end
//! (lab and one in-process agent per instance with its own mTLS session; `ferry-control`
//! on SQLite as its own process), on this machine. Prints the time to assess, per-phase
//! figures, and the RSS of this process and of the control plane's.
//!
//! `cargo run --release -p ferry-tests --bin bench-assess -- --instances 1000`

use std::time::Instant;

use clap::Parser;
use ferry_sim::measure::{memory_mib, rss_mib};
use ferry_tests::fleet::{Fleet, Options};

#[derive(Parser)]
struct Args {
    #[arg(long, default_value_t = 1000)]
    instances: usize,
    #[arg(long, default_value_t = 7)]
    seed: u64,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let _ = rlimit::increase_nofile_limit(u64::MAX);
    let scenario = ferry_sim::scenario::generate(args.instances, args.seed);
    let databases: usize = scenario.instances.iter().map(|i| i.databases.len()).sum();
    let largest = scenario
        .instances
        .iter()
        .map(|i| i.databases.len())
        .max()
        .unwrap_or(0);
    let dir = tempfile::tempdir()?;
    let started = Instant::now();
    let options = Options {
        data_dir: dir.path().join("ferry-lab-data"),
        listen: "127.0.0.1:0".parse()?,
        enroll_parallelism: 32,
        load_sampling: None,
        control_plane_process: true,
        metrics_listen: None,
    };
    let mut fleet = Fleet::start(&scenario, &options).await?;
    println!(
        "fleet: {} instances ({databases} user databases, largest {largest}) started and enrolled in {:.1} s, RSS {:.0} MiB",
        args.instances,
        started.elapsed().as_secs_f64(),
        rss_mib()
    );
    let assessing = Instant::now();
    let mut last_finished = 0;
    let report = fleet
        .assess_all(|run| {
            let counts = run.target_counts.unwrap_or_default();
            let finished = counts.done as usize;
            if finished >= last_finished + args.instances / 10 {
                last_finished = finished;
                println!(
                    "  {:>6.1} s  {finished}/{} hosts done",
                    assessing.elapsed().as_secs_f64(),
                    counts.total
                );
            }
        })
        .await?;
    let (plane_rss, plane_peak) = fleet
        .control_plane_pid()
        .map(|pid| memory_mib(&pid.to_string()))
        .unwrap_or_default();
    let counts = report.databases.unwrap_or_default();
    println!(
        "assessment: {} instances, {} databases ({} ready, {} with warnings, {} not ready, {} unknown) in {:.1} s (budget 60 s), bench process RSS {:.0} MiB (lab and agents); ferry-control process RSS {:.0} MiB, peak {:.0} MiB (budget 1 GiB)",
        report.instances.len(),
        counts.ready + counts.ready_with_warnings + counts.not_ready + counts.unknown,
        counts.ready,
        counts.ready_with_warnings,
        counts.not_ready,
        counts.unknown,
        assessing.elapsed().as_secs_f64(),
        rss_mib(),
        plane_rss,
        plane_peak
    );
    fleet.stop().await;
    Ok(())
}
