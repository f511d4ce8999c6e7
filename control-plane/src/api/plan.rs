//! The operator API's plans, waves and cutover groups (`cutover::wave`,
//! `cutover::group`): apply a plan file (its members resolved to migrations), show
//! the waves and groups, approve, pause and resume a wave.

use std::collections::HashMap;

use ferry_proto::clock::now_ms;
use ferry_proto::operator::v1 as op;

use super::{ApiError, Context};
use crate::cutover::group::Group;
use crate::cutover::wave::{self, Member, OnFailure, Wave};
use crate::cutover::window::Window;
use crate::fleet::identity::AgentId;
use crate::fleet::labels::{self, Labels};
use crate::migration::State;
use crate::store::migrations::Change;
use crate::store::migrations::MigrationRecord;
use crate::store::waves::WaveRecord;
use crate::store::waves::{PlanApplied, RunningCutovers};

pub async fn apply(
    shared: &Context,
    (actor, running): (&str, RunningCutovers),
    toml: &str,
) -> Result<op::Plan, ApiError> {
    let file = wave::parse(toml).map_err(|e| ApiError::invalid("plan_toml", e))?;
    let fleet = Fleet {
        migrations: &shared.store.migrations().await?,
        labels: &shared.store.all_host_labels().await?,
    };
    let mut waves = Vec::new();
    let mut in_wave = HashMap::new();
    for (n, file) in file.waves.iter().enumerate() {
        waves.push(Wave {
            name: file.name.clone(),
            approvals: file.approvals,
            on_failure: file.on_failure,
            window: wave::window(file),
            migrations: fleet.members(("wave", &file.name, n), &file.members, &mut in_wave)?,
        });
    }
    let mut groups = Vec::new();
    let mut in_group = HashMap::new();
    for (n, g) in file.groups.iter().enumerate() {
        // A plan names a hook the control plane's configuration defines; it cannot
        // define one.
        if let Some(name) = &g.hook {
            if shared.config.hook(name).is_none() {
                return Err(ApiError::invalid(
                    "plan_toml",
                    format!(
                        "group[{n}].hook: no hook named {name:?} in the control plane's configuration ([[hook]] in ferry-control.toml, defined by whoever runs it)"
                    ),
                ));
            }
        }
        let hook = g.hook.clone();
        let migrations = fleet.members(("group", &g.name, n), &g.members, &mut in_group)?;
        if migrations.len() < 2 {
            return Err(ApiError::invalid(
                "plan_toml",
                format!(
                    "group[{n}].members: {} migration(s); a group cuts over two or more together",
                    migrations.len()
                ),
            ));
        }
        groups.push(Group {
            name: g.name.clone(),
            hook,
            migrations,
        });
    }
    let changes = match shared
        .store
        .apply_plan((&waves, &groups), (actor, running), now_ms())
        .await?
    {
        PlanApplied::Applied(changes) => changes,
        PlanApplied::Refused(why) => return Err(ApiError::PermissionDenied(why)),
    };
    tracing::info!(%actor, ?changes, "plan applied");
    let mut plan = show(shared).await?;
    plan.changes = changes
        .into_iter()
        .map(|(name, change)| format!("{name}: {change}"))
        .collect();
    Ok(plan)
}

/// What a plan's members are resolved against: the migrations and the host labels.
struct Fleet<'a> {
    migrations: &'a [MigrationRecord],
    labels: &'a HashMap<AgentId, Labels>,
}

