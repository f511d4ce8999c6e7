//! A whole Ferry fleet in one process: the lab (ferry-sim), a control plane on the
//! embedded SQLite store, and one agent per lab instance, each enrolled with its own
//! token and talking to the control plane over its own mTLS session. `ferry-lab` runs
//! it for people; benchmarks run it at scale.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context;
use ferry_agent::config::{AgentConfig, Auth, Encryption, InstanceConfig};
use ferry_control::ControlConfig;
use ferry_proto::operator::v1::operator_client::OperatorClient;
use ferry_proto::operator::v1::{
    AssessmentReport, AssessmentRun, CreateEnrollmentTokenRequest, StartAssessmentRequest,
};
use ferry_sim::azure::ManagedInstance;
use ferry_sim::{Lab, Scenario};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tonic::transport::Channel;

/// Marks a data directory as ferry-lab's own, so starting again may clear it.
const MARKER: &str = ".ferry-lab";
/// How long the control plane may take to start answering.
const START_LIMIT: Duration = Duration::from_secs(30);

pub struct Fleet {
    pub lab: Lab,
    pub control_plane: String,
    pub credentials: PathBuf,
    /// The control plane's `/metrics`, when served.
    pub metrics_url: Option<String>,
    pub client: OperatorClient<Channel>,
    stop: CancellationToken,
    plane: Plane,
    agents: Vec<JoinHandle<()>>,
}

pub struct Options {
    pub data_dir: PathBuf,
    pub listen: std::net::SocketAddr,
    /// Concurrent enrollments (each is a TLS handshake and a certificate signature).
    pub enroll_parallelism: usize,
    /// The agents' load sampling (seconds between samples, seconds per window); `None`
    /// leaves it off.
    pub load_sampling: Option<(u64, u64)>,
    /// Run `ferry-control` as its own process (to measure it) instead of in this one.
    pub control_plane_process: bool,
    /// Serve `/metrics`, `/healthz` and `/readyz` here (a control plane in this process;
    /// the process installs the metrics, `ferry_proto::telemetry::init_scrape_only`).
    pub metrics_listen: Option<std::net::SocketAddr>,
}

/// Where the control plane runs.
enum Plane {
    Thread(std::thread::JoinHandle<()>),
    Process(Box<crate::processes::ControlPlane>),
}

impl Fleet {
    /// Starts the lab, the control plane and one enrolled agent per lab instance.
    pub async fn start(scenario: &Scenario, options: &Options) -> anyhow::Result<Fleet> {
        prepare(&options.data_dir)?;
        let lab = Lab::start(scenario).await.context("starting the lab")?;
        let stop = CancellationToken::new();
        let settings = plane_settings(&lab, &options.data_dir)?;
        let mut metrics_url = None;
        let (plane, control_plane, credentials) = if options.control_plane_process {
            let plane = crate::processes::ControlPlane::start(&options.data_dir, &settings).await;
            metrics_url = plane.metrics_addr.map(|a| format!("http://{a}/metrics"));
            let url = plane.url();
            let credentials = ferry_control::server::admin_credentials_dir(&plane.data_dir);
            (Plane::Process(Box::new(plane)), url, credentials)
        } else {
            let listener = std::net::TcpListener::bind(options.listen)
                .with_context(|| format!("--listen {}: cannot bind", options.listen))?;
            listener.set_nonblocking(true)?;
            let address = listener.local_addr()?;
            let mut config: ControlConfig = toml::from_str(&settings)?;
            config.listen = address;
            config.data_dir = options.data_dir.join("control");
            let credentials = ferry_control::server::admin_credentials_dir(&config.data_dir);
            let metrics = match options.metrics_listen {
                None => None,
                Some(address) => {
                    let listener = std::net::TcpListener::bind(address)
                        .with_context(|| format!("--metrics-listen {address}: cannot bind"))?;
                    listener.set_nonblocking(true)?;
                    metrics_url = Some(format!("http://{}/metrics", listener.local_addr()?));
                    Some(listener)
                }
            };
            let plane = serve_control_plane(config, (listener, metrics), stop.clone())?;
            (
                Plane::Thread(plane),
                format!("https://127.0.0.1:{}", address.port()),
                credentials,
            )
        };
        let mut client = connect(&control_plane, &credentials).await?;
        let agents = enroll_all(&lab, &control_plane, &mut client, options, &stop).await?;
        Ok(Fleet {
            lab,
            control_plane,
            credentials,
            metrics_url,
            client,
            stop,
            plane,
            agents,
        })
    }

