//! Benchmark: weeks of a fleet's history, written to the embedded store (SQLite) through
//! the `Store` the control plane uses, in simulated time, with the retention sweep run
//! daily as the driver runs it. Prints the store's size as the days pass (it stops
//! growing once the horizons are reached: it grows with the fleet, not with time), then
//! starts `ferry-control` (its own process) on that store and prints the latency of the
//! fleet's list and report RPCs, and how long the `ferry` CLI takes to list the whole
//! fleet, its migrations and the assessment report.
//!
//! Each simulated day: every host sends `--reports-per-day` load reports (one window
//! each) and an inventory; each of `--migrations` migrating databases sends
//! `--link-readings-per-day` link status readings; operators leave 200 audit events;
//! every seventh day an assessment run covers every host (one instance, 5 databases,
//! 15 checks each).
//!
//! `cargo run --release -p ferry-tests --bin bench-history -- --hosts 1000 --days 45`

use std::path::Path;
use std::time::{Duration, Instant};

use clap::Parser;
use ferry_control::assess::{
    AssessedDatabase, CheckResult, CheckStatus, InstanceAssessment, Scope, Severity,
};
use ferry_control::fleet::identity::AgentId;
use ferry_control::migration::sql_side::{InstanceLinkStatus, SqlLinkStatus};
use ferry_control::migration::Options as MigrationOptions;
use ferry_control::retention::RetentionSettings;
use ferry_control::sizing::{LoadWindow, WindowStats};
use ferry_control::store::assessments::RunRecord;
use ferry_control::store::audit::AuditEvent;
use ferry_control::store::commands::{CommandKind, CommandRecord};
use ferry_control::store::inventory::{DatabaseRecord, IncomingReport, InstanceRecord, ReportBody};
use ferry_control::store::migrations::MigrationRecord;
use ferry_control::store::tokens::{NewAgent, NewToken};
use ferry_control::store::Store;
use ferry_control::ControlConfig;
use ferry_proto::operator::v1::{
    GetAssessmentReportRequest, ListAuditRequest, ListHostsRequest, ListMigrationsRequest,
};

const DAY: i64 = 86_400_000;
/// Report writers at once (SQLite takes one writer at a time; the others wait in turn,
/// as agents' sessions do).
const WRITERS: usize = 8;

#[derive(Parser)]
struct Args {
    #[arg(long, default_value_t = 1000)]
    hosts: usize,
    #[arg(long, default_value_t = 45)]
    days: i64,
    #[arg(long, default_value_t = 500)]
    migrations: usize,
    #[arg(long, default_value_t = 24)]
    reports_per_day: i64,
    #[arg(long, default_value_t = 24)]
    link_readings_per_day: i64,
    /// `[retention] history_days`.
    #[arg(long, default_value_t = 30)]
    history_days: u32,
    /// RPC calls timed per RPC at the end.
    #[arg(long, default_value_t = 50)]
    calls: usize,
    /// Where the store goes (a temporary folder by default; /dev/shm spares the disk).
    #[arg(long)]
    dir: Option<std::path::PathBuf>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let scratch = match &args.dir {
        Some(dir) => tempfile::tempdir_in(dir)?,
        None => tempfile::tempdir()?,
    };
    let retention = RetentionSettings {
        history_days: args.history_days,
        ..Default::default()
    };
    let config = ControlConfig {
        data_dir: scratch.path().join("control"),
        retention: retention.clone(),
        ..Default::default()
    };
    std::fs::create_dir_all(&config.data_dir)?;
    let store = Store::open(&config.effective_database_url()).await?;
    // The last simulated day ends now: the control plane started after sees the same
    // horizons.
    let start = ferry_proto::clock::now_ms() - args.days * DAY;
    let hosts = enroll(&store, args.hosts, start).await?;
    start_migrations(&store, &hosts[..args.migrations.min(hosts.len())], start).await?;
    println!(
        "fleet: {} hosts, {} migrations; {} days of {} load reports per host, {} link readings per migration, retention {} days",
        args.hosts, args.migrations, args.days, args.reports_per_day, args.link_readings_per_day, args.history_days
    );
    println!(
        "{:>5} {:>12} {:>12} {:>10} {:>10}",
        "day", "store MiB", "writes", "write s", "sweep s"
    );
    let simulating = Instant::now();
    let mut writes_total = 0u64;
    for day in 0..args.days {
        let at = start + day * DAY;
        let wrote = Instant::now();
        let writes = simulate_day(&store, &args, &hosts, (day, at)).await?;
        writes_total += writes;
        let write_secs = wrote.elapsed().as_secs_f64();
        let sweeping = Instant::now();
        store.prune(&retention.horizons(at + DAY), 2000).await?;
        let sweep_secs = sweeping.elapsed().as_secs_f64();
        if day % 5 == 4 || day == args.days - 1 {
            println!(
                "{:>5} {:>12.1} {:>12} {:>10.1} {:>10.2}",
                day + 1,
                store_mib(&config.data_dir),
                writes,
                write_secs,
                sweep_secs
            );
        }
    }
    println!(
        "simulated in {:.0} s ({writes_total} reports and events, {:.0} per second)",
        simulating.elapsed().as_secs_f64(),
        writes_total as f64 / simulating.elapsed().as_secs_f64()
    );
    store.close().await;
    // The newest simulated run (ferry-control's own schedule may start a newer one,
    // which no agent answers here).
    let newest_run = format!("run-{}", start + (args.days - 1) / 7 * 7 * DAY);
    rpc_latencies(scratch.path(), &args, &newest_run).await
}

