//! Heartbeat benchmark: one real `ferry-control` process and N agent sessions in this
//! process, each enrolled through the real API with its own key, certificate and mTLS
//! connection, sending heartbeats. Prints sessions held, heartbeats per second, latency
//! percentiles (heartbeat sent -> acknowledgement received) and the control plane's RSS
//! and CPU. Budget (DESIGN.md §9): 10,000 sessions, p99 < 50 ms, RSS < 1 GiB, 2 cores.
//!
//! The same clients then run against a bare tonic mTLS server (this binary started
//! again with `--serve-echo`: the agent service, answering each heartbeat, nothing
//! else), and Ferry's figures are printed as a ratio to it: what is Ferry's, and what
//! is the transport's and this machine's.
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
    /// Skip the bare tonic comparison.
    #[arg(long)]
    no_echo: bool,
    /// Run the control plane without its metrics listener (metrics then cost
    /// nothing), for the overhead comparison; by default /metrics is served and
    /// scraped every 15 s, as Prometheus would.
    #[arg(long)]
    without_metrics: bool,
    /// (internal) Serve the bare echo server with the CA in this folder.
    #[arg(long, hide = true)]
    serve_echo: Option<std::path::PathBuf>,
}

struct Agent {
    ca_pem: String,
    cert_pem: String,
    key_pem: String,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if let Some(dir) = &args.serve_echo {
        return echo::serve(dir).await;
    }
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
    let plane = if args.without_metrics {
        ControlPlane::start_without_metrics(dir.path(), &config).await
    } else {
        ControlPlane::start(dir.path(), &config).await
    };
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

    let scraping = plane
        .metrics_addr
        .map(|addr| tokio::spawn(scrape_every(addr, Duration::from_secs(15))));
    let ferry = measure(&url, agents, &args, &pid.to_string()).await?;
    if let Some(scraping) = scraping {
        scraping.abort();
        if let Ok(Err(e)) = scraping.await {
            println!("scraping /metrics failed: {e}");
        }
    }
    plane.stop().await;
    ferry.print("ferry-control", &args);
    if args.no_echo {
        return Ok(());
    }
    let bare = echo::run(&args).await?;
    bare.print("bare tonic mTLS server", &args);
    println!("--- ferry-control / bare tonic ---");
    println!(
        "throughput ratio:      {:.2}",
        ferry.per_second() / bare.per_second().max(f64::MIN_POSITIVE)
    );
    println!(
        "p99 ratio:             {:.2} ({:.2} ms / {:.2} ms)",
        ferry.pct(0.99) / bare.pct(0.99).max(0.001),
        ferry.pct(0.99),
        bare.pct(0.99)
    );
    Ok(())
}

/// GETs `/metrics` every `period` as Prometheus would, printing the first scrape's
/// size and time (each scrape reads the fleet's gauges from the store).
async fn scrape_every(addr: std::net::SocketAddr, period: Duration) -> anyhow::Result<()> {
    let mut tick = tokio::time::interval(period);
    let mut first = true;
    loop {
        tick.tick().await;
        let started = Instant::now();
        let (status, body) = ferry_tests::http_get::get(addr, "/metrics").await?;
        anyhow::ensure!(status == 200, "/metrics answered {status}");
        if first {
            println!(
                "scraped /metrics:      {} series in {:.1} ms",
                body.lines().filter(|l| !l.starts_with('#')).count(),
                started.elapsed().as_secs_f64() * 1000.0
            );
            first = false;
        }
    }
}

/// What one run measured.
struct Figures {
    held: usize,
    failed: usize,
    errors: Vec<String>,
    latencies_us: Vec<u64>,
    worst_by_interval_us: Vec<u64>,
    elapsed: f64,
    server_cpu_percent: f64,
    clients_cpu_percent: f64,
    server_rss: (f64, f64),
}

impl Figures {
    fn pct(&self, p: f64) -> f64 {
        let l = &self.latencies_us;
        l.get(((l.len() as f64 * p) as usize).min(l.len().saturating_sub(1)))
            .copied()
            .unwrap_or(0) as f64
            / 1000.0
    }

    fn per_second(&self) -> f64 {
        self.latencies_us.len() as f64 / self.elapsed
    }

