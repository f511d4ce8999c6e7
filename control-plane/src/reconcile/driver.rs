//! The driver: every tick it advances each preparing migration by its journal (the
//! first step not done: send the agent its run of SQL Server steps, or make the ARM
//! call, or poll what is in flight) and reads the link of each linked one from ARM at
//! its interval. Everything it knows is in the store, so a restarted control plane
//! picks up where the last one stopped: a step marked running on an agent command
//! waits for that command; one on an ARM operation polls it; one whose ARM request
//! was cut off is made again (the ARM steps look before they change anything).
//!
//! A cutover (`crate::cutover`) runs the same way, its steps journaled after the
//! set-up's: the link is read more often while it runs, and its failover step waits
//! for the gates.
//!
//! With several control-plane replicas on one PostgreSQL store, one drives: the
//! driver works only while it holds the store's `migration-driver` lease, renewed
//! every tick; when its replica stops, the lease expires and another takes over.

use std::sync::Arc;
use std::time::Duration;

use tracing::Instrument;

use super::arm_steps::{self, Ran};
use super::cutover_steps;
use crate::azure::link::Poll;
use crate::azure::{ManagedInstance, ManagedInstanceId};
use crate::context::Context;
use crate::migration::admission;
use crate::migration::journal;
use crate::migration::planner::{self, Action, Snapshot, StepView};
use crate::migration::{State, StepState, StepsRequest};
use crate::store::commands::{CommandKind, CommandRecord, CommandState};
use crate::store::cutovers::Wait;
use crate::store::leases::Fence;
use crate::store::migrations::{MigrationRecord, StepRecord};
use crate::store::StoreError;

pub use crate::migration::ACTOR;

/// The lease one replica drives migrations under.
pub const LEASE: &str = "migration-driver";

pub async fn run(shared: Arc<Context>, mut stop: tokio::sync::watch::Receiver<bool>) {
    let settings = &shared.config.migrations;
    let mut ticks = tokio::time::interval(Duration::from_millis(settings.tick_ms));
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let ttl = Duration::from_secs(settings.lease_ttl_secs);
    // Which process drives, for an operator reading the lease.
    let holder = format!(
        "ferry-control pid {} ({})",
        std::process::id(),
        uuid::Uuid::new_v4()
    );
    let mut fence: Option<Fence> = None;
    let metrics = super::metrics::DriverMetrics::register();
    let mut sweeps = crate::retention::Sweeps::new(&shared.config.retention);
    loop {
        tokio::select! {
            _ = ticks.tick() => {}
            _ = stop.changed() => break,
        }
        // Held, the tick renews it first thing; not held, it is asked for here: one
        // lease write per tick either way.
        if fence.is_none() {
            fence = match shared
                .store
                .take_lease(LEASE, &holder, ttl.as_millis() as i64)
                .await
            {
                Ok(taken) => taken,
                Err(e) => {
                    tracing::warn!(error = %e, "taking the migration driver's lease failed; trying again next tick");
                    continue;
                }
            };
            if let Some(taken) = &fence {
                tracing::info!(%holder, epoch = taken.epoch, "this replica drives migrations now");
            }
        }
        metrics.lease(fence.as_ref().map(|f| f.epoch));
        let Some(held) = &fence else {
            continue;
        };
        let fenced = shared.fenced(held.clone());
        sweeps.when_due(
            fenced.store.clone(),
            (&shared.config.retention, shared.clock.now_ms()),
        );
        let started = std::time::Instant::now();
        let (ticked, operations) = crate::store::counted(tick(&fenced, ttl)).await;
        metrics.tick.record(started.elapsed().as_secs_f64(), &[]);
        metrics.tick_operations.record(operations, &[]);
        match ticked {
            Ok(()) => {}
            Err(e @ StoreError::Fenced { .. }) => {
                tracing::warn!(error = %e, "the migration driver lost its lease during a tick; another replica drives");
                fence = None;
                metrics.lease(None);
            }
            Err(e) => {
                tracing::warn!(error = %e, "advancing migrations failed; trying again next tick")
            }
        }
    }
    metrics.lease(None);
    if fence.is_some() {
        if let Err(e) = shared.store.release_lease(LEASE, &holder).await {
            tracing::warn!(error = %e, "releasing the migration driver's lease failed; it expires");
        }
    }
}

