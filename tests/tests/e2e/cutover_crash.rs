//! kill -9 of the agent and of the control plane at every step of a cutover, one step
//! after the other in one migration, then a restart of both: the cutover completes,
//! the failover is asked for once, and the link is gone on both sides.
//!
//! Caught in the act as the set-up's loop does (`migration_crash`): SQL Server's
//! statements and the control plane's checks on the MI by a held reply, Azure's
//! changes while their long-running operation runs.

use super::migration_crash::{arm, kill_at_each, slow_fixture, Catch, Down};
use super::migrations::{groups, mi_links, ready, start};
use super::*;

/// The cutover's steps in the journal's order (control plane's `journal::CUTOVER`).
const CUTOVER: [(&str, Catch); 8] = [
    (
        "synchronous_commit",
        Catch::Reply("AVAILABILITY_MODE = SYNCHRONOUS_COMMIT"),
    ),
    ("mi_synchronous_commit", Catch::Operation),
    ("failover", Catch::Operation),
    ("verify_on_mi", Catch::MiReply("is_read_only")),
    ("application_hook", Catch::Instant),
    ("mi_full_backup", Catch::MiReply("msdb.dbo.backupset")),
    ("delete_link", Catch::Operation),
    (
        "drop_distributed_availability_group",
        Catch::Reply("DROP AVAILABILITY GROUP"),
    ),
];

#[tokio::test]
async fn killed_at_every_cutover_step_the_cutover_resumes_and_fails_over_once() {
    let (lab, _dir, down) = slow_fixture().await;
    let id = start(&down.plane, "sqlhost", "Sales").await;
    ready(&down.plane, std::slice::from_ref(&id)).await;
    // The application stops.
    lab.set_workload("SQL22", "Sales", &Default::default())
        .unwrap();

    arm(&lab, &CUTOVER[0].1);
    let cut = down.plane.ferry(&["cutover", &id]).await;
    assert!(cut.status.success(), "{}", text(&cut));
    let setup = ferry_control::migration::journal::STEPS.len();
    let Down { plane, agent, .. } = kill_at_each(&lab, down, &id, setup, &CUTOVER).await;
    super::migrations::watch_until(&plane, std::slice::from_ref(&id), "completed").await;

    let shown = plane.ferry_json(&["migrate", "show", &id]).await;
    let steps = &shown["steps"].as_array().unwrap()[setup..];
    let names: Vec<&str> = steps.iter().map(|s| s["name"].as_str().unwrap()).collect();
    assert_eq!(names, CUTOVER.map(|(name, _)| name), "{shown}");
    for (step, (name, _)) in steps.iter().zip(&CUTOVER) {
        assert_eq!(step["state"], "done", "{name}: {shown}");
    }
    // One failover: its operation was polled after the restart, not asked for again
    // (a second one the MI, primary by then, would have refused).
    assert_eq!(steps[2]["attempts"], 1, "{}", steps[2]);
    assert!(mi_links(&lab, "mi-sales").await.is_empty());
    assert_eq!(groups(&lab, "SQL22").await, ["AG_Sales"]);
    agent.stop().await;
    plane.stop().await;
}
