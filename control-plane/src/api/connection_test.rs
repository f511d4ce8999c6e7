//! The operator API's connection tests: ask the agents of some hosts to test the
//! network toward a target (one TestConnection command each, carrying the target's
//! FQDN), and read what they found. Offline hosts test when they return, until the
//! test's deadline.

use ferry_proto::operator::v1 as op;

use super::assessment::check_detail;
use super::{ApiError, Context};
use crate::connection_test::TestRequest;
use crate::service::lookup::{find_target, live_hosts, named_live_hosts};
use crate::store::commands::{CommandKind, CommandRecord};
use crate::store::connection_tests::ConnectionTestRecord;
use ferry_proto::clock::now_ms;

/// How long a test waits for an offline host.
const DEADLINE_MS: i64 = 60 * 60 * 1000;
/// Hosts and instances named in one request, at most.
const MAX_NAMES: usize = 10_000;

pub async fn test(
    shared: &Context,
    actor: &str,
    request: op::TestConnectionRequest,
) -> Result<op::ConnectionTests, ApiError> {
    let target = find_target(shared, &request.target).await?;
    let hosts = match (request.all, request.hosts.len()) {
        (true, 0) => live_hosts(shared, |_| true).await?,
        (false, 1..=MAX_NAMES) => named_live_hosts(shared, &request.hosts).await?,
        _ => {
            return Err(ApiError::invalid(
                "hosts",
                format!("give `all` or 1 to {MAX_NAMES} host names or ids"),
            ))
        }
    };
    if hosts.is_empty() {
        return Err(ApiError::FailedPrecondition(
            "no enrolled hosts to test; enroll agents first (`ferry token create`)".into(),
        ));
    }
    if request.instances.len() > MAX_NAMES
        || request
            .instances
            .iter()
            .any(|i| i.is_empty() || i.len() > 128)
    {
        return Err(ApiError::invalid(
            "instances",
            "instance names are 1 to 128 characters, as in the agents' configurations",
        ));
    }
    let mi = &target.instance;
    let payload = serde_json::to_string(&TestRequest {
        target_id: mi.id.to_string(),
        fqdn: mi.fqdn.clone(),
        instances: request.instances,
    })
    .map_err(|e| ApiError::Internal(e.to_string()))?;
    let now = now_ms();
    let trace_context = crate::context::trace_context();
    let commands: Vec<CommandRecord> = hosts
        .iter()
        .map(|agent| {
            CommandRecord::pending(
                agent.id,
                CommandKind::TestConnection,
                actor,
                now,
                now + DEADLINE_MS,
                &trace_context,
            )
            .with_payload(payload.clone())
        })
        .collect();
    shared
        .store
        .create_connection_tests(&mi.id.key(), &mi.fqdn, &commands)
        .await?;
    for agent in &hosts {
        shared.sessions.wake(agent.id);
    }
    tracing::info!(target = %mi.id, hosts = hosts.len(), %actor, "connection test started");
    // Nothing is reported yet: the answer is the commands just stored.
    let started = commands
        .into_iter()
        .map(|command| ConnectionTestRecord {
            command,
            target_key: mi.id.key(),
            fqdn: mi.fqdn.clone(),
            reported_at_ms: None,
            instances: Vec::new(),
        })
        .collect();
    tests(shared, started).await
}

pub async fn get(
    shared: &Context,
    request: op::GetConnectionTestsRequest,
) -> Result<op::ConnectionTests, ApiError> {
    if !request.test_ids.is_empty() {
        if request.test_ids.len() > MAX_NAMES {
            return Err(ApiError::invalid(
                "test_ids",
                format!("at most {MAX_NAMES}"),
            ));
        }
        let found = shared.store.connection_tests(&request.test_ids).await?;
        return tests(shared, found).await;
    }
    let target = find_target(shared, &request.target).await?;
    let agent = if request.host.is_empty() {
        None
    } else {
        Some(
            crate::service::lookup::find_host(shared, &request.host)
                .await?
                .id,
        )
    };
    let found = shared
        .store
        .newest_connection_tests(&target.instance.id.key(), agent)
        .await?;
    tests(shared, found).await
}

async fn tests(
    shared: &Context,
    found: Vec<ConnectionTestRecord>,
) -> Result<op::ConnectionTests, ApiError> {
    let agents = shared.store.list_agents().await?;
    let host = |id| {
        agents
            .iter()
            .find(|a| a.agent.id == id)
            .map_or_else(|| id.to_string(), |a| a.agent.name.clone())
    };
    let targets = shared.store.targets().await?;
    Ok(op::ConnectionTests {
        tests: found
            .into_iter()
            .map(|test| op::ConnectionTest {
                id: test.command.id.clone(),
                host: host(test.command.agent_id),
                target: targets
                    .iter()
                    .find(|t| t.instance.id.key() == test.target_key)
                    .map_or_else(|| test.target_key.clone(), |t| t.instance.id.to_string()),
                fqdn: test.fqdn,
                state: test.command.state.as_str().into(),
                error: if test.command.error_message.is_empty() {
                    String::new()
                } else {
                    format!(
                        "{}: {}",
                        test.command.error_code, test.command.error_message
                    )
                },
                requested_by: test.command.created_by,
                requested_unix_ms: test.command.created_at_ms,
                reported_unix_ms: test.reported_at_ms.unwrap_or(0),
                instances: test
                    .instances
                    .into_iter()
                    .map(|(instance, verdict)| op::InstanceConnection {
                        verdict: verdict.as_str().into(),
                        duration_ms: instance.duration_ms,
                        checks: instance
                            .results
                            .into_iter()
                            .map(|r| check_detail(instance.name.clone(), r))
                            .collect(),
                        instance: if instance.error.is_empty() {
                            instance.name
                        } else {
                            format!("{} ({})", instance.name, instance.error)
                        },
                    })
                    .collect(),
            })
            .collect(),
    })
}
