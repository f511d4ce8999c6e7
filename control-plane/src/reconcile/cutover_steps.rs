//! The cutover's steps the control plane runs itself, and the gates' check before the
//! failover's ARM call (with the row counts its validation gate asks for, and fresh
//! readings of SQL Server). Each waits by leaving its step pending with a detail that
//! says what it waits for (`Store::note_step`), and stops after `gate_timeout_secs`.

use super::{mi_sql, validation};
use crate::context::Context;
use crate::cutover::gates::group::GroupFacts;
use crate::cutover::gates::{self, Decision, Facts, Gate, InFlight, Rules, WaveFacts};
use crate::cutover::row_counts::Side;
use crate::cutover::Intent;
use crate::migration::journal;
use crate::migration::observe::Observation;
use crate::migration::{Phase, StepState};
use crate::store::audit::AuditEvent;
use crate::store::commands::{CommandKind, CommandRecord};
use crate::store::cutovers::{FailoverInFlight, Wait};
use crate::store::groups::MemberProgress;
use crate::store::migrations::{MigrationRecord, StepRecord};
use crate::store::row_counts::RowCount;
use crate::store::waves::WaveRecord;
use crate::store::StoreError;

/// What the gates of `m` look at, read from the store.
struct Loaded {
    observation: Option<Observation>,
    observed_at_ms: i64,
    intent: Intent,
    synchronous_since_ms: Option<i64>,
    other: Option<String>,
    /// Other failovers in flight: from the same host, and in all.
    in_flight: (Vec<String>, Vec<String>),
    approvers: Vec<String>,
    wave: Option<WaveRecord>,
    failed_member: Option<String>,
    counts: Vec<RowCount>,
    /// Its cutover group's name and its other members.
    group: Option<(String, Vec<MemberProgress>)>,
}

impl Loaded {
    async fn read(
        shared: &Context,
        m: &MigrationRecord,
        steps: &[StepRecord],
    ) -> Result<Loaded, StoreError> {
        let store = &shared.store;
        // A linked migration's gates are shown before any cutover is asked for: as
        // they would judge a cutover asked now, with no options.
        let intent = m.intent()?.unwrap_or_default();
        let wave = match m.wave.as_str() {
            "" => None,
            name => store.wave(name).await?,
        };
        let failed_member = match &wave {
            Some(_) => store.failed_in_wave(&m.wave, &m.id).await?,
            None => None,
        };
        let group = match store.group_of(&m.id).await? {
            Some(g) => {
                let mut others = store.member_progress(&g).await?;
                others.retain(|o| o.id != m.id);
                Some((g.name, others))
            }
            None => None,
        };
        let flights = store.failovers_in_flight(&m.id).await?;
        let agent = m.agent_id.to_string();
        let other = flights
            .iter()
            .find(|f| f.target == m.target_key)
            .map(|f| f.migration.clone());
        let ids = |flights: &mut dyn Iterator<Item = &FailoverInFlight>| -> Vec<String> {
            flights.map(|f| f.migration.clone()).collect()
        };
        let same_host = ids(&mut flights.iter().filter(|f| f.host == agent));
        let in_flight = (same_host, ids(&mut flights.iter()));
        Ok(Loaded {
            group,
            in_flight,
            observation: m.observation()?,
            observed_at_ms: m.observed_at_ms.unwrap_or_default(),
            synchronous_since_ms: synchronous_since(steps),
            other,
            approvers: store
                .cutover_approvers(&m.id, intent.requested_at_ms)
                .await?,
            intent,
            wave,
            failed_member,
            counts: store.row_counts(&m.id).await?,
        })
    }

    fn facts(&self, now_ms: i64) -> Facts<'_> {
        Facts {
            now_ms,
            observation: self.observation.as_ref(),
            observed_at_ms: self.observed_at_ms,
            intent: &self.intent,
            synchronous_since_ms: self.synchronous_since_ms,
            other_failover: self.other.as_deref(),
            in_flight: InFlight {
                same_host: &self.in_flight.0,
                all: &self.in_flight.1,
            },
            approvers: &self.approvers,
            wave: self.wave.as_ref().map(|wave| WaveFacts {
                wave,
                failed_member: self.failed_member.as_deref(),
            }),
            counts: &self.counts,
            group: self
                .group
                .as_ref()
                .map(|(name, others)| GroupFacts { name, others }),
        }
    }
}

/// The gates as they stand for `m` (its newest observation, its cutover's intent and
/// journal), at `now_ms`.
pub async fn gates(
    shared: &Context,
    m: &MigrationRecord,
    steps: &[StepRecord],
    now_ms: i64,
) -> Result<Vec<Gate>, StoreError> {
    let loaded = Loaded::read(shared, m, steps).await?;
    Ok(gates::evaluate(
        &loaded.facts(now_ms),
        &Rules::from(&shared.config.cutover),
    ))
}

