//! A managed instance's network presence. Every managed instance answers on the same
//! ports (TDS 1433, the link on 5022), so each gets its own loopback address
//! (127.64.0.0/10, chosen at random and retried when taken) that its FQDN resolves
//! to in the lab. The link endpoint speaks the link's conversation (`wire`).

use std::net::Ipv4Addr;
use std::sync::Arc;

use rand::Rng;
use tokio::net::TcpListener;

use crate::engine::{Instance, LabClock};
use crate::scenario::ManagedInstanceSpec;

pub const TDS_PORT: u16 = 1433;

pub struct ManagedInstance {
    pub spec: ManagedInstanceSpec,
    pub fqdn: String,
    /// The loopback address the FQDN resolves to in the lab.
    pub ip: Ipv4Addr,
    pub engine: Arc<Instance>,
    /// The DATABASE_MIRRORING endpoint certificate (DER), which SQL Server imports
    /// under the MI's FQDN.
    pub mirroring_certificate: Vec<u8>,
    pub broker_certificate: Vec<u8>,
}

impl ManagedInstance {
    /// Where its link endpoint listens.
    pub fn link_address(&self) -> std::net::SocketAddr {
        (self.ip, super::link::MI_LINK_PORT).into()
    }
}

/// Listeners bound for one managed instance.
pub struct Bound {
    pub ip: Ipv4Addr,
    pub tds: TcpListener,
    pub link: TcpListener,
}

impl ManagedInstance {
    /// Builds the managed instance's engine and certificates and binds its ports;
    /// the caller serves them.
    pub async fn start(
        spec: &ManagedInstanceSpec,
        clock: Arc<LabClock>,
    ) -> anyhow::Result<(Arc<ManagedInstance>, Bound)> {
        let engine = {
            let spec = spec.clone();
            tokio::task::spawn_blocking(move || Instance::managed(&spec, clock)).await??
        };
        let bound = bind().await?;
        let fqdn = spec.fqdn();
        let mi = ManagedInstance {
            spec: spec.clone(),
            ip: bound.ip,
            mirroring_certificate: endpoint_certificate(&fqdn, "DATABASE_MIRRORING")?,
            broker_certificate: endpoint_certificate(&fqdn, "SERVICE_BROKER")?,
            fqdn,
            engine,
        };
        Ok((Arc::new(mi), bound))
    }
}

/// Binds TDS and the link endpoint on a free loopback address.
async fn bind() -> anyhow::Result<Bound> {
    let mut last = None;
    for _ in 0..64 {
        let ip = {
            let mut rng = rand::rng();
            Ipv4Addr::new(
                127,
                rng.random_range(64..128),
                rng.random(),
                rng.random_range(1..255),
            )
        };
        match (
            TcpListener::bind((ip, TDS_PORT)).await,
            TcpListener::bind((ip, super::link::MI_LINK_PORT)).await,
        ) {
            (Ok(tds), Ok(link)) => return Ok(Bound { ip, tds, link }),
            (Err(e), _) | (_, Err(e)) => last = Some(e),
        }
    }
    anyhow::bail!(
        "no free loopback address for a managed instance (ports {TDS_PORT} and {}): {}",
        super::link::MI_LINK_PORT,
        last.map_or_else(String::new, |e| e.to_string())
    )
}

/// The managed instance's endpoint certificates, self-signed for its FQDN.
fn endpoint_certificate(fqdn: &str, purpose: &str) -> anyhow::Result<Vec<u8>> {
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new())?;
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, format!("{purpose} {fqdn}"));
    params.not_before = time::OffsetDateTime::now_utc() - time::Duration::days(30);
    params.not_after = params.not_before + time::Duration::days(3650);
    let key = rcgen::KeyPair::generate()?;
    Ok(params.self_signed(&key)?.der().to_vec())
}
