//! Benchmark: N migrations started at once across a lab fleet (the lab and
//! one in-process agent per host; `ferry-control` on SQLite as its own process), timed
//! until every one is ready for cutover, against the lab's own minimum: the bytes to
//! seed over the managed instance's link bandwidth (the links share it). Prints the
//! control plane's CPU and memory, and this process's (the lab and the agents).
//!
//! With `--cutover`, the ready ones are then cut over as one wave and Ferry's own
//! overhead per database printed (p50/p99): from the reading that opened every gate to
//! the failover requested, and from the failover seen done to the database verified.
//!
//! `cargo run --release -p ferry-tests --bin bench-migrations -- --hosts 50 --per-host 2`
//! `cargo run --release -p ferry-tests --bin bench-migrations -- --hosts 25 --per-host 2 --cutover`
//!
//! Before any cutover, the driver is watched for `--steady-secs` with every migration
//! linked (`--waiting-cutovers` of them at their gates): its ticks' time, store
//! operations per tick and ARM requests per minute, from ferry-control's metrics.
//! `cargo run --release -p ferry-tests --bin bench-migrations -- --hosts 500 --per-host 2 --data-mb 1 --waiting-cutovers 100`

use std::time::{Duration, Instant};

use clap::Parser;
use ferry_control::cli::request;
use ferry_proto::operator::v1 as op;
use ferry_sim::measure::{cpu_secs, memory_mib, rss_mib};
use ferry_tests::fleet::{Fleet, Options};
use ferry_tests::lab_cutover;
use ferry_tests::lab_migrations::{choose, follow, start_all};

#[derive(Parser)]
struct Args {
    /// Hosts (lab instances) in the generated fleet.
    #[arg(long, default_value_t = 50)]
    hosts: usize,
    /// Ready databases migrated per host.
    #[arg(long, default_value_t = 2)]
    per_host: usize,
    /// The largest database chosen, MiB.
    #[arg(long, default_value_t = 65536)]
    max_mib: i64,
    /// The managed instance's link bandwidth, Mbps (the links share it).
    #[arg(long, default_value_t = 10000.0)]
    bandwidth_mbps: f64,
    /// Each database's data, MiB.
    #[arg(long, default_value_t = 64)]
    data_mb: u64,
    /// Give up after this many seconds.
    #[arg(long, default_value_t = 1800)]
    limit_secs: u64,
    /// Then watch the driver for this long with every migration linked (0: not):
    /// its ticks' time, store operations and ARM requests, from ferry-control's metrics.
    #[arg(long, default_value_t = 60)]
    steady_secs: u64,
    /// Cutovers started before that watch that wait at their gates through it (the
    /// application still writing, so the quiet gate stays closed).
    #[arg(long, default_value_t = 0)]
    waiting_cutovers: usize,
    /// Then cut every ready one over as one wave (the application stopped and so
    /// confirmed) and print Ferry's own overhead per database.
    #[arg(long)]
    cutover: bool,
}

