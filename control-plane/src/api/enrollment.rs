//! The service for callers without a client certificate.
//!
//! `Enroll`: a one-time token and a CSR become a client certificate naming a new agent.
//! Every refusal happens before anything is stored, except the atomic "consume token +
//! register agent" transaction, which stores all or nothing.
//!
//! `RenewExpired`: an agent whose certificate expired proves its key
//! (`fleet::expired_renewal`) and gets a new certificate under the same id.
//!
//! Both are rate-limited per source address.

use std::sync::Arc;
use std::time::Duration;

use ferry_proto::agent::v1::{
    enrollment_server::Enrollment, EnrollRequest, EnrollResponse, RenewExpiredRequest,
    RenewResponse,
};
use ferry_proto::token::EnrollmentToken;
use tonic::{Request, Response, Status};
use uuid::Uuid;

use super::agent::issue_renewal;
use super::limits::MAX_VERSION_TEXT;
use super::{agent_holding, ApiError, Context};
use crate::fleet::enrollment::{secret_hash, validate_agent_name};
use crate::fleet::expired_renewal::{check_proof, read_certificate, Proof, RenewalRefusal};
use crate::fleet::identity::AgentId;
use crate::fleet::rate_limit::RateLimit;
use crate::store::agents::RenewalKind;
use crate::store::tokens::{EnrollError, NewAgent};
use ferry_proto::clock::now_ms;

pub struct EnrollmentService {
    shared: Arc<Context>,
    /// Attempts per source address (enrollment is the one call without a client
    /// certificate).
    limit: RateLimit,
}

impl EnrollmentService {
    pub fn new(shared: Arc<Context>) -> EnrollmentService {
        let limit = RateLimit::per_minute(shared.config.enrollment.attempts_per_minute);
        EnrollmentService { shared, limit }
    }
}

impl EnrollmentService {
    /// Refuses a source that has used up its attempts.
    fn admit<T>(&self, request: &Request<T>) -> Result<(), Status> {
        let Some(source) = request.remote_addr() else {
            return Ok(());
        };
        self.limit
            .admit(source.ip(), std::time::Instant::now())
            .map_err(|wait| {
                self.shared.metrics.enrollment("limited");
                Status::resource_exhausted(format!(
                    "too many enrollment attempts from {}: try again in {} s (enrollment.attempts_per_minute)",
                    source.ip(),
                    wait.as_secs() + 1
                ))
            })
    }
}

#[tonic::async_trait]
impl Enrollment for EnrollmentService {
    async fn enroll(
        &self,
        request: Request<EnrollRequest>,
    ) -> Result<Response<EnrollResponse>, Status> {
        self.admit(&request)?;
        let outcome = enroll(&self.shared, request.into_inner()).await;
        self.shared.metrics.enrollment(if outcome.is_ok() {
            "enrolled"
        } else {
            "refused"
        });
        Ok(Response::new(outcome?))
    }

    async fn renew_expired(
        &self,
        request: Request<RenewExpiredRequest>,
    ) -> Result<Response<RenewResponse>, Status> {
        self.admit(&request)?;
        let outcome = renew_expired(&self.shared, request.into_inner()).await;
        if let Err(e) = &outcome {
            tracing::warn!(error = %e, "renewal of an expired certificate refused");
        }
        Ok(Response::new(outcome?))
    }
}

async fn renew_expired(
    shared: &Context,
    request: RenewExpiredRequest,
) -> Result<RenewResponse, ApiError> {
    let grace = Duration::from_secs(shared.config.certificates.expired_renewal_grace_secs);
    if grace.is_zero() {
        return Err(ApiError::PermissionDenied(
            "renewal after expiry is turned off (certificates.expired_renewal_grace_secs = 0): enroll this host again".into(),
        ));
    }
    if request.csr_der.is_empty() {
        return Err(ApiError::invalid("csr_der", "missing"));
    }
    let refused = |e: RenewalRefusal| ApiError::Unauthenticated(e.to_string());
    let presented = read_certificate(&shared.ca, &request.certificate_pem).map_err(refused)?;
    let proof = Proof {
        csr_der: &request.csr_der,
        signed_at_ms: request.signed_at_unix_ms,
        signature: &request.signature,
    };
    check_proof(&presented, &proof, now_ms(), grace).map_err(refused)?;
    let (record, held) = agent_holding(shared, presented.agent, &presented.serial).await?;
    let stored = record.serial(held).to_string();
    issue_renewal(
        shared,
        &record,
        &stored,
        &request.csr_der,
        RenewalKind::AfterExpiry,
    )
    .await
}

async fn enroll(shared: &Context, request: EnrollRequest) -> Result<EnrollResponse, ApiError> {
    let token = EnrollmentToken::parse(&request.token)
        .map_err(|e| ApiError::invalid("token", e.to_string()))?;
    validate_agent_name(&request.agent_name).map_err(|p| ApiError::invalid("agent_name", p))?;
    if request.csr_der.is_empty() {
        return Err(ApiError::invalid("csr_der", "missing"));
    }
    if token.ca_fingerprint != shared.ca.fingerprint() {
        return Err(ApiError::Unauthenticated(
            "the token was issued by another control plane (its CA fingerprint differs)".into(),
        ));
    }
    let hash = secret_hash(&token);
    let now = now_ms();
    if let Err(rejection) = shared.store.check_token(&token.id, &hash, now).await? {
        tracing::warn!(token = %token.id, %rejection, "enrollment refused");
        return Err(ApiError::Unauthenticated(rejection.to_string()));
    }
    let id = AgentId(Uuid::new_v4());
    let ttl = Duration::from_secs(shared.config.certificates.agent_ttl_secs);
    let issued = shared
        .ca
        .issue_agent(&request.csr_der, &request.agent_name, id, ttl)?;
    let agent = NewAgent {
        id,
        name: request.agent_name.clone(),
        agent_version: request
            .agent_version
            .chars()
            .take(MAX_VERSION_TEXT)
            .collect(),
        cert_serial: issued.serial.clone(),
        cert_not_after_ms: issued.not_after_ms,
    };
    shared
        .store
        .enroll_agent(&token.id, &hash, &agent, now)
        .await
        .map_err(|e| match e {
            EnrollError::Token(rejection) => ApiError::Unauthenticated(rejection.to_string()),
            EnrollError::NameTaken(_) => ApiError::AlreadyExists(e.to_string()),
            EnrollError::Store(e) => e.into(),
        })?;
    tracing::info!(agent = %id, name = %request.agent_name, "agent enrolled");
    Ok(EnrollResponse {
        agent_id: id.to_string(),
        certificate_pem: issued.cert_pem,
        ca_certificate_pem: shared.ca.cert_pem().to_string(),
        not_after_unix_ms: issued.not_after_ms,
    })
}
