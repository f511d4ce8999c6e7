//! Seeding admission through the real binaries and the lab: with `[migrations]
//! max_seeding_per_host = 1`, the second link of a host waits, queued before its
//! `create_link` with the setting named, while the first seeds over a slow path; both
//! become ready once the first has caught up.

use super::migrations::{fixture, preflight_inputs, ready, restart_with, start, stop, Fixture};
use super::*;

#[tokio::test]
async fn a_second_link_of_a_host_waits_for_a_seeding_slot() {
    let Fixture {
        lab,
        plane,
        config,
        agents,
        dir,
    } = fixture(super::migrations::SCENARIO, &[("sqlhost", &["SQL22"])]).await;
    let plane = restart_with(
        plane,
        (dir.path(), &config),
        "migrations",
        "max_seeding_per_host = 1",
    )
    .await;
    preflight_inputs(&plane, &["sqlhost"]).await;
    // The path seeds slowly, so the first link holds its slot for a while.
    lab.control
        .shape("SQL22", "mi-sales", std::time::Duration::ZERO, Some(8.0))
        .unwrap();
    let ids = vec![
        start(&plane, "sqlhost", "Sales").await,
        start(&plane, "sqlhost", "Orders").await,
    ];
    let queued = |m: &serde_json::Value| {
        m["steps"].as_array().is_some_and(|steps| {
            steps.iter().any(|s| {
                s["name"] == "create_link"
                    && s["state"] == "pending"
                    && s["detail"]
                        .as_str()
                        .is_some_and(|d| d.contains("max_seeding_per_host = 1"))
            })
        })
    };
    wait::until("one link queued for a seeding slot", LIMIT, || async {
        for id in &ids {
            let m = plane.ferry_json(&["migrate", "show", id]).await;
            if queued(&m) {
                return Ok(Some(()));
            }
        }
        Err("neither waits yet".to_string())
    })
    .await;
    // The queue shows in the metrics too, and empties once both are admitted.
    let metrics = plane.metrics_addr.unwrap();
    let queue = || async {
        let (_, body) = ferry_tests::http_get::get(metrics, "/metrics")
            .await
            .unwrap();
        ferry_tests::prometheus::sample(&body, "ferry_migrations_admission_queue", &[])
    };
    assert_eq!(queue().await, Some(1.0));
    lab.control
        .shape("SQL22", "mi-sales", std::time::Duration::ZERO, None)
        .unwrap();
    ready(&plane, &ids).await;
    assert_eq!(queue().await, Some(0.0));
    stop(plane, agents).await;
}
