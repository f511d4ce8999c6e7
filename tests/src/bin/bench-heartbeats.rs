//! Heartbeat benchmark: one real `ferry-control` process and N agent sessions in this
//! process, each enrolled through the real API with its own key, certificate and mTLS
//! connection, sending heartbeats. Prints sessions held, heartbeats per second, latency
//! percentiles (heartbeat sent -> acknowledgement received) and the control plane's RSS
//! and CPU. Budget (DESIGN.md §9): 10,000 sessions, p99 < 50 ms, RSS < 1 GiB, 2 cores.
//!
//! `cargo run --release -p ferry-tests --bin bench-heartbeats -- --sessions 10000`

use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Parser;
use ferry_agent::control::enroll::key_and_csr;
use ferry_agent::control::pinning::enrollment_client_config;
use ferry_proto::agent::v1::agent_service_client::AgentServiceClient;
use ferry_proto::agent::v1::enrollment_client::EnrollmentClient;
use ferry_proto::agent::v1::{
    agent_message, control_message, AgentMessage, EnrollRequest, Heartbeat, Hello,
};
use ferry_proto::operator::v1::CreateEnrollmentTokenRequest;
use ferry_proto::token::EnrollmentToken;
use ferry_proto::transport::{self, ChannelOptions, ControlPlaneUrl};
use ferry_sim::measure::{cpu_secs, memory_mib};
use ferry_tests::processes::ControlPlane;
use futures::stream::{self, StreamExt};
use tokio::sync::{mpsc, Barrier};

#[derive(Parser)]
struct Args {
    /// Agent sessions to hold.
    #[arg(long, default_value_t = 10_000)]
    sessions: usize,
    /// Seconds between one session's heartbeats.
    #[arg(long, default_value_t = 5)]
    interval_secs: u64,
    /// Seconds of measurement once every session is connected.
    #[arg(long, default_value_t = 30)]
    measure_secs: u64,
    /// Enrollments and connections made at once while setting up.
    #[arg(long, default_value_t = 64)]
    parallel: usize,
}

struct Agent {
    ca_pem: String,
    cert_pem: String,
    key_pem: String,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let (soft, hard) = rlimit::getrlimit(rlimit::Resource::NOFILE)?;
    let wanted = (args.sessions as u64 * 2 + 1024).min(hard);
    if soft < wanted {
        rlimit::setrlimit(rlimit::Resource::NOFILE, wanted, hard)?;
    }
    if wanted < args.sessions as u64 + 512 {
        anyhow::bail!(
            "the open-file limit ({hard}) is too low for {} sessions",
            args.sessions
        );
    }

    let dir = tempfile::tempdir()?;
    let config = format!(
        "[liveness]\nheartbeat_interval_secs = {}\ndisconnected_after_secs = {}\n[enrollment]\nmax_token_ttl_secs = 86400\nattempts_per_minute = 1000000\n",
        args.interval_secs,
        args.interval_secs * 4
    );
    let plane = ControlPlane::start(dir.path(), &config).await;
    let pid = plane.pid();
    let url = ControlPlaneUrl::parse(&plane.url())?;
    println!(
        "control plane pid {pid} at {url}; enrolling {} agents",
        args.sessions
    );

    // Enrollment through the real API: a token and a CSR per agent.
    let started = Instant::now();
    let mut operator = ferry_control::cli::connect(&plane.url(), &plane.credentials()).await?;
    let mut tokens = Vec::with_capacity(args.sessions);
    for _ in 0..args.sessions {
        let request = CreateEnrollmentTokenRequest {
            ttl_seconds: 3600,
            description: "bench".into(),
        };
        tokens.push(
            operator
                .create_enrollment_token(request)
                .await?
                .into_inner()
                .token,
        );
    }
    let fingerprint = EnrollmentToken::parse(&tokens[0])?.ca_fingerprint;
    let enroll_channel = transport::connect(
        &url,
        enrollment_client_config(&fingerprint)?,
        ChannelOptions::default(),
    )
    .await?;
    let agents: Vec<Agent> = stream::iter(tokens.into_iter().enumerate())
        .map(|(i, token)| {
            let channel = enroll_channel.clone();
            async move {
                let name = format!("bench-{i:05}");
                let (key_pem, csr_der) = key_and_csr(&name)?;
                let request = EnrollRequest {
                    token,
                    csr_der,
                    agent_name: name,
                    agent_version: "bench".into(),
                };
                let response = EnrollmentClient::new(channel)
                    .enroll(request)
                    .await?
                    .into_inner();
                anyhow::Ok(Agent {
                    ca_pem: response.ca_certificate_pem,
                    cert_pem: response.certificate_pem,
                    key_pem,
                })
            }
        })
        .buffer_unordered(args.parallel)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect::<Result<_, _>>()?;
    println!(
        "enrolled {} agents in {:.1}s",
        agents.len(),
        started.elapsed().as_secs_f64()
    );