/// Hosts enrolled at `at`, each with its inventory: one instance, 5 databases.
async fn enroll(store: &Store, hosts: usize, at: i64) -> anyhow::Result<Vec<AgentId>> {
    let mut ids = Vec::with_capacity(hosts);
    for n in 0..hosts {
        let token = NewToken {
            id: format!("token-{n}"),
            secret_hash: format!("hash-{n}"),
            description: "bench".into(),
            created_by: "operator/bench".into(),
            created_at_ms: at,
            expires_at_ms: at + 3_600_000,
        };
        store.insert_token(&token).await?;
        let agent = NewAgent {
            id: AgentId(uuid::Uuid::new_v4()),
            name: format!("host-{n:05}"),
            agent_version: "0.1.0".into(),
            cert_serial: format!("{n:x}"),
            cert_not_after_ms: at + 400 * DAY,
        };
        store
            .enroll_agent(&token.id, &token.secret_hash, &agent, at)
            .await
            .map_err(|e| anyhow::anyhow!("{e:?}"))?;
        ids.push(agent.id);
    }
    Ok(ids)
}

async fn start_migrations(store: &Store, hosts: &[AgentId], at: i64) -> anyhow::Result<()> {
    for (n, host) in hosts.iter().enumerate() {
        let migration = MigrationRecord::preparing(
            uuid::Uuid::new_v4().to_string(),
            (*host, format!("host-{n:05}")),
            // One database name per MI: the MI holds each name once.
            ("MSSQLSERVER".into(), format!("sales{n}")),
            ("mi-key".into(), format!("DAG_db0_{n}")),
            MigrationOptions::default(),
            ("operator/bench".into(), at),
        );
        store.create_migration(&migration).await?;
    }
    Ok(())
}

/// One day of reports and events from `at`; how many were written.
async fn simulate_day(
    store: &Store,
    args: &Args,
    hosts: &[AgentId],
    (day, at): (i64, i64),
) -> anyhow::Result<u64> {
    let mut reports: Vec<(AgentId, IncomingReport)> = Vec::new();
    for (n, host) in hosts.iter().enumerate() {
        reports.push((*host, report(at, inventory())));
        for k in 0..args.reports_per_day {
            let window_at = at + k * (DAY / args.reports_per_day);
            reports.push((*host, report(window_at, load(window_at, at))));
        }
        if n < args.migrations {
            for k in 0..args.link_readings_per_day {
                let read_at = at + k * (DAY / args.link_readings_per_day);
                reports.push((*host, report(read_at, link_status(n, read_at))));
            }
        }
    }
    let written = reports.len() as u64;
    write_all(store, reports).await?;
    for n in 0..200 {
        let event = AuditEvent {
            at_ms: at + n,
            actor: "operator/bench".into(),
            action: "host.label".into(),
            target: format!("agent/{}", hosts[n as usize % hosts.len()]),
            detail: "env=prod".into(),
        };
        store.record_audit(&event).await?;
    }
    if day % 7 == 0 {
        assess(store, hosts, at).await?;
    }
    Ok(written + 200)
}

