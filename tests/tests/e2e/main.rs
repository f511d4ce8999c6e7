//! End to end through the real binaries, one test binary so that the slow process
//! start-ups overlap. Shared helpers are here; the tests are grouped by concept:
//!
//! - [`journey`]: enroll, heartbeat, inventory, commands, clean stop (SQLite and PG).
//! - [`enrollment`]: refused enrollments store nothing.
//! - [`identity`]: certificates as identity, revocation, roles, health.
//! - [`operators`]: operator certificates on record: re-issue, revoke, renew.
//! - [`outbox`]: reports survive control-plane and agent crashes, stored exactly once.
//! - [`renewal`]: certificate renewal, before and after expiry; server rotation.
//! - [`telemetry`]: one trace across CLI, control plane and agent.
//! - [`paging`]: list RPCs in pages; the CLI walks them.
//! - [`replicas`]: several control-plane replicas on one store.
//! - [`inventory`]: inventory over TDS and login failures.
//! - [`targets`]: target managed instances read through ARM with azure_identity, and
//!   connection tests toward one.
//! - [`migrations`]: `ferry migrate`: pre-flight, the link set up on SQL Server and
//!   Azure, watched until ready for cutover.
//! - [`workflow`]: the link's set-up steps on SQL Server, in process against the lab.
//! - [`observability`]: health, metrics, a real Prometheus, the dashboards and alerts.
//! - [`retention`]: the running control plane forgets history past its horizon.

mod admission;
mod assessment;
mod cutover;
mod cutover_crash;
mod cutover_faults;
mod cutover_forced;
mod cutover_groups;
mod enrollment;
mod fleet_runs;
mod identity;
mod inventory;
mod journey;
mod migration_crash;
mod migration_faults;
mod migrations;
mod observability;
mod operators;
mod outbox;
mod paging;
mod renewal;
mod replicas;
mod retention;
mod roles;
mod targets;
mod telemetry;
mod waves;
mod workflow;

use std::collections::HashSet;
use std::time::Duration;

use ferry_agent::control::enroll::key_and_csr;
use ferry_agent::control::identity::Identity;
use ferry_agent::control::outbox::Outbox;
use ferry_agent::control::pinning::enrollment_client_config;
use ferry_proto::agent::v1::agent_service_client::AgentServiceClient;
use ferry_proto::agent::v1::enrollment_client::EnrollmentClient;
use ferry_proto::agent::v1::{
    agent_message, report, AgentMessage, CommandAck, CommandResult, EnrollRequest, Hello,
    RenewRequest, Report,
};
use ferry_proto::operator::v1::operator_client::OperatorClient;
use ferry_proto::operator::v1::ListHostsRequest;
use ferry_proto::token::EnrollmentToken;
use ferry_proto::transport::{self, ChannelOptions, ControlPlaneUrl};
use ferry_tests::processes::{
    agent_config, closed_port, AgentProcess, ControlPlane, FAST_CONTROL_CONFIG,
};
use ferry_tests::wait;
use serde_json::Value;
use tonic::Code;

const LIMIT: Duration = Duration::from_secs(30);

/// The first column of `query`'s rows as text (names, mostly).
async fn first_column(conn: &mut ferry_agent::sql::Connection, query: &str) -> Vec<String> {
    ferry_agent::sql::rows(conn, "first column", query, Duration::from_secs(10))
        .await
        .unwrap()
        .iter()
        .map(|r| r.get::<&str, _>(0).unwrap().to_string())
        .collect()
}

fn text(output: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

async fn enroll_ok(plane: &ControlPlane, dir: &std::path::Path, name: &str) -> std::path::PathBuf {
    let state = dir.join(name);
    let output = AgentProcess::enroll(&state, &plane.url(), &plane.token("10m").await, name).await;
    assert!(output.status.success(), "enroll {name}: {}", text(&output));
    assert!(
        text(&output).contains(&format!("enrolled as {name}")),
        "{}",
        text(&output)
    );
    state
}

/// The host's JSON from `ferry hosts`, once `accept` holds for it.
async fn host_where(
    plane: &ControlPlane,
    name: &str,
    what: &str,
    accept: impl Fn(&Value) -> bool,
) -> Value {
    wait::until(what, LIMIT, || async {
        let hosts = plane.ferry_json(&["hosts"]).await;
        let host = hosts
            .as_array()
            .unwrap()
            .iter()
            .find(|h| h["name"] == name)
            .cloned();
        match host {
            Some(h) if accept(&h) => Ok(Some(h)),
            other => Err(format!("{other:?}")),
        }
    })
    .await
}

async fn command_state(plane: &ControlPlane, host: &str, id: &str) -> String {
    let commands = plane.ferry_json(&["command", "list", "--host", host]).await;
    let command = commands
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == id)
        .cloned()
        .unwrap();
    command["state"].as_str().unwrap().to_string()
}

async fn wait_command(plane: &ControlPlane, host: &str, id: &str, state: &str) {
    wait::until(&format!("command {id} to be {state}"), LIMIT, || async {
        let now = command_state(plane, host, id).await;
        if now == state {
            Ok(Some(()))
        } else {
            Err(now)
        }
    })
    .await
}
