//! `ferry target test`: waiting for connection tests to finish, and rendering them
//! (every check per instance: passed ones in a line, the others with evidence and fix).

use std::time::{Duration, Instant};

use ferry_proto::operator::v1 as op;
use ferry_proto::operator::v1::operator_client::OperatorClient;
use serde_json::{json, Value};
use tonic::transport::Channel;

use super::assess::render::{check_json, check_text};
use super::{request, CliError};

/// A test has an outcome in these command states.
fn finished(test: &op::ConnectionTest) -> bool {
    matches!(test.state.as_str(), "done" | "failed" | "expired")
}

/// Polls the tests every `every` until each finished or `limit` passed; returns them
/// as last seen.
pub async fn wait_for(
    client: &mut OperatorClient<Channel>,
    mut tests: Vec<op::ConnectionTest>,
    every: Duration,
    limit: Duration,
) -> Result<Vec<op::ConnectionTest>, CliError> {
    let started = Instant::now();
    let mut poll = tokio::time::interval(every);
    poll.tick().await;
    while !tests.iter().all(finished) && started.elapsed() < limit {
        poll.tick().await;
        tests = client
            .get_connection_tests(request(op::GetConnectionTestsRequest {
                test_ids: tests.iter().map(|t| t.id.clone()).collect(),
                ..Default::default()
            }))
            .await?
            .into_inner()
            .tests;
    }
    Ok(tests)
}

pub fn tests_text(tests: &[op::ConnectionTest]) -> String {
    let mut out = String::new();
    for test in tests {
        out.push_str(&format!("Host {} -> {}: ", test.host, test.fqdn));
        match test.state.as_str() {
            "done" => out.push_str("tested\n"),
            "failed" => out.push_str(&format!("the test failed: {}\n", test.error)),
            "expired" => out.push_str("the host did not come back before the test's deadline\n"),
            "pending" => {
                out.push_str("waiting for the host (offline?); see `ferry target test-results`\n")
            }
            _ => out.push_str("running; see `ferry target test-results`\n"),
        }
        for instance in &test.instances {
            let took = f64::from(instance.duration_ms) / 1000.0;
            out.push_str(&format!(
                "  Instance {}: {} ({took:.1} s)\n",
                instance.instance, instance.verdict
            ));
            for check in &instance.checks {
                if check.status == "passed" {
                    out.push_str(&format!("    ok   {} {}\n", check.check_id, check.title));
                } else {
                    for (n, line) in check_text(check).lines().enumerate() {
                        let mark = match (n, check.status.as_str(), check.severity.as_str()) {
                            (0, "unknown", _) => "??   ",
                            (0, _, "blocker") => "FAIL ",
                            (0, _, "warning") => "WARN ",
                            (0, _, _) => "note ",
                            _ => "     ",
                        };
                        out.push_str(&format!("    {mark}{line}\n"));
                    }
                }
            }
        }
    }
    out
}

pub fn tests_json(tests: &[op::ConnectionTest]) -> Value {
    Value::Array(
        tests
            .iter()
            .map(|t| {
                json!({
                    "id": t.id, "host": t.host, "target": t.target, "fqdn": t.fqdn,
                    "state": t.state, "error": t.error, "requested_by": t.requested_by,
                    "requested_unix_ms": t.requested_unix_ms,
                    "reported_unix_ms": t.reported_unix_ms,
                    "instances": t.instances.iter().map(|i| json!({
                        "instance": i.instance, "verdict": i.verdict,
                        "duration_ms": i.duration_ms,
                        "checks": i.checks.iter().map(check_json).collect::<Vec<_>>(),
                    })).collect::<Vec<_>>(),
                })
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passed_checks_take_a_line_and_findings_show_their_fix() {
        let check = |id: &str, severity: &str, status: &str| op::CheckDetail {
            instance: "default".into(),
            check_id: id.into(),
            scope: "instance".into(),
            severity: severity.into(),
            title: format!("title of {id}"),
            remedy: format!("fix {id}"),
            status: status.into(),
            findings: if status == "found" {
                vec![op::FindingDetail {
                    message: "port 5022 refused".into(),
                    ..Default::default()
                }]
            } else {
                Vec::new()
            },
            ..Default::default()
        };
        let test = op::ConnectionTest {
            host: "sql01".into(),
            fqdn: "mi.zone.database.windows.net".into(),
            state: "done".into(),
            instances: vec![op::InstanceConnection {
                instance: "default".into(),
                verdict: "not_ready".into(),
                duration_ms: 420,
                checks: vec![
                    check("NET-MI-DNS", "blocker", "passed"),
                    check("NET-MI-LINK-PORT", "blocker", "found"),
                ],
            }],
            ..Default::default()
        };
        let text = tests_text(&[test]);
        assert!(
            text.contains("Instance default: not_ready (0.4 s)"),
            "{text}"
        );
        assert!(
            text.contains("    ok   NET-MI-DNS title of NET-MI-DNS\n"),
            "{text}"
        );
        assert!(
            text.contains("    FAIL NET-MI-LINK-PORT [instance blocker"),
            "{text}"
        );
        assert!(text.contains("  instance: port 5022 refused"), "{text}");
        assert!(text.contains("fix: fix NET-MI-LINK-PORT"), "{text}");
    }
}
