//! Faults during a cutover, at each of its ARM steps and around the failover: ARM
//! failing the switch to synchronous commit, the network between SQL Server and the
//! MI cut before the failover (the health gate holds it back and names it), ARM
//! failing the failover request, the network cut again after the failover and ARM
//! throttling the link's deletion. Each is retried: the cutover completes, every
//! ARM step made twice, the failover made once. A cancel while the failover's
//! request is out is refused.

use super::cutover::step;
use super::migrations::{fixture, ready_one, watch_until, Fixture};
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
    let id = ready_one(&plane, "sqlhost", "Sales").await;
    lab.set_workload("SQL22", "Sales", &Default::default())
        .unwrap();

    // ARM fails the switch to synchronous commit once; the network goes: the
    // failover waits, and says why.
    lab.control
        .fail_arm_request(
            ArmFault::ServerError,
            1,
            ("PATCH", "/distributedAvailabilityGroups/"),
        )
        .unwrap();
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

    assert_eq!(lab.control.arm_faults_left(), 0, "the PATCH was refused");

    // ARM fails the first failover request; the network comes back.
    lab.control
        .fail_arm_request(ArmFault::ServerError, 1, ("POST", "/failover"))
        .unwrap();
    lab.control
        .restore("SQL22", "mi-sales", Direction::Both)
        .unwrap();
    wait::until("the failover made", LIMIT, || async {
        let m = plane.ferry_json(&["migrate", "show", &id]).await;
        match step(&m, "failover")["state"].as_str() {
            Some("done") => Ok(Some(())),
            other => Err(format!("{other:?}")),
        }
    })
    .await;
    assert_eq!(lab.control.arm_faults_left(), 0, "the POST was refused");

    // After it, the network goes again and ARM throttles the link's deletion once.
    lab.control
        .cut("SQL22", "mi-sales", Direction::Both)
        .unwrap();
    lab.control
        .fail_arm_request(
            ArmFault::Throttled {
                retry_after_secs: 1,
            },
            1,
            ("DELETE", "/distributedAvailabilityGroups/"),
        )
        .unwrap();
    watch_until(&plane, std::slice::from_ref(&id), "completed").await;
    assert_eq!(lab.control.arm_faults_left(), 0, "the DELETE was throttled");
    let m = plane.ferry_json(&["migrate", "show", &id]).await;
    for name in ["mi_synchronous_commit", "failover", "delete_link"] {
        let s = step(&m, name);
        assert_eq!(s["state"], "done", "{s}");
        assert_eq!(s["attempts"], 2, "refused once, then made: {s}");
        assert_eq!(s["already_done"], false, "{s}");
    }
    super::migrations::stop(plane, agents).await;
}

/// A cancel racing the failover: a request whose answer never came may have reached
/// Azure, so the failover stays begun and a cancel is refused, both while the request
/// is out and after the driver gave up on it; the failover, made again after a look
/// at the link, completes the cutover.
#[tokio::test]
async fn a_cancel_while_the_failover_request_is_out_is_refused() {
    let Fixture {
        lab,
        plane,
        agents,
        dir: _dir,
        ..
    } = fixture(super::migrations::SCENARIO, &[("sqlhost", &["SQL22"])]).await;
    let id = ready_one(&plane, "sqlhost", "Sales").await;
    lab.set_workload("SQL22", "Sales", &Default::default())
        .unwrap();
    // ARM keeps each of the next three failover requests 5 s and then answers 504
    // without carrying it out: the driver cannot know whether Azure has it.
    const UNANSWERED: u32 = 3;
    lab.control
        .fail_arm_request(
            ArmFault::Timeout { after_secs: 5 },
            UNANSWERED,
            ("POST", "/failover"),
        )
        .unwrap();
    let cut = plane
        .ferry(&["cutover", &id, "--confirm-traffic-stopped"])
        .await;
    assert!(cut.status.success(), "{}", text(&cut));
    wait::until("the failover request out, unanswered", LIMIT, || async {
        Ok((lab.control.arm_faults_left() < UNANSWERED).then_some(()))
    })
    .await;
    let refused = |cancel: std::process::Output| {
        assert!(
            !cancel.status.success() && text(&cancel).contains("failover began"),
            "{}",
            text(&cancel)
        );
    };
    refused(plane.ferry(&["cutover", "cancel", &id]).await);
    wait::until("the driver gave up on an answer", LIMIT, || async {
        let m = plane.ferry_json(&["migrate", "show", &id]).await;
        let failover = step(&m, "failover");
        let detail = failover["detail"].as_str().unwrap_or_default();
        match (failover["state"].as_str(), detail.contains("trying again")) {
            (Some("running"), true) => Ok(Some(())),
            (state, _) => Err(format!("{state:?}: {detail}")),
        }
    })
    .await;
    refused(plane.ferry(&["cutover", "cancel", &id]).await);
    watch_until(&plane, std::slice::from_ref(&id), "completed").await;
    assert_eq!(lab.control.arm_faults_left(), 0);
    let m = plane.ferry_json(&["migrate", "show", &id]).await;
    let failover = step(&m, "failover");
    assert_eq!(failover["state"], "done", "{failover}");
    assert_eq!(
        failover["attempts"],
        UNANSWERED + 1,
        "unanswered, then made: {failover}"
    );
    assert!(
        m["steps"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["name"] != "mi_asynchronous_commit"),
        "no rollback was journaled: {m}"
    );
    super::migrations::stop(plane, agents).await;
}
