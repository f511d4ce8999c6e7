//! The operator API's migrations: start one (the database and target checked, the
//! pre-flight passed, idempotent per database), list them, show one with its steps,
//! and retry a failed one. The driver (`migration::driver`) does the work.

use ferry_proto::clock::now_ms;
use ferry_proto::operator::v1 as op;

use super::{paging, ApiError, Context};
use crate::migration::journal::{self, Side};
use crate::migration::{State, StepState};
use crate::service;
use crate::store::migrations::{Change, MigrationRecord, StepRecord};

pub async fn start(
    shared: &Context,
    actor: &str,
    request: op::StartMigrationRequest,
) -> Result<op::StartMigrationResponse, ApiError> {
    let ask = service::migration::StartAsk {
        host: request.host,
        instance: request.instance,
        database: request.database,
        target: request.target,
        link_name: request.link_name,
        allow_recovery_change: request.allow_recovery_change,
        allow_endpoint_change: request.allow_endpoint_change,
        accept_warnings: request.accept_warnings,
    };
    let started = service::migration::start(shared, actor, ask).await?;
    Ok(op::StartMigrationResponse {
        migration: Some(get(shared, &started.id).await?),
        created: started.created,
    })
}

pub async fn list(
    shared: &Context,
    request: op::ListMigrationsRequest,
) -> Result<op::Migrations, ApiError> {
    let state = match request.state.as_str() {
        "" => None,
        text => Some(State::parse(text).ok_or_else(|| {
            let states: Vec<&str> = State::ALL.iter().map(|s| s.as_str()).collect();
            ApiError::invalid("state", format!("one of {}", states.join(", ")))
        })?),
    };
    let size = paging::size(request.page_size);
    let after = match paging::key(&request.page_token, 2)? {
        None => None,
        Some(key) => Some((paging::field::<i64>(&key[0])?, key[1].clone())),
    };
    let page = shared
        .store
        .migrations_page(
            state,
            &request.host,
            after.as_ref().map(|(at, id)| (*at, id.as_str())),
            size,
        )
        .await?;
    let next_page_token = paging::next_token(&page, size, |m| {
        vec![m.created_at_ms.to_string(), m.id.clone()]
    });
    let migrations = page
        .into_iter()
        .map(|m| wire(m, Vec::new(), Vec::new()))
        .collect::<Result<_, _>>()?;
    Ok(op::Migrations {
        migrations,
        next_page_token,
    })
}

/// The migration `id`, or NotFound saying where to look.
pub(super) async fn found(shared: &Context, id: &str) -> Result<MigrationRecord, ApiError> {
    shared.store.migration(id).await?.ok_or_else(|| {
        ApiError::NotFound(format!(
            "no migration {id:?}: `ferry migrate ls` lists them"
        ))
    })
}

pub async fn get(shared: &Context, id: &str) -> Result<op::Migration, ApiError> {
    let m = found(shared, id).await?;
    let steps = shared.store.migration_steps(id).await?;
    // The gates matter until the failover begins.
    let failed_over = steps
        .iter()
        .rev()
        .find(|s| s.name == journal::FAILOVER)
        .is_some_and(|s| matches!(s.state, StepState::Running | StepState::Done));
    let gates = if m.state.is_linked() || (m.state == State::CuttingOver && !failed_over) {
        crate::reconcile::cutover_steps::gates(shared, &m, &steps, now_ms()).await?
    } else {
        Vec::new()
    };
    wire(m, steps, gates)
}

pub async fn retry(shared: &Context, actor: &str, id: &str) -> Result<op::Migration, ApiError> {
    let current = found(shared, id).await?;
    if !shared.store.retry_migration(id, actor, now_ms()).await? {
        return Err(ApiError::FailedPrecondition(format!(
            "migration {id} is {}, not failed: only a failed migration is retried",
            current.state.as_str()
        )));
    }
    tracing::info!(migration = %id, %actor, "migration retried");
    get(shared, id).await
}