    fn print(&self, server: &str, args: &Args) {
        println!("--- heartbeat benchmark: {server} ---");
        println!(
            "sessions held:         {} of {} ({} failed)",
            self.held, args.sessions, self.failed
        );
        println!("heartbeat interval:    {}s per session", args.interval_secs);
        println!("measured for:          {:.1}s", self.elapsed);
        println!(
            "heartbeats acked:      {} ({:.0}/s)",
            self.latencies_us.len(),
            self.per_second()
        );
        println!(
            "latency p50/p90/p99:   {:.2} / {:.2} / {:.2} ms (p99.9 {:.2}, max {:.2} ms)",
            self.pct(0.50),
            self.pct(0.90),
            self.pct(0.99),
            self.pct(0.999),
            self.pct(1.0)
        );
        let worst: Vec<String> = self
            .worst_by_interval_us
            .iter()
            .map(|us| format!("{:.1}", *us as f64 / 1000.0))
            .collect();
        println!("max by interval (ms):  {}", worst.join(" "));
        println!(
            "server RSS:            {:.0} MiB now, {:.0} MiB peak",
            self.server_rss.0, self.server_rss.1
        );
        println!(
            "server CPU:            {:.0}% of one core during measurement",
            self.server_cpu_percent
        );
        println!(
            "clients' CPU:          {:.0}% of one core (this process, all sessions)",
            self.clients_cpu_percent
        );
        for e in &self.errors {
            println!("error: {e}");
        }
    }
}

/// Connects every agent (each its own TLS connection) to `url`, then all heartbeat
/// together for the measuring time; `server_pid` is measured meanwhile.
async fn measure(
    url: &ControlPlaneUrl,
    agents: Vec<Agent>,
    args: &Args,
    server_pid: &str,
) -> anyhow::Result<Figures> {
    let started = Instant::now();
    let ready = Arc::new(Barrier::new(agents.len() + 1));
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
    let own_pid = std::process::id().to_string();
    let (cpu_before, own_cpu_before) = (cpu_secs(server_pid), cpu_secs(&own_pid));
    let measure_start = Instant::now();
    ready.wait().await;
    let mut latencies_us: Vec<u64> = Vec::new();
    let mut worst_by_interval_us: Vec<u64> = Vec::new();
    let (mut held, mut failed, mut errors) = (0usize, 0usize, Vec::new());
    while let Some(result) = results.recv().await {
        latencies_us.extend(result.latencies_us);
        for (bucket, worst) in result.worst_by_interval_us.into_iter().enumerate() {
            if worst_by_interval_us.len() <= bucket {
                worst_by_interval_us.resize(bucket + 1, 0);
            }
            worst_by_interval_us[bucket] = worst_by_interval_us[bucket].max(worst);
        }
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
    let (cpu_after, own_cpu_after) = (cpu_secs(server_pid), cpu_secs(&own_pid));
    latencies_us.sort_unstable();
    Ok(Figures {
        held,
        failed,
        errors,
        latencies_us,
        worst_by_interval_us,
        elapsed,
        server_cpu_percent: (cpu_after - cpu_before) / elapsed * 100.0,
        clients_cpu_percent: (own_cpu_after - own_cpu_before) / elapsed * 100.0,
        server_rss: memory_mib(server_pid),
    })
}

struct SessionResult {
    latencies_us: Vec<u64>,
    /// The worst latency of the heartbeats sent in each interval of the measurement.
    worst_by_interval_us: Vec<u64>,
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
    let mut worst_by_interval_us = Vec::new();
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
                worst_by_interval_us,
                error: Some(status.to_string()),
            }
        }
    };
    let started = Instant::now();
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
                    return SessionResult { latencies_us, worst_by_interval_us, error: None };
                }
                seq += 1;
                sent_at.insert(seq, Instant::now());
                let heartbeat = AgentMessage { body: Some(agent_message::Body::Heartbeat(Heartbeat { seq, ..Default::default() })) };
                if tx.send(heartbeat).await.is_err() {
                    return SessionResult { latencies_us, worst_by_interval_us, error: Some("request stream closed".into()) };
                }
            }
            message = inbound.message() => match message {
                Ok(Some(m)) => {
                    if let Some(control_message::Body::HeartbeatAck(ack)) = m.body {
                        if let Some(at) = sent_at.remove(&ack.seq) {
                            let latency = at.elapsed().as_micros() as u64;
                            latencies_us.push(latency);
                            let bucket = (at.duration_since(started).as_secs_f64() / interval.as_secs_f64()) as usize;
                            if worst_by_interval_us.len() <= bucket {
                                worst_by_interval_us.resize(bucket + 1, 0);
                            }
                            worst_by_interval_us[bucket] = worst_by_interval_us[bucket].max(latency);
                        }
                    }
                }
                Ok(None) => return SessionResult { latencies_us, worst_by_interval_us, error: Some("session closed by the control plane".into()) },
                Err(status) => return SessionResult { latencies_us, worst_by_interval_us, error: Some(status.to_string()) },
            },
        }
    }
}

