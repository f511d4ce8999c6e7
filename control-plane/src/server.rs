//! Assembles the control plane: loads or creates the CA, opens the store, writes the
//! first admin operator's credentials, and serves gRPC over TLS (see `server_tls`: the
//! server certificate rotates while running) on the given listener until `shutdown`
//! resolves. Client certificates are optional at the TLS layer (an enrolling agent has
//! none yet) and required by every handler except enrollment and health.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use ferry_proto::agent::v1::agent_service_server::AgentServiceServer;
use ferry_proto::agent::v1::enrollment_server::EnrollmentServer;
use ferry_proto::operator::v1::operator_server::OperatorServer;
use tokio::net::TcpListener;
use tonic::transport::Server;

use crate::api::agent::AgentApi;
use crate::api::enrollment::EnrollmentService;
use crate::api::operator::OperatorApi;
use crate::assess::schedule::Schedule;
use crate::config::{ConfigError, ControlConfig};
use crate::context::Context;
use crate::fleet::ca::{write_private, CaError, CertificateAuthority};
use crate::fleet::identity::{read_certificate_pem, Peer, Role};
use crate::fleet::metrics::FleetMetrics;
use crate::fleet::sessions::SessionRegistry;
use crate::server_tls::{self, ServerCertificate};
use crate::sizing::prices::{self, PriceTable};
use crate::store::operators::OperatorCertificate;
use crate::store::{Store, StoreError};
use ferry_proto::clock::now_ms;

/// How long a stopping control plane waits for connections to close.
const DRAIN_DEADLINE: Duration = Duration::from_secs(10);

/// How often the fleet's gauges are read for OTLP export when nothing scrapes them.
const OTLP_GAUGE_REFRESH: Duration = Duration::from_secs(30);

