//! The operator API's cutovers: start one (`ferry cutover ID`), cancel one before its
//! failover (`ferry cutover cancel ID`). The driver runs the steps.

use ferry_proto::clock::now_ms;
use ferry_proto::operator::v1 as op;

use super::migration::{found, get};
use super::{ApiError, Shared};
use crate::cutover::Intent;
use crate::store::migrations::Change;

pub async fn start(
    shared: &Shared,
    actor: &str,
    request: op::StartCutoverRequest,
) -> Result<op::Migration, ApiError> {
    let id = request.id.trim();
    if id.is_empty() {
        return Err(ApiError::invalid(
            "id",
            "name the migration to cut over (`ferry migrate ls` lists them)",
        ));
    }
    let m = found(shared, id).await?;
    if let Some(why) = shared.config.cutover.unusable() {
        return Err(ApiError::FailedPrecondition(why));
    }
    let now = now_ms();
    let intent = Intent {
        requested_by: actor.into(),
        requested_at_ms: now,
        traffic_stopped_confirmed: request.confirm_traffic_stopped,
    };
    let json = serde_json::to_string(&intent).map_err(|e| ApiError::Internal(e.to_string()))?;
    match shared.store.start_cutover(id, &json, actor, now).await? {
        Change::Made => {
            tracing::info!(migration = %id, %actor, confirmed = request.confirm_traffic_stopped, "cutover started");
            get(shared, id).await
        }
        _ => Err(ApiError::FailedPrecondition(format!(
            "migration {id} is {}: only a linked migration (seeding, catching up, synchronizing, ready for cutover or stalled) is cut over{}",
            m.state.as_str(),
            if m.state == crate::migration::State::Failed {
                "; `ferry migrate retry` resumes a failed one where it stopped"
            } else {
                ""
            }
        ))),
    }
}

pub async fn cancel(shared: &Shared, actor: &str, id: &str) -> Result<op::Migration, ApiError> {
    let m = found(shared, id).await?;
    match shared.store.cancel_cutover(id, actor, now_ms()).await? {
        Change::Made => {
            tracing::info!(migration = %id, %actor, "cutover cancelled");
            get(shared, id).await
        }
        Change::Unchanged => Err(ApiError::FailedPrecondition(format!(
            "migration {id} is {} with no cutover to cancel",
            m.state.as_str()
        ))),
        Change::Refused => Err(ApiError::FailedPrecondition(format!(
            "migration {id}'s failover began: a cutover cannot be cancelled after it (the MI may own the database); `ferry migrate show {id}` says where it stands"
        ))),
    }
}