/// How long before the lease's end no ARM call may still be out: a fifth of it, for
/// the time the renewal took to reach the database and the successor's first tick.
fn lease_margin(ttl: Duration) -> Duration {
    ttl / 5
}

/// One tick over every active migration, by a driver whose store is fenced by its
/// lease (`ttl` long): first the links of those due for a reading, all in one pass
/// ([`super::observe`]); then each preparing, cutting-over or cancelling one advanced
/// by its journal. The lease is renewed at the tick's start, before a piece of work
/// once half of it is used, and while the work runs long; an ARM call still out when
/// the lease ends is given up. Fails only when the lease is lost
/// ([`StoreError::Fenced`]) or the active migrations cannot be read.
pub async fn tick(shared: &Context, ttl: Duration) -> Result<(), StoreError> {
    let observe_ms = (shared.config.migrations.observe_interval_secs * 1000) as i64;
    let cutover_observe_ms = shared.config.cutover.observe_interval_ms as i64;
    let mut lease = Leased::renewed(shared, ttl).await?;
    let mut active = shared.store.active_migrations().await?;
    let now = shared.clock.now_ms();
    let due: Vec<&MigrationRecord> = active
        .iter()
        .filter(|m| {
            let every = match m.state {
                State::CuttingOver => cutover_observe_ms,
                _ if m.state.is_linked() || m.state == State::Unknown => observe_ms,
                _ => return false,
            };
            m.observed_at_ms.is_none_or(|at| now - at >= every)
        })
        .collect();
    if !due.is_empty() {
        let cutting_over = due.iter().any(|m| m.state == State::CuttingOver);
        let observed = lease
            .run(super::observe::observe_all(shared, &due, now))
            .await;
        match observed {
            Ok(()) => {}
            Err(e @ StoreError::Fenced { .. }) => return Err(e),
            Err(e) => {
                tracing::warn!(error = %e, "reading the links failed; trying again next tick")
            }
        }
        // A cutover's gates judge the reading just made (an operator's change since,
        // such as a cancel, is the next tick's).
        if cutting_over {
            active = shared.store.active_migrations().await?;
        }
    }
    for m in &active {
        if !matches!(
            m.state,
            State::Preparing | State::Cancelling | State::CuttingOver
        ) {
            continue;
        }
        let outcome = lease.run(advance(shared, m, shared.clock.now_ms())).await;
        match outcome {
            Ok(()) => {}
            Err(e @ StoreError::Fenced { .. }) => return Err(e),
            // One migration's trouble (a row that does not decode, a failed query)
            // holds up none of the others.
            Err(e) => {
                tracing::warn!(migration = %m.id, error = %e, "advancing the migration failed; trying again next tick")
            }
        }
    }
    Ok(())
}

/// The driver's lease through a tick: when it ends (less the margin), renewed.
struct Leased<'a> {
    shared: &'a Context,
    ttl: Duration,
    ends_at: tokio::time::Instant,
}