fn wire(
    m: MigrationRecord,
    steps: Vec<StepRecord>,
    gates: Vec<crate::cutover::gates::Gate>,
) -> Result<op::Migration, ApiError> {
    let observation = m.observation()?;
    let sql_server = observation.as_ref().and_then(|o| {
        let observed_ms = o.sql_observed_ms;
        o.sql
            .clone()
            .map(|sql| super::convert_migration::sql_observation(sql, observed_ms))
    });
    let link = observation.map(|o| op::LinkObservation {
        observed_unix_ms: m.observed_at_ms.unwrap_or_default(),
        replica_state: o.replica_state,
        synchronization_health: o.synchronization_health,
        connected_state: o.connected_state,
        last_hardened_lsn: o.last_hardened_lsn,
        send_lag_seconds: o.send_lag_seconds.unwrap_or(-1),
        redo_lag_seconds: o.redo_lag_seconds.unwrap_or(-1),
        error: o.error,
        partner_certificate: o.partner_certificate,
        partner_certificate_expiry: o.partner_certificate_expiry,
        replication_mode: o.replication_mode,
        link_role: o.link_role,
    });
    Ok(op::Migration {
        id: m.id,
        host: m.host,
        instance: m.instance,
        database: m.database,
        target: m.target_key,
        link_name: m.link_name,
        state: m.state.as_str().into(),
        detail: m.detail,
        created_by: m.created_by,
        created_unix_ms: m.created_at_ms,
        updated_unix_ms: m.updated_at_ms,
        steps: steps
            .into_iter()
            .map(|s| op::MigrationStep {
                side: match journal::side(&s.name) {
                    Some(Side::Agent) => "sql server",
                    Some(Side::Arm) => "azure",
                    Some(Side::Control) => "control plane",
                    None => "unknown",
                }
                .into(),
                name: s.name,
                state: s.state.as_str().into(),
                detail: s.detail,
                already_done: s.already_done,
                attempts: s.attempts,
                started_unix_ms: s.started_at_ms.unwrap_or_default(),
                finished_unix_ms: s.finished_at_ms.unwrap_or_default(),
            })
            .collect(),
        accepted_warnings: m.options.accepted_warnings,
        link,
        sql_server,
        gates: gates
            .into_iter()
            .map(|g| op::Gate {
                name: g.name.to_string(),
                open: g.open,
                evidence: g.evidence,
                reason: g.reason,
                queued: g.queued,
            })
            .collect(),
    })
}

/// The certificates Ferry made for `m`'s link that no other live migration of its
/// instance to its target uses: (the MI's certificate on SQL Server, SQL Server's
/// certificate trusted by the MI).
pub(super) async fn certificates_owed(
    shared: &Context,
    m: &MigrationRecord,
) -> Result<(bool, bool), ApiError> {
    let related: Vec<MigrationRecord> = shared
        .store
        .migrations()
        .await?
        .into_iter()
        .filter(|o| {
            o.agent_id == m.agent_id && o.instance == m.instance && o.target_key == m.target_key
        })
        .collect();
    let in_use = related.iter().any(|o| {
        o.id != m.id
            && !matches!(
                o.state,
                State::Cancelled | State::Cancelling | State::Completed
            )
    });
    let mut made = std::collections::HashSet::new();
    for o in &related {
        for step in shared.store.migration_steps(&o.id).await? {
            if step.state == crate::migration::StepState::Done && !step.already_done {
                made.insert(step.name);
            }
        }
    }
    Ok((
        !in_use && made.contains("mi_certificate"),
        !in_use && made.contains(journal::UPLOAD_CERTIFICATE),
    ))
}

/// Cancels a migration: the teardown steps are journaled and the driver runs them.
/// The certificates are removed only when a migration of this instance to this target
/// made them (not found there before Ferry) and no other live one uses them.
pub async fn cancel(shared: &Context, actor: &str, id: &str) -> Result<op::Migration, ApiError> {
    let m = found(shared, id).await?;
    let (mi_certificate, trust_certificate) = certificates_owed(shared, &m).await?;
    let steps: Vec<&str> = journal::TEARDOWN
        .iter()
        .map(|(name, _)| *name)
        .filter(|name| match *name {
            journal::DROP_MI_CERTIFICATE => mi_certificate,
            journal::DELETE_TRUST_CERTIFICATE => trust_certificate,
            _ => true,
        })
        .collect();
    match shared
        .store
        .cancel_migration(id, &steps, actor, now_ms())
        .await?
    {
        Change::Made => {}
        Change::Unchanged => {
            return Err(ApiError::FailedPrecondition(format!(
                "migration {id} is {} already",
                m.state.as_str()
            )))
        }
        Change::Refused => {
            return Err(ApiError::FailedPrecondition(format!(
                "migration {id}'s cutover began its failover: the database may be the MI's now, so the link is not torn down; `ferry migrate show {id}` says where the cutover stands"
            )))
        }
    }
    tracing::info!(migration = %id, %actor, ?steps, "migration cancelled");
    get(shared, id).await
}
