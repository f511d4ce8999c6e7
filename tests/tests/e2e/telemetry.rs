//! One trace from the operator's CLI through the control plane and the agent and back.

use super::*;

#[tokio::test]
async fn a_command_is_one_trace_from_the_cli_through_the_agent_and_back() {
    let (receiver, otlp) = ferry_tests::otlp::Receiver::start().await;
    let env = [
        ("OTEL_EXPORTER_OTLP_ENDPOINT", otlp.as_str()),
        ("OTEL_BSP_SCHEDULE_DELAY", "100"),
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
    agent.stop().await;
    plane.stop().await;
}
