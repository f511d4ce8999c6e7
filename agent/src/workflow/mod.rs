//! The MI link's set-up on SQL Server (mi-link.md §2.1), as idempotent steps. Each
//! step inspects first, applies only what is missing, then inspects again to verify;
//! a step whose work is in place does nothing. A run that died anywhere (agent killed,
//! host restarted) therefore resumes by running the steps again: completed steps find
//! their work done, a half-made object is found and finished or reported.
//!
//! - [`names`]: the documented names (`Cert_<server>_endpoint`, `AG_<db>`, ...),
//!   shared with the control plane (`ferry_proto::link_names`).
//! - [`steps`]: one file per step.
//! - [`run`]: a RunLinkSteps command: the named steps in order, reported.
//!
//! The MI's side (certificate upload, the link resource) is the control plane's
//! (`ferry-control`'s `migration` module); it hands the agent what the steps need
//! from Azure (the MI's certificate) in the command.

pub use ferry_proto::link_names as names;
pub mod run;
pub mod steps;

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use ferry_proto::link_steps::LinkStep;

use crate::sql::{Connection, SqlError};

/// What one run of the steps works on, and what the operator allowed.
pub struct Context<'c> {
    pub conn: &'c mut Connection,
    pub timeout: Duration,
    /// @@SERVERNAME.
    pub server_name: String,
    pub database: String,
    /// The mirroring endpoint's port when Ferry creates it.
    pub endpoint_port: u16,
    /// Where secrets made on this host are kept (owner-only files).
    pub state_dir: PathBuf,
    /// Set the database to FULL recovery when it is not (the docs' step (a)).
    pub allow_recovery_change: bool,
    /// Alter an existing endpoint that cannot carry the link.
    pub allow_endpoint_change: bool,
    /// SQL Server's major version (13 is 2016, whose AGs have no CLUSTER_TYPE).
    pub major_version: u32,
    /// The connection is encrypted after login (`encryption = "required"`): what a
    /// statement carries (the master key's password) is not readable on the wire.
    pub encrypted: bool,
    /// What the link's own steps need; `None` for the local preparation alone.
    pub link: Option<Link>,
}

/// The link the steps make (mi-link.md §2.1 (e), (h), (i)).
#[derive(Debug, Clone)]
pub struct Link {
    /// The distributed AG's name, which is the link's name in Azure.
    pub name: String,
    /// The managed instance's short name and FQDN.
    pub mi_name: String,
    pub mi_fqdn: String,
    /// The MI's endpoint certificate (DER), read from Azure by the control plane.
    pub mi_certificate: Vec<u8>,
    /// The address the MI reaches this instance's endpoint at.
    pub address: IpAddr,
}

impl Context<'_> {
    /// The link's parameters, for a step that needs them.
    pub fn link(&self, step: &str) -> Result<&Link, StepError> {
        self.link
            .as_ref()
            .ok_or_else(|| StepError::Local(format!("{step}: the command did not say which link")))
    }
}

/// What a step's inspection found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Found {
    /// In place, as described.
    Done(String),
    /// Missing; applying does what is described.
    Missing(String),
    /// Cannot be applied without the operator: why, and what to do.
    Blocked(String),
}

/// What running a step did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    AlreadyDone(String),
    Applied(String),
    Blocked(String),
}

#[derive(Debug, thiserror::Error)]
pub enum StepError {
    #[error(transparent)]
    Sql(#[from] SqlError),
    #[error("{0}")]
    Local(String),
    #[error("{step}: applied, but inspecting again found: {found:?}")]
    NotVerified { step: &'static str, found: Found },
}

/// The steps, in the order the link needs them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    Database,
    MasterKey,
    EndpointCertificate,
    MirroringEndpoint,
    MiCertificate,
    RootTrust,
    AvailabilityGroup,
    DistributedAvailabilityGroup,
    DropDistributedAvailabilityGroup,
    DropAvailabilityGroup,
    DropMiCertificate,
    SynchronousCommit,
    AsynchronousCommit,
    DemoteSqlServer,
}

impl Step {
    pub const ALL: [Step; 8] = [
        Step::Database,
        Step::MasterKey,
        Step::EndpointCertificate,
        Step::MirroringEndpoint,
        Step::MiCertificate,
        Step::RootTrust,
        Step::AvailabilityGroup,
        Step::DistributedAvailabilityGroup,
    ];