impl<'a> Leased<'a> {
    async fn renewed(shared: &'a Context, ttl: Duration) -> Result<Leased<'a>, StoreError> {
        let mut lease = Leased {
            shared,
            ttl,
            ends_at: tokio::time::Instant::now(),
        };
        lease.renew().await?;
        Ok(lease)
    }

    async fn renew(&mut self) -> Result<(), StoreError> {
        let renewing = tokio::time::Instant::now();
        self.shared
            .store
            .renew_lease(self.ttl.as_millis() as i64)
            .await?;
        self.ends_at = renewing + self.ttl.saturating_sub(lease_margin(self.ttl));
        Ok(())
    }

    /// Runs `work` under the lease: renewed first once half of it is used (not before
    /// every piece: the writes per tick stay few however many migrations there are),
    /// and every third of it while the work runs.
    async fn run<T>(
        &mut self,
        work: impl std::future::Future<Output = Result<T, StoreError>>,
    ) -> Result<T, StoreError> {
        let left = self
            .ends_at
            .saturating_duration_since(tokio::time::Instant::now());
        if left < self.ttl / 2 {
            self.renew().await?;
        }
        let (ends, lease_ends) = tokio::sync::watch::channel(self.ends_at);
        tokio::select! {
            outcome = crate::azure::arm::within_lease(lease_ends, work) => outcome,
            never = keep_lease(&self.shared.store, self.ttl, ends) => match never {},
        }
    }
}

/// Renews the lease every third of its time while a migration's work runs, and moves
/// its end on for the ARM calls in flight; once a renewal is refused, it stops (the
/// work's calls are given up at the lease's end, its writes refused).
async fn keep_lease(
    store: &crate::store::Store,
    ttl: Duration,
    ends: tokio::sync::watch::Sender<tokio::time::Instant>,
) -> std::convert::Infallible {
    loop {
        tokio::time::sleep(ttl / 3).await;
        let renewing = tokio::time::Instant::now();
        match store.renew_lease(ttl.as_millis() as i64).await {
            Ok(()) => {
                ends.send_replace(renewing + ttl.saturating_sub(lease_margin(ttl)));
            }
            Err(e) => {
                tracing::warn!(error = %e, "renewing the migration driver's lease failed; its work stops at the lease's end");
                return std::future::pending().await;
            }
        }
    }
}

/// The target (as ARM last described it), or why there is none.
async fn target(
    shared: &Context,
    m: &MigrationRecord,
) -> Result<Result<ManagedInstance, String>, StoreError> {
    let Ok(key) = ManagedInstanceId::parse(&m.target_key) else {
        return Ok(Err(format!(
            "the stored target {:?} is not a resource id",
            m.target_key
        )));
    };
    Ok(match shared.store.target(&key).await? {
        Some(target) => Ok(target.instance),
        None => Err(target_removed(&m.target_key)),
    })
}

/// Why a migration whose target is no longer in the store cannot go on.
pub(super) fn target_removed(target_key: &str) -> String {
    format!("the target {target_key} was removed: add it again (`ferry target add`) and retry")
}

/// What the planner reads of a migration and its journal as stored: its target
/// reachable, ARM not pacing it, no link kept (the caller says otherwise).
pub fn snapshot<'a>(m: &'a MigrationRecord, steps: &'a [StepRecord]) -> Snapshot<'a> {
    Snapshot {
        state: m.state,
        detail: &m.detail,
        keep_link: false,
        steps: steps
            .iter()
            .map(|s| StepView {
                seq: s.seq,
                phase: s.phase,
                name: &s.name,
                state: s.state,
                has_operation: !s.operation.is_empty(),
            })
            .collect(),
        target_missing: None,
        arm_held: false,
    }
}

/// Advances a preparing, cutting-over or cancelling migration by its journal: the
/// planner (`planner::plan`) decides from what was read, and this performs it.
async fn advance(shared: &Context, listed: &MigrationRecord, now: i64) -> Result<(), StoreError> {
    let store = &shared.store;
    let steps = store.migration_steps(&listed.id).await?;
    // The migration read after its steps: an agent's report stores its steps with what
    // they learned (SQL Server's certificate, its listener) in one transaction, so the
    // record read now knows all the steps say. The tick's list may be seconds older.
    let Some(m) = store.migration(&listed.id).await? else {
        return Ok(());
    };
    if m.state != listed.state {
        return Ok(());
    }
    let m = &m;
    let intent = m.intent()?;
    let mi = target(shared, m).await?;
    let snapshot = Snapshot {
        keep_link: intent.as_ref().is_some_and(|i| i.keep_link),
        target_missing: mi.as_ref().err().map(String::as_str),
        arm_held: mi
            .as_ref()
            .is_ok_and(|mi| shared.arm.held_for(&mi.id).is_some()),
        ..snapshot(m, &steps)
    };
    let planned = planner::plan(&snapshot);
    if let Some(detail) = &planned.detail {
        store
            .set_migration_state((&m.id, m.state), State::CuttingOver, detail, None, now)
            .await?;
    }
    // A cutover's work joins the trace of the request that started it. Made only for
    // work: a span made and dropped is exported all the same, and waiting makes none.
    let span = |step: &StepRecord| match &intent {
        Some(intent) => intent.span(&m.id, &step.name),
        None => tracing::Span::none(),
    };
    let at = planned
        .action
        .seq()
        .and_then(|seq| steps.iter().position(|s| s.seq == seq));
    let (step, mi) = match (&planned.action, at, &mi) {
        (Action::Finish { state, detail }, _, _) => {
            tracing::info!(migration = %m.id, state = state.as_str(), "{detail}");
            return store
                .set_migration_state((&m.id, m.state), *state, detail, None, now)
                .await
                .map(drop);
        }
        (Action::FailStep { seq, why }, _, _) => {
            return store
                .finish_step(&m.id, *seq, (StepState::Failed, false), why, now)
                .await
        }
        (Action::AwaitCommand { .. }, Some(at), _) => {
            return check_agent_command(shared, m, &steps[at], now).await
        }
        (Action::PollOperation { .. }, Some(at), _) => {
            return poll(shared, m, &steps[at], now)
                .instrument(span(&steps[at]))
                .await
        }
        (_, Some(at), Ok(mi)) => (&steps[at], mi),
        // Waiting; or a step the planner named that is not in the journal read (it
        // cannot be: both come from the same read), or no target for a step that
        // needs it (the planner fails those first).
        _ => return Ok(()),
    };
    let may_call = match &planned.action {
        Action::SendAgentSteps { seqs } => {
            let batch = &steps[at.unwrap_or_default()..][..seqs.len()];
            return send_agent_steps(shared, m, (&mi.id, mi.fqdn.clone()), batch, now)
                .instrument(span(step))
                .await;
        }
        Action::RunControl { .. } => {
            return cutover_steps::run(shared, m, &mi.fqdn, step, now)
                .instrument(span(step))
                .await
        }
        Action::AdmitThenCall { .. } => admitted(shared, m, step, now).await?,
        Action::GatesThenCall { .. } => {
            cutover_steps::gates_hold(shared, m, &steps, (step, &mi.fqdn), now).await?
        }
        Action::CallArm { .. } => true,
        Action::Finish { .. }
        | Action::FailStep { .. }
        | Action::AwaitCommand { .. }
        | Action::PollOperation { .. }
        | Action::Wait => false,
    };
    if !may_call {
        return Ok(());
    }
    run_arm_step(shared, m, &mi.id, step, now)
        .instrument(span(step))
        .await
}

/// Whether `m`'s link may be created (start seeding) now; when not, the step notes
/// why, queued.
async fn admitted(
    shared: &Context,
    m: &MigrationRecord,
    step: &StepRecord,
    now: i64,
) -> Result<bool, StoreError> {
    let limits = shared.config.migrations.seeding_limits();
    if limits == Default::default() {
        return Ok(true);
    }
    let seeding = shared.store.seeding_now().await?;
    let others: Vec<_> = seeding
        .into_iter()
        .filter(|s| s.migration != m.id)
        .collect();
    let admitted = admission::admit((&m.agent_id.to_string(), &m.target_key), &others, &limits);
    shared.driver_gauges.admission(&m.id, admitted.is_err());
    match admitted {
        Ok(()) => Ok(true),
        Err(why) => {
            if step.detail != why {
                shared
                    .store
                    .note_step((&m.id, step.seq), &why, Wait::Queued, now)
                    .await?;
            }
            Ok(false)
        }
    }
}

/// Sends the agent the run of pending SQL Server steps starting at `steps[0]`.
async fn send_agent_steps(
    shared: &Context,
    m: &MigrationRecord,
    (mi, fqdn): (&ManagedInstanceId, String),
    batch: &[StepRecord],
    now: i64,
) -> Result<(), StoreError> {
    let request = StepsRequest {
        migration_id: m.id.clone(),
        instance: m.instance.clone(),
        database: m.database.clone(),
        steps: batch.iter().map(|s| s.name.clone()).collect(),
        link_name: m.link_name.clone(),
        mi_name: mi.name.clone(),
        mi_fqdn: fqdn,
        mi_certificate: m.mi_certificate.clone(),
        allow_recovery_change: m.options.allow_recovery_change,
        allow_endpoint_change: m.options.allow_endpoint_change,
    };
    let payload =
        serde_json::to_string(&request).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    let ttl_ms = (shared.config.migrations.command_ttl_secs * 1000) as i64;
    let command = CommandRecord::pending(
        m.agent_id,
        CommandKind::RunLinkSteps,
        ACTOR,
        now,
        now + ttl_ms,
        &crate::context::trace_context(),
    )
    .with_payload(payload);
    let seqs: Vec<i64> = batch.iter().map(|s| s.seq).collect();
    if !shared
        .store
        .start_agent_steps(&m.id, &seqs, &command)
        .await?
    {
        tracing::info!(migration = %m.id, "the steps changed since they were read (a cancel?): not sent");
        return Ok(());
    }
    tracing::info!(migration = %m.id, command = %command.id, steps = ?request.steps, "sent link steps to the agent");
    shared.sessions.wake(m.agent_id);
    Ok(())
}

/// A step waiting on an agent command: its report ends the step; a command that
/// failed or expired fails it.
async fn check_agent_command(
    shared: &Context,
    m: &MigrationRecord,
    step: &StepRecord,
    now: i64,
) -> Result<(), StoreError> {
    let Some(command) = shared.store.get_command(&step.command_id).await? else {
        return shared
            .store
            .finish_step(
                &m.id,
                step.seq,
                (StepState::Failed, false),
                "its agent command is gone",
                now,
            )
            .await;
    };
    let why = match command.state {
        CommandState::Failed => format!(
            "the agent failed the command: {} {}",
            command.error_code, command.error_message
        ),
        CommandState::Expired => format!(
            "the host did not take the command within {} s: is its agent running? Then retry",
            shared.config.migrations.command_ttl_secs
        ),
        // The report comes before the command's result, in one delivery: once the
        // command is done, a report sent is stored. The steps this tick began with may
        // be older than both, so they are read again before the step is failed.
        CommandState::Done => {
            let now_steps = shared.store.migration_steps(&m.id).await?;
            let reported = now_steps
                .iter()
                .any(|s| s.seq == step.seq && s.state != StepState::Running);
            if reported {
                return Ok(());
            }
            "the agent finished without reporting the step: upgrade ferry-agent".into()
        }
        // Taken, and never reported: the agent may have died with it and come back
        // after its deadline. Idempotent steps, so a retry runs them again safely.
        CommandState::Acked if now - command.updated_at_ms > report_timeout_ms(shared) => {
            format!(
                "the agent took the command {} s ago and has not reported it (migrations.report_timeout_secs): it may have restarted and lost it; check the host (`ferry hosts`), then `ferry migrate retry {}`",
                (now - command.updated_at_ms) / 1000,
                m.id
            )
        }
        CommandState::Pending | CommandState::Sent | CommandState::Acked => return Ok(()),
    };
    shared
        .store
        .finish_step(&m.id, step.seq, (StepState::Failed, false), &why, now)
        .await
}

fn report_timeout_ms(shared: &Context) -> i64 {
    (shared.config.migrations.report_timeout_secs * 1000) as i64
}

async fn run_arm_step(
    shared: &Context,
    m: &MigrationRecord,
    mi: &ManagedInstanceId,
    step: &StepRecord,
    now: i64,
) -> Result<(), StoreError> {
    let store = &shared.store;
    // Journaled before the call: a crash during it makes the call again. Journaled
    // only from the state this tick read: a step a cancel skipped since is not run.
    // The failover's request, once its gates held, only under the revision they were
    // judged at: an operator's pause or cancel since wins.
    let started = if step.name == journal::FAILOVER && step.state == StepState::Pending {
        store
            .start_failover((&m.id, step.seq), m.revision, now)
            .await?
    } else {
        store
            .start_arm_step((&m.id, step.seq), step.state, "", now)
            .await?
    };
    if !started {
        tracing::info!(migration = %m.id, step = %step.name, "the step changed since it was read (a cancel?): ARM not called");
        return Ok(());
    }
    let ran = match step.name.as_str() {
        journal::UPLOAD_CERTIFICATE => arm_steps::upload_certificate(&shared.arm, mi, m).await,
        journal::READ_MI_CERTIFICATE => match shared.arm.mi_endpoint_certificate(mi).await {
            Ok(der) => {
                store
                    .set_mi_certificate(&m.id, &hex::encode_upper(&der))
                    .await?;
                Ran::Done(format!(
                    "read the MI's endpoint certificate ({} bytes)",
                    der.len()
                ))
            }
            Err(e) => arm_steps::ran_err("reading the MI's endpoint certificate", e),
        },
        journal::CREATE_LINK => arm_steps::create_link(&shared.arm, mi, m).await,
        journal::MI_SYNCHRONOUS_COMMIT => {
            arm_steps::replication_mode(&shared.arm, mi, m, true).await
        }
        journal::MI_ASYNCHRONOUS_COMMIT => {
            arm_steps::replication_mode(&shared.arm, mi, m, false).await
        }
        journal::FAILOVER => arm_steps::failover(&shared.arm, mi, m).await,
        journal::DELETE_LINK => arm_steps::delete_link(&shared.arm, mi, m).await,
        journal::DELETE_TRUST_CERTIFICATE => {
            arm_steps::delete_trust_certificate(&shared.arm, mi, m).await
        }
        other => Ran::Failed(format!("{other} is not an ARM step")),
    };
    tracing::info!(migration = %m.id, step = %step.name, ?ran, "ARM step");
    let now = shared.clock.now_ms();
    let (state, detail) = match ran {
        Ran::Running(url) => {
            return store
                .start_arm_step((&m.id, step.seq), StepState::Running, &url, now)
                .await
                .map(drop)
        }
        Ran::Done(detail) => ((StepState::Done, false), detail),
        Ran::AlreadyDone(detail) => ((StepState::Done, true), detail),
        // The failover's request may have reached Azure though its answer did not
        // come: the step stays begun (a cancel stays refused) and is made again,
        // after a look at the link, next tick.
        Ran::Again(detail) if step.name == journal::FAILOVER => {
            return store
                .note_step((&m.id, step.seq), &detail, Wait::Closed, now)
                .await
        }
        Ran::Again(detail) => ((StepState::Pending, false), detail),
        Ran::Blocked(detail) => ((StepState::Blocked, false), detail),
        Ran::Failed(detail) => ((StepState::Failed, false), detail),
    };
    store
        .finish_step(&m.id, step.seq, state, &detail, now)
        .await
}

/// Polls an ARM step's operation.
async fn poll(
    shared: &Context,
    m: &MigrationRecord,
    step: &StepRecord,
    now: i64,
) -> Result<(), StoreError> {
    let store = &shared.store;
    let (state, detail) = match shared.arm.poll(&step.operation).await {
        Ok(Poll::Running) => return Ok(()),
        // The failover keeps the gates' evidence it was made on.
        Ok(Poll::Succeeded) if step.name == journal::FAILOVER => (
            StepState::Done,
            format!("{}; Azure's failover succeeded", step.detail),
        ),
        Ok(Poll::Succeeded) => (
            StepState::Done,
            format!("{}: Azure's operation succeeded", step.name),
        ),
        Ok(Poll::Failed { code, message }) => (
            StepState::Failed,
            format!("Azure's operation failed: {code}: {message}"),
        ),
        Err(e) if arm_steps::is_transient(&e) => {
            tracing::warn!(migration = %m.id, step = %step.name, error = %e, "polling ARM failed; trying again");
            return Ok(());
        }
        Err(e) => (StepState::Failed, format!("polling Azure's operation: {e}")),
    };
    store
        .finish_step(&m.id, step.seq, (state, false), &detail, now)
        .await
}
