//! Benchmark: one real `ferry-agent` process's memory, idle and during an assessment of
//! a lab instance with 100 databases, with a real `ferry-control` process (whose memory
//! is printed too). Budget: under 15 MB RSS idle.
//!
//! `cargo run --release -p ferry-tests --bin bench-agent -- --idle-secs 20`

use std::time::{Duration, Instant};

use clap::Parser;
use ferry_sim::measure::memory_mib;
use ferry_tests::processes::{AgentProcess, ControlPlane, FAST_CONTROL_CONFIG};

#[derive(Parser)]
struct Args {
    /// How long the agent idles (heartbeats, inventory, load samples) before measuring.
    #[arg(long, default_value_t = 20)]
    idle_secs: u64,
    #[arg(long, default_value_t = 100)]
    databases: usize,
}

const LOGIN: &str = "ferry";
const PASSWORD: &str = "Ferry-Passw0rd!";

fn scenario(databases: usize) -> String {
    let mut text = format!(
        "[[instance]]\nname = \"SQL22\"\nversion = \"2022 CU13\"\nedition = \"Enterprise\"\nhadr = true\n\
         [[instance.login]]\nname = \"{LOGIN}\"\npassword = \"{PASSWORD}\"\nsysadmin = true\n"
    );
    for n in 0..databases {
        text.push_str(&format!(
            "[[instance.database]]\nname = \"db{n:03}\"\nbackups = [{{ type = \"D\" }}]\n\
             workload = {{ transactions_per_sec = 5.0, reads_per_sec = 20.0 }}\n"
        ));
    }
    text
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let lab = ferry_sim::Lab::start(
        &ferry_sim::Scenario::parse(&scenario(args.databases)).map_err(anyhow::Error::msg)?,
    )
    .await?;
    let sql = lab
        .endpoint("SQL22")
        .expect("the scenario's instance")
        .address;
    let dir = tempfile::tempdir()?;
    let plane = ControlPlane::start(dir.path(), FAST_CONTROL_CONFIG).await;
    let state = dir.path().join("agent");
    let enrolled =
        AgentProcess::enroll(&state, &plane.url(), &plane.token("10m").await, "sql22").await;
    anyhow::ensure!(enrolled.status.success(), "enroll: {enrolled:?}");
    // Production intervals (30 s samples, 10 min windows, 5 min inventory).
    let config = format!(
        "state_dir = {:?}\n[[instance]]\nname = \"default\"\nhost = \"127.0.0.1\"\nport = {}\n\
         encryption = \"required\"\ntrust_server_certificate = true\n\
         auth = {{ method = \"sql_login\", username = \"{LOGIN}\", password = \"{PASSWORD}\" }}\n",
        state.display().to_string(),
        sql.port()
    );
    let agent = AgentProcess::start(&state, &config);
    let pid = agent.pid().to_string();
    let idle_started = Instant::now();
    let mut idle_peak = 0.0_f64;
    while idle_started.elapsed() < Duration::from_secs(args.idle_secs) {
        // Sampling the figure once a second, not waiting for anything.
        tokio::time::sleep(Duration::from_secs(1)).await;
        idle_peak = idle_peak.max(memory_mib(&pid).0);
    }
    let (idle_rss, _) = memory_mib(&pid);
    println!(
        "ferry-agent idle after {} s (heartbeats, inventory, load samples of {} databases): RSS {idle_rss:.1} MiB, highest seen {idle_peak:.1} MiB (budget 15 MB)",
        args.idle_secs, args.databases
    );

    let assessing = Instant::now();
    let mut run = tokio::spawn({
        let url = plane.url();
        let credentials = plane.credentials();
        async move {
            tokio::process::Command::new(ferry_tests::binaries::binary("ferry"))
                .arg("--control-plane")
                .arg(url)
                .arg("--credentials")
                .arg(credentials)
                .args(["assess", "run", "--all", "--wait"])
                .output()
                .await
        }
    });
    let mut busy_peak = 0.0_f64;
    let output = loop {
        tokio::select! {
            done = &mut run => break done??,
            _ = tokio::time::sleep(Duration::from_millis(20)) => {
                busy_peak = busy_peak.max(memory_mib(&pid).0);
            }
        }
    };
    anyhow::ensure!(output.status.success(), "assess: {output:?}");
    let (_, agent_hwm) = memory_mib(&pid);
    println!(
        "ferry-agent during an assessment of {} databases ({:.1} s): RSS up to {busy_peak:.1} MiB (process peak VmHWM {agent_hwm:.1} MiB)",
        args.databases,
        assessing.elapsed().as_secs_f64()
    );
    let (plane_rss, plane_hwm) = memory_mib(&plane.pid().to_string());
    println!("ferry-control: RSS {plane_rss:.1} MiB, peak {plane_hwm:.1} MiB");
    print!("{}", String::from_utf8_lossy(&output.stdout));
    agent.stop().await;
    plane.stop().await;
    Ok(())
}