/// When the current cutover switched both sides to synchronous commit: the later of
/// its two switch steps' ends, when both are done.
fn synchronous_since(steps: &[StepRecord]) -> Option<i64> {
    let switches = ["synchronous_commit", journal::MI_SYNCHRONOUS_COMMIT];
    let mut since = None;
    for name in switches {
        let step = steps
            .iter()
            .rev()
            .find(|s| s.phase == Phase::Cutover && s.name == name)?;
        if step.state != StepState::Done {
            return None;
        }
        since = since.max(step.finished_at_ms);
    }
    since
}

/// Before the failover step's ARM call: whether every gate holds. When one does not,
/// the step notes why and waits, or fails the migration once it waited too long.
/// When all do, their evidence is audited and kept as the step's detail.
pub async fn gates_hold(
    shared: &Context,
    m: &MigrationRecord,
    steps: &[StepRecord],
    (step, fqdn): (&StepRecord, &str),
    now_ms: i64,
) -> Result<bool, StoreError> {
    let loaded = Loaded::read(shared, m, steps).await?;
    let facts = loaded.facts(now_ms);
    let rules = Rules::from(&shared.config.cutover);
    let gates = gates::evaluate(&facts, &rules);
    if loaded.group.is_some() {
        // What the group's other members wait for: every gate of this one's own open.
        let own_open = gates
            .iter()
            .all(|g| g.open || g.name == gates::GateName::Group);
        shared
            .store
            .set_gates_open(&m.id, own_open.then_some(now_ms))
            .await?;
    }
    let ttl_ms = (shared.config.migrations.command_ttl_secs * 1000) as i64;
    let needed = gates::validation::needed(&facts, &gates, &rules, ttl_ms);
    validation::count(
        shared,
        m,
        (fqdn, loaded.intent.requested_at_ms),
        needed,
        now_ms,
    )
    .await?;
    fresh_reading(shared, m, loaded.observation.as_ref(), now_ms).await?;
    let timeout_ms = (shared.config.cutover.gate_timeout_secs * 1000) as i64;
    let since = step.started_at_ms.unwrap_or(now_ms);
    let store = &shared.store;
    let decision = gates::decide(&gates, since, now_ms, timeout_ms);
    match &decision {
        Decision::Wait(_) | Decision::Queued(_) => {
            shared
                .driver_gauges
                .waiting(&m.id, &m.link_name, &gates, since)
        }
        Decision::Stop(_) | Decision::FailOver => shared.driver_gauges.done(&m.id),
    }
    match decision {
        // Written only when what it waits for changed: a cutover waiting at its gates
        // re-judges them every tick, and an unchanged note is a write (an fsync on
        // SQLite) for nothing. A queue's note is always written: it restarts the wait.
        Decision::Wait(why) => {
            if step.detail != why || step.started_at_ms.is_none() {
                store
                    .note_step((&m.id, step.seq), &why, Wait::Closed, now_ms)
                    .await?;
            }
            Ok(false)
        }
        Decision::Queued(why) => {
            store
                .note_step((&m.id, step.seq), &why, Wait::Queued, now_ms)
                .await?;
            Ok(false)
        }
        Decision::Stop(why) => {
            store
                .finish_step(&m.id, step.seq, (StepState::Failed, false), &why, now_ms)
                .await?;
            Ok(false)
        }
        Decision::FailOver => {
            let validated = gates
                .iter()
                .any(|g| g.name == gates::GateName::Validation && g.open);
            if validated {
                super::metrics::rows_validated(rows_on_mi(&loaded));
            }
            let evidence: Vec<String> = gates
                .iter()
                .map(|g| format!("{}: {}", g.name, g.evidence))
                .collect();
            let detail = format!("every gate holds: {}", evidence.join("; "));
            super::validation::intent_span(m, journal::FAILOVER).in_scope(
                || tracing::info!(migration = %m.id, %detail, "every gate holds: failing over"),
            );
            store
                .record_audit(&AuditEvent {
                    at_ms: now_ms,
                    actor: crate::migration::ACTOR.into(),
                    action: "cutover.gates_open".into(),
                    target: format!("migration/{}", m.id),
                    detail: serde_json::json!({
                        "readings_at_ms": readings_at(m, loaded.observation.as_ref()),
                        "gates": gates,
                    })
                    .to_string(),
                })
                .await?;
            store
                .note_step((&m.id, step.seq), &detail, Wait::Closed, now_ms)
                .await?;
            Ok(true)
        }
    }
}

/// The rows of the MI's newest finished count for this cutover (what the validation
/// gate found equal to SQL Server's).
fn rows_on_mi(loaded: &Loaded) -> i64 {
    loaded
        .counts
        .iter()
        .filter(|c| c.side == Side::Mi && c.requested_at_ms == loaded.intent.requested_at_ms)
        .filter(|c| c.counted_at_ms.is_some())
        .max_by_key(|c| c.counted_at_ms)
        .map_or(0, |c| c.tables.iter().map(|t| t.rows).sum())
}

