//! Thin gRPC handlers: authenticate the peer from its certificate, convert wire types
//! to domain types (a missing or bad field is `invalid_argument` naming the field), call
//! the store or fleet logic, and map errors to `tonic::Status` in exactly one place
//! ([`ApiError`]'s `From` impl).
//!
//! - [`enrollment`]: token + CSR -> client certificate (no client certificate yet).
//! - [`agent`]: certificate renewal and the agent session (mTLS).
//! - [`operator`]: the operator API behind the `ferry` CLI (mTLS, roles).
//! - [`assessment`]: the operator API's assessment runs, reports and findings.
//! - [`sizing`]: the SKU recommendation.
//! - [`targets`]: target managed instances, read through ARM.
//! - [`connection_test`]: connection tests from hosts toward a target.
//! - [`migration`]: migrations: start (pre-flight, idempotent), list, show, retry.
//! - [`cutover`]: cutovers: start, approve, cancel before the failover.
//! - [`plan`]: plans and waves: apply, show, approve, pause, resume.
//! - [`operators`]: operators' own certificates: renew, list, revoke.
//! - [`limits`]: the bounds on every string and list sent in (docs/reference/limits.md).
//! - [`paging`]: page sizes and page tokens of the list RPCs.
//! - [`roles`]: every operator RPC and the least role it needs, in one table.
//! - [`convert`]: wire <-> domain conversions ([`convert_assessment`] for assessments,
//!   [`convert_load`] for load windows, [`convert_migration`] for link steps).

pub mod agent;
pub mod assessment;
pub mod connection_test;
pub mod convert;
pub mod convert_assessment;
pub mod convert_load;
pub mod convert_migration;
pub mod cutover;
pub mod enrollment;
pub mod limits;
pub mod migration;
pub mod operator;
pub mod operators;
pub mod paging;
pub mod plan;
pub mod roles;
pub mod sizing;
pub mod targets;

use tonic::{Request, Status};

use crate::context::Context;
use crate::fleet::ca::CsrIssueError;
use crate::fleet::identity::{AgentId, Held, Peer};
use crate::service::ServiceError;
use crate::store::agents::AgentRecord;
use crate::store::operators::OperatorRecord;
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("field `{field}`: {problem}")]
    InvalidArgument {
        field: &'static str,
        problem: String,
    },
    #[error("{0}")]
    Unauthenticated(String),
    #[error("{0}")]
    PermissionDenied(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    AlreadyExists(String),
    #[error("{0}")]
    FailedPrecondition(String),
    #[error("internal error: {0}")]
    Internal(String),
}

