//! One trace from the operator's CLI through the control plane and the agent and back;
//! the agent's and the control plane's metrics exported over OTLP.

use super::*;

#[tokio::test]
async fn a_command_is_one_trace_from_the_cli_through_the_agent_and_back() {
    let (receiver, otlp) = ferry_tests::otlp::Receiver::start().await;
    let env = [
        ("OTEL_EXPORTER_OTLP_ENDPOINT", otlp.as_str()),
        ("OTEL_BSP_SCHEDULE_DELAY", "100"),
        ("OTEL_METRIC_EXPORT_INTERVAL", "500"),
    ];
    let dir = tempfile::tempdir().unwrap();
    let plane = ControlPlane::start_with_env(
        dir.path(),
        FAST_CONTROL_CONFIG,
        "127.0.0.1:0".parse().unwrap(),
        &env,
    )
    .await;
    let state = enroll_ok(&plane, dir.path(), "sql-traced").await;
    let agent =
        AgentProcess::start_with_env(&state, &agent_config(&state, closed_port(), 3600), &env);
    host_where(&plane, "sql-traced", "sql-traced online", |h| {
        h["status"] == "online"
    })
    .await;

    let queued = plane
        .ferry_json(&[
            "command",
            "send",
            "--host",
            "sql-traced",
            "collect-inventory",
        ])
        .await;
    let id = queued["id"].as_str().unwrap().to_string();
    wait_command(&plane, "sql-traced", &id, "done").await;

    // One trace holds the CLI's request, the control plane's handling of it, the
    // agent's run of the command and the control plane storing the agent's result.
    let wanted = [
        ("ferry", "ferry"),
        ("ferry-control", "rpc"),
        ("ferry-agent", "agent.command"),
        ("ferry-control", "report.store"),
    ];
    wait::until(
        "one trace across CLI, control plane and agent",
        LIMIT,
        || async {
            let spans = receiver.spans();
            let agent_span = spans.iter().find(|s| {
                s.name == "agent.command"
                    && s.attributes.iter().any(|(k, v)| k == "command" && *v == id)
            });
            let Some(agent_span) = agent_span else {
                return Err(format!("{} spans, none for the command yet", spans.len()));
            };
            let trace: Vec<(&str, &str)> = spans
                .iter()
                .filter(|s| s.trace_id == agent_span.trace_id)
                .map(|s| (s.service.as_str(), s.name.as_str()))
                .collect();
            if wanted.iter().all(|w| trace.contains(w)) {
                Ok(Some(()))
            } else {
                Err(format!("trace {} has {trace:?}", agent_span.trace_id))
            }
        },
    )
    .await;

    // Both export their metrics over OTLP: the agent its own (memory, CPU, the command's
    // and its SQL connection's durations, its outbox), the control plane the fleet's.
    let exported = [
        ("ferry-agent", "process.memory.usage"),
        ("ferry-agent", "process.cpu.time"),
        ("ferry-agent", "ferry.agent.command.duration"),
        ("ferry-agent", "ferry.agent.sql.duration"),
        ("ferry-agent", "ferry.agent.outbox.reports"),
        ("ferry-control", "ferry.agent.heartbeats"),
        ("ferry-control", "rpc.server.call.duration"),
        ("ferry-control", "ferry.agents"),
    ];
    wait::until("the metrics over OTLP", LIMIT, || async {
        let missing: Vec<_> = exported
            .iter()
            .filter(|(service, name)| !receiver.has_metric(service, name))
            .collect();
        match missing.is_empty() {
            true => Ok(Some(())),
            false => Err(format!("not yet exported: {missing:?}")),
        }
    })
    .await;
    agent.stop().await;
    plane.stop().await;
}

/// The whole cutover of one database is one trace: the operator's request, the
/// control plane's steps and ARM calls, the agent's commands and their T-SQL steps,
/// the checks on the MI. The agent here reads SQL Server's side only when asked
/// (`link_status_interval_secs = 0`): the gates get their readings by asking.
#[tokio::test]
async fn a_cutover_is_one_trace_across_the_plane_the_agent_tsql_and_arm() {
    use super::migrations::{fixture_on, ready_one, stop, Fixture};
    let (receiver, otlp) = ferry_tests::otlp::Receiver::start().await;
    let env = [
        ("OTEL_EXPORTER_OTLP_ENDPOINT", otlp.as_str()),
        ("OTEL_BSP_SCHEDULE_DELAY", "100"),
    ];
    let Fixture {
        lab,
        plane,
        mut agents,
        dir: _dir,
        ..
    } = fixture_on(
        super::cutover::SCENARIO,
        &[("sqlhost", &["SQL22"])],
        None,
        &env,
    )
    .await;
    let id = ready_one(&plane, "sqlhost", "Shop").await;
    let (state, config, agent) = agents.pop().unwrap();
    agent.stop().await;
    let asked_only = config.replace(
        "link_status_interval_secs = 1",
        "link_status_interval_secs = 0",
    );
    assert_ne!(asked_only, config);
    let agent = AgentProcess::start_with_env(&state, &asked_only, &env);
    agents.push((state, asked_only, agent));
    super::cutover::cut_over_stopped(&plane, &lab, (&id, "Shop"), &[]).await;

    let attribute = |s: &ferry_tests::otlp::ReceivedSpan, key: &str, value: &str| {
        s.attributes.iter().any(|(k, v)| k == key && v == value)
    };
    let wanted = [
        ("ferry", "ferry", None),
        ("ferry-control", "rpc", None),
        ("ferry-control", "cutover.step", Some(("step", "failover"))),
        (
            "ferry-control",
            "cutover.step",
            Some(("step", "verify_on_mi")),
        ),
        (
            "ferry-control",
            "cutover.step",
            Some(("step", "validation")),
        ),
        ("ferry-control", "arm.request", None),
        ("ferry-agent", "agent.command", None),
        (
            "ferry-agent",
            "tsql.step",
            Some(("step", "synchronous_commit")),
        ),
        (
            "ferry-agent",
            "tsql.step",
            Some(("step", "drop_distributed_availability_group")),
        ),
    ];
    wait::until("one trace for the whole cutover", LIMIT, || async {
        let spans = receiver.spans();
        let Some(failover) = spans.iter().find(|s| {
            s.name == "cutover.step"
                && attribute(s, "step", "failover")
                && attribute(s, "migration", &id)
        }) else {
            return Err(format!("{} spans, none for the failover yet", spans.len()));
        };
        let trace: Vec<&ferry_tests::otlp::ReceivedSpan> = spans
            .iter()
            .filter(|s| s.trace_id == failover.trace_id)
            .collect();
        let missing: Vec<_> = wanted
            .iter()
            .filter(|(service, name, attr)| {
                !trace.iter().any(|s| {
                    s.service == *service
                        && s.name == *name
                        && attr.is_none_or(|(k, v)| attribute(s, k, v))
                })
            })
            .collect();
        if missing.is_empty() {
            Ok(Some(()))
        } else {
            Err(format!("trace {} lacks {missing:?}", failover.trace_id))
        }
    })
    .await;
    stop(plane, agents).await;
}
