//! The lab's Azure: managed instances as the MI link's targets, the ARM surface that
//! manages them, and the Entra ID token authority that ARM trusts. Everything is
//! served over HTTPS from the lab's own CA (Azure is HTTPS only).
//!
//! - `managed`: a managed instance's network presence: its own loopback address with
//!   TDS on 1433 and the link endpoint on 5022, and its endpoint certificates.
//! - `token`: the token authority (client-credentials grant) and token checks.
//! - `federated`: workload identity: the lab's service account token issuer, and the
//!   authority's checks of a federated token.
//! - `arm/`: the `Microsoft.Sql/managedInstances` resources and long-running operations.
//! - `link`: a link as the managed instance observes it, with its documented errors.
//! - `replication`: how a link's database seeds and its log flows, on the lab clock.
//! - `replicate`: the link at work, shown on both sides' views.
//! - `wire`: the link's conversation over real TCP, SQL Server's endpoint to the MI's.
//! - `failover`: planned and forced failover, and breaking the link, on both sides;
//!   what a forced failover lost.
//! - `http`, `tls`: HTTPS serving and the lab CA.

pub mod arm;
pub mod failover;
pub mod federated;
pub(crate) mod http;
pub mod link;
pub mod managed;
mod replicate;
pub mod replication;
mod tls;
pub mod token;
pub mod wire;

use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::task::JoinSet;

use crate::engine::{Instance, LabClock, Observer};
use crate::faults::Faults;
use crate::scenario::AzureSpec;

pub use managed::ManagedInstance;

/// Where a client finds the lab's Azure, and what it needs to trust and sign in.
#[derive(Debug, Clone)]
pub struct AzureEndpoints {
    /// The authority host for azure_identity (`https://127.0.0.1:PORT/`).
    pub authority: String,
    /// The ARM endpoint, standing in for `https://management.azure.com/`.
    pub arm: String,
    /// The lab CA's certificate, PEM: trust it for both endpoints.
    pub ca_pem: String,
    pub tenant: String,
    pub subscription: String,
}

/// Starts the token authority and ARM, each on its own loopback port; returns where
/// they are, and ARM (which the lab's fault controls bring up to date).
pub async fn start(
    spec: &AzureSpec,
    managed: Vec<Arc<ManagedInstance>>,
    sql: Vec<Arc<Instance>>,
    (clock, faults): (Arc<LabClock>, Arc<Faults>),
    tasks: &mut JoinSet<()>,
) -> anyhow::Result<(AzureEndpoints, Arc<arm::Arm>)> {
    let ca = tls::lab_ca(&["localhost".to_string(), "127.0.0.1".to_string()])?;
    let authority = Arc::new(token::Authority::new(spec.clone(), clock.clone())?);
    let engines: Vec<Arc<Instance>> = sql
        .iter()
        .cloned()
        .chain(managed.iter().map(|m| m.engine.clone()))
        .collect();
    let arm = Arc::new(arm::Arm::new(
        authority.clone(),
        managed,
        sql,
        clock,
        faults,
    ));
    // Every statement on either side first lets the links catch up with the clock.
    let observer: Arc<dyn Observer> = arm.clone();
    for engine in engines {
        engine.watch(Arc::downgrade(&observer));
    }
    let login = TcpListener::bind(("127.0.0.1", 0)).await?;
    let management = TcpListener::bind(("127.0.0.1", 0)).await?;
    let endpoints = AzureEndpoints {
        authority: format!("https://{}/", login.local_addr()?),
        arm: format!("https://{}/", management.local_addr()?),
        ca_pem: ca.pem.clone(),
        tenant: spec.tenant.clone(),
        subscription: spec.subscription.clone(),
    };
    tasks.spawn(http::serve(login, ca.server.clone(), authority));
    tasks.spawn(http::serve(management, ca.server, arm.clone()));
    Ok((endpoints, arm))
}
