//! The operator API's migrations: start one (the database and target checked, the
//! pre-flight passed, idempotent per database), list them, show one with its steps,
//! and retry a failed one. The driver (`migration::driver`) does the work.

use ferry_proto::clock::now_ms;
use ferry_proto::link_names::default_link;
use ferry_proto::operator::v1 as op;

use super::connection::find_target;
use super::{ApiError, Context};
use crate::assess::{CheckStatus, Severity};
use crate::migration::observe::Observation;
use crate::migration::plan::{self, Side};
use crate::migration::preflight::{self, Gate};
use crate::migration::{Options, State, StepState};
use crate::store::inventory::InstanceRecord;
use crate::store::migrations::{Change, MigrationRecord, StepRecord};

pub async fn start(
    shared: &Context,
    actor: &str,
    request: op::StartMigrationRequest,
) -> Result<op::StartMigrationResponse, ApiError> {
    if request.database.is_empty() || request.database.len() > 128 {
        return Err(ApiError::invalid(
            "database",
            "name the database (1 to 128 characters)",
        ));
    }
    let target = find_target(shared, &request.target).await?;
    let agent = super::operator::find_live_host(shared, &request.host).await?;
    let instances = shared.store.list_instances(agent.id).await?;
    let (instance, database) = locate(
        &instances,
        &request.instance,
        &request.database,
        &agent.name,
    )?;
    let link_name = if request.link_name.is_empty() {
        default_link(&database)
    } else {
        request.link_name.clone()
    };
    check_link_name(&link_name)?;
    let mi = &target.instance;
    if let Some(existing) = shared
        .store
        .live_migration(agent.id, &instance, &database)
        .await?
    {
        return same_or_refused(shared, existing, &mi.id.key(), &link_name).await;
    }
    if let Some(other) = shared
        .store
        .migration_on_target(&mi.id.key(), &database, &link_name)
        .await?
    {
        let taken = if other.database.eq_ignore_ascii_case(&database) {
            format!("receives a database named {database} already")
        } else {
            format!("has a link named {link_name} already")
        };
        return Err(ApiError::FailedPrecondition(format!(
            "{} {taken}, from {} ({}/{}, migration {}, {}): a managed instance holds one database and one link of a name; {}",
            mi.id.name,
            other.host,
            other.instance,
            other.database,
            other.id,
            other.state.as_str(),
            if other.database.eq_ignore_ascii_case(&database) {
                "migrate this database to another target, or cancel that migration first"
            } else {
                "choose another with --link-name"
            }
        )));
    }

    let mut gate = Gate::default();
    let assessed = shared
        .store
        .newest_database_assessment(agent.id, &instance, &database)
        .await?;
    gate.add(preflight::assessment(
        assessed
            .as_ref()
            .map(|(r, reasons)| (*r, reasons.as_slice())),
        &agent.name,
        &database,
    ));
    let tests = shared
        .store
        .newest_connection_tests(&mi.id.key(), Some(agent.id))
        .await?;
    let tested = tests
        .iter()
        .filter(|t| t.reported_at_ms.is_some())
        .flat_map(|t| &t.instances)
        .find(|(i, _)| i.name.eq_ignore_ascii_case(&instance))
        .map(|(i, verdict)| (*verdict, found_checks(i)));
    gate.add(preflight::connection(
        tested.as_ref().map(|(v, checks)| (*v, checks.as_slice())),
        &agent.name,
        &mi.id.name,
    ));
    if !gate.blockers.is_empty() {
        return Err(ApiError::FailedPrecondition(format!(
            "pre-flight refuses the start:\n  - {}",
            gate.blockers.join("\n  - ")
        )));
    }
    if !gate.warnings.is_empty() && !request.accept_warnings {
        let warnings: Vec<&str> = gate.warnings.iter().map(|(_, w)| w.as_str()).collect();
        return Err(ApiError::FailedPrecondition(format!(
            "pre-flight warns:\n  - {}\nstart again with --accept-warnings to accept them",
            warnings.join("\n  - ")
        )));
    }

    let now = now_ms();
    let record = MigrationRecord {
        id: uuid::Uuid::new_v4().to_string(),
        agent_id: agent.id,
        host: agent.name.clone(),
        instance,
        database,
        target_key: mi.id.key(),
        link_name,
        state: State::Preparing,
        detail: "waiting for the first step".into(),
        options: Options {
            allow_recovery_change: request.allow_recovery_change,
            allow_endpoint_change: request.allow_endpoint_change,
            accepted_warnings: gate.warnings.into_iter().map(|(_, w)| w).collect(),
        },
        created_by: actor.to_string(),
        created_at_ms: now,
        updated_at_ms: now,
        certificate_name: String::new(),
        certificate: String::new(),
        listener_url: String::new(),
        mi_certificate: String::new(),
        observed: String::new(),
        observed_at_ms: None,
        progressed_at_ms: None,
        cutover: String::new(),
        wave: String::new(),
        revision: 0,
    };
    match shared.store.create_migration(&record).await? {
        None => {
            tracing::info!(migration = %record.id, host = %record.host, database = %record.database, target = %record.target_key, %actor, "migration started");
            Ok(op::StartMigrationResponse {
                migration: Some(get(shared, &record.id).await?),
                created: true,
            })
        }
        // Started by a concurrent request.
        Some(existing) => {
            same_or_refused(shared, existing, &record.target_key, &record.link_name).await
        }
    }
}