/// `hosts` SQL Server 2022 instances, each with `per_host` databases of `data_mb`
/// (named apart: the managed instance holds one database of a name) in FULL recovery with a full backup and a light workload: every one can be migrated,
/// so the figures are the link's and Ferry's, not the fleet's blockers.
fn fleet_scenario(args: &Args) -> String {
    let mut scenario = String::new();
    for host in 0..args.hosts {
        scenario.push_str(&format!(
            "[[instance]]\nname = \"SQL{host:03}\"\nversion = \"2022 CU13\"\nhadr = true\n\
             [[instance.login]]\nname = \"ferry\"\npassword = \"Ferry-Passw0rd!\"\nsysadmin = true\n"
        ));
        for n in 0..args.per_host {
            scenario.push_str(&format!(
                "[[instance.database]]\nname = \"App{host:03}_{n}\"\ndata_mb = {}\n\
                 backups = [{{ type = \"D\", hours_ago = 2.0 }}]\n\
                 workload = {{ log_bytes_per_sec = 4096, transactions_per_sec = 2 }}\n",
                args.data_mb
            ));
        }
    }
    scenario
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let _ = rlimit::increase_nofile_limit(u64::MAX);
    anyhow::ensure!(
        args.hosts > 0 && args.per_host > 0,
        "--hosts and --per-host must be above 0"
    );
    let mut scenario =
        ferry_sim::Scenario::parse(&fleet_scenario(&args)).map_err(anyhow::Error::msg)?;
    ferry_tests::lab_migrations::add_target(&mut scenario)?;
    for mi in &mut scenario.managed_instances {
        mi.link_bandwidth_mbps = args.bandwidth_mbps;
    }
    let dir = tempfile::tempdir()?;
    let options = Options {
        data_dir: dir.path().join("ferry-lab-data"),
        listen: "127.0.0.1:0".parse()?,
        enroll_parallelism: 16,
        load_sampling: None,
        control_plane_process: true,
        metrics_listen: None,
    };
    let begun = Instant::now();
    let mut fleet = Fleet::start(&scenario, &options).await?;
    let enrolled = begun.elapsed().as_secs_f64();
    let report = fleet.assess_all(|_| {}).await?;
    // Warnings are accepted at the start, as an operator would after reading them.
    let chosen = choose(
        &report,
        &["ready", "ready_with_warnings"],
        (args.hosts, args.per_host),
        args.max_mib << 20,
    );
    // What seeding copies: the databases' data pages, as the lab holds them (their
    // files' allocated size, which the assessment reports, is larger). The lab names
    // each host after its instance.
    let bytes: f64 = chosen
        .iter()
        .filter_map(|d| {
            fleet
                .lab
                .instance(&d.host)?
                .log_position(&d.database, std::time::Duration::ZERO)
        })
        .map(|p| p.data_bytes)
        .sum();
    let hosts = {
        let mut h: Vec<&str> = chosen.iter().map(|d| d.host.as_str()).collect();
        h.dedup();
        h.len()
    };
    println!(
        "fleet: {} hosts started and enrolled in {enrolled:.1} s, assessed in {:.1} s more; {} databases (ready, or with warnings) of {hosts} hosts chosen, {:.2} GiB of data pages to seed",
        args.hosts,
        begun.elapsed().as_secs_f64() - enrolled,
        chosen.len(),
        bytes / f64::from(1 << 30),
    );
    let plane = fleet.control_plane_pid().map(|p| p.to_string());
    let plane_cpu = || plane.as_deref().map_or(0.0, cpu_secs);
    let (plane_before, own_before) = (plane_cpu(), cpu_secs("self"));
    let starting = Instant::now();
    let Some(started) = start_all(&mut fleet, &chosen, true).await? else {
        anyhow::bail!("the generated lab has no managed instance");
    };
    let start_secs = starting.elapsed().as_secs_f64();
    let mut shown = 0;
    let all = follow(
        &mut fleet,
        &started.ids,
        ("ready_for_cutover", Duration::from_secs(args.limit_secs)),
        |ready, failed, total, secs| {
            if ready + failed >= shown + total.div_ceil(10) || ready + failed == total {
                shown = ready + failed;
                println!("  {secs:>7.1} s  {ready}/{total} ready for cutover, {failed} failed");
            }
        },
    )
    .await?;
    let took = starting.elapsed().as_secs_f64();
    let ready = all
        .iter()
        .filter(|m| m.state == "ready_for_cutover")
        .count();
    let minimum = bytes / started.bandwidth;
    let (plane_rss, plane_peak) = plane.as_deref().map(memory_mib).unwrap_or_default();
    println!(
        "migrations: {ready}/{} ready for cutover {took:.1} s after the first start (starting all took {start_secs:.1} s); \
         the lab's minimum {minimum:.1} s ({:.2} GiB at {:.0} MB/s shared); beyond it {:.1} s (the set-up's T-SQL and ARM calls, the lab's ARM operation times, polling)",
        all.len(),
        bytes / f64::from(1 << 30),
        started.bandwidth / 1e6,
        took - minimum,
    );
    println!(
        "cpu during the migrations: ferry-control {:.1} s ({:.0}% of one core), lab and agents {:.1} s; \
         ferry-control RSS {plane_rss:.0} MiB (peak {plane_peak:.0}), lab and agents {:.0} MiB",
        plane_cpu() - plane_before,
        (plane_cpu() - plane_before) / took * 100.0,
        cpu_secs("self") - own_before,
        rss_mib(),
    );
    for m in all.iter().filter(|m| m.state != "ready_for_cutover") {
        println!(
            "  not ready: {} {} on {}: {}: {}",
            m.id, m.database, m.host, m.state, m.detail
        );
    }
    if args.steady_secs > 0 {
        let ready: Vec<&op::Migration> = all
            .iter()
            .filter(|m| m.state == "ready_for_cutover")
            .collect();
        steady(&mut fleet, &ready, &args).await?;
    }
    if args.cutover {
        let ready: Vec<_> = all
            .into_iter()
            .filter(|m| m.state == "ready_for_cutover")
            .collect();
        cutover_wave(&mut fleet, &ready, Duration::from_secs(args.limit_secs)).await?;
    }
    fleet.stop().await;
    Ok(())
}