impl Fleet<'_> {
    /// The migrations of `list`, the members of `kind[n]` named `name`; each migration
    /// is in one wave and in one group at most (`taken`: by whom).
    fn members(
        &self,
        (kind, name, n): (&str, &str, usize),
        list: &[Member],
        taken: &mut HashMap<String, String>,
    ) -> Result<Vec<String>, ApiError> {
        let mut ids = Vec::new();
        for (k, member) in list.iter().enumerate() {
            let at = format!("{kind}[{n}].members[{k}]");
            for id in self.resolve(&at, member)? {
                match taken.insert(id.clone(), name.to_string()) {
                    None => ids.push(id),
                    // Named twice in one (by host and by a selector): once.
                    Some(other) if other == name => {}
                    Some(other) => {
                        return Err(ApiError::invalid(
                            "plan_toml",
                            format!("{at}: migration {id} is in {kind} {other} already: a migration is in one {kind}"),
                        ))
                    }
                }
            }
        }
        Ok(ids)
    }

    /// The live migrations `member` names or selects.
    fn resolve(&self, at: &str, member: &Member) -> Result<Vec<String>, ApiError> {
        let invalid = |why: String| ApiError::invalid("plan_toml", format!("{at}: {why}"));
        let selector = labels::parse_selector(&member.selector).map_err(&invalid)?;
        let live = self
            .migrations
            .iter()
            .filter(|m| m.state != State::Cancelled);
        if !selector.is_empty() {
            let found: Vec<String> = live
                .filter(|m| {
                    self.labels
                        .get(&m.agent_id)
                        .is_some_and(|l| labels::matches(l, &selector))
                        && (member.database.is_empty() || m.database == member.database)
                })
                .map(|m| m.id.clone())
                .collect();
            if found.is_empty() {
                return Err(invalid(format!(
                    "no migration on a host labelled {}: label the hosts (`ferry host label`) and start their migrations (`ferry migrate start`) first",
                    member.selector.join(", ")
                )));
            }
            return Ok(found);
        }
        let found: Vec<_> = live
            .filter(|m| {
                m.host.eq_ignore_ascii_case(&member.host)
                    && m.database == member.database
                    && (member.instance.is_empty()
                        || m.instance.eq_ignore_ascii_case(&member.instance))
            })
            .collect();
        match found.as_slice() {
            [m] => Ok(vec![m.id.clone()]),
            [] => Err(invalid(format!(
                "no migration of {} on {}: start it first (`ferry migrate start`)",
                member.database, member.host
            ))),
            _ => Err(invalid(format!(
                "several instances of {} migrate {}: name the instance",
                member.host, member.database
            ))),
        }
    }
}

pub async fn show(shared: &Context) -> Result<op::Plan, ApiError> {
    let mut waves = Vec::new();
    for record in shared.store.waves().await? {
        waves.push(info(shared, record).await?);
    }
    let mut groups = Vec::new();
    for group in shared.store.groups().await? {
        let mut migrations = Vec::new();
        for id in &group.migrations {
            if let Ok(m) = super::migration::get(shared, id).await {
                migrations.push(m);
            }
        }
        let run = shared.store.hook_run(&group.name).await?;
        groups.push(op::GroupInfo {
            hook: group.hook.clone().unwrap_or_default(),
            hook_state: run.as_ref().map(|r| r.state.clone()).unwrap_or_default(),
            hook_detail: run.map(|r| r.detail).unwrap_or_default(),
            name: group.name,
            migrations,
        });
    }
    Ok(op::Plan {
        waves,
        changes: Vec::new(),
        groups,
    })
}

async fn info(shared: &Context, record: WaveRecord) -> Result<op::WaveInfo, ApiError> {
    let WaveRecord {
        wave,
        paused,
        approvers,
    } = record;
    let mut migrations = Vec::new();
    for id in &wave.migrations {
        if let Ok(m) = super::migration::get(shared, id).await {
            migrations.push(m);
        }
    }
    let (start, end) = match &wave.window {
        Some(Window::OneOff(start, end)) => (*start, *end),
        _ => (0, 0),
    };
    let window = wave
        .window
        .as_ref()
        .map(Window::describe)
        .unwrap_or_default();
    Ok(op::WaveInfo {
        name: wave.name,
        approvals: wave.approvals,
        on_failure: match wave.on_failure {
            OnFailure::Halt => "halt",
            OnFailure::Continue => "continue",
        }
        .into(),
        window_start_unix_ms: start,
        window_end_unix_ms: end,
        window,
        paused,
        approvers,
        migrations,
    })
}

/// Approve, pause or resume wave `name`.
pub async fn change(
    shared: &Context,
    actor: &str,
    name: &str,
    verb: Verb,
) -> Result<op::Plan, ApiError> {
    if shared.store.wave(name).await?.is_none() {
        return Err(ApiError::NotFound(format!(
            "no wave {name:?}: `ferry plan show` lists them"
        )));
    }
    let now = now_ms();
    let changed = match verb {
        Verb::Approve => shared.store.approve_wave(name, actor, now).await?,
        Verb::Pause => shared.store.set_wave_paused(name, true, actor, now).await?,
        Verb::Resume => {
            shared
                .store
                .set_wave_paused(name, false, actor, now)
                .await?
        }
    };
    if changed == Change::Unchanged {
        return Err(ApiError::FailedPrecondition(format!(
            "wave {name} is {} already",
            match verb {
                Verb::Approve => "approved by you",
                Verb::Pause => "paused",
                Verb::Resume => "running",
            }
        )));
    }
    tracing::info!(wave = %name, %actor, ?verb, "wave changed");
    show(shared).await
}

#[derive(Debug, Clone, Copy)]
pub enum Verb {
    Approve,
    Pause,
    Resume,
}
