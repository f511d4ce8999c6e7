//! Use cases: what an operator (or a schedule) asks of the control plane, validated,
//! decided with the domain, written through the store, audited. The gRPC handlers
//! (`api`) and the server's schedules call them; they return [`ServiceError`], which
//! the API maps to a status in one place.
//!
//! - [`lookup`]: hosts and targets as operators name them.
//! - [`assessment`]: starting assessment runs, on demand and on the schedule.
//! - [`migration`]: starting a migration (pre-flight, idempotent per database).
//! - [`rollups`]: a run's whole-run report figures, kept while no report arrives.

pub mod assessment;
pub mod lookup;
pub mod migration;
pub mod rollups;

use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// A request field is wrong: which, and how to fix it.
    #[error("field `{field}`: {problem}")]
    InvalidArgument {
        field: &'static str,
        problem: String,
    },
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    AlreadyExists(String),
    /// Refused in the state things are in; the message says what to do first.
    #[error("{0}")]
    FailedPrecondition(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl ServiceError {
    pub fn invalid(field: &'static str, problem: impl Into<String>) -> Self {
        ServiceError::InvalidArgument {
            field,
            problem: problem.into(),
        }
    }
}