/// The driver with `ready` linked (and `--waiting-cutovers` of them waiting at their
/// gates), watched for `--steady-secs`: per tick, its time and store operations; per
/// minute, the ARM requests it made; from ferry-control's own metrics.
async fn steady(fleet: &mut Fleet, ready: &[&op::Migration], args: &Args) -> anyhow::Result<()> {
    let Some(url) = fleet.metrics_url.clone() else {
        anyhow::bail!("ferry-control serves no /metrics here");
    };
    let address: std::net::SocketAddr = url
        .trim_start_matches("http://")
        .trim_end_matches("/metrics")
        .parse()?;
    let scrape = || async move {
        let (_, text) = ferry_tests::http_get::get(address, "/metrics").await?;
        anyhow::Ok(text)
    };
    let waiting = args.waiting_cutovers.min(ready.len());
    start_cutovers(fleet, ready[..waiting].iter().copied()).await?;
    let deadline = Instant::now() + Duration::from_secs(args.limit_secs);
    loop {
        let text = scrape().await?;
        let at_gates = text
            .lines()
            .filter(|l| l.starts_with("ferry_cutover_waiting_seconds{"))
            .count();
        if at_gates >= waiting {
            break;
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "only {at_gates} of {waiting} cutovers reached their gates"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let figures = |text: &str| {
        use ferry_tests::prometheus::sum;
        [
            sum(text, "ferry_driver_tick_duration_seconds_count", &[]),
            sum(text, "ferry_driver_tick_duration_seconds_sum", &[]),
            sum(text, "ferry_driver_tick_store_operations_sum", &[]),
            sum(text, "ferry_azure_requests_total", &[]),
            sum(
                text,
                "ferry_azure_requests_total",
                &[("http_request_method", "GET")],
            ),
            sum(text, "db_client_operation_duration_seconds_count", &[]),
        ]
    };
    let first = scrape().await?;
    let watched = Instant::now();
    tokio::time::sleep(Duration::from_secs(args.steady_secs)).await;
    let last = scrape().await?;
    let secs = watched.elapsed().as_secs_f64();
    let (before, after) = (figures(&first), figures(&last));
    let [ticks, tick_secs, operations, arm, gets, all_operations] =
        std::array::from_fn(|i| after[i] - before[i]);
    // The largest tick: the smallest bucket that holds every tick of the watch.
    let (early, late) = (operation_buckets(&first), operation_buckets(&last));
    let most = late
        .iter()
        .zip(&early)
        .find(|((_, after), (_, before))| after - before >= ticks)
        .map_or(f64::INFINITY, |((le, _), _)| *le);
    println!(
        "driver over {secs:.0} s with {} migrations linked, {waiting} of them waiting at their cutover gates: \
         {ticks:.0} ticks, {:.1} ms each on average; {:.1} store operations a tick on average, at most {most} in one; \
         {:.0} ARM requests a minute ({:.0} GETs); {:.0} store operations a second in all (the agents' reports' included)",
        ready.len(),
        tick_secs / ticks.max(1.0) * 1000.0,
        operations / ticks.max(1.0),
        arm / secs * 60.0,
        gets / secs * 60.0,
        all_operations / secs,
    );
    ferry_tests::prometheus::print_store_time(address).await?;
    Ok(())
}

/// The store-operations-per-tick histogram's cumulative buckets: (le, ticks).
fn operation_buckets(text: &str) -> Vec<(f64, f64)> {
    text.lines()
        .filter_map(|l| {
            let rest = l.strip_prefix("ferry_driver_tick_store_operations_bucket{")?;
            let le = rest.split("le=\"").nth(1)?.split('"').next()?;
            Some((le.parse().ok()?, l.rsplit(' ').next()?.parse().ok()?))
        })
        .collect()
}

/// Starts the cutover of each of `migrations`, the application's traffic confirmed
/// stopped.
async fn start_cutovers<'a>(
    fleet: &mut Fleet,
    migrations: impl Iterator<Item = &'a op::Migration>,
) -> anyhow::Result<()> {
    for m in migrations {
        fleet
            .client
            .start_cutover(request(op::StartCutoverRequest {
                id: m.id.clone(),
                confirm_traffic_stopped: true,
                ..Default::default()
            }))
            .await?;
    }
    Ok(())
}

/// Stops the application on every migration of `ready`, cuts them all over at once
/// (traffic confirmed stopped), and prints how long the wave took and Ferry's overhead.
async fn cutover_wave(
    fleet: &mut Fleet,
    ready: &[op::Migration],
    limit: Duration,
) -> anyhow::Result<()> {
    for m in ready {
        let endpoint = fleet
            .lab
            .endpoint(&m.host)
            .map(|e| e.name.clone())
            .unwrap_or_default();
        fleet
            .lab
            .set_workload(&endpoint, &m.database, &Default::default())?;
    }
    let begun = Instant::now();
    start_cutovers(fleet, ready.iter()).await?;
    let ids: Vec<String> = ready.iter().map(|m| m.id.clone()).collect();
    let done = follow(fleet, &ids, ("completed", limit), |_, _, _, _| {}).await?;
    let took = begun.elapsed().as_secs_f64();
    let mut overheads = Vec::new();
    for m in done.iter().filter(|m| m.state == "completed") {
        let full = fleet
            .client
            .get_migration(request(op::GetMigrationRequest { id: m.id.clone() }))
            .await?
            .into_inner();
        overheads.extend(lab_cutover::overhead(fleet, &full).await?);
    }
    let completed = overheads.len();
    let pick = |f: fn(&lab_cutover::Overhead) -> i64| {
        let mut v: Vec<i64> = overheads.iter().map(f).collect();
        v.sort_unstable();
        let at = |q: f64| {
            v.get(((v.len() as f64 * q).ceil() as usize).saturating_sub(1))
                .copied()
                .unwrap_or(0)
        };
        (at(0.5), at(0.99), v.last().copied().unwrap_or(0))
    };
    let (f50, f99, fmax) = pick(|o| o.to_failover_ms);
    let (v50, v99, vmax) = pick(|o| o.to_verified_ms);
    let (t50, t99, tmax) = pick(|o| o.total_ms);
    println!(
        "cutover wave: {completed}/{} completed in {took:.1} s; per database, Ferry's overhead: gates open -> failover requested p50 {f50} ms, p99 {f99} ms, max {fmax} ms; \
         failover done -> verified on the MI p50 {v50} ms, p99 {v99} ms, max {vmax} ms; whole cutover p50 {:.1} s, p99 {:.1} s, max {:.1} s",
        ids.len(),
        t50 as f64 / 1000.0,
        t99 as f64 / 1000.0,
        tmax as f64 / 1000.0,
    );
    for m in done.iter().filter(|m| m.state != "completed") {
        println!(
            "  not cut over: {} {} on {}: {}",
            m.id, m.database, m.host, m.detail
        );
    }
    Ok(())
}