impl ApiError {
    pub fn invalid(field: &'static str, problem: impl Into<String>) -> Self {
        ApiError::InvalidArgument {
            field,
            problem: problem.into(),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        tracing::error!(error = %e, "store operation failed");
        ApiError::Internal("the control plane's store failed; see its log".into())
    }
}

impl From<ServiceError> for ApiError {
    fn from(e: ServiceError) -> Self {
        match e {
            ServiceError::InvalidArgument { field, problem } => {
                ApiError::InvalidArgument { field, problem }
            }
            ServiceError::NotFound(m) => ApiError::NotFound(m),
            ServiceError::AlreadyExists(m) => ApiError::AlreadyExists(m),
            ServiceError::FailedPrecondition(m) => ApiError::FailedPrecondition(m),
            ServiceError::Store(e) => e.into(),
        }
    }
}

impl From<ServiceError> for Status {
    fn from(e: ServiceError) -> Self {
        ApiError::from(e).into()
    }
}

impl From<CsrIssueError> for ApiError {
    fn from(e: CsrIssueError) -> Self {
        match e {
            CsrIssueError::Csr(e) => ApiError::invalid("csr_der", e.to_string()),
            CsrIssueError::Generate(e) => {
                ApiError::Internal(format!("signing the certificate failed: {e}"))
            }
        }
    }
}

impl From<ApiError> for Status {
    fn from(e: ApiError) -> Self {
        let message = e.to_string();
        match e {
            ApiError::InvalidArgument { .. } => Status::invalid_argument(message),
            ApiError::Unauthenticated(_) => Status::unauthenticated(message),
            ApiError::PermissionDenied(_) => Status::permission_denied(message),
            ApiError::NotFound(_) => Status::not_found(message),
            ApiError::AlreadyExists(_) => Status::already_exists(message),
            ApiError::FailedPrecondition(_) => Status::failed_precondition(message),
            ApiError::Internal(_) => Status::internal(message),
        }
    }
}

/// The verified client certificate (DER), if any.
pub(crate) fn leaf<T>(request: &Request<T>) -> Result<Vec<u8>, ApiError> {
    let certs = request.peer_certs().unwrap_or_default();
    certs.first().map(|c| c.to_vec()).ok_or_else(|| {
        ApiError::Unauthenticated("a client certificate is required for this call".into())
    })
}

/// The identity in the verified client certificate, if any.
pub fn peer<T>(request: &Request<T>) -> Result<Peer, ApiError> {
    Peer::from_certificate(&leaf(request)?).map_err(|e| ApiError::Unauthenticated(e.to_string()))
}

/// The calling agent's record and which of its certificates it presented; it must be
/// enrolled, not revoked, and present its current certificate or, until it first uses
/// the current one, the one before its last renewal.
pub async fn authenticate_agent<T>(
    shared: &Context,
    request: &Request<T>,
) -> Result<(AgentRecord, Held), ApiError> {
    let der = leaf(request)?;
    let Peer::Agent(id) =
        Peer::from_certificate(&der).map_err(|e| ApiError::Unauthenticated(e.to_string()))?
    else {
        return Err(ApiError::PermissionDenied(
            "this call is for agents; operator certificates cannot make it".into(),
        ));
    };
    let serial =
        Peer::certificate_serial(&der).map_err(|e| ApiError::Unauthenticated(e.to_string()))?;
    let (agent, held) = agent_holding(shared, id, &serial).await?;
    if held == Held::Current && agent.previous_cert_serial.is_some() {
        shared.store.confirm_renewal(id, &agent.cert_serial).await?;
    }
    Ok((agent, held))
}

/// Agent `id`'s record, if it is enrolled, not revoked, and `serial` is its current
/// certificate or, until it first uses that one, the one before its last renewal.
pub async fn agent_holding(
    shared: &Context,
    id: AgentId,
    serial: &str,
) -> Result<(AgentRecord, Held), ApiError> {
    let agent = match shared.store.get_agent(id).await? {
        None => {
            return Err(ApiError::Unauthenticated(format!(
                "agent {id} is not registered with this control plane"
            )))
        }
        Some(agent) if agent.revoked_at_ms.is_some() => {
            return Err(ApiError::PermissionDenied(format!(
                "agent {id} has been revoked ({}); enroll again with a new token",
                agent.revoked_reason
            )))
        }
        Some(agent) => agent,
    };
    let held = agent.holds(serial).ok_or_else(|| {
        ApiError::Unauthenticated(format!(
            "agent {id}'s certificate {serial} was replaced by a renewal; only the newest works"
        ))
    })?;
    Ok((agent, held))
}

/// The calling operator, whose role must allow `rpc`, whose certificate must be the
/// one on record (or the one before its renewal, until the new one is used), and who
/// must not be revoked. Returns the actor name recorded in the audit log.
pub async fn authorize_operator<T>(
    shared: &Context,
    request: &Request<T>,
    rpc: roles::Rpc,
) -> Result<String, ApiError> {
    Ok(format!(
        "operator/{}",
        operator_holding(shared, request, rpc).await?.0.name
    ))
}

/// The calling operator's record and which of its certificates it presented, as
/// `authorize_operator` checks them.
pub async fn operator_holding<T>(
    shared: &Context,
    request: &Request<T>,
    rpc: roles::Rpc,
) -> Result<(OperatorRecord, Held), ApiError> {
    let der = leaf(request)?;
    let required = rpc.role();
    let (name, role) =
        match Peer::from_certificate(&der).map_err(|e| ApiError::Unauthenticated(e.to_string()))? {
            Peer::Operator { name, role } => (name, role),
            Peer::Agent(_) => {
                return Err(ApiError::PermissionDenied(
                    "agents cannot call the operator API".into(),
                ))
            }
        };
    if !role.allows(required) {
        return Err(ApiError::PermissionDenied(format!(
            "operator {name:?} has role {}, and {} needs {}",
            role.as_str(),
            rpc.name(),
            required.as_str()
        )));
    }
    let serial =
        Peer::certificate_serial(&der).map_err(|e| ApiError::Unauthenticated(e.to_string()))?;
    let operator = match shared.store.get_operator(&name).await? {
        None => {
            return Err(ApiError::Unauthenticated(format!(
                "operator {name:?} is not on record: issue the certificate again (ferry-control issue-operator)"
            )))
        }
        Some(operator) if operator.revoked_at_ms.is_some() => {
            return Err(ApiError::PermissionDenied(format!(
                "operator {name:?} has been revoked ({})",
                operator.revoked_reason
            )))
        }
        Some(operator) => operator,
    };
    let held = match operator.holds(&serial) {
        Some(held) if operator.role == role => held,
        _ => {
            return Err(ApiError::Unauthenticated(format!(
                "operator {name:?}'s certificate {serial} was replaced (renewed or issued again); use the newest"
            )))
        }
    };
    if held == Held::Current && operator.previous_cert_serial.is_some() {
        shared
            .store
            .confirm_operator_renewal(&name, &operator.cert_serial)
            .await?;
    }
    Ok((operator, held))
}
