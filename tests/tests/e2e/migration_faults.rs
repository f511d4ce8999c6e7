//! Faults during a migration, injected through the lab, surface in `ferry migrate
//! show` with SQL Server's or Azure's error number, what it means and what to do; and
//! the migration recovers once the fault is gone:
//!
//! - seeding: its progress read from SQL Server's DMVs by the agent; a network cut
//!   (41986; seeding starts again); a log backup during seeding (1408: only a new link
//!   recovers, so cancel and start again);
//! - certificates: the MI's certificate under the wrong name on SQL Server (41974);
//!   SQL Server's certificate removed from the MI's trust (41973); SQL Server's
//!   certificate expired (9642; rotating it is the operator's, not yet Ferry's).

use super::migrations::{
    one_host, outside_arm, ready, shown_until, sql, start, stop, watch_until, Fixture,
};
use super::targets::mi_id;
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
    } = one_host().await;

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

    stop(plane, agents).await;
}

/// The control plane's configuration as a file of its own.
/// Runs `statement` on the lab's SQL22 for its effect.
async fn run_sql(lab: &ferry_sim::Lab, name: &'static str, statement: &str) {
    ferry_agent::sql::execute(
        &mut sql(lab, "SQL22").await,
        name,
        statement,
        Duration::from_secs(10),
    )
    .await
    .unwrap();
}

/// Waits until migration `id` shows `number` in its detail with `remedy`; its detail.
async fn shows_error(plane: &ControlPlane, id: &str, number: &str, remedy: &str) -> String {
    let shown = shown_until(plane, id, &format!("error {number}"), |m| {
        m["detail"].as_str().is_some_and(|d| d.contains(number))
    })
    .await;
    let detail = shown["detail"].as_str().unwrap().to_string();
    assert!(detail.contains(remedy), "{shown}");
    detail
}

#[tokio::test]
async fn broken_certificates_surface_with_their_cause_and_recover_once_fixed() {
    let Fixture {
        lab,
        plane,
        agents,
        dir,
        config,
    } = one_host().await;
    let id = start(&plane, "sqlhost", "Sales").await;
    ready(&plane, std::slice::from_ref(&id)).await;
    let mi = lab.managed_instance("mi-sales").unwrap();
    let (fqdn, der) = (
        mi.fqdn.clone(),
        mi.mirroring_certificate
            .iter()
            .map(|b| format!("{b:02X}"))
            .collect::<String>(),
    );

    // The MI's certificate under the wrong name on SQL Server (its short name, a
    // common slip): the link reports 41974 and says to import it under the FQDN.
    run_sql(
        &lab,
        "wrong name",
        &format!("USE master; DROP CERTIFICATE [{fqdn}]; CREATE CERTIFICATE [mi-sales] FROM BINARY = 0x{der}"),
    )
    .await;
    shows_error(&plane, &id, "41974", "under the MI's FQDN").await;
    run_sql(
        &lab,
        "right name",
        &format!("USE master; CREATE CERTIFICATE [{fqdn}] FROM BINARY = 0x{der}"),
    )
    .await;
    watch_until(&plane, std::slice::from_ref(&id), "ready_for_cutover").await;

    // The certificate exchange undone on Azure's side (someone removed the server
    // trust certificate): 41973, and put back, ready again.
    let arm = outside_arm(dir.path(), &config);
    let target = ferry_control::azure::ManagedInstanceId::parse(&mi_id(&lab)).unwrap();
    let name = "Cert_SQL22_endpoint";
    let sql_der = lab
        .instance("SQL22")
        .unwrap()
        .master_certificate(name)
        .unwrap();
    arm.delete_trust_certificate(&target, name).await.unwrap();
    shows_error(
        &plane,
        &id,
        "41973",
        "upload it as a server trust certificate",
    )
    .await;
    arm.put_trust_certificate(&target, name, &sql_der)
        .await
        .unwrap();
    watch_until(&plane, std::slice::from_ref(&id), "ready_for_cutover").await;

    // SQL Server's endpoint certificate expired: 9642, with the rotation to do.
    lab.control
        .expire_certificate("SQL22", "Cert_SQL22_endpoint")
        .unwrap();
    shows_error(&plane, &id, "9642", "create a new one").await;

    stop(plane, agents).await;
}
