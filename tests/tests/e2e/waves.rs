//! Plans and waves through the real binaries: `ferry plan apply` is declarative (the
//! same file twice changes nothing; a bad member is named; members by host or by a
//! label selector), `ferry cutover --wave`
//! starts every member, and their failovers wait while the wave is paused and until
//! it is approved by someone other than the requester; then all complete.

use super::cutover::issue_operator;
use super::migrations::{fixture, preflight_inputs, ready, start, stop, watch_until, Fixture};
use super::*;

#[tokio::test]
async fn a_wave_cuts_over_its_members_once_resumed_and_approved() {
    let Fixture {
        lab,
        plane,
        agents,
        dir,
        ..
    } = fixture(super::migrations::SCENARIO, &[("sqlhost", &["SQL22"])]).await;
    preflight_inputs(&plane, &["sqlhost"]).await;
    let ids = vec![
        start(&plane, "sqlhost", "Sales").await,
        start(&plane, "sqlhost", "Orders").await,
    ];
    ready(&plane, &ids).await;
    let labelled = plane.ferry(&["host", "label", "sqlhost", "env=lab"]).await;
    assert!(labelled.status.success(), "{}", text(&labelled));

    let rfc3339 = ferry_control::rfc3339::format;
    let now = ferry_proto::clock::now_ms();
    let plan = format!(
        "[[wave]]\nname = \"wave-1\"\napprovals = 1\non_failure = \"halt\"\n\
         window = {{ start = \"{}\", end = \"{}\" }}\n\
         members = [{{ host = \"sqlhost\", database = \"Sales\" }}, {{ selector = [\"env=lab\"], database = \"Orders\" }}]\n",
        rfc3339(now - 60_000),
        rfc3339(now + 3_600_000),
    );
    let file = dir.path().join("plan.toml");
    std::fs::write(&file, &plan).unwrap();
    let file = file.display().to_string();
    let applied = plane.ferry_json(&["plan", "apply", &file]).await;
    assert_eq!(
        applied["changes"],
        serde_json::json!(["wave-1: created"]),
        "{applied}"
    );
    let again = plane.ferry_json(&["plan", "apply", &file]).await;
    assert_eq!(
        again["changes"],
        serde_json::json!(["wave-1: unchanged"]),
        "{again}"
    );
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, plan.replace("\"Orders\"", "\"y\"")).unwrap();
    let refused = plane
        .ferry(&["plan", "apply", &bad.display().to_string()])
        .await;
    let said = text(&refused);
    assert!(
        !refused.status.success()
            && said.contains("wave[0].members[1]")
            && said.contains("ferry migrate start"),
        "{said}"
    );

    // Paused and not yet approved: the cutovers switch to synchronous commit and wait.
    let paused = plane.ferry(&["wave", "pause", "wave-1"]).await;
    assert!(paused.status.success(), "{}", text(&paused));
    for database in ["Sales", "Orders"] {
        lab.set_workload("SQL22", database, &Default::default())
            .unwrap();
    }
    let cut = plane
        .ferry(&["cutover", "--wave", "wave-1", "--confirm-traffic-stopped"])
        .await;
    assert!(cut.status.success(), "{}", text(&cut));
    for id in &ids {
        wait::until("the wave's gates hold the failover", LIMIT, || async {
            let m = plane.ferry_json(&["migrate", "show", id]).await;
            let detail = super::cutover::step(&m, "failover")["detail"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            Ok(
                (detail.contains("wave wave-1 is paused") && detail.contains("1 more approval"))
                    .then_some(()),
            )
        })
        .await;
    }
    let bob = issue_operator(&plane, dir.path(), "bob", "approver").await;
    let approved = plane.ferry_as(&bob, &["wave", "approve", "wave-1"]).await;
    assert!(approved.status.success(), "{}", text(&approved));
    let resumed = plane.ferry(&["wave", "resume", "wave-1"]).await;
    assert!(resumed.status.success(), "{}", text(&resumed));
    watch_until(&plane, &ids, "completed").await;

    let shown = plane.ferry_json(&["plan", "show"]).await;
    let wave = &shown["waves"][0];
    assert_eq!(
        wave["approvers"],
        serde_json::json!(["operator/bob"]),
        "{wave}"
    );
    let states: Vec<&str> = wave["migrations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["state"].as_str().unwrap())
        .collect();
    assert_eq!(states, ["completed", "completed"]);
    // The wave's cutover was one request, audited once with both members.
    let audit = plane
        .ferry_json(&["audit", "--target", "wave/wave-1"])
        .await;
    let started: Vec<&serde_json::Value> = audit
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "wave.cutover")
        .collect();
    assert_eq!(started.len(), 1, "{audit}");
    let detail: serde_json::Value =
        serde_json::from_str(started[0]["detail"].as_str().unwrap()).unwrap();
    assert_eq!(detail["started"].as_array().unwrap().len(), 2, "{detail}");
    stop(plane, agents).await;
}
