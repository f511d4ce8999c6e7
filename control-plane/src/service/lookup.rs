//! Finding what an operator names: a host by id or name (live: not revoked), the
//! hosts a request selects, a target by resource id or name. Each miss says what to
//! run to see what exists.

use super::ServiceError;
use crate::azure::ManagedInstanceId;
use crate::context::Context;
use crate::store::agents::{AgentRecord, AgentSummary};
use crate::store::targets::TargetRecord;

/// The agent named by id or name.
pub async fn find_host(shared: &Context, key: &str) -> Result<AgentRecord, ServiceError> {
    if key.is_empty() {
        return Err(ServiceError::invalid(
            "host",
            "give a host id or name (see `ferry hosts`)",
        ));
    }
    shared
        .store
        .find_agents(key)
        .await?
        .into_iter()
        .next()
        .ok_or_else(|| {
            ServiceError::NotFound(format!(
                "no host with id or name {key:?}; list them with `ferry hosts`"
            ))
        })
}

/// The agent named by id or name, refused when it is revoked.
pub async fn find_live_host(shared: &Context, key: &str) -> Result<AgentRecord, ServiceError> {
    let agent = find_host(shared, key).await?;
    if agent.revoked_at_ms.is_some() {
        return Err(ServiceError::FailedPrecondition(format!(
            "host {} ({}) is revoked",
            agent.name, agent.id
        )));
    }
    Ok(agent)
}

/// The hosts named (by name or id), each once; a revoked or unknown one is an error.
pub async fn named_live_hosts(
    shared: &Context,
    keys: &[String],
) -> Result<Vec<AgentRecord>, ServiceError> {
    let mut agents: Vec<AgentRecord> = Vec::with_capacity(keys.len());
    for key in keys {
        let agent = find_live_host(shared, key).await?;
        if !agents.iter().any(|a| a.id == agent.id) {
            agents.push(agent);
        }
    }
    Ok(agents)
}

/// Every enrolled host that is not revoked and that `select` keeps.
pub async fn live_hosts(
    shared: &Context,
    select: impl Fn(&AgentSummary) -> bool,
) -> Result<Vec<AgentRecord>, ServiceError> {
    Ok(shared
        .store
        .list_agents()
        .await?
        .into_iter()
        .filter(|h| h.agent.revoked_at_ms.is_none() && select(h))
        .map(|h| h.agent)
        .collect())
}

/// The target named by its resource id or, when unambiguous, its name.
pub async fn find_target(shared: &Context, key: &str) -> Result<TargetRecord, ServiceError> {
    if key.is_empty() {
        return Err(ServiceError::invalid(
            "target",
            "name a target by its resource id or name (`ferry target ls`)",
        ));
    }
    let targets = shared.store.targets().await?;
    let by_id = ManagedInstanceId::parse(key).ok().map(|id| id.key());
    let mut found: Vec<TargetRecord> = targets
        .into_iter()
        .filter(|t| {
            Some(t.instance.id.key()) == by_id || t.instance.id.name.eq_ignore_ascii_case(key)
        })
        .collect();
    match found.len() {
        1 => Ok(found.remove(0)),
        0 => Err(ServiceError::NotFound(format!(
            "no target {key:?}; add it with `ferry target add <resource id>`"
        ))),
        _ => Err(ServiceError::invalid(
            "target",
            format!(
                "{key:?} names several targets; give the resource id: {}",
                found
                    .iter()
                    .map(|t| t.instance.id.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        )),
    }
}