    /// Undoing the link, in order (after the MI's side is deleted).
    pub const TEARDOWN: [Step; 3] = [
        Step::DropDistributedAvailabilityGroup,
        Step::DropAvailabilityGroup,
        Step::DropMiCertificate,
    ];

    /// The cutover's steps on SQL Server: the commit mode switched before the
    /// failover, and back when a cutover is cancelled before it; after a forced
    /// failover, SQL Server's member demoted.
    pub const CUTOVER: [Step; 3] = [
        Step::SynchronousCommit,
        Step::AsynchronousCommit,
        Step::DemoteSqlServer,
    ];

    /// The agent's step of a name the control plane sent; None for a step that is
    /// not SQL Server's, or that this build does not know.
    pub fn parse(name: &str) -> Option<Step> {
        let link_step = LinkStep::parse(name)?;
        Step::ALL
            .into_iter()
            .chain(Step::TEARDOWN)
            .chain(Step::CUTOVER)
            .find(|step| step.link_step() == link_step)
    }

    /// The step in the vocabulary the agent and the control plane share.
    pub fn link_step(self) -> LinkStep {
        match self {
            Step::Database => LinkStep::Database,
            Step::MasterKey => LinkStep::MasterKey,
            Step::EndpointCertificate => LinkStep::EndpointCertificate,
            Step::MirroringEndpoint => LinkStep::MirroringEndpoint,
            Step::MiCertificate => LinkStep::MiCertificate,
            Step::RootTrust => LinkStep::RootTrust,
            Step::AvailabilityGroup => LinkStep::AvailabilityGroup,
            Step::DistributedAvailabilityGroup => LinkStep::DistributedAvailabilityGroup,
            Step::DropDistributedAvailabilityGroup => LinkStep::DropDistributedAvailabilityGroup,
            Step::DropAvailabilityGroup => LinkStep::DropAvailabilityGroup,
            Step::DropMiCertificate => LinkStep::DropMiCertificate,
            Step::SynchronousCommit => LinkStep::SynchronousCommit,
            Step::AsynchronousCommit => LinkStep::AsynchronousCommit,
            Step::DemoteSqlServer => LinkStep::DemoteSqlServer,
        }
    }

    pub fn name(self) -> &'static str {
        self.link_step().name()
    }

    pub async fn inspect(self, ctx: &mut Context<'_>) -> Result<Found, StepError> {
        match self {
            Step::Database => steps::database::inspect(ctx).await,
            Step::MasterKey => steps::master_key::inspect(ctx).await,
            Step::EndpointCertificate => steps::certificate::inspect(ctx).await,
            Step::MirroringEndpoint => steps::endpoint::inspect(ctx).await,
            Step::MiCertificate => steps::mi_certificate::inspect(ctx).await,
            Step::RootTrust => steps::root_trust::inspect(ctx).await,
            Step::AvailabilityGroup => steps::availability_group::inspect(ctx).await,
            Step::DistributedAvailabilityGroup => steps::distributed::inspect(ctx).await,
            Step::DropDistributedAvailabilityGroup => {
                steps::teardown::inspect_distributed(ctx).await
            }
            Step::DropAvailabilityGroup => steps::teardown::inspect_availability_group(ctx).await,
            Step::DropMiCertificate => steps::teardown::inspect_mi_certificate(ctx).await,
            Step::SynchronousCommit => steps::commit_mode::inspect(ctx, true).await,
            Step::AsynchronousCommit => steps::commit_mode::inspect(ctx, false).await,
            Step::DemoteSqlServer => steps::demote::inspect(ctx).await,
        }
    }