/// The bare comparison: tonic's own TLS server (mutual TLS with a CA made here) serving
/// the agent service's session as an echo of heartbeats, in a process of its own.
mod echo {
    use std::path::Path;
    use std::pin::Pin;
    use std::process::Stdio;

    use ferry_proto::agent::v1::agent_service_server::{AgentService, AgentServiceServer};
    use ferry_proto::agent::v1::{
        agent_message, control_message, AgentMessage, ControlMessage, HeartbeatAck, RenewRequest,
        RenewResponse,
    };
    use futures::Stream;
    use tokio::io::{AsyncBufReadExt, BufReader};
    use tonic::transport::{Certificate, Identity, Server, ServerTlsConfig};
    use tonic::{Request, Response, Status, Streaming};

    use super::{measure, Agent, Args, ControlPlaneUrl, Figures};

    struct Echo;

    type Replies = Pin<Box<dyn Stream<Item = Result<ControlMessage, Status>> + Send>>;

    #[tonic::async_trait]
    impl AgentService for Echo {
        async fn renew(&self, _: Request<RenewRequest>) -> Result<Response<RenewResponse>, Status> {
            Err(Status::unimplemented("echo"))
        }

        type SessionStream = Replies;

        async fn session(
            &self,
            request: Request<Streaming<AgentMessage>>,
        ) -> Result<Response<Replies>, Status> {
            let mut inbound = request.into_inner();
            let (tx, rx) = tokio::sync::mpsc::channel(64);
            tokio::spawn(async move {
                while let Ok(Some(message)) = inbound.message().await {
                    if let Some(agent_message::Body::Heartbeat(h)) = message.body {
                        let ack = control_message::Body::HeartbeatAck(HeartbeatAck { seq: h.seq });
                        if tx
                            .send(Ok(ControlMessage { body: Some(ack) }))
                            .await
                            .is_err()
                        {
                            return;
                        }
                    }
                }
            });
            Ok(Response::new(Box::pin(
                tokio_stream::wrappers::ReceiverStream::new(rx),
            )))
        }
    }

    /// Serves on a free loopback port (printed on stdout) until killed.
    pub async fn serve(dir: &Path) -> anyhow::Result<()> {
        let read = |name: &str| std::fs::read_to_string(dir.join(name));
        let tls = ServerTlsConfig::new()
            .identity(Identity::from_pem(read("server.pem")?, read("server.key")?))
            .client_ca_root(Certificate::from_pem(read("ca.pem")?));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        println!("listening on {}", listener.local_addr()?);
        Server::builder()
            .tls_config(tls)?
            .add_service(AgentServiceServer::new(Echo))
            .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener))
            .await?;
        Ok(())
    }

    /// Starts the echo server and measures the same sessions against it.
    pub async fn run(args: &Args) -> anyhow::Result<Figures> {
        let dir = tempfile::tempdir()?;
        let ca_key = rcgen::KeyPair::generate()?;
        let mut ca = rcgen::CertificateParams::default();
        ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        let ca_cert = ca.self_signed(&ca_key)?;
        let issuer = rcgen::Issuer::new(ca, ca_key);
        let server_key = rcgen::KeyPair::generate()?;
        let server = rcgen::CertificateParams::new(vec!["127.0.0.1".to_string()])?
            .signed_by(&server_key, &issuer)?;
        std::fs::write(dir.path().join("ca.pem"), ca_cert.pem())?;
        std::fs::write(dir.path().join("server.pem"), server.pem())?;
        std::fs::write(dir.path().join("server.key"), server_key.serialize_pem())?;
        let agents = (0..args.sessions)
            .map(|_| {
                let key = rcgen::KeyPair::generate()?;
                let cert = rcgen::CertificateParams::default().signed_by(&key, &issuer)?;
                anyhow::Ok(Agent {
                    ca_pem: ca_cert.pem(),
                    cert_pem: cert.pem(),
                    key_pem: key.serialize_pem(),
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let mut child = tokio::process::Command::new(std::env::current_exe()?)
            .arg("--serve-echo")
            .arg(dir.path())
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()?;
        let stdout = child.stdout.take().expect("piped stdout");
        let line = BufReader::new(stdout)
            .lines()
            .next_line()
            .await?
            .ok_or_else(|| anyhow::anyhow!("the echo server printed no address"))?;
        let addr = line.rsplit(' ').next().unwrap_or_default().to_string();
        let url = ControlPlaneUrl::parse(&format!("https://{addr}"))?;
        let pid = child.id().unwrap_or(0).to_string();
        println!("bare tonic echo server pid {pid} at {url}");
        let figures = measure(&url, agents, args, &pid).await;
        let _ = child.kill().await;
        figures
    }
}
