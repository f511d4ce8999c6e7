//! The operator API's targets: a managed instance is read through ARM, checked, and
//! stored with what ARM said; ARM's errors keep Azure's code and words.

use ferry_proto::operator::v1 as op;

use super::{paging, ApiError, Context};
use crate::azure::{ArmError, ManagedInstanceId};
use crate::store::targets::TargetRecord;
use ferry_proto::clock::now_ms;

fn resource_id(text: &str) -> Result<ManagedInstanceId, ApiError> {
    ManagedInstanceId::parse(text).map_err(|e| ApiError::invalid("resource_id", e))
}

pub async fn add_target(
    shared: &Context,
    request: op::AddTargetRequest,
    actor: &str,
) -> Result<op::Target, ApiError> {
    let id = resource_id(&request.resource_id)?;
    let mi = shared
        .arm
        .managed_instance(&id)
        .await
        .map_err(|e| arm_error(&id, e))?;
    if let Some(why) = mi.unusable() {
        return Err(ApiError::FailedPrecondition(format!(
            "{id} cannot be a link target now: {why}"
        )));
    }
    let now = now_ms();
    let created = shared
        .store
        .put_target(&mi, actor, now)
        .await
        .map_err(ApiError::from)?;
    let stored = shared
        .store
        .target(&id)
        .await
        .map_err(ApiError::from)?
        .ok_or_else(|| ApiError::Internal(format!("{id} was stored but cannot be read")))?;
    Ok(op::Target {
        created,
        ..target(&stored)
    })
}

pub async fn list_targets(
    shared: &Context,
    request: op::ListTargetsRequest,
) -> Result<op::ListTargetsResponse, ApiError> {
    let size = paging::size(request.page_size);
    let after = paging::key(&request.page_token, 1)?
        .map(|key| key[0].clone())
        .unwrap_or_default();
    let targets = shared
        .store
        .targets_page(&after, i64::from(size))
        .await
        .map_err(ApiError::from)?;
    Ok(op::ListTargetsResponse {
        next_page_token: paging::next_token(&targets, size, |t| vec![t.instance.id.to_string()]),
        targets: targets.iter().map(target).collect(),
    })
}

pub async fn remove_target(
    shared: &Context,
    request: op::RemoveTargetRequest,
    actor: &str,
) -> Result<op::RemoveTargetResponse, ApiError> {
    let id = resource_id(&request.resource_id)?;
    if !shared
        .store
        .remove_target(&id, actor, now_ms())
        .await
        .map_err(ApiError::from)?
    {
        return Err(ApiError::NotFound(format!("{id} is not a target")));
    }
    Ok(op::RemoveTargetResponse {})
}

/// ARM's answer as the operator should read it: what failed, Azure's code and words.
fn arm_error(id: &ManagedInstanceId, error: ArmError) -> ApiError {
    match error {
        ArmError::NotConfigured => ApiError::FailedPrecondition(error.to_string()),
        ArmError::Azure { status: 404, .. } => ApiError::NotFound(format!(
            "{id}: {error} (check the subscription, resource group and name)"
        )),
        ArmError::Azure {
            status: 401 | 403, ..
        } => ApiError::PermissionDenied(format!(
            "{id}: {error} (the control plane's identity needs a role such as SQL Managed Instance Contributor on it)"
        )),
        ArmError::Credential(_) => ApiError::FailedPrecondition(format!(
            "{error} (check [azure] credential, tenant_id, client_id and the secret)"
        )),
        _ => ApiError::FailedPrecondition(format!("{id}: {error}")),
    }
}

fn target(record: &TargetRecord) -> op::Target {
    let mi = &record.instance;
    op::Target {
        resource_id: mi.id.to_string(),
        name: mi.id.name.clone(),
        location: mi.location.clone(),
        tier: mi.tier.clone(),
        family: mi.family.clone(),
        vcores: mi.vcores,
        storage_gb: mi.storage_gb,
        fqdn: mi.fqdn.clone(),
        collation: mi.collation.clone(),
        update_policy: mi.update_policy.clone(),
        state: mi.state.clone(),
        added_by: record.added_by.clone(),
        added_unix_ms: record.added_at_ms,
        refreshed_unix_ms: record.refreshed_at_ms,
        created: false,
    }
}