    /// Applies what inspecting found missing; whether it changed anything (only the
    /// root trust, which applies on every run, may find nothing to change).
    async fn apply(self, ctx: &mut Context<'_>) -> Result<bool, StepError> {
        let applied = match self {
            Step::Database => steps::database::apply(ctx).await,
            Step::MasterKey => steps::master_key::apply(ctx).await,
            Step::EndpointCertificate => steps::certificate::apply(ctx).await,
            Step::MirroringEndpoint => steps::endpoint::apply(ctx).await,
            Step::MiCertificate => steps::mi_certificate::apply(ctx).await,
            Step::RootTrust => return steps::root_trust::apply(ctx).await,
            Step::AvailabilityGroup => steps::availability_group::apply(ctx).await,
            Step::DistributedAvailabilityGroup => steps::distributed::apply(ctx).await,
            Step::DropDistributedAvailabilityGroup => steps::teardown::drop_distributed(ctx).await,
            Step::DropAvailabilityGroup => steps::teardown::drop_availability_group(ctx).await,
            Step::DropMiCertificate => steps::teardown::drop_mi_certificate(ctx).await,
            Step::SynchronousCommit => steps::commit_mode::apply(ctx, true).await,
            Step::AsynchronousCommit => steps::commit_mode::apply(ctx, false).await,
            Step::DemoteSqlServer => steps::demote::apply(ctx).await,
        };
        applied.map(|()| true)
    }

    /// Inspect, apply what is missing, verify; already done when nothing had to
    /// change. (The root trust applies on every run: half of it cannot be inspected.)
    pub async fn run(self, ctx: &mut Context<'_>) -> Result<Outcome, StepError> {
        match self.inspect(ctx).await? {
            Found::Blocked(why) => return Ok(Outcome::Blocked(why)),
            Found::Done(what) if self != Step::RootTrust => return Ok(Outcome::AlreadyDone(what)),
            Found::Done(_) => {}
            Found::Missing(what) => {
                tracing::info!(step = self.name(), database = %ctx.database, %what, "applying");
            }
        }
        let changed = self.apply(ctx).await?;
        match self.inspect(ctx).await? {
            Found::Done(what) if changed => Ok(Outcome::Applied(what)),
            Found::Done(what) => Ok(Outcome::AlreadyDone(what)),
            // Applied what it could; the rest needs the operator.
            Found::Blocked(why) => Ok(Outcome::Blocked(why)),
            found => Err(StepError::NotVerified {
                step: self.name(),
                found,
            }),
        }
    }
}

/// Runs one statement batch of a step (no result wanted) within the context's timeout.
pub(crate) async fn execute(
    ctx: &mut Context<'_>,
    name: &'static str,
    sql: &str,
) -> Result<(), StepError> {
    Ok(crate::sql::execute(ctx.conn, name, sql, ctx.timeout).await?)
}

/// This instance's listener URL for the link, `TCP://<address>:<endpoint port>`: the
/// address the MI reaches this host at and the port of its mirroring endpoint.
pub async fn listener_url(ctx: &mut Context<'_>) -> Result<String, StepError> {
    let address = ctx.link("listener URL")?.address;
    let endpoints = steps::endpoint::read(ctx).await?;
    let port = endpoints
        .first()
        .and_then(|e| u16::try_from(e.port).ok())
        .ok_or_else(|| StepError::Local("the instance has no mirroring endpoint yet".into()))?;
    Ok(format!(
        "TCP://{}",
        std::net::SocketAddr::new(address, port)
    ))
}

#[cfg(test)]
mod vocabulary {
    use ferry_proto::link_steps::Side;

    use super::*;

    /// The agent runs exactly the shared vocabulary's SQL Server steps.
    #[test]
    fn the_agent_runs_every_sql_server_step_and_only_those() {
        for link_step in LinkStep::ALL {
            let ours = Step::parse(link_step.name());
            assert_eq!(
                ours.is_some(),
                link_step.side() == Side::Agent,
                "{link_step:?}"
            );
            if let Some(step) = ours {
                assert_eq!(step.link_step(), link_step);
            }
        }
    }
}