/// Asks the agent to read SQL Server's side now when the newest reading is older than
/// `sql_reading_interval_ms` and no such request is out.
async fn fresh_reading(
    shared: &Context,
    m: &MigrationRecord,
    observation: Option<&Observation>,
    now_ms: i64,
) -> Result<(), StoreError> {
    let interval = shared.config.cutover.sql_reading_interval_ms as i64;
    let read_at = observation.map_or(0, |o| o.sql_observed_ms);
    let store = &shared.store;
    if now_ms - read_at < interval
        || store
            .command_outstanding(m.agent_id, CommandKind::ReadLinkStatus, now_ms)
            .await?
    {
        return Ok(());
    }
    let payload =
        serde_json::to_string(&m.instance).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    let command = CommandRecord::pending(
        m.agent_id,
        CommandKind::ReadLinkStatus,
        crate::migration::ACTOR,
        now_ms,
        now_ms + READING_TTL_MS,
        "",
    )
    .with_payload(payload);
    store.queue_read(&command).await?;
    shared.sessions.wake(m.agent_id);
    Ok(())
}

/// How long a request for a reading may wait for its agent.
const READING_TTL_MS: i64 = 30_000;

/// When the newest reading the gates judged was taken (Azure's or SQL Server's).
fn readings_at(m: &MigrationRecord, observation: Option<&Observation>) -> i64 {
    let sql = observation.map_or(0, |o| o.sql_observed_ms);
    m.observed_at_ms.unwrap_or_default().max(sql)
}

/// Runs a step of the control plane's own (`journal::Side::Control`) on the MI at `fqdn`.
pub async fn run(
    shared: &Context,
    m: &MigrationRecord,
    fqdn: &str,
    step: &StepRecord,
    now_ms: i64,
) -> Result<(), StoreError> {
    if step.name == journal::APPLICATION_HOOK {
        return super::hook::step(shared, m, step, now_ms).await;
    }
    let settings = &shared.config.cutover.mi_sql;
    let outcome = match step.name.as_str() {
        journal::VERIFY_ON_MI => {
            match mi_sql::database(settings, fqdn, &m.database, &m.link_name).await {
                Ok(Some(db)) if db.state == "ONLINE" && !db.read_only && db.link_role != "SECONDARY" => {
                    Ok(format!(
                        "{} is ONLINE and writable on the MI{}",
                        m.database,
                        if db.link_role.is_empty() { String::new() } else { format!(", its link's {}", db.link_role.to_lowercase()) }
                    ))
                }
                Ok(Some(db)) => Err(format!(
                    "{} is {}{} on the MI (link role {}): waiting for it to come ONLINE and writable",
                    m.database,
                    db.state,
                    if db.read_only { ", read-only" } else { "" },
                    if db.link_role.is_empty() { "--" } else { &db.link_role }
                )),
                Ok(None) => Err(format!("the MI has no database {}", m.database)),
                Err(e) => Err(e),
            }
        }
        journal::MI_FULL_BACKUP => match mi_sql::full_backups(settings, fqdn, &m.database).await {
            Ok(n) if n > 0 => Ok(format!(
                "the MI has taken {n} full backup(s) of {}",
                m.database
            )),
            Ok(_) => {
                // No timeout: the link must stay until the backup exists (mi-link.md §4.2
                // step 7); the database is already the MI's.
                return shared
                    .store
                    .note_step((&m.id, step.seq), "waiting for the MI's first full backup of the database (msdb.dbo.backupset); the link stays until it exists (mi-link.md §4.2 step 7)", Wait::Closed, now_ms)
                    .await;
            }
            Err(e) => Err(e),
        },
        other => Err(format!("{other} is not a step of the control plane")),
    };
    let store = &shared.store;
    match outcome {
        Ok(detail) => {
            tracing::info!(migration = %m.id, step = %step.name, %detail, "cutover step done");
            store
                .finish_step(&m.id, step.seq, (StepState::Done, false), &detail, now_ms)
                .await
        }
        Err(why) => wait_or_fail(shared, (m, step), &why, now_ms).await,
    }
}

/// A step of the control plane's that cannot end yet: it notes `why` and waits, or
/// fails once it waited `gate_timeout_secs`.
pub(super) async fn wait_or_fail(
    shared: &Context,
    (m, step): (&MigrationRecord, &StepRecord),
    why: &str,
    now_ms: i64,
) -> Result<(), StoreError> {
    let store = &shared.store;
    let timeout_ms = (shared.config.cutover.gate_timeout_secs * 1000) as i64;
    if now_ms - step.started_at_ms.unwrap_or(now_ms) >= timeout_ms {
        let detail = format!("{why} (for more than {} s)", timeout_ms / 1000);
        store
            .finish_step(&m.id, step.seq, (StepState::Failed, false), &detail, now_ms)
            .await
    } else {
        store
            .note_step((&m.id, step.seq), why, Wait::Closed, now_ms)
            .await
    }
}
