//! Faults during a cutover: the network between SQL Server and the MI cut after the
//! switch to synchronous commit holds the failover back (the health gate names it),
//! and ARM failing the failover request is retried once the gates hold again: the
//! cutover completes, failing over once.

use super::cutover::step;
use super::migrations::{fixture, preflight_inputs, ready, start, watch_until, Fixture};
use super::*;
use ferry_sim::faults::{ArmFault, Direction};

#[tokio::test]
async fn a_cut_network_and_a_failing_arm_delay_the_failover_and_nothing_else() {
    let Fixture {
        lab,
        plane,
        agents,
        dir: _dir,
        ..
    } = fixture(super::migrations::SCENARIO, &[("sqlhost", &["SQL22"])]).await;
    preflight_inputs(&plane, &["sqlhost"]).await;
    let id = start(&plane, "sqlhost", "Sales").await;
    ready(&plane, std::slice::from_ref(&id)).await;
    lab.set_workload("SQL22", "Sales", &Default::default())
        .unwrap();

    // The network goes: the failover waits, and says why.
    lab.control
        .cut("SQL22", "mi-sales", Direction::Both)
        .unwrap();
    let cut = plane
        .ferry(&["cutover", &id, "--confirm-traffic-stopped"])
        .await;
    assert!(cut.status.success(), "{}", text(&cut));
    wait::until(
        "the failover held back by the cut network",
        LIMIT,
        || async {
            let m = plane.ferry_json(&["migrate", "show", &id]).await;
            let failover = step(&m, "failover");
            let detail = failover["detail"].as_str().unwrap_or_default().to_string();
            match (failover["state"].as_str(), detail.contains("health:")) {
                (Some("pending"), true) => Ok(Some(())),
                _ => Err(format!("{} {detail}", m["state"])),
            }
        },
    )
    .await;

    // ARM fails the first failover request; the network comes back.
    lab.control
        .fail_arm_on(ArmFault::ServerError, 1, "/failover")
        .unwrap();
    lab.control
        .restore("SQL22", "mi-sales", Direction::Both)
        .unwrap();
    watch_until(&plane, std::slice::from_ref(&id), "completed").await;
    assert_eq!(
        lab.control.arm_faults_left(),
        0,
        "the failing request was made"
    );
    let m = plane.ferry_json(&["migrate", "show", &id]).await;
    let failover = step(&m, "failover");
    assert_eq!(failover["state"], "done", "{failover}");
    assert_eq!(
        failover["attempts"], 2,
        "refused once, then made: {failover}"
    );
    assert_eq!(failover["already_done"], false, "{failover}");
    super::migrations::stop(plane, agents).await;
}
