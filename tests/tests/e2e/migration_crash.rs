//! kill -9 of the agent and of the control plane at every step of the link's set-up,
//! one step after the other in one migration, then a restart of both: the migration
//! completes, no step that was done runs its change again, and each object exists
//! once on SQL Server and on the MI.
//!
//! Each step is caught in the act. A SQL Server step: the lab holds the reply to the
//! statement that makes the step's object (`Control::hold_replies`), so the object
//! exists and the agent has not learnt it when both die. Azure's uploads and link: while
//! their long-running operation runs. Reading the MI's certificate: while ARM leaves
//! the GET unanswered.

use super::migrations::{
    fixture, groups, mi_links, outside_arm, preflight_inputs, ready, sql, start, step_is, Fixture,
};
use super::targets::mi_id;
use super::*;
use ferry_sim::faults::ArmFault;

/// How the loop catches a step in the act.
pub(super) enum Catch {
    /// The reply to a batch containing this text held (a SQL Server step).
    Reply(&'static str),
    /// The managed instance's reply to a batch containing this text held (a check of
    /// the control plane's on the MI).
    MiReply(&'static str),
    /// Its ARM operation in flight.
    Operation,
    /// An ARM request to a path containing this text left unanswered.
    Unanswered(&'static str),
    /// Nothing outside the store to catch it at (the application hook outside a
    /// group): not killed at.
    Instant,
}

/// The set-up steps in the journal's order (control plane's `journal::STEPS`).
const STEPS: [(&str, Catch); 11] = [
    ("database", Catch::Reply("GROUP BY d.state_desc")),
    ("master_key", Catch::Reply("CREATE MASTER KEY")),
    ("endpoint_certificate", Catch::Reply("WITH SUBJECT")),
    ("mirroring_endpoint", Catch::Reply("CREATE ENDPOINT")),
    ("upload_certificate", Catch::Operation),
    (
        "read_mi_certificate",
        Catch::Unanswered("endpointCertificates"),
    ),
    ("mi_certificate", Catch::Reply("FROM BINARY")),
    ("root_trust", Catch::Reply("EXEC sp_certificate_add_issuer")),
    (
        "availability_group",
        Catch::Reply("CREATE AVAILABILITY GROUP [AG_"),
    ),
    (
        "distributed_availability_group",
        Catch::Reply("WITH (DISTRIBUTED)"),
    ),
    ("create_link", Catch::Operation),
];

/// Prepares the catch of a step before the step can start.
pub(super) fn arm(lab: &ferry_sim::Lab, catch: &Catch) {
    match catch {
        Catch::Reply(statement) => lab.control.hold_replies("SQL22", statement).unwrap(),
        Catch::MiReply(statement) => lab.control.hold_replies("mi-sales", statement).unwrap(),
        Catch::Unanswered(path) => lab
            .control
            .fail_arm_on(ArmFault::Timeout { after_secs: 600 }, 1, path)
            .unwrap(),
        Catch::Operation | Catch::Instant => {}
    }
}

/// The processes the loop kills and starts again, and what it starts them with.
pub(super) struct Down {
    pub(super) dir: std::path::PathBuf,
    pub(super) plane_config: String,
    pub(super) plane: ControlPlane,
    pub(super) state: std::path::PathBuf,
    pub(super) agent_config: String,
    pub(super) agent: AgentProcess,
}

/// The lab at speed 10 (Azure's operations run long enough to be caught) with one host,
/// SQL22, assessed and tested toward mi-sales: the lab, the test's directory (kept
/// while it lives), and the processes.
pub(super) async fn slow_fixture() -> (ferry_sim::Lab, tempfile::TempDir, Down) {
    let scenario = super::migrations::SCENARIO.replace("speed = 100.0", "speed = 10.0");
    let Fixture {
        lab,
        dir,
        config,
        plane,
        mut agents,
    } = fixture(&scenario, &[("sqlhost", &["SQL22"])]).await;
    preflight_inputs(&plane, &["sqlhost"]).await;
    let (state, agent_config, agent) = agents.pop().unwrap();
    let down = Down {
        dir: dir.path().to_path_buf(),
        plane_config: config,
        plane,
        state,
        agent_config,
        agent,
    };
    (lab, dir, down)
}

/// Catches each of `steps` (journaled from `first` on) in the act, the first one's
/// catch prepared already, and kills both processes there, then starts them again.
pub(super) async fn kill_at_each(
    lab: &ferry_sim::Lab,
    mut down: Down,
    id: &str,
    first: usize,
    steps: &[(&str, Catch)],
) -> Down {
    for (n, (name, catch)) in steps.iter().enumerate() {
        let seq = first + n;
        let held = |instance: &'static str| {
            move || async move { Ok((lab.control.held_replies(instance) > 0).then_some(())) }
        };
        match catch {
            Catch::Reply(statement) => {
                wait::until(&format!("{name}: {statement:?} held"), LIMIT, held("SQL22")).await
            }
            Catch::MiReply(statement) => {
                wait::until(
                    &format!("{name}: {statement:?} held on the MI"),
                    LIMIT,
                    held("mi-sales"),
                )
                .await
            }
            Catch::Unanswered(path) => {
                wait::until(
                    &format!("{name}: a request to {path} out"),
                    LIMIT,
                    || async { Ok((lab.control.arm_faults_left() == 0).then_some(())) },
                )
                .await
            }
            Catch::Operation => step_is(&down.plane, id, seq, "running").await,
            Catch::Instant => continue,
        }
        let addr = down.plane.kill().await;
        down.agent.kill().await;
        // Both down: the step's work is done or under way, unreported. The lab lets
        // a held reply go only once it has seen its client gone; the next step's
        // catch is set before anything can reach it.
        for instance in ["SQL22", "mi-sales"] {
            wait::until(
                "the killed processes' held replies dropped",
                LIMIT,
                || async { Ok((lab.control.held_replies(instance) == 0).then_some(())) },
            )
            .await;
            lab.control.release_replies(instance).unwrap();
        }
        // The next step's catch, and the one after a step not caught.
        for (_, next) in steps[n + 1..].iter().take(2) {
            arm(lab, next);
            if !matches!(next, Catch::Instant) {
                break;
            }
        }
        down.plane = ControlPlane::start_on(&down.dir, &down.plane_config, addr).await;
        down.agent = AgentProcess::start(&down.state, &down.agent_config);
    }
    down
}

#[tokio::test]
async fn killed_at_every_step_the_set_up_resumes_and_completes_once() {
    // Speed 10: the certificate upload takes 3 s and the link 9 s.
    let (lab, _dir, down) = slow_fixture().await;
    arm(&lab, &STEPS[0].1);
    let id = start(&down.plane, "sqlhost", "Sales").await;
    let Down {
        plane,
        agent,
        dir,
        plane_config,
        ..
    } = kill_at_each(&lab, down, &id, 0, &STEPS).await;
    ready(&plane, std::slice::from_ref(&id)).await;

    let shown = plane.ferry_json(&["migrate", "show", &id]).await;
    let steps = shown["steps"].as_array().unwrap();
    let names: Vec<&str> = steps.iter().map(|s| s["name"].as_str().unwrap()).collect();
    assert_eq!(names, STEPS.map(|(name, _)| name), "{shown}");
    for (step, (name, catch)) in steps.iter().zip(&STEPS) {
        assert_eq!(step["state"], "done", "{shown}");
        if let Catch::Reply(_) = catch {
            // The command was redelivered, not sent again, and its last run found
            // each step's work done by the runs killed before it (root_trust's, caught
            // between its two roots, by the run that finished it).
            assert_eq!(step["attempts"], 1, "{name}: {step}");
            assert_eq!(step["already_done"], true, "{name}: {step}");
        }
    }

    // Each object once: SQL Server's groups and certificates, the MI's link and
    // trust certificate.
    assert_eq!(groups(&lab, "SQL22").await, ["AG_Sales", "DAG_Sales"]);
    let mut sql = sql(&lab, "SQL22").await;
    let query = "SELECT name FROM master.sys.certificates WHERE name NOT LIKE N'##%'";
    let mut certificates = first_column(&mut sql, query).await;
    certificates.sort_unstable();
    let mi = lab.managed_instance("mi-sales").unwrap();
    let mut expected = vec![
        "Cert_SQL22_endpoint",
        "DigiCertPKI",
        "MicrosoftPKI",
        &mi.fqdn,
    ];
    expected.sort_unstable();
    assert_eq!(certificates, expected);
    assert_eq!(mi_links(&lab, "mi-sales").await, ["DAG_Sales"], "one link");
    let target = ferry_control::azure::ManagedInstanceId::parse(&mi_id(&lab)).unwrap();
    let trusted = outside_arm(&dir, &plane_config)
        .trust_certificates(&target)
        .await
        .unwrap();
    let trusted: Vec<&str> = trusted.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(trusted, ["Cert_SQL22_endpoint"], "one trust certificate");

    agent.stop().await;
    plane.stop().await;
}

/// An agent that took its steps' command and is gone past the report timeout (5 s
/// here): the step fails saying so and how to retry, rather than waiting for ever;
/// with the agent back, `ferry migrate retry` completes the set-up.
#[tokio::test]
async fn an_agent_gone_with_its_command_fails_the_step_and_a_retry_completes() {
    let (lab, _dir, down) = slow_fixture().await;
    let Down {
        dir,
        plane_config,
        plane,
        state,
        agent_config,
        agent,
    } = down;
    let config = plane_config.replace(
        "lease_ttl_secs = 3\n",
        "lease_ttl_secs = 3\nreport_timeout_secs = 5\n",
    );
    assert_ne!(config, plane_config, "the report timeout is set");
    let addr = plane.kill().await;
    let plane = ControlPlane::start_on(&dir, &config, addr).await;

    arm(&lab, &Catch::Reply("CREATE MASTER KEY"));
    let id = start(&plane, "sqlhost", "Sales").await;
    wait::until("the master key's statement held", LIMIT, || async {
        Ok((lab.control.held_replies("SQL22") > 0).then_some(()))
    })
    .await;
    agent.kill().await;
    wait::until("the killed agent's held reply dropped", LIMIT, || async {
        Ok((lab.control.held_replies("SQL22") == 0).then_some(()))
    })
    .await;
    lab.control.release_replies("SQL22").unwrap();
    let failed = wait::until("the step failed for want of a report", LIMIT, || async {
        let shown = plane.ferry_json(&["migrate", "show", &id]).await;
        match shown["state"].as_str() {
            Some("failed") => Ok(Some(shown)),
            state => Err(format!("{state:?}: {}", shown["detail"])),
        }
    })
    .await;
    let detail = failed["detail"].as_str().unwrap_or_default();
    assert!(
        detail.contains("has not reported") && detail.contains("ferry migrate retry"),
        "{failed}"
    );

    let agent = AgentProcess::start(&state, &agent_config);
    let retried = plane.ferry(&["migrate", "retry", &id]).await;
    assert!(retried.status.success(), "{}", text(&retried));
    ready(&plane, std::slice::from_ref(&id)).await;
    agent.stop().await;
    plane.stop().await;
}