    // Sessions: each its own TLS connection. All connect, then all measure together.
    let started = Instant::now();
    let ready = Arc::new(Barrier::new(args.sessions + 1));
    let measure = Duration::from_secs(args.measure_secs);
    let interval = Duration::from_secs(args.interval_secs);
    let (results_tx, mut results) = mpsc::unbounded_channel::<SessionResult>();
    let mut connecting = stream::iter(agents)
        .map(|agent| {
            let url = url.clone();
            async move {
                let tls =
                    transport::mtls_client_config(&agent.ca_pem, &agent.cert_pem, &agent.key_pem)?;
                let channel = transport::connect(&url, tls, ChannelOptions::default()).await?;
                anyhow::Ok(channel)
            }
        })
        .buffer_unordered(args.parallel);
    let mut connected = 0usize;
    while let Some(channel) = connecting.next().await {
        let channel = channel?;
        connected += 1;
        let (ready, results_tx) = (ready.clone(), results_tx.clone());
        tokio::spawn(async move {
            let result = run_session(channel, ready, interval, measure).await;
            let _ = results_tx.send(result);
        });
    }
    drop(results_tx);
    println!(
        "opened {connected} mTLS connections in {:.1}s",
        started.elapsed().as_secs_f64()
    );
    let cpu_before = cpu_secs(&pid.to_string());
    let measure_start = Instant::now();
    ready.wait().await;

    let mut latencies_us: Vec<u64> = Vec::new();
    let (mut held, mut failed, mut errors) = (0usize, 0usize, Vec::new());
    while let Some(result) = results.recv().await {
        latencies_us.extend(result.latencies_us);
        match result.error {
            None => held += 1,
            Some(e) => {
                failed += 1;
                if errors.len() < 5 {
                    errors.push(e);
                }
            }
        }
    }
    let elapsed = measure_start.elapsed().as_secs_f64();
    let cpu_after = cpu_secs(&pid.to_string());
    let (rss, peak) = memory_mib(&pid.to_string());
    latencies_us.sort_unstable();
    let pct = |p: f64| {
        latencies_us
            .get(
                ((latencies_us.len() as f64 * p) as usize)
                    .min(latencies_us.len().saturating_sub(1)),
            )
            .copied()
            .unwrap_or(0) as f64
            / 1000.0
    };
    let cpu_percent = (cpu_after - cpu_before) / elapsed * 100.0;

    println!("--- heartbeat benchmark ---");
    println!(
        "sessions held:         {held} of {} ({failed} failed)",
        args.sessions
    );
    println!("heartbeat interval:    {}s per session", args.interval_secs);
    println!("measured for:          {elapsed:.1}s");
    println!(
        "heartbeats acked:      {} ({:.0}/s)",
        latencies_us.len(),
        latencies_us.len() as f64 / elapsed
    );
    println!(
        "latency p50/p90/p99:   {:.2} / {:.2} / {:.2} ms (max {:.2} ms)",
        pct(0.50),
        pct(0.90),
        pct(0.99),
        pct(1.0)
    );
    println!(
        "control plane RSS:     {:.0} MiB now, {:.0} MiB peak",
        rss, peak
    );
    println!("control plane CPU:     {cpu_percent:.0}% of one core during measurement");
    for e in errors {
        println!("error: {e}");
    }
    plane.stop().await;
    Ok(())
}

struct SessionResult {
    latencies_us: Vec<u64>,
    error: Option<String>,
}

/// Opens the session, waits for every other session, then heartbeats for `measure`.
async fn run_session(
    channel: tonic::transport::Channel,
    ready: Arc<Barrier>,
    interval: Duration,
    measure: Duration,
) -> SessionResult {
    let mut latencies_us = Vec::new();
    let (tx, rx) = mpsc::channel(16);
    let hello = AgentMessage {
        body: Some(agent_message::Body::Hello(Hello {
            agent_version: "bench".into(),
            ..Default::default()
        })),
    };
    let _ = tx.send(hello).await;
    let opened = AgentServiceClient::new(channel)
        .session(tokio_stream::wrappers::ReceiverStream::new(rx))
        .await;
    ready.wait().await;
    let mut inbound = match opened {
        Ok(response) => response.into_inner(),
        Err(status) => {
            return SessionResult {
                latencies_us,
                error: Some(status.to_string()),
            }
        }
    };
    // Spread the first heartbeats over one interval, as a real fleet's would be.
    tokio::time::sleep(interval.mul_f64(rand::random::<f64>())).await;
    let deadline = Instant::now() + measure;
    let mut seq = 0u64;
    let mut sent_at = std::collections::HashMap::new();
    let mut tick = tokio::time::interval(interval);
    loop {
        tokio::select! {
            _ = tick.tick() => {
                if Instant::now() >= deadline {
                    return SessionResult { latencies_us, error: None };
                }
                seq += 1;
                sent_at.insert(seq, Instant::now());
                let heartbeat = AgentMessage { body: Some(agent_message::Body::Heartbeat(Heartbeat { seq, sent_unix_ms: 0 })) };
                if tx.send(heartbeat).await.is_err() {
                    return SessionResult { latencies_us, error: Some("request stream closed".into()) };
                }
            }
            message = inbound.message() => match message {
                Ok(Some(m)) => {
                    if let Some(control_message::Body::HeartbeatAck(ack)) = m.body {
                        if let Some(at) = sent_at.remove(&ack.seq) {
                            latencies_us.push(at.elapsed().as_micros() as u64);
                        }
                    }
                }
                Ok(None) => return SessionResult { latencies_us, error: Some("session closed by the control plane".into()) },
                Err(status) => return SessionResult { latencies_us, error: Some(status.to_string()) },
            },
        }
    }
}
