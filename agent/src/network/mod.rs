//! The connection test: can this host's SQL Server instances and a target managed
//! instance reach each other the way the link needs (mi-link.md §1.4)? It observes
//! once per test what is the same for every instance (the MI's name and ports, seen
//! from this host), then per instance its mirroring endpoint and the address the MI
//! would reach it at, and judges the observations with checks like the assessment's.
//! Nothing is created or changed on SQL Server.
//!
//! - [`resolve`]: the FQDN to addresses (`[network.hosts]`, else the host's resolver).
//! - [`probe`]: one TCP connection attempt: open, refused or silent.
//! - [`route`]: the local address the host routes to the MI from.
//! - [`checks`]: the NET-* checks, pure functions of [`Observed`].

pub mod checks;
pub mod probe;
pub mod resolve;
pub mod route;

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use ferry_proto::agent::v1::{ConnectionTest, InstanceConnection, TestConnection};
use ferry_proto::clock::now_ms;

use crate::checks::facts::{Fact, MirroringEndpoint, Missing};
use crate::config::{AgentConfig, InstanceConfig};
use crate::sql;
use probe::Probe;
use resolve::Resolution;

/// The managed instance's link endpoint; it cannot be changed.
pub const LINK_PORT: u16 = 5022;
/// Ports of the MI's redirect range (11000-11999) probed: its ends and three between.
/// The MI's current node port is not known without signing in to the MI.
pub const REDIRECT_SAMPLE: [u16; 5] = [11000, 11250, 11500, 11750, 11999];

/// What the test saw for one instance.
#[derive(Debug, Clone)]
pub struct Observed {
    pub fqdn: String,
    pub target: Target,
    /// The instance's database mirroring endpoints (at most one).
    pub endpoints: Fact<Vec<MirroringEndpoint>>,
    /// A started endpoint's port, tried on this host.
    pub listening: Option<(SocketAddr, Probe)>,
    /// The address the MI would reach the endpoint at.
    pub link_address: Result<LinkAddress, String>,
}

/// The managed instance as seen from this host: the same for every instance.
#[derive(Debug, Clone)]
pub struct Target {
    pub resolved: Result<Resolution, String>,
    /// Empty when the name did not resolve.
    pub link_port: Option<Probe>,
    pub redirect: Vec<(u16, Probe)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinkAddress {
    pub ip: IpAddr,
    /// From the instance's `link_address`, not from the route.
    pub configured: bool,
}

impl Observed {
    /// The endpoint's port, or the link's default when there is no endpoint yet.
    pub fn endpoint_port(&self) -> u16 {
        self.endpoints
            .as_ref()
            .ok()
            .and_then(|e| e.first())
            .and_then(|e| u16::try_from(e.port).ok())
            .unwrap_or(LINK_PORT)
    }
}

pub async fn test(
    config: &AgentConfig,
    command_id: &str,
    request: TestConnection,
) -> ConnectionTest {
    let timeout = Duration::from_secs(config.network.timeout_secs);
    let target = observe_target(config, &request.fqdn, timeout).await;
    let selected: Vec<Result<&InstanceConfig, (String, String)>> = if request.instances.is_empty() {
        config.instances.iter().map(Ok).collect()
    } else {
        request
            .instances
            .iter()
            .map(|name| config.instance(name).map_err(|why| (name.clone(), why)))
            .collect()
    };
    let instances = futures::future::join_all(selected.into_iter().map(|instance| {
        let target = target.clone();
        let fqdn = request.fqdn.clone();
        async move {
            match instance {
                Ok(instance) => test_instance(instance, fqdn, target, timeout).await,
                Err((name, error)) => InstanceConnection {
                    error,
                    name,
                    ..Default::default()
                },
            }
        }
    }))
    .await;
    ConnectionTest {
        command_id: command_id.to_string(),
        target_id: request.target_id,
        instances,
    }
}

async fn observe_target(config: &AgentConfig, fqdn: &str, timeout: Duration) -> Target {
    let resolved = if crate::config::is_host_name(fqdn) && fqdn.contains('.') {
        resolve::resolve(fqdn, &config.network.hosts, timeout).await
    } else {
        Err(format!("{fqdn:?} is not a fully qualified host name"))
    };
    let Ok(resolution) = &resolved else {
        return Target {
            resolved,
            link_port: None,
            redirect: Vec::new(),
        };
    };
    let ip = resolution.address();
    let (link_port, redirect) = tokio::join!(
        probe::tcp(ip, LINK_PORT, timeout),
        futures::future::join_all(
            REDIRECT_SAMPLE
                .iter()
                .map(|port| async move { (*port, probe::tcp(ip, *port, timeout).await) })
        )
    );
    Target {
        resolved,
        link_port: Some(link_port),
        redirect,
    }
}

async fn test_instance(
    instance: &InstanceConfig,
    fqdn: String,
    target: Target,
    timeout: Duration,
) -> InstanceConnection {
    let started_unix_ms = now_ms();
    let started = Instant::now();
    let endpoints = match sql::connect(instance).await {
        Ok(mut conn) => {
            let query_timeout = Duration::from_secs(instance.query_timeout_secs);
            sql::assessment::mirroring_endpoints(&mut conn, query_timeout).await
        }
        Err(e) => Err(Missing(e.to_string())),
    };
    let listening = match endpoints.as_ref().ok().and_then(|e| e.first()) {
        Some(endpoint) if endpoint.state == "STARTED" => {
            listen_probe(instance, endpoint, timeout).await
        }
        _ => None,
    };
    let link_address = link_address(instance, &fqdn, &target.resolved);
    let observed = Observed {
        fqdn,
        target,
        endpoints,
        listening,
        link_address,
    };
    InstanceConnection {
        name: instance.name.clone(),
        results: crate::checks::evaluate(checks::REGISTRY, &observed)
            .into_iter()
            .map(crate::assessment::result)
            .collect(),
        started_unix_ms,
        duration_ms: u32::try_from(started.elapsed().as_millis()).unwrap_or(u32::MAX),
        error: String::new(),
    }
}

/// The address the MI reaches `instance` at: its configured `link_address`, else the
/// address this host routes to the MI from.
pub fn link_address(
    instance: &InstanceConfig,
    fqdn: &str,
    resolved: &Result<Resolution, String>,
) -> Result<LinkAddress, String> {
    match (instance.link_address, resolved) {
        (Some(ip), _) => Ok(LinkAddress {
            ip,
            configured: true,
        }),
        (None, Ok(resolution)) => route::source_address(resolution.address())
            .map(|ip| LinkAddress {
                ip,
                configured: false,
            })
            .map_err(|e| format!("no route from this host to {}: {e}", resolution.address())),
        (None, Err(_)) => Err(format!(
            "{fqdn} did not resolve, so the route to it is unknown; set the instance's link_address"
        )),
    }
}

/// Tries the endpoint's port where it listens: its LISTENER_IP, else the address the
/// agent reaches the instance at.
async fn listen_probe(
    instance: &InstanceConfig,
    endpoint: &MirroringEndpoint,
    timeout: Duration,
) -> Option<(SocketAddr, Probe)> {
    let port = u16::try_from(endpoint.port).ok()?;
    let ip = match endpoint
        .ip_address
        .as_deref()
        .and_then(|ip| ip.parse().ok())
    {
        Some(ip) => ip,
        None => tokio::net::lookup_host((instance.host.as_str(), port))
            .await
            .ok()?
            .next()?
            .ip(),
    };
    Some((
        SocketAddr::new(ip, port),
        probe::tcp(ip, port, timeout).await,
    ))
}
