//! The link as the managed instance sees it: a distributed availability group resource
//! (ARM's `distributedAvailabilityGroups`) and what its side observes of the SQL Server
//! partner. The link comes up only when everything real requires is in place; the
//! first missing piece is the error it reports (mi-link.md §2.1, §7):
//!
//! - 41986: nothing answers at `partnerEndpoint`, or the endpoint is stopped or not AES;
//!   or the network between the two is cut (either direction), or either is stopped;
//!   or SQL Server's connection to the MI's link endpoint (`wire`) does not answer;
//! - 41973: the SQL Server endpoint does not authenticate with a certificate the MI
//!   trusts (a `serverTrustCertificates` upload of its public key);
//! - 9642: that certificate has expired (mi-link.md §3.4: an expired certificate
//!   fails the link; the number is the handshake failure SQL Server logs);
//! - 41974: SQL Server has no certificate named by the MI's FQDN holding the MI's
//!   endpoint certificate;
//! - 41976: SQL Server has no distributed AG of the link's name with both member AGs,
//!   the MI member's listener URL on the MI's FQDN and port 5022, or the local AG does
//!   not hold the link's databases;
//! - 41962: still not connected five minutes after the link was created;
//! - 1475, per database: not in FULL recovery, or no full (not COPY_ONLY) backup.
//!
//! What happens once it connects (seeding, log, failover) is `replication` and
//! `replicate`.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use crate::engine::{DatabaseImage, Instance, TableChanges};

use super::replication::{Phase, Replica};
use super::wire::{Progress, Wires};
use super::ManagedInstance;
use crate::faults::{Faults, Path};

/// How long a link may try to connect before it reports 41962 (LinkInitError).
pub const INIT_TIMEOUT: Duration = Duration::from_secs(300);

/// The port every managed instance's link endpoint uses (mi-link.md §1.4).
pub const MI_LINK_PORT: u16 = 5022;

