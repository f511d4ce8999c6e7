//! The operator API's cutovers: start one (`ferry cutover ID`), approve one (`ferry
//! cutover approve ID`), cancel one before its failover (`ferry cutover cancel ID`).
//! The driver runs the steps.

use ferry_proto::clock::now_ms;
use ferry_proto::operator::v1 as op;

use super::limits::MAX_FORCE_REASON;
use super::migration::{found, get};
use super::{ApiError, Context};
use crate::cutover::Intent;
use crate::migration::State;
use crate::store::audit::AuditEvent;
use crate::store::migrations::Change;

pub async fn start(
    shared: &Context,
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
    let reason = request.reason.trim();
    if request.allow_data_loss && reason.is_empty() {
        return Err(ApiError::invalid(
            "reason",
            "a forced failover loses data: say why (--reason \"...\"), for the audit log",
        ));
    }
    if !request.allow_data_loss && !reason.is_empty() {
        return Err(ApiError::invalid(
            "reason",
            "a reason goes with allow_data_loss (a forced failover) only",
        ));
    }
    if request.keep_link && (request.allow_data_loss || request.drop_sql_objects) {
        return Err(ApiError::invalid(
            "keep_link",
            "a kept link leaves everything in place: not with allow_data_loss or drop_sql_objects",
        ));
    }
    if request.keep_link {
        let major = shared
            .store
            .list_instances(m.agent_id)
            .await?
            .into_iter()
            .find(|i| i.name.eq_ignore_ascii_case(&m.instance))
            .map_or(0, |i| i.major_version);
        if major < 16 {
            let version = match major {
                0 => "of unknown version".to_string(),
                n => format!("major version {n}"),
            };
            return Err(ApiError::invalid(
                "keep_link",
                format!("SQL Server {version} ({}): the failover breaks the link before SQL Server 2022 (mi-link.md §4.1), so it cannot be kept", m.instance),
            ));
        }
    }
    if reason.len() > MAX_FORCE_REASON {
        return Err(ApiError::invalid(
            "reason",
            format!("longer than {MAX_FORCE_REASON} bytes"),
        ));
    }
    let intent = Intent {
        requested_by: actor.into(),
        requested_at_ms: now,
        traffic_stopped_confirmed: request.confirm_traffic_stopped,
        window: window(&request.window_start, &request.window_end, now)?,
        allow_data_loss: request.allow_data_loss,
        reason: reason.into(),
        trace_context: ferry_proto::telemetry::to_map(),
        keep_link: request.keep_link,
        drop_sql_objects: request.drop_sql_objects,
    };
    let json = serde_json::to_string(&intent).map_err(|e| ApiError::Internal(e.to_string()))?;
    if intent.allow_data_loss {
        let running = m.intent()?.unwrap_or_default();
        if m.state == State::CuttingOver && running.allow_data_loss {
            return Err(ApiError::FailedPrecondition(format!(
                "a forced cutover of migration {id} runs already: `ferry cutover approve {id}` approves it"
            )));
        }
        return force(shared, (id, m.state), &json, actor, now).await;
    }
    let (mi_certificate, _) = super::migration::certificates_owed(shared, &m).await?;
    let steps = intent.steps(mi_certificate);
    match shared
        .store
        .start_cutover((id, &json), &steps, actor, now)
        .await?
    {
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

/// The cutover of every member of wave `name` that is not cut over, cutting over or
/// cancelled already; audited once (`wave.cutover`, with what started and what not).
pub async fn start_wave(
    shared: &Context,
    actor: &str,
    request: op::StartWaveCutoverRequest,
) -> Result<op::WaveCutover, ApiError> {
    let name = request.wave.trim();
    let Some(wave) = shared.store.wave(name).await? else {
        return Err(ApiError::NotFound(format!(
            "no wave {name:?}: `ferry plan show` lists them"
        )));
    };
    let mut answer = op::WaveCutover::default();
    for id in &wave.wave.migrations {
        let m = found(shared, id).await?;
        if matches!(
            m.state,
            State::Completed | State::CuttingOver | State::Cancelled
        ) {
            continue;
        }
        let one = op::StartCutoverRequest {
            id: id.clone(),
            confirm_traffic_stopped: request.confirm_traffic_stopped,
            ..Default::default()
        };
        match start(shared, actor, one).await {
            Ok(m) => answer.started.push(m),
            Err(e) => answer.refused.push(format!("{id}: {e}")),
        }
    }
    let detail = serde_json::json!({
        "started": answer.started.iter().map(|m| &m.id).collect::<Vec<_>>(),
        "refused": answer.refused,
        "confirm_traffic_stopped": request.confirm_traffic_stopped,
    });
    shared
        .store
        .record_audit(&AuditEvent {
            at_ms: now_ms(),
            actor: actor.into(),
            action: "wave.cutover".into(),
            target: format!("wave/{name}"),
            detail: detail.to_string(),
        })
        .await?;
    Ok(answer)
}

/// A forced cutover: from a linked migration, or a planned cutover whose failover has
/// not begun.
async fn force(
    shared: &Context,
    (id, state): (&str, State),
    intent: &str,
    actor: &str,
    now: i64,
) -> Result<op::Migration, ApiError> {
    match shared.store.force_cutover(id, intent, actor, now).await? {
        Change::Made => {
            tracing::warn!(migration = %id, %actor, "forced cutover started: data loss allowed");
            get(shared, id).await
        }
        Change::Unchanged => Err(ApiError::FailedPrecondition(format!(
            "migration {id} is {}: a forced cutover needs its link made (create_link done), no step running and no cancel under way; `ferry migrate show {id}` says where it stands",
            state.as_str()
        ))),
        Change::Refused => Err(ApiError::FailedPrecondition(format!(
            "migration {id}'s failover began already: `ferry migrate show {id}` says where it stands"
        ))),
    }
}

/// The maintenance window from its RFC 3339 ends (with their UTC offsets): both or
/// neither, the end after the start and still ahead.
fn window(start: &str, end: &str, now_ms: i64) -> Result<Option<(i64, i64)>, ApiError> {
    let at = |field: &'static str, text: &str| {
        crate::rfc3339::parse_ms(text).map_err(|e| ApiError::invalid(field, format!("{text:?} is not an RFC 3339 time with its offset, e.g. 2026-12-05T22:00:00+01:00: {e}")))
    };
    match (start.trim(), end.trim()) {
        ("", "") => Ok(None),
        ("", _) | (_, "") => Err(ApiError::invalid(
            "window_start / window_end",
            "give both ends of the maintenance window, or neither",
        )),
        (start, end) => {
            let (start, end) = (at("window_start", start)?, at("window_end", end)?);
            if end <= start || end <= now_ms {
                return Err(ApiError::invalid(
                    "window_end",
                    "must be after the window's start and still ahead",
                ));
            }
            Ok(Some((start, end)))
        }
    }
}

/// An approver's approval of the cutover running for migration `id`.
pub async fn approve(shared: &Context, actor: &str, id: &str) -> Result<op::Migration, ApiError> {
    let m = found(shared, id).await?;
    let intent = m.intent()?.unwrap_or_default();
    match shared
        .store
        .approve_cutover((id, intent.requested_at_ms), actor, now_ms())
        .await?
    {
        Change::Made => {
            tracing::info!(migration = %id, %actor, "cutover approved");
            get(shared, id).await
        }
        _ => Err(ApiError::FailedPrecondition(format!(
            "migration {id} is {}: only a running cutover is approved, once per approver",
            m.state.as_str()
        ))),
    }
}

pub async fn cancel(shared: &Context, actor: &str, id: &str) -> Result<op::Migration, ApiError> {
    let m = found(shared, id).await?;
    if let Some(group) = shared.store.group_of(id).await? {
        let members = shared.store.member_progress(&group).await?;
        if let Some(gone) = members.iter().find(|x| x.id != id && x.failover_begun) {
            return Err(ApiError::FailedPrecondition(format!(
                "{} on {} ({}) failed over already, and group {} cuts over all or none: {id}'s cutover goes on (`ferry migrate show {id}` says what it waits for)",
                gone.database, gone.host, gone.id, group.name
            )));
        }
    }
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
