//! History past its horizon is forgotten by the running control plane: an audit event
//! older than `[retention] audit_days`, written to the store before it starts, is gone
//! after its first sweep (counted in `/metrics`), and a newer one stays.

use ferry_control::store::audit::AuditEvent;
use ferry_control::store::Store;
use ferry_tests::http_get::get;
use ferry_tests::prometheus::sample;

use super::*;

#[tokio::test]
async fn the_running_control_plane_forgets_history_past_its_horizon() {
    let dir = tempfile::tempdir().unwrap();
    let config = ferry_control::ControlConfig {
        data_dir: dir.path().join("control"),
        ..Default::default()
    };
    std::fs::create_dir_all(&config.data_dir).unwrap();
    let store = Store::open(&config.effective_database_url()).await.unwrap();
    let now = ferry_proto::clock::now_ms();
    let day = 86_400_000;
    for (action, at) in [
        ("test.ancient", now - 500 * day),
        ("test.recent", now - day),
    ] {
        let event = AuditEvent {
            at_ms: at,
            actor: "test".into(),
            action: action.into(),
            target: "store".into(),
            detail: String::new(),
        };
        store.record_audit(&event).await.unwrap();
    }
    store.close().await;

    let plane = ControlPlane::start(dir.path(), "[retention]\naudit_days = 400\n").await;
    let metrics = plane.metrics_addr.expect("started with a metrics listener");
    let audit = [("kind", "audit_events")];
    wait::until("the sweep's count", LIMIT, || async {
        let (_, body) = get(metrics, "/metrics").await.map_err(|e| e.to_string())?;
        match sample(&body, "ferry_store_pruned_total", &audit) {
            Some(n) if n >= 1.0 => Ok(Some(())),
            other => Err(format!("{other:?}")),
        }
    })
    .await;
    let actions: Vec<String> = plane
        .store()
        .await
        .list_audit(1000)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.action)
        .collect();
    assert!(!actions.iter().any(|a| a == "test.ancient"), "{actions:?}");
    assert!(actions.iter().any(|a| a == "test.recent"), "{actions:?}");
    plane.stop().await;
}