#[derive(Debug, Clone)]
pub struct Link {
    pub name: String,
    pub id: String,
    pub databases: Vec<LinkDatabase>,
    pub partner_endpoint: String,
    pub instance_group: String,
    pub partner_group: String,
    pub instance_role: String,
    pub failover_mode: String,
    pub seeding_mode: String,
    pub sync: bool,
    /// When the create operation completed, on the lab clock.
    pub created_at: Duration,
    /// The failover that made the MI primary, if one has.
    pub failover: Option<Failover>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failover {
    Planned,
    ForcedAllowDataLoss,
}

#[derive(Debug, Clone)]
pub struct LinkDatabase {
    pub name: String,
    pub instance_replica_id: String,
    pub partner_replica_id: String,
    pub replica: Replica,
    /// A whole copy of SQL Server's rows at a log position the MI has not hardened
    /// yet (seeding's, or when SQL Server's row log no longer reaches back to
    /// `received`); it shows on the MI once it has.
    pub pending: Option<DatabaseImage>,
    /// The SQL Server log position the MI's rows are as of.
    pub rows_at: f64,
    /// The log position up to which the MI holds the row changes (they come with the
    /// log it hardens), and those it has not redone yet.
    pub received: f64,
    pub redo: Vec<TableChanges>,
    /// Since when (lab clock) the MI has hardened log it has not applied to its rows
    /// (its redo held).
    pub redo_behind_since: Option<Duration>,
    /// The current seeding attempt's ids on each side, and when it began.
    pub seeding_ids: (String, String),
    pub seeding_started: String,
    /// The progress the MI last acknowledged over the wire.
    pub shipped: Option<Progress>,
}

impl LinkDatabase {
    pub fn new(name: String) -> LinkDatabase {
        let id = || crate::engine::new_guid().to_lowercase();
        LinkDatabase {
            name,
            instance_replica_id: id(),
            partner_replica_id: id(),
            replica: Replica::new(Duration::ZERO),
            pending: None,
            rows_at: 0.0,
            received: 0.0,
            redo: Vec::new(),
            redo_behind_since: None,
            seeding_ids: (id(), id()),
            seeding_started: String::new(),
            shipped: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkError {
    pub number: u32,
    pub text: String,
}

/// A certificate uploaded to the MI (`serverTrustCertificates`).
#[derive(Debug, Clone)]
pub struct TrustCertificate {
    pub name: String,
    pub der: Vec<u8>,
}

#[derive(Clone)]
pub struct Observation {
    /// The SQL Server at the partner endpoint, when one answers there.
    pub partner: Option<Arc<Instance>>,
    pub connected: bool,
    pub error: Option<LinkError>,
    /// Per database (in the link's order): an error that stops its seeding.
    pub database_errors: Vec<Option<LinkError>>,
    /// The trusted certificate the partner authenticated with: its name and expiry.
    pub partner_certificate: Option<(String, time::OffsetDateTime)>,
    /// The network to the partner, as the lab's faults leave it.
    pub path: Path,
    /// The MI applies none of the log it hardens (a lab fault).
    pub redo_held: bool,
}

impl Observation {
    /// Database `n` of a link created `age` ago: ARM's `replicaState`, and the error
    /// that holds it there.
    pub fn database(
        &self,
        n: usize,
        age: Duration,
        replica: &Replica,
        failover: Option<Failover>,
    ) -> (&'static str, Option<LinkError>) {
        let replicating = replica.phase == Phase::Replicating;
        if let Phase::Failed(e) = &replica.phase {
            return ("LinkCreationError", Some(e.clone()));
        }
        match &self.error {
            Some(e) if replicating => (synchronizing(replica, failover), Some(e.clone())),
            Some(_) if age >= INIT_TIMEOUT => ("LinkInitError", Some(error(41962, "The link was not initiated within 5 minutes of its creation. Check the network between SQL Server and the managed instance (ports 5022 and 11000-11999, both directions).".into()))),
            Some(e) => ("CreatingLink", Some(e.clone())),
            None if replicating => (synchronizing(replica, failover), None),
            None => match self.database_errors.get(n).cloned().flatten() {
                Some(e) => ("LinkCreationError", Some(e)),
                None => ("Copying", None),
            },
        }
    }
}

/// A seeded database: catching up with the log written since seeding began, or
/// synchronizing.
fn synchronizing(replica: &Replica, failover: Option<Failover>) -> &'static str {
    if failover.is_some() || replica.caught_up {
        "LinkSynchronizing"
    } else {
        "Catchup"
    }
}

fn error(number: u32, text: String) -> LinkError {
    LinkError { number, text }
}

/// Where `host` points from the lab: addresses as given, the lab's SQL Server
/// instances (and localhost) on loopback.
fn resolve(host: &str, sql: &[Arc<Instance>]) -> Option<IpAddr> {
    if let Ok(ip) = host.parse() {
        return Some(ip);
    }
    let known = host.eq_ignore_ascii_case("localhost")
        || sql.iter().any(|i| i.info.name.eq_ignore_ascii_case(host));
    known.then_some(IpAddr::V4(Ipv4Addr::LOCALHOST))
}

/// Whether `link`'s partner endpoint is one of `instance`'s mirroring endpoints.
pub fn partner_is(link: &Link, instance: &Instance) -> bool {
    crate::engine::parse_endpoint_url(&link.partner_endpoint)
        .and_then(|(host, port)| {
            let named = host.eq_ignore_ascii_case(&instance.info.name);
            let ip = resolve(&host, &[]).or(named.then_some(IpAddr::V4(Ipv4Addr::LOCALHOST)))?;
            Some(SocketAddr::new(ip, port))
        })
        .is_some_and(|address| instance.definitions().endpoint_at(address).is_some())
}

/// What the managed instance's side of a link looks at: the certificates it trusts,
/// the lab's SQL Server instances, the time, the lab's faults, and the connections
/// SQL Server's endpoints hold to the managed instances.
#[derive(Clone, Copy)]
pub struct Surroundings<'a> {
    pub trusted: &'a [TrustCertificate],
    pub sql: &'a [Arc<Instance>],
    pub at: time::OffsetDateTime,
    pub faults: &'a Faults,
    pub wires: &'a Wires,
}

/// What the MI's side of `link` observes now.
pub fn observe(link: &Link, mi: &ManagedInstance, around: &Surroundings) -> Observation {
    let mut observation = Observation {
        partner: None,
        connected: false,
        error: None,
        database_errors: vec![None; link.databases.len()],
        partner_certificate: None,
        path: Path::default(),
        redo_held: around.faults.is_redo_held(&mi.spec.name),
    };
    let connected = connect(link, mi, around, &mut observation).and_then(|partner| {
        around
            .wires
            .check(&partner.info.name, mi.link_address())
            .map(|()| partner)
            .map_err(|why| error(41986, format!("Connection to the partner endpoint failed: SQL Server's connection to 'tcp://{}:{MI_LINK_PORT}' broke: {why}.", mi.fqdn)))
    });
    match connected {
        Ok(partner) => {
            observation.connected = true;
            for (n, database) in link.databases.iter().enumerate() {
                observation.database_errors[n] = seedable(&partner, &database.name);
            }
        }
        Err(e) => {
            // No session: SQL Server's endpoint gives up its connection.
            if let Some(partner) = &observation.partner {
                around.wires.close(&partner.info.name, mi.link_address());
            }
            observation.error = Some(e);
        }
    }
    observation
}

fn connect(
    link: &Link,
    mi: &ManagedInstance,
    around: &Surroundings,
    observation: &mut Observation,
) -> Result<Arc<Instance>, LinkError> {
    let Surroundings {
        trusted,
        sql,
        at,
        faults,
        ..
    } = *around;
    let endpoint = &link.partner_endpoint;
    let unreachable = || {
        error(41986, format!("Connection to the partner endpoint '{endpoint}' failed: nothing answered. Check the endpoint address and port, that the SQL Server mirroring endpoint is started, and the firewalls in between."))
    };
    let (host, port) = crate::engine::parse_endpoint_url(endpoint).ok_or_else(unreachable)?;
    let address = SocketAddr::new(resolve(&host, sql).ok_or_else(unreachable)?, port);
    let (partner, facts) = sql
        .iter()
        .find_map(|i| i.mirroring_endpoint_at(address).map(|f| (i.clone(), f)))
        .ok_or_else(unreachable)?;
    observation.partner = Some(partner.clone());
    if faults.is_stopped(&mi.spec.name) {
        return Err(error(
            41986,
            format!(
                "The managed instance '{}' is not running: the link reconnects when it is back.",
                mi.spec.name
            ),
        ));
    }
    if faults.is_stopped(&partner.info.name) {
        return Err(unreachable());
    }
    let path = faults.path(&partner.info.name, &mi.spec.name);
    observation.path = path;
    if path.to_mi_cut {
        return Err(error(41986, format!("Connection to the partner endpoint failed: SQL Server cannot reach 'tcp://{}:{MI_LINK_PORT}'. Allow outbound 5022 and 11000-11999 from SQL Server to the managed instance's subnet.", mi.fqdn)));
    }
    if path.from_mi_cut {
        return Err(error(41986, format!("Connection to the partner endpoint '{endpoint}' failed: the managed instance cannot reach it. Allow inbound traffic to the SQL Server endpoint port from the managed instance's subnet.")));
    }
    if !facts.started || !facts.aes {
        return Err(error(41986, format!("Connection to the partner endpoint '{endpoint}' failed: the SQL Server mirroring endpoint must be STARTED with ENCRYPTION = REQUIRED ALGORITHM AES.")));
    }
    let Some(der) = facts.certificate.filter(|_| facts.certificate_auth) else {
        return Err(error(41973, format!("The SQL Server endpoint at '{endpoint}' does not authenticate with a certificate; the managed instance accepts certificate authentication only.")));
    };
    let trust = trusted.iter().find(|t| t.der == der).ok_or_else(|| {
        error(41973, "The SQL Server endpoint certificate is not trusted by the managed instance: upload its public key as a server trust certificate.".into())
    })?;
    observation.partner_certificate = x509_parser::parse_x509_certificate(&trust.der)
        .ok()
        .map(|(_, c)| (trust.name.clone(), c.validity().not_after.to_datetime()));
    if faults.is_expired(&trust.der) {
        if let Some((_, expiry)) = observation.partner_certificate.as_mut() {
            *expiry = (*expiry).min(at);
        }
    }
    if let Some((name, expiry)) = &observation.partner_certificate {
        if *expiry <= at {
            return Err(error(9642, format!("Connection handshake failed. The certificate [{name}] used by the SQL Server endpoint expired on {expiry}: create a new endpoint certificate, use it on the endpoint, and upload its public key to the managed instance.")));
        }
    }
    if partner.master_certificate(&mi.fqdn).as_deref() != Some(&mi.mirroring_certificate[..]) {
        return Err(error(41974, format!("SQL Server does not hold the managed instance's endpoint certificate under the name [{}]: import it with CREATE CERTIFICATE [{}] FROM BINARY = <public key>.", mi.fqdn, mi.fqdn)));
    }
    let wrong = |why: String| {
        error(41976, format!("The availability group on SQL Server does not answer for link '{}': {why}. Check the names and parameters.", link.name))
    };
    let members = partner
        .distributed_group_members(&link.name)
        .ok_or_else(|| {
            wrong(format!(
                "there is no distributed availability group [{}]",
                link.name
            ))
        })?;
    let member = |name: &str| members.iter().find(|m| m.name.eq_ignore_ascii_case(name));
    member(&link.partner_group).ok_or_else(|| {
        wrong(format!(
            "[{}] is not a member of [{}]",
            link.partner_group, link.name
        ))
    })?;
    let ours = member(&link.instance_group).ok_or_else(|| {
        wrong(format!(
            "[{}] is not a member of [{}]",
            link.instance_group, link.name
        ))
    })?;
    let points_here = crate::engine::parse_endpoint_url(&ours.listener_url)
        .is_some_and(|(h, p)| h.eq_ignore_ascii_case(&mi.fqdn) && p == MI_LINK_PORT);
    if !points_here {
        return Err(wrong(format!(
            "the LISTENER_URL of [{}] is '{}', not 'tcp://{}:{MI_LINK_PORT}'",
            link.instance_group, ours.listener_url, mi.fqdn
        )));
    }
    let databases = partner
        .group_databases(&link.partner_group)
        .ok_or_else(|| {
            wrong(format!(
                "there is no availability group [{}]",
                link.partner_group
            ))
        })?;
    for database in &link.databases {
        if !databases
            .iter()
            .any(|d| d.eq_ignore_ascii_case(&database.name))
        {
            return Err(wrong(format!(
                "database [{}] is not in availability group [{}]",
                database.name, link.partner_group
            )));
        }
    }
    Ok(partner)
}

fn seedable(partner: &Instance, database: &str) -> Option<LinkError> {
    let facts = partner.database_facts(database)?;
    (!facts.full_recovery || !facts.full_backup).then(|| {
        error(1475, format!("Database '{database}' cannot be seeded: it needs the FULL recovery model and a full database backup (not COPY_ONLY) to start a backup chain."))
    })
}