    /// Starts an assessment of every host and waits for it, calling `progress` on each
    /// poll; returns the run's report.
    pub async fn assess_all(
        &mut self,
        mut progress: impl FnMut(&AssessmentRun),
    ) -> anyhow::Result<AssessmentReport> {
        let run = self
            .client
            .start_assessment(ferry_control::cli::request(StartAssessmentRequest {
                all: true,
                ..Default::default()
            }))
            .await?
            .into_inner();
        let run = ferry_control::cli::assess::wait_for(
            &mut self.client,
            run,
            Duration::from_millis(200),
            &mut progress,
        )
        .await?;
        Ok(ferry_control::cli::assess::report(&mut self.client, &run.id).await?)
    }

    pub async fn stop(self) {
        self.stop.cancel();
        for agent in self.agents {
            let _ = agent.await;
        }
        match self.plane {
            Plane::Thread(plane) => {
                let _ = tokio::task::spawn_blocking(move || plane.join()).await;
            }
            Plane::Process(plane) => {
                plane.stop().await;
            }
        }
    }

    /// The control plane's process id, when it runs as its own process.
    pub fn control_plane_pid(&self) -> Option<u32> {
        match &self.plane {
            Plane::Process(plane) => Some(plane.pid()),
            Plane::Thread(_) => None,
        }
    }
}

/// An agent's configuration for a lab instance at `address` with a SQL login; the lab's
/// certificates are self-signed, so they are trusted as they are.
pub fn lab_instance(
    name: &str,
    address: std::net::SocketAddr,
    login: &str,
    password: &str,
) -> InstanceConfig {
    InstanceConfig {
        name: name.into(),
        host: address.ip().to_string(),
        port: address.port(),
        auth: Auth::SqlLogin {
            username: login.into(),
            password: Some(password.into()),
            password_env: None,
            password_file: None,
        },
        encryption: Encryption::Required,
        trust_server_certificate: true,
        ca_file: None,
        connect_timeout_secs: 15,
        query_timeout_secs: 30,
        link_address: None,
        endpoint_port: None,
    }
}

/// The control plane's settings for the lab (TOML, as its configuration file holds
/// them): no scheduled assessment (the lab starts its own run; a scheduled one would
/// race it for the same hosts) and, when the lab has Azure, signed in to its Entra ID
/// and ARM with migrations followed and cut over at a lab pace, signed in to the
/// first managed instance's TDS endpoint as its administrator.
fn plane_settings(lab: &Lab, data_dir: &Path) -> anyhow::Result<String> {
    // Every agent of the lab enrolls from this one address.
    let mut settings = String::from(
        "[assessment]\nschedule_interval_secs = 0\n[enrollment]\nattempts_per_minute = 1000000\n",
    );
    let (Some(azure), Some(mi)) = (lab.azure.as_ref(), lab.managed.first()) else {
        return Ok(settings);
    };
    std::fs::create_dir_all(data_dir)?;
    let ca = data_dir.join("lab-azure-ca.pem");
    std::fs::write(&ca, &azure.ca_pem)?;
    let secret = data_dir.join("lab-azure-secret");
    ferry_proto::private_files::write_secret(
        &secret,
        ferry_sim::scenario::azure::DEFAULT_CLIENT_SECRET,
    )?;
    settings.push_str(&format!(
        "[azure]\ncredential = \"client_secret\"\ntenant_id = {:?}\nclient_id = {:?}\n\
         client_secret_file = {:?}\narm_endpoint = {:?}\nauthority_host = {:?}\nca_file = {:?}\n\
         [migrations]\ntick_ms = 500\nobserve_interval_secs = 2\nlease_ttl_secs = 3\n",
        azure.tenant,
        ferry_sim::scenario::azure::DEFAULT_CLIENT_ID,
        secret.display().to_string(),
        azure.arm,
        azure.authority,
        ca.display().to_string(),
    ));
    settings.push_str(&cutover_settings(mi, data_dir)?);
    Ok(settings)
}

/// `[cutover]` at a lab pace (a few seconds without log count as the application
/// stopped) and with no approver (the lab's own choice: production needs one by
/// default), signed in to managed instance `mi`'s TDS endpoint as its administrator:
/// its name resolved through `hosts`, its lab certificate trusted.
pub fn cutover_settings(mi: &ManagedInstance, dir: &Path) -> anyhow::Result<String> {
    let password = dir.join(format!("{}-password", mi.spec.name));
    ferry_proto::private_files::write_secret(&password, &mi.spec.admin_password)?;
    Ok(format!(
        "[cutover]\nstable_readings = 3\nquiet_secs = 3\nobserve_interval_ms = 300\ngate_timeout_secs = 120\napprovals = 0\n\
         [cutover.mi_sql]\nlogin = {:?}\npassword_file = {:?}\ntrust_server_certificate = true\ntimeout_secs = 5\n\
         [cutover.mi_sql.hosts]\n{:?} = \"{}\"\n",
        mi.spec.admin_login,
        password.display().to_string(),
        mi.fqdn,
        mi.ip,
    ))
}

