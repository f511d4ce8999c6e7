//! Operators themselves: an operator renews their own certificate; admins list and
//! revoke operators. (Issuing one is `ferry-control issue-operator`, on the control
//! plane's host.)

use std::time::Duration;

use ferry_proto::operator::v1 as op;
use tonic::Request;

use super::limits::MAX_REVOKE_REASON;
use super::roles::Rpc;
use super::{authorize_operator, leaf, operator_holding, paging, ApiError, Context};
use crate::fleet::enrollment::validate_agent_name;
use crate::fleet::identity::read_certificate;
use crate::store::operators::{OperatorCertificate, OperatorRecord};
use ferry_proto::clock::now_ms;

/// Signs the caller's CSR: same name and role, for as long as the certificate it
/// replaces lasted (at most `certificates.operator_ttl_secs`), so a short certificate
/// issued for a short job stays short.
pub async fn renew(
    shared: &Context,
    request: Request<op::RenewOperatorCertificateRequest>,
) -> Result<op::OperatorCertificate, ApiError> {
    let (operator, held) =
        operator_holding(shared, &request, Rpc::RenewOperatorCertificate).await?;
    let presented =
        read_certificate(&leaf(&request)?).map_err(|e| ApiError::Unauthenticated(e.to_string()))?;
    let csr_der = request.into_inner().csr_der;
    if csr_der.is_empty() {
        return Err(ApiError::invalid("csr_der", "missing"));
    }
    let lifetime_ms = presented
        .not_after_ms
        .saturating_sub(presented.not_before_ms)
        .max(1000);
    let ttl = Duration::from_secs(shared.config.certificates.operator_ttl_secs)
        .min(Duration::from_millis(lifetime_ms as u64));
    let issued = shared
        .ca
        .issue_operator_csr(&csr_der, &operator.name, operator.role, ttl)?;
    let renewed = OperatorCertificate {
        name: &operator.name,
        role: operator.role,
        serial: &issued.serial,
        not_after_ms: issued.not_after_ms,
    };
    if !shared
        .store
        .record_operator_renewal(&renewed, operator.serial(held), now_ms())
        .await?
    {
        return Err(ApiError::PermissionDenied(format!(
            "operator {:?} was revoked or issued again meanwhile",
            operator.name
        )));
    }
    Ok(op::OperatorCertificate {
        certificate_pem: issued.cert_pem,
        not_after_unix_ms: issued.not_after_ms,
    })
}

pub async fn list(
    shared: &Context,
    request: Request<op::ListOperatorsRequest>,
) -> Result<op::Operators, ApiError> {
    authorize_operator(shared, &request, Rpc::ListOperators).await?;
    let request = request.into_inner();
    let size = paging::size(request.page_size);
    let after = paging::key(&request.page_token, 1)?
        .map(|key| key[0].clone())
        .unwrap_or_default();
    let operators = shared.store.list_operators(&after, size).await?;
    Ok(op::Operators {
        next_page_token: paging::next_token(&operators, size, |o| vec![o.name.clone()]),
        operators: operators.into_iter().map(to_wire).collect(),
    })
}

pub async fn revoke(
    shared: &Context,
    request: Request<op::RevokeOperatorRequest>,
) -> Result<op::OperatorInfo, ApiError> {
    let actor = authorize_operator(shared, &request, Rpc::RevokeOperator).await?;
    let request = request.into_inner();
    validate_agent_name(&request.name).map_err(|p| ApiError::invalid("name", p))?;
    if request.reason.trim().is_empty() || request.reason.len() > MAX_REVOKE_REASON {
        return Err(ApiError::invalid(
            "reason",
            format!("say why, in 1 to {MAX_REVOKE_REASON} bytes"),
        ));
    }
    if actor == format!("operator/{}", request.name) {
        return Err(ApiError::FailedPrecondition(
            "an admin cannot revoke themselves: another admin must".into(),
        ));
    }
    if !shared
        .store
        .revoke_operator(&request.name, &request.reason, &actor, now_ms())
        .await?
    {
        return Err(match shared.store.get_operator(&request.name).await? {
            None => ApiError::NotFound(format!("no operator named {:?}", request.name)),
            Some(_) => ApiError::FailedPrecondition(format!(
                "operator {:?} is already revoked",
                request.name
            )),
        });
    }
    let revoked = shared
        .store
        .get_operator(&request.name)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no operator named {:?}", request.name)))?;
    Ok(to_wire(revoked))
}

fn to_wire(operator: OperatorRecord) -> op::OperatorInfo {
    op::OperatorInfo {
        name: operator.name,
        role: operator.role.as_str().to_string(),
        certificate_serial: operator.cert_serial,
        certificate_not_after_unix_ms: operator.cert_not_after_ms,
        issued_unix_ms: operator.issued_at_ms,
        revoked_unix_ms: operator.revoked_at_ms.unwrap_or(0),
        revoked_reason: operator.revoked_reason,
    }
}