/// How long a client has to finish its TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("certificate authority: {0}")]
    Ca(#[from] CaError),
    #[error("store: {0}")]
    Store(#[from] StoreError),
    #[error("TLS setup failed: {0}")]
    Tls(String),
    #[error(transparent)]
    ServerTls(#[from] crate::server_tls::ServerTlsError),
    #[error("cannot create {path}: {source}")]
    DataDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("price table {path}: {message} (see deploy/mi-prices.toml)")]
    PriceTable { path: String, message: String },
    #[error("{0}")]
    Azure(String),
    #[error("the gRPC server failed: {0}")]
    Serve(#[from] tonic::transport::Error),
}

/// The configured price table, or the shipped example.
fn load_prices(path: Option<&Path>) -> Result<PriceTable, ServeError> {
    let (name, text) = match path {
        None => (
            "(built-in example)".to_string(),
            prices::EXAMPLE.to_string(),
        ),
        Some(path) => (
            path.display().to_string(),
            std::fs::read_to_string(path).map_err(|e| ServeError::PriceTable {
                path: path.display().to_string(),
                message: e.to_string(),
            })?,
        ),
    };
    PriceTable::parse(&text).map_err(|message| ServeError::PriceTable {
        path: name,
        message,
    })
}

/// Where the first admin's credentials are written for the `ferry` CLI.
pub fn admin_credentials_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("operators").join("admin")
}

/// Where the control plane serves: gRPC over TLS, and (`[observability] listen`)
/// plain-HTTP metrics and health.
pub struct Listeners {
    pub grpc: TcpListener,
    pub metrics: Option<TcpListener>,
}

impl From<TcpListener> for Listeners {
    fn from(grpc: TcpListener) -> Self {
        Listeners {
            grpc,
            metrics: None,
        }
    }
}

/// Runs the control plane on `listeners` until `shutdown` completes, then drains.
pub async fn run(
    config: ControlConfig,
    listeners: impl Into<Listeners>,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), ServeError> {
    let Listeners {
        grpc: listener,
        metrics: metrics_listener,
    } = listeners.into();
    config.validate()?;
    ferry_proto::private_files::create_dir(&config.data_dir).map_err(|source| {
        ServeError::DataDir {
            path: config.data_dir.clone(),
            source,
        }
    })?;
    let provided = match (&config.tls.ca_cert, &config.tls.ca_key) {
        (Some(cert), Some(key)) => Some((cert.as_path(), key.as_path())),
        _ => None,
    };
    let ca = CertificateAuthority::load_or_create(&config.data_dir.join("ca"), provided)?;
    let store = Store::open(&config.database_url_with_password()?).await?;
    write_admin_credentials(&ca, &store, &config).await?;
    let ca = Arc::new(ca);
    let server_certificate = ServerCertificate::issue(
        ca.clone(),
        config.tls.server_names.clone(),
        Duration::from_secs(config.certificates.server_ttl_secs),
    )?;
    let acceptor = server_tls::acceptor(&ca, server_certificate.clone())?;

    let prices = load_prices(config.sizing.price_table.as_deref())?;
    let arm = crate::azure::connect(&config.azure).map_err(ServeError::Azure)?;
    let sessions = Arc::new(SessionRegistry::default());
    let shared = Arc::new(Context {
        store,
        clock: crate::context::Clock::system(),
        ca,
        prices: Arc::new(prices),
        arm: Arc::new(arm),
        config: Arc::new(config),
        metrics: Arc::new(FleetMetrics::new(sessions.clone())),
        driver_gauges: Arc::default(),
        sessions,
        heartbeats: Arc::default(),
        rollups: Arc::default(),
    });
    let (health_reporter, health) = tonic_health::server::health_reporter();
    health_reporter
        .set_serving::<OperatorServer<OperatorApi>>()
        .await;

    let (stop_tasks, tasks_stopped) = tokio::sync::watch::channel(false);
    let migrations = tokio::spawn(crate::reconcile::driver::run(
        shared.clone(),
        tasks_stopped.clone(),
    ));
    let background = tokio::spawn(background_tasks(shared.clone(), tasks_stopped.clone()));
    let observability = Arc::new(crate::observability::Observability::new(&shared.config));
    let metrics_served = metrics_listener.map(|listener| {
        tokio::spawn(crate::observability::http::serve(
            listener,
            shared.clone(),
            observability.clone(),
            tasks_stopped.clone(),
        ))
    });
    if ferry_proto::telemetry::otlp_configured() {
        // OTLP exports what the gauges last read: keep them fresh without a scrape.
        tokio::spawn(observability.clone().refresh_every(
            shared.clone(),
            OTLP_GAUGE_REFRESH,
            tasks_stopped.clone(),
        ));
    }
    let rotation = tokio::spawn(server_certificate.rotation_loop(tasks_stopped));

    tracing::info!(
        listen = %listener.local_addr().map(|a| a.to_string()).unwrap_or_default(),
        ca_fingerprint = %shared.ca.fingerprint(),
        "ferry-control serving"
    );
    // On shutdown, end every agent session first (agents reconnect elsewhere): the
    // server's graceful stop waits for open streams, and sessions never end by themselves.
    let (stopping_tx, mut stopping) = tokio::sync::watch::channel(false);
    let sessions = shared.sessions.clone();
    let signal = async move {
        shutdown.await;
        sessions.close_all();
        let _ = stopping_tx.send(true);
    };
    let serve = Server::builder()
        .layer(ferry_proto::telemetry::RpcTraceLayer)
        .http2_keepalive_interval(Some(Duration::from_secs(20)))
        .http2_keepalive_timeout(Some(Duration::from_secs(10)))
        .add_service(health)
        .add_service(EnrollmentServer::new(EnrollmentService::new(
            shared.clone(),
        )))
        .add_service(
            AgentServiceServer::new(AgentApi(shared.clone()))
                .max_decoding_message_size(ferry_proto::transport::MAX_AGENT_MESSAGE)
                .max_encoding_message_size(ferry_proto::transport::MAX_AGENT_MESSAGE),
        )
        .add_service(
            OperatorServer::new(OperatorApi(shared.clone()))
                .max_decoding_message_size(ferry_proto::transport::MAX_OPERATOR_MESSAGE)
                .max_encoding_message_size(ferry_proto::transport::MAX_OPERATOR_MESSAGE),
        )
        .serve_with_incoming_shutdown(
            server_tls::incoming(listener, acceptor, HANDSHAKE_TIMEOUT),
            signal,
        );
    let deadline = async {
        let _ = stopping.wait_for(|stopping| *stopping).await;
        tokio::time::sleep(DRAIN_DEADLINE).await;
    };
    let result = tokio::select! {
        result = serve => result,
        _ = deadline => {
            tracing::warn!(after = ?DRAIN_DEADLINE, "connections still open at the drain deadline; stopping anyway");
            Ok(())
        }
    };

    let _ = stop_tasks.send(true);
    let _ = background.await;
    let _ = rotation.await;
    let _ = migrations.await;
    if let Some(metrics_served) = metrics_served {
        let _ = metrics_served.await;
    }
    flush_heartbeats(&shared).await;
    shared.store.close().await;
    Ok(result?)
}

/// Writes the first admin operator's certificate, key and CA for the CLI, once, and
/// puts that certificate on record unless an admin is on record already (another
/// replica's, or one renewed since). Credentials written by an earlier version, before
/// operators were on record, are put on record the same way.
async fn write_admin_credentials(
    ca: &CertificateAuthority,
    store: &Store,
    config: &ControlConfig,
) -> Result<(), ServeError> {
    let dir = admin_credentials_dir(&config.data_dir);
    let cert_path = dir.join("cert.pem");
    if !cert_path.exists() {
        std::fs::create_dir_all(&dir).map_err(|source| ServeError::DataDir {
            path: dir.clone(),
            source,
        })?;
        let ttl = Duration::from_secs(config.certificates.operator_ttl_secs);
        let (issued, key) = ca
            .issue_operator("admin", Role::Admin, ttl)
            .map_err(|e| ServeError::Tls(e.to_string()))?;
        write_operator_credentials(&dir, ca, &issued.cert_pem, &key)?;
        tracing::info!(dir = %dir.display(), "wrote the admin operator's credentials");
    }
    if store.get_operator("admin").await?.is_some() {
        return Ok(());
    }
    let pem = std::fs::read_to_string(&cert_path).map_err(|source| ServeError::DataDir {
        path: cert_path.clone(),
        source,
    })?;
    let on_disk = read_certificate_pem(&pem)
        .map_err(|e| ServeError::Tls(format!("{}: {e}", cert_path.display())))?;
    let admin = Peer::Operator {
        name: "admin".into(),
        role: Role::Admin,
    };
    if on_disk.peer != admin {
        return Err(ServeError::Tls(format!(
            "{} is not the admin operator's certificate",
            cert_path.display()
        )));
    }
    let issued = OperatorCertificate {
        name: "admin",
        role: Role::Admin,
        serial: &on_disk.serial,
        not_after_ms: on_disk.not_after_ms,
    };
    store
        .record_operator_issue(&issued, "control-plane/start", now_ms())
        .await?;
    Ok(())
}

/// Writes `cert.pem`, `key.pem` (owner-only) and `ca.pem` into `dir`.
pub fn write_operator_credentials(
    dir: &Path,
    ca: &CertificateAuthority,
    cert_pem: &str,
    key_pem: &str,
) -> Result<(), ServeError> {
    let write = |name: &str, contents: &str| {
        std::fs::write(dir.join(name), contents).map_err(|source| ServeError::DataDir {
            path: dir.join(name),
            source,
        })
    };
    write_private(&dir.join("key.pem"), key_pem)?;
    write("ca.pem", ca.cert_pem())?;
    write("cert.pem", cert_pem)
}

/// Per tick: write buffered heartbeats, start the assessment schedule's run when a slot
/// begins, expire commands, wake sessions whose agents have
/// commands queued, and close sessions of agents revoked (both possibly by another
/// replica).
async fn background_tasks(shared: Arc<Context>, mut stop: tokio::sync::watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(Duration::from_millis(
        shared.config.commands.poll_interval_ms,
    ));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // Revocations are looked for by the database's clock, never this replica's.
    let mut revocations_from: Option<i64> = None;
    let schedule = Schedule::new(
        shared.config.assessment.schedule_interval_secs,
        shared.config.assessment.schedule_offset_secs,
    );
    let mut scheduled_run: Option<String> = None;
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.changed() => return,
        }
        flush_heartbeats(&shared).await;
        if let Some(schedule) = schedule {
            let slot_run = Schedule::run_id(schedule.slot_start(now_ms()));
            if scheduled_run.as_ref() != Some(&slot_run) {
                match crate::service::assessment::start_scheduled(&shared, &slot_run).await {
                    Ok(true) => scheduled_run = Some(slot_run),
                    Ok(false) => {}
                    Err(e) => {
                        tracing::warn!(error = %e, run = %slot_run, "starting the scheduled assessment failed")
                    }
                }
            }
        }
        let now = now_ms();
        match shared.store.expire_commands(now).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(expired = n, "commands expired before delivery"),
            Err(e) => tracing::warn!(error = %e, "expiring commands failed"),
        }
        match shared.store.agents_with_pending_commands(now).await {
            Ok(agents) => agents.into_iter().for_each(|a| shared.sessions.wake(a)),
            Err(e) => tracing::warn!(error = %e, "looking for pending commands failed"),
        }
        // Overlapping looks; closing an already-closed session does nothing.
        match shared.store.revoked_since(revocations_from).await {
            Ok(revoked) => {
                revoked
                    .agents
                    .iter()
                    .for_each(|(agent, reason)| shared.sessions.close(*agent, reason));
                revocations_from = Some(revoked.next);
            }
            Err(e) => tracing::warn!(error = %e, "looking for revocations failed"),
        }
    }
}

async fn flush_heartbeats(shared: &Context) {
    let hellos = shared.heartbeats.drain_hellos();
    if let Err(e) = shared.store.record_hellos(&hellos).await {
        tracing::warn!(error = %e, agents = hellos.len(), "writing agents' hellos failed; will retry");
        shared.heartbeats.restore_hellos(hellos);
    }
    let batch = shared.heartbeats.drain();
    if let Err(e) = shared.store.touch_agents(&batch).await {
        tracing::warn!(error = %e, agents = batch.len(), "writing heartbeats failed; will retry");
        shared.heartbeats.restore(batch);
    }
}