/// Writes `reports`, `WRITERS` at a time, each as its agent's session would.
async fn write_all(store: &Store, reports: Vec<(AgentId, IncomingReport)>) -> anyhow::Result<()> {
    let queue = std::sync::Arc::new(std::sync::Mutex::new(reports));
    let mut writers = Vec::new();
    for _ in 0..WRITERS {
        let (store, queue) = (store.clone(), queue.clone());
        writers.push(tokio::spawn(async move {
            loop {
                let next = queue.lock().unwrap().pop();
                let Some((agent, report)) = next else {
                    return Ok::<_, anyhow::Error>(());
                };
                store
                    .record_report(agent, &report, report.produced_at_ms)
                    .await?;
            }
        }));
    }
    for writer in writers {
        writer.await??;
    }
    Ok(())
}

/// An assessment run over every host, each reporting its instance.
async fn assess(store: &Store, hosts: &[AgentId], at: i64) -> anyhow::Result<()> {
    let run = RunRecord {
        id: format!("run-{at}"),
        created_by: "operator/bench".into(),
        created_at_ms: at,
        deadline_at_ms: at + 3_600_000,
        selector: "all".into(),
        trigger: "schedule".into(),
    };
    let commands: Vec<CommandRecord> = hosts
        .iter()
        .map(|host| {
            CommandRecord::pending(
                *host,
                CommandKind::RunAssessment,
                "bench",
                at,
                at + 3_600_000,
                "",
            )
        })
        .collect();
    store.create_assessment_run(&run, &commands).await?;
    let reports = commands
        .iter()
        .map(|command| {
            let body = ReportBody::Assessment {
                command_id: command.id.clone(),
                instances: vec![assessed()],
            };
            (command.agent_id, report(at + 60_000, body))
        })
        .collect();
    write_all(store, reports).await
}

fn report(at: i64, body: ReportBody) -> IncomingReport {
    IncomingReport {
        report_id: uuid::Uuid::new_v4().to_string(),
        produced_at_ms: at,
        body,
    }
}

fn inventory() -> ReportBody {
    ReportBody::Inventory(vec![InstanceRecord {
        name: "MSSQLSERVER".into(),
        product_version: "16.0.4135.4".into(),
        edition: "Enterprise Edition (64-bit)".into(),
        databases: (0..5)
            .map(|d| DatabaseRecord {
                name: format!("db{d}"),
                database_id: 5 + d,
                state: "ONLINE".into(),
                recovery_model: "FULL".into(),
                compatibility_level: 160,
                size_bytes: 10 << 30,
                data_file_count: 1,
                log_file_count: 1,
            })
            .collect(),
        ..Default::default()
    }])
}

fn load(window_at: i64, day_at: i64) -> ReportBody {
    ReportBody::Load {
        windows: vec![LoadWindow {
            instance: "MSSQLSERVER".into(),
            start_ms: window_at,
            end_ms: window_at + 600_000,
            samples: 20,
            cpu_count: 8,
            host_memory_kb: 32 << 20,
            storage_bytes: 50 << 30,
            stats: WindowStats::default(),
        }],
        // As the control plane sets it: `[sizing] history_days` (30) back.
        keep_after_ms: day_at - 30 * DAY,
    }
}

fn link_status(n: usize, at: i64) -> ReportBody {
    ReportBody::LinkStatus(InstanceLinkStatus {
        instance: "MSSQLSERVER".into(),
        observed_ms: at,
        databases: vec![SqlLinkStatus {
            link_name: format!("DAG_db0_{n}"),
            database: format!("sales{n}"),
            connected_state: "CONNECTED".into(),
            synchronization_health: "HEALTHY".into(),
            log_send_queue_kb: 12,
            ..SqlLinkStatus::default()
        }],
    })
}

fn assessed() -> InstanceAssessment {
    InstanceAssessment {
        name: "MSSQLSERVER".into(),
        reachable: true,
        error: String::new(),
        product_version: "16.0.4135.4".into(),
        databases: (0..5)
            .map(|d| AssessedDatabase {
                name: format!("db{d}"),
                size_bytes: 10 << 30,
                state: "ONLINE".into(),
            })
            .collect(),
        results: (0..15)
            .map(|c| CheckResult {
                check_id: format!("MI-LINK-CHECK-{c:02}"),
                scope: Scope::Instance,
                severity: Severity::Warning,
                title: "a check".into(),
                remedy: "a remedy".into(),
                status: CheckStatus::Passed,
                unknown_cause: String::new(),
                findings: Vec::new(),
            })
            .collect(),
    }
}

