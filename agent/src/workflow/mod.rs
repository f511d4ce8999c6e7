//! The MI link's set-up on SQL Server (mi-link.md §2.1), as idempotent steps. Each
//! step inspects first, applies only what is missing, then inspects again to verify;
//! a step whose work is in place does nothing. A run that died anywhere (agent killed,
//! host restarted) therefore resumes by running the steps again: completed steps find
//! their work done, a half-made object is found and finished or reported.
//!
//! - [`names`]: the documented names (`Cert_<server>_endpoint`, ...).
//! - [`steps`]: one file per step.
//!
//! Not yet here: the availability groups, the MI certificate import and the control
//! plane's side (issue 6); nothing calls these steps from a command yet.

pub mod names;
pub mod steps;

use std::path::PathBuf;
use std::time::Duration;

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
}

impl Step {
    pub const ALL: [Step; 4] = [
        Step::Database,
        Step::MasterKey,
        Step::EndpointCertificate,
        Step::MirroringEndpoint,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Step::Database => "database",
            Step::MasterKey => "master_key",
            Step::EndpointCertificate => "endpoint_certificate",
            Step::MirroringEndpoint => "mirroring_endpoint",
        }
    }

    pub async fn inspect(self, ctx: &mut Context<'_>) -> Result<Found, StepError> {
        match self {
            Step::Database => steps::database::inspect(ctx).await,
            Step::MasterKey => steps::master_key::inspect(ctx).await,
            Step::EndpointCertificate => steps::certificate::inspect(ctx).await,
            Step::MirroringEndpoint => steps::endpoint::inspect(ctx).await,
        }
    }

    async fn apply(self, ctx: &mut Context<'_>) -> Result<(), StepError> {
        match self {
            Step::Database => steps::database::apply(ctx).await,
            Step::MasterKey => steps::master_key::apply(ctx).await,
            Step::EndpointCertificate => steps::certificate::apply(ctx).await,
            Step::MirroringEndpoint => steps::endpoint::apply(ctx).await,
        }
    }

    /// Inspect, apply what is missing, verify.
    pub async fn run(self, ctx: &mut Context<'_>) -> Result<Outcome, StepError> {
        match self.inspect(ctx).await? {
            Found::Done(what) => Ok(Outcome::AlreadyDone(what)),
            Found::Blocked(why) => Ok(Outcome::Blocked(why)),
            Found::Missing(what) => {
                tracing::info!(step = self.name(), database = %ctx.database, %what, "applying");
                self.apply(ctx).await?;
                match self.inspect(ctx).await? {
                    Found::Done(what) => Ok(Outcome::Applied(what)),
                    // Applied what it could; the rest needs the operator.
                    Found::Blocked(why) => Ok(Outcome::Blocked(why)),
                    found => Err(StepError::NotVerified {
                        step: self.name(),
                        found,
                    }),
                }
            }
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