/// Runs the control plane on its own runtime and thread, as its own process would.
fn serve_control_plane(
    config: ControlConfig,
    (listener, metrics): (std::net::TcpListener, Option<std::net::TcpListener>),
    stop: CancellationToken,
) -> anyhow::Result<std::thread::JoinHandle<()>> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("ferry-control")
        .enable_all()
        .build()?;
    Ok(std::thread::Builder::new()
        .name("ferry-control".into())
        .spawn(move || {
            runtime.block_on(async move {
                let listeners = tokio::net::TcpListener::from_std(listener).and_then(|grpc| {
                    let metrics = metrics.map(tokio::net::TcpListener::from_std).transpose()?;
                    Ok(ferry_control::server::Listeners { grpc, metrics })
                });
                let served = match listeners {
                    Ok(listeners) => ferry_control::run(config, listeners, stop.cancelled_owned())
                        .await
                        .map_err(|e| e.to_string()),
                    Err(e) => Err(e.to_string()),
                };
                if let Err(e) = served {
                    eprintln!("ferry-control stopped: {e}");
                }
            })
        })?)
}

/// Creates the data directory, or clears one that an earlier ferry-lab made.
fn prepare(dir: &Path) -> anyhow::Result<()> {
    if dir.exists() {
        if !dir.join(MARKER).exists() {
            anyhow::bail!(
                "--data-dir {}: exists and was not made by ferry-lab; choose another directory",
                dir.display()
            );
        }
        std::fs::remove_dir_all(dir)
            .with_context(|| format!("clearing {} from an earlier run", dir.display()))?;
    }
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    std::fs::write(
        dir.join(MARKER),
        "made by ferry-lab; cleared when it starts again\n",
    )?;
    Ok(())
}

/// Connects with the admin's credentials once the control plane has written them and
/// answers.
async fn connect(url: &str, credentials: &Path) -> anyhow::Result<OperatorClient<Channel>> {
    let started = Instant::now();
    loop {
        let attempt = async {
            let mut client = ferry_control::cli::connect(url, credentials).await?;
            client
                .list_hosts(ferry_control::cli::request(Default::default()))
                .await?;
            Ok::<_, ferry_control::cli::CliError>(client)
        };
        match attempt.await {
            Ok(client) => return Ok(client),
            Err(e) if started.elapsed() > START_LIMIT => {
                anyhow::bail!("the control plane did not start within {START_LIMIT:?}: {e}")
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
}

async fn enroll_all(
    lab: &Lab,
    url: &str,
    client: &mut OperatorClient<Channel>,
    options: &Options,
    stop: &CancellationToken,
) -> anyhow::Result<Vec<JoinHandle<()>>> {
    let agents_dir = options.data_dir.join("agents");
    let mut pending = Vec::new();
    for endpoint in &lab.endpoints {
        let token = client
            .create_enrollment_token(ferry_control::cli::request(CreateEnrollmentTokenRequest {
                ttl_seconds: 600,
                description: format!("ferry-lab {}", endpoint.name),
            }))
            .await?
            .into_inner()
            .token;
        let name = endpoint.name.to_ascii_lowercase();
        let state_dir = agents_dir.join(&name);
        let mut instance = lab_instance(
            "default",
            endpoint.address,
            &endpoint.login,
            &endpoint.password,
        );
        // Every lab instance listens on loopback: each needs its own endpoint port.
        instance.endpoint_port = Some(crate::processes::closed_port());
        let mut network = ferry_agent::config::NetworkConfig::default();
        // The lab's managed instances are in no DNS.
        network
            .hosts
            .extend(lab.managed.iter().map(|mi| (mi.fqdn.clone(), mi.ip.into())));
        let config = AgentConfig {
            state_dir: state_dir.clone(),
            heartbeat_interval_secs: 10,
            instances: vec![instance],
            network,
            load_sample_interval_secs: options.load_sampling.map_or(0, |(every, _)| every),
            load_window_secs: options.load_sampling.map_or(600, |(_, window)| window),
            // Fresh readings of SQL Server's side for the cutover's gates.
            link_status_interval_secs: 2,
            ..Default::default()
        };
        pending.push((name, token, config));
    }
    let mut agents = Vec::with_capacity(pending.len());
    for chunk in pending.chunks(options.enroll_parallelism.max(1)) {
        let enrolled = futures::future::join_all(chunk.iter().map(|(name, token, config)| {
            ferry_agent::control::enroll::enroll(&config.state_dir, url, token, name)
        }))
        .await;
        for ((name, _, config), outcome) in chunk.iter().zip(enrolled) {
            outcome.with_context(|| format!("enrolling the agent for {name}"))?;
            let (config, stop) = (config.clone(), stop.clone());
            let name = name.clone();
            agents.push(tokio::spawn(async move {
                if let Err(e) = ferry_agent::run(config, stop).await {
                    eprintln!("agent {name} stopped: {e}");
                }
            }));
        }
    }
    Ok(agents)
}