/// The store's files (database, WAL), in MiB.
fn store_mib(data_dir: &Path) -> f64 {
    let bytes: u64 = std::fs::read_dir(data_dir)
        .map(|entries| {
            entries
                .flatten()
                .filter(|e| e.file_name().to_string_lossy().contains(".db"))
                .filter_map(|e| e.metadata().ok())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0);
    bytes as f64 / (1024.0 * 1024.0)
}

/// `ferry-control` on the store, and each list and report RPC timed `calls` times.
async fn rpc_latencies(dir: &Path, args: &Args, run: &str) -> anyhow::Result<()> {
    let config = format!("[retention]\nhistory_days = {}\n", args.history_days);
    let plane = ferry_tests::processes::ControlPlane::start(dir, &config).await;
    let credentials = ferry_control::server::admin_credentials_dir(&plane.data_dir);
    let mut client = ferry_control::cli::connect(&plane.url(), &credentials).await?;
    use ferry_control::cli::request;
    println!("ferry-control on that store, {} calls each:", args.calls);
    let mut times = Vec::new();
    for _ in 0..args.calls {
        // The whole fleet, page by page (100 a page).
        let (mut token, mut pages) = (String::new(), Vec::new());
        loop {
            let started = Instant::now();
            let page = client
                .list_hosts(request(ListHostsRequest {
                    page_token: token.clone(),
                    page_size: 100,
                }))
                .await?
                .into_inner();
            pages.push(started.elapsed());
            token = page.next_page_token;
            if token.is_empty() {
                break;
            }
        }
        times.push(pages);
    }
    let pages: Vec<Duration> = times.into_iter().flatten().collect();
    print_latency("ListHosts (a page of 100)", pages);
    let report = GetAssessmentReportRequest {
        run_id: run.to_string(),
        page_size: 100,
        ..Default::default()
    };
    let samples = time_calls(args.calls, || {
        let (mut client, request) = (client.clone(), ferry_control::cli::request(report.clone()));
        async move { client.get_assessment_report(request).await.map(drop) }
    })
    .await?;
    print_latency("GetAssessmentReport (a page of 100)", samples);
    let samples = time_calls(args.calls, || {
        let mut client = client.clone();
        let request = ferry_control::cli::request(ListMigrationsRequest {
            page_size: 100,
            ..Default::default()
        });
        async move { client.list_migrations(request).await.map(drop) }
    })
    .await?;
    print_latency("ListMigrations (a page of 100)", samples);
    let samples = time_calls(args.calls, || {
        let mut client = client.clone();
        let request = ferry_control::cli::request(ListAuditRequest {
            limit: 100,
            ..Default::default()
        });
        async move { client.list_audit(request).await.map(drop) }
    })
    .await?;
    print_latency("ListAudit (a page of 100)", samples);
    if let Some(metrics) = plane.metrics_addr {
        ferry_tests::prometheus::print_store_time(metrics).await?;
    }
    // The CLI, as an operator runs it (a process each, its TLS handshake included),
    // walking every page.
    println!("the ferry CLI on that store, whole lists:");
    for command in [
        &["hosts"][..],
        &["hosts", "-o", "json"],
        &["migrate", "ls"],
        &["assess", "report", "--run", run],
        &["assess", "report", "--run", run, "-o", "csv"],
    ] {
        let started = Instant::now();
        let output = plane.ferry(command).await;
        let took = started.elapsed();
        anyhow::ensure!(
            output.status.success(),
            "ferry {}: {}",
            command.join(" "),
            String::from_utf8_lossy(&output.stderr)
        );
        println!(
            "  ferry {:<34} {:>7.0} ms  ({} lines)",
            command.join(" ").replace(run, "RUN"),
            took.as_secs_f64() * 1000.0,
            output.stdout.iter().filter(|b| **b == b'\n').count()
        );
    }
    plane.stop().await;
    Ok(())
}

/// `calls` calls of `call`, one after another, each timed.
async fn time_calls<F, Fut>(calls: usize, mut call: F) -> anyhow::Result<Vec<Duration>>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<(), tonic::Status>>,
{
    let mut samples = Vec::with_capacity(calls);
    for _ in 0..calls {
        let started = Instant::now();
        call().await?;
        samples.push(started.elapsed());
    }
    Ok(samples)
}

fn print_latency(name: &str, mut samples: Vec<Duration>) {
    samples.sort_unstable();
    let at = |q: f64| {
        let i = ((samples.len() as f64 * q).ceil() as usize).clamp(1, samples.len()) - 1;
        samples[i].as_secs_f64() * 1000.0
    };
    println!(
        "  {name:<48} p50 {:>7.2} ms  p99 {:>7.2} ms  max {:>7.2} ms  ({} calls)",
        at(0.5),
        at(0.99),
        at(1.0),
        samples.len()
    );
}
