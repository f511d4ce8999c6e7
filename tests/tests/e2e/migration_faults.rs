//! Faults during a migration, injected through the lab, surface in `ferry migrate
//! show` with SQL Server's or Azure's error number, what it means and what to do; and
//! the migration recovers once the fault is gone: seeding progress read from SQL
//! Server's DMVs by the agent, a network cut during seeding (seeding starts again), a
//! log backup during seeding (1408: only a new link recovers).

use super::migrations::{
    fixture, preflight_inputs, ready, shown_until, sql, start, watch_until, Fixture, SCENARIO,
};
use super::*;
use ferry_sim::faults::Direction;

/// The path from SQL22 to the MI at `mbps` (None: the scenario's bandwidth).
fn bandwidth(lab: &ferry_sim::Lab, mbps: Option<f64>) {
    lab.control
        .shape("SQL22", "mi-sales", Duration::ZERO, mbps)
        .unwrap();
}

#[tokio::test]
async fn seeding_faults_surface_with_their_cause_and_recover() {
    let Fixture {
        lab,
        plane,
        agents,
        dir: _dir,
        ..
    } = fixture(SCENARIO, &[("sqlhost", &["SQL22"])]).await;
    preflight_inputs(&plane, &["sqlhost"]).await;

    // A slow path: seeding Sales' 8 MB takes minutes, and its progress shows.
    bandwidth(&lab, Some(0.1));
    let id = start(&plane, "sqlhost", "Sales").await;
    let seeding = shown_until(&plane, &id, "seeding progress", |m| {
        m["state"] == "seeding"
            && m["sql_server"]["seeding"] == true
            && m["sql_server"]["seeding_transferred_bytes"].as_i64() > Some(0)
    })
    .await;
    let detail = seeding["detail"].as_str().unwrap();
    assert!(
        detail.contains("MiB/s") && detail.contains("left"),
        "{seeding}"
    );

    // The network cut both ways: SQL Server loses the MI; restored, seeding starts
    // again from the beginning (it is not resilient).
    lab.control
        .cut("SQL22", "mi-sales", Direction::Both)
        .unwrap();
    let cut = shown_until(&plane, &id, "the cut to show", |m| {
        m["sql_server"]["connected_state"] != "CONNECTED"
    })
    .await;
    assert_eq!(
        cut["sql_server"]["last_connect_error_number"], 41986,
        "{cut}"
    );
    let detail = cut["detail"].as_str().unwrap();
    assert!(
        detail.contains("41986") && detail.contains("in both directions"),
        "{cut}"
    );
    lab.control
        .restore("SQL22", "mi-sales", Direction::Both)
        .unwrap();
    shown_until(&plane, &id, "seeding to start again", |m| {
        m["sql_server"]["seeding_attempts"].as_i64() >= Some(2)
            && m["sql_server"]["seeding"] == true
    })
    .await;

    // A log backup while seeding runs: once the copy ends, the link fails with 1408,
    // and the remedy says how to recover.
    let mut conn = sql(&lab, "SQL22").await;
    ferry_agent::sql::execute(
        &mut conn,
        "log backup",
        "BACKUP LOG [Sales] TO DISK = N'/backups/sales.trn'",
        Duration::from_secs(10),
    )
    .await
    .unwrap();
    bandwidth(&lab, None);
    let failed = shown_until(&plane, &id, "the link to fail", |m| m["state"] == "failed").await;
    let detail = failed["detail"].as_str().unwrap();
    assert!(
        detail.contains("1408") && detail.contains("cancel this migration and start it again"),
        "{failed}"
    );

    // Recovered: cancelled, started again with log backups paused, ready.
    let cancelled = plane.ferry(&["migrate", "cancel", &id]).await;
    assert!(cancelled.status.success(), "{}", text(&cancelled));
    watch_until(&plane, std::slice::from_ref(&id), "cancelled").await;
    let again = start(&plane, "sqlhost", "Sales").await;
    assert_ne!(again, id);
    ready(&plane, std::slice::from_ref(&again)).await;

    for (_, _, agent) in agents {
        agent.stop().await;
    }
    plane.stop().await;
}
