//! A forced cutover through the real binaries and the lab (mi-link.md §4.1, §4.4):
//! SQL Server loses the MI while the application writes; `ferry cutover
//! --allow-data-loss` needs a reason and an approver besides its requester; once bob
//! approves, ARM's forced failover makes the MI primary without waiting for the link,
//! with the LSN gap recorded as the evidence it was made on; SQL Server, still primary
//! (split brain), keeps the tail in a copy-only log backup and is set SECONDARY; the
//! cutover completes, and the MI holds fewer rows than SQL Server: what it had not
//! hardened.

use ferry_sim::faults::Direction;

use super::cutover::{gate, issue_operator, on_mi, show_when, step, COUNT, SCENARIO};
use super::migrations::{fixture, ready_one, stop, watch_until, Fixture};
use super::*;

#[tokio::test]
async fn a_forced_cutover_needs_a_reason_and_an_approver_and_records_what_it_loses() {
    let Fixture {
        lab,
        plane,
        agents,
        dir,
        ..
    } = fixture(SCENARIO, &[("sqlhost", &["SQL22"])]).await;
    let id = ready_one(&plane, "sqlhost", "Shop").await;
    let bob = issue_operator(&plane, dir.path(), "bob", "approver").await;

    // SQL Server loses the MI; the application goes on writing there.
    lab.control
        .cut("SQL22", "mi-sales", Direction::Both)
        .unwrap();
    show_when(&plane, &id, "the MI falls behind", |m| {
        m["link"]["connected_state"] == "DISCONNECTED"
            && m["sql_server"]["end_of_log_lsn"] != m["link"]["last_hardened_lsn"]
    })
    .await;

    let unexplained = plane.ferry(&["cutover", &id, "--allow-data-loss"]).await;
    assert!(!unexplained.status.success());
    assert!(
        text(&unexplained).contains("--reason"),
        "{}",
        text(&unexplained)
    );
    let reason = "datacenter A lost its uplink; restore from the tail backup later";
    let forced = plane
        .ferry(&["cutover", &id, "--allow-data-loss", "--reason", reason])
        .await;
    assert!(forced.status.success(), "{}", text(&forced));

    // It waits for none of the link's gates, only for an approver besides admin.
    let waiting = show_when(&plane, &id, "the forced failover waits for bob", |m| {
        gate(m, "approval")["reason"]
            .as_str()
            .is_some_and(|r| r.contains("more approval"))
    })
    .await;
    let names: Vec<&str> = waiting["gates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["data_loss", "turn", "window", "approval", "wave"]);
    let loss = gate(&waiting, "data_loss")["evidence"].as_str().unwrap();
    assert!(loss.contains(reason) && loss.contains("are lost"), "{loss}");
    let own = plane.ferry(&["cutover", "approve", &id]).await;
    assert!(own.status.success(), "{}", text(&own));
    let alone = show_when(&plane, &id, "the requester alone is not enough", |m| {
        gate(m, "approval")["reason"]
            .as_str()
            .is_some_and(|r| r.contains("cannot be its only approver"))
    })
    .await;
    assert_eq!(step(&alone, "failover")["state"], "pending", "{alone:#}");
    let approved = plane.ferry_as(&bob, &["cutover", "approve", &id]).await;
    assert!(approved.status.success(), "{}", text(&approved));
    watch_until(&plane, std::slice::from_ref(&id), "completed").await;

    let done = plane.ferry_json(&["migrate", "show", &id]).await;
    let failover = step(&done, "failover")["detail"].as_str().unwrap();
    assert!(failover.contains("data_loss: forced by"), "{failover}");
    for skipped in ["synchronous_commit", "mi_synchronous_commit"] {
        assert!(
            done["steps"]
                .as_array()
                .unwrap()
                .iter()
                .all(|s| s["name"] != skipped),
            "{skipped} is not a forced cutover's step: {done:#}"
        );
    }
    let demoted = step(&done, "demote_sql_server")["detail"].as_str().unwrap();
    assert!(
        demoted.contains("is SECONDARY") && demoted.contains("Shop_ferry_tail.trn"),
        "{demoted}"
    );

    // The MI took over with what it had hardened: fewer rows than SQL Server wrote.
    let on_sql = first_column(&mut super::migrations::sql(&lab, "SQL22").await, COUNT).await;
    let on_mi = first_column(&mut on_mi(&lab).await, COUNT).await;
    let (sql_rows, mi_rows): (i64, i64) = (on_sql[0].parse().unwrap(), on_mi[0].parse().unwrap());
    assert!(mi_rows < sql_rows, "MI {mi_rows}, SQL Server {sql_rows}");

    let target = format!("migration/{id}");
    let audit = plane.ferry_json(&["audit", "--target", &target]).await;
    let events = audit.as_array().unwrap();
    let force = events
        .iter()
        .find(|e| e["action"] == "cutover.force")
        .unwrap();
    assert!(
        force["detail"].as_str().unwrap().contains(reason),
        "{force}"
    );
    assert!(events
        .iter()
        .any(|e| e["action"] == "cutover.approve" && e["actor"].as_str().unwrap().contains("bob")));
    stop(plane, agents).await;
}