/// The instance and database as the host's inventory spells them.
fn locate(
    instances: &[InstanceRecord],
    instance: &str,
    database: &str,
    host: &str,
) -> Result<(String, String), ApiError> {
    let holding: Vec<&InstanceRecord> = instances
        .iter()
        .filter(|i| instance.is_empty() || i.name.eq_ignore_ascii_case(instance))
        .filter(|i| {
            i.databases
                .iter()
                .any(|d| d.name.eq_ignore_ascii_case(database))
        })
        .collect();
    match holding.as_slice() {
        [one] => {
            let db = one
                .databases
                .iter()
                .find(|d| d.name.eq_ignore_ascii_case(database))
                .map(|d| d.name.clone())
                .unwrap_or_default();
            Ok((one.name.clone(), db))
        }
        [] => Err(ApiError::NotFound(format!(
            "{host}'s inventory has no database {database:?}{}: check the name (`ferry host show {host}`), or collect the inventory again",
            if instance.is_empty() { String::new() } else { format!(" on instance {instance:?}") }
        ))),
        several => Err(ApiError::invalid(
            "instance",
            format!(
                "{database:?} is on several of {host}'s instances ({}): name one with --instance",
                several.iter().map(|i| i.name.as_str()).collect::<Vec<_>>().join(", ")
            ),
        )),
    }
}

/// A link name must be an ARM resource name (one URL path segment) and an
/// availability group name.
fn check_link_name(name: &str) -> Result<(), ApiError> {
    ferry_proto::link_names::check_resource_name(name)
        .map_err(|why| ApiError::invalid("link_name", format!("{why}: give one with --link-name")))
}

/// Starting what exists returns it; a second link for the database is refused.
async fn same_or_refused(
    shared: &Context,
    existing: MigrationRecord,
    target_key: &str,
    link_name: &str,
) -> Result<op::StartMigrationResponse, ApiError> {
    if existing.target_key == target_key && existing.link_name == link_name {
        return Ok(op::StartMigrationResponse {
            migration: Some(get(shared, &existing.id).await?),
            created: false,
        });
    }
    Err(ApiError::AlreadyExists(format!(
        "{} on {} already has migration {} ({}, link {} to {}): a database has one link; cancel that migration first",
        existing.database,
        existing.host,
        existing.id,
        existing.state.as_str(),
        existing.link_name,
        existing.target_key
    )))
}

/// The ids of the checks that found something.
fn found_checks(instance: &crate::connection::InstanceConnection) -> Vec<String> {
    instance
        .results
        .iter()
        .filter(|r| r.status != CheckStatus::Passed && r.severity != Severity::Info)
        .map(|r| r.check_id.clone())
        .collect()
}

pub async fn list(
    shared: &Context,
    request: op::ListMigrationsRequest,
) -> Result<op::Migrations, ApiError> {
    if !request.state.is_empty() && State::parse(&request.state).is_none() {
        let states: Vec<&str> = State::ALL.iter().map(|s| s.as_str()).collect();
        return Err(ApiError::invalid(
            "state",
            format!("one of {}", states.join(", ")),
        ));
    }
    let mut migrations = Vec::new();
    for m in shared.store.migrations().await? {
        let host_matches = request.host.is_empty()
            || m.host.eq_ignore_ascii_case(&request.host)
            || m.agent_id.to_string() == request.host;
        if host_matches && (request.state.is_empty() || m.state.as_str() == request.state) {
            migrations.push(wire(m, Vec::new(), Vec::new()));
        }
    }
    Ok(op::Migrations { migrations })
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
        .find(|s| s.name == plan::FAILOVER)
        .is_some_and(|s| matches!(s.state, StepState::Running | StepState::Done));
    let gates = if m.state.is_linked() || (m.state == State::CuttingOver && !failed_over) {
        crate::cutover::steps::gates(shared, &m, &steps, now_ms()).await?
    } else {
        Vec::new()
    };
    Ok(wire(m, steps, gates))
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
) -> op::Migration {
    let observation = serde_json::from_str::<Observation>(&m.observed).ok();
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
    op::Migration {
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
                side: match plan::side(&s.name) {
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
    }
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
        !in_use && made.contains(plan::UPLOAD_CERTIFICATE),
    ))
}

/// Cancels a migration: the teardown steps are journaled and the driver runs them.
/// The certificates are removed only when a migration of this instance to this target
/// made them (not found there before Ferry) and no other live one uses them.
pub async fn cancel(shared: &Context, actor: &str, id: &str) -> Result<op::Migration, ApiError> {
    let m = found(shared, id).await?;
    let (mi_certificate, trust_certificate) = certificates_owed(shared, &m).await?;
    let steps: Vec<&str> = plan::TEARDOWN
        .iter()
        .map(|(name, _)| *name)
        .filter(|name| match *name {
            plan::DROP_MI_CERTIFICATE => mi_certificate,
            plan::DELETE_TRUST_CERTIFICATE => trust_certificate,
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
