//! A running lab: every instance of a scenario listening on its own loopback port;
//! every managed instance on its own loopback address, with the lab's Azure (token
//! authority and ARM) when the scenario has managed instances. Each port can be
//! closed and opened again by the lab's faults (a stopped instance, a cut network).

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::runtime::Handle;
use tokio::task::JoinSet;

use crate::azure::{self, AzureEndpoints, ManagedInstance};
use crate::control::Control;
use crate::engine::{Instance, LabClock};
use crate::faults::Faults;
use crate::network::Network;
use crate::port::{Port, Service};
use crate::scenario::{Scenario, WorkloadSpec};
use crate::tds;

/// An instance as a client reaches it.
#[derive(Debug, Clone)]
pub struct Endpoint {
    pub name: String,
    pub address: SocketAddr,
    pub login: String,
    pub password: String,
}

pub struct Lab {
    pub endpoints: Vec<Endpoint>,
    pub instances: Vec<Arc<Instance>>,
    pub managed: Vec<Arc<ManagedInstance>>,
    /// The lab's Azure, when the scenario has managed instances.
    pub azure: Option<AzureEndpoints>,
    /// The fault controls (`crate::control`), also served over HTTP at `control_url`.
    pub control: Arc<Control>,
    pub control_url: String,
    tasks: JoinSet<()>,
    /// Where the managed instances' link endpoints run (after `tasks`: dropped last).
    _network: Network,
}

impl Lab {
    /// Builds every instance's catalog and starts listening, on the real clock.
    pub async fn start(scenario: &Scenario) -> anyhow::Result<Lab> {
        Lab::start_with_clock(scenario, Arc::new(LabClock::real())).await
    }

    /// As [`Lab::start`], with workloads following `clock` (a manual clock lets a test
    /// say exactly how much time has passed). Instances are built on blocking
    /// threads, in parallel.
    pub async fn start_with_clock(
        scenario: &Scenario,
        clock: Arc<LabClock>,
    ) -> anyhow::Result<Lab> {
        let mut names: Vec<String> = vec!["localhost".into(), "127.0.0.1".into()];
        names.extend(scenario.managed_instances.iter().map(|m| m.fqdn()));
        let tls = tds::tls::server_config(names)?;
        // One build per core at a time: SQLite serialises its allocations behind a
        // process-wide mutex, so more threads only wait on each other.
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        let permits = Arc::new(tokio::sync::Semaphore::new(cores));
        let mut builds = JoinSet::new();
        for (n, spec) in scenario.instances.iter().cloned().enumerate() {
            let clock = clock.clone();
            let permit = permits.clone().acquire_owned().await?;
            builds.spawn_blocking(move || {
                let built = Instance::with_clock(&spec, clock).map(|i| (n, spec, i));
                drop(permit);
                built
            });
        }
        let mut built = Vec::with_capacity(scenario.instances.len());
        while let Some(result) = builds.join_next().await {
            built.push(result??);
        }
        built.sort_by_key(|(n, _, _)| *n);
        let mut tasks = JoinSet::new();
        let mut endpoints = Vec::new();
        let mut instances = Vec::new();
        let mut ports = Vec::new();
        let faults = Arc::new(Faults::default());
        let network = Network::start()?;
        for (_, spec, instance) in built {
            let listener = TcpListener::bind(("127.0.0.1", spec.port))
                .await
                .map_err(|e| {
                    anyhow::anyhow!(
                        "instance '{}': cannot listen on 127.0.0.1:{}: {e}",
                        spec.name,
                        spec.port
                    )
                })?;
            let login = spec
                .logins
                .iter()
                .find(|l| !l.windows)
                .or(spec.logins.first())
                .expect("validated: at least one login");
            endpoints.push(Endpoint {
                name: spec.name.clone(),
                address: listener.local_addr()?,
                login: login.name.clone(),
                password: login.password.clone().unwrap_or_default(),
            });
            instances.push(instance.clone());
            let service = tds_service(instance, tls.clone());
            ports.push(Port::serve(
                &spec.name,
                false,
                listener,
                service,
                (&mut tasks, &Handle::current()),
            )?);
        }
        let mut managed = Vec::new();
        for spec in &scenario.managed_instances {
            let (mi, bound) = ManagedInstance::start(spec, clock.clone()).await?;
            let service = tds_service(mi.engine.clone(), tls.clone());
            ports.push(Port::serve(
                &spec.name,
                false,
                bound.tds,
                service,
                (&mut tasks, &Handle::current()),
            )?);
            let service = azure::wire::endpoint(&spec.name, faults.clone());
            ports.push(Port::serve(
                &spec.name,
                true,
                bound.link,
                service,
                (&mut tasks, network.handle()),
            )?);
            managed.push(mi);
        }
        let azure = if managed.is_empty() {
            None
        } else {
            Some(
                azure::start(
                    &scenario.azure,
                    managed.clone(),
                    instances.clone(),
                    (clock, faults.clone()),
                    &mut tasks,
                )
                .await?,
            )
        };
        let (azure, arm) = azure.unzip();
        let control = Arc::new(Control {
            faults,
            ports,
            arm,
            instances: instances.clone(),
            managed: managed.clone(),
        });
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let control_url = format!("http://{}/", listener.local_addr()?);
        tasks.spawn(azure::http::serve_plain(listener, control.clone()));
        Ok(Lab {
            endpoints,
            instances,
            managed,
            azure,
            control,
            control_url,
            tasks,
            _network: network,
        })
    }

    pub fn managed_instance(&self, name: &str) -> Option<&Arc<ManagedInstance>> {
        self.managed.iter().find(|m| m.spec.name == name)
    }

    pub fn instance(&self, name: &str) -> Option<&Arc<Instance>> {
        self.instances
            .iter()
            .find(|i| i.info.name.eq_ignore_ascii_case(name))
    }

    /// Changes a database's workload from now on, for example to stop the
    /// application before a cutover (an idle spec).
    pub fn set_workload(
        &self,
        instance: &str,
        database: &str,
        load: &WorkloadSpec,
    ) -> anyhow::Result<()> {
        self.instance(instance)
            .ok_or_else(|| anyhow::anyhow!("the lab has no instance '{instance}'"))?
            .set_workload(database, load)
    }

    pub fn endpoint(&self, name: &str) -> Option<&Endpoint> {
        self.endpoints
            .iter()
            .find(|e| e.name.eq_ignore_ascii_case(name))
    }

    /// Stops accepting connections.
    pub fn stop(&mut self) {
        self.tasks.abort_all();
    }
}

fn tds_service(instance: Arc<Instance>, tls: Arc<rustls::ServerConfig>) -> Service {
    Arc::new(move |stream, peer| {
        let (instance, tls) = (instance.clone(), tls.clone());
        Box::pin(async move {
            if let Err(e) = tds::connection::serve(stream, instance, tls).await {
                tracing::debug!(%peer, error = %e, "connection ended");
            }
        })
    })
}

impl Drop for Lab {
    fn drop(&mut self) {
        self.stop();
    }
}
