//! A cutover group through the real binaries and the lab: two databases that must cut
//! over together (a plan's `[[group]]`) with a command hook. One member's cutover alone
//! waits at its failover, its `group` gate naming the other; once the other's cutover
//! runs too, both fail over, and the hook runs once, given both databases' new
//! endpoints, before the links are removed.

use std::os::unix::fs::PermissionsExt;

use super::cutover::{gate, show_when, step, SCENARIO};
use super::migrations::{fixture, preflight_inputs, ready, start, stop, watch_until, Fixture};
use super::*;

/// A second database of SQL22, written to like the first.
const AUDIT: &str = r#"
[[instance.database]]
name = "ShopAudit"
data_mb = 8
backups = [{ type = "D", hours_ago = 2.0 }]
workload = { log_bytes_per_sec = 4096, transactions_per_sec = 10 }

[[instance.database.table]]
name = "Events"
rows = 200
columns = [
  { name = "id", type = "int", primary_key = true },
  { name = "kind", type = "varchar(20)" },
]
"#;

#[tokio::test]
async fn a_group_cuts_over_together_and_runs_its_hook_once() {
    let scenario = format!("{SCENARIO}{AUDIT}");
    let Fixture {
        lab,
        plane,
        agents,
        dir,
        config,
    } = fixture(&scenario, &[("sqlhost", &["SQL22"])]).await;
    preflight_inputs(&plane, &["sqlhost"]).await;
    let shop = start(&plane, "sqlhost", "Shop").await;
    let audit = start(&plane, "sqlhost", "ShopAudit").await;
    let both = [shop.clone(), audit.clone()];
    ready(&plane, &both).await;

    // The hook appends what it was given to a file.
    let hook = dir.path().join("repoint.sh");
    let log = dir.path().join("hook.log");
    std::fs::write(
        &hook,
        format!(
            "#!/bin/sh\necho \"$FERRY_GROUP $FERRY_HOOK\" >> '{}'\necho repointed\n",
            log.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&hook, std::fs::Permissions::from_mode(0o755)).unwrap();
    // The hook is the control plane's to define; a plan names it, and cannot define
    // one of its own.
    let group = "[[group]]\nname = \"shop\"\nmembers = [{ host = \"sqlhost\", database = \"Shop\" }, { host = \"sqlhost\", database = \"ShopAudit\" }]\n";
    let file = dir.path().join("plan.toml");
    std::fs::write(&file, format!("{group}hook = \"repoint\"\n")).unwrap();
    let unknown = plane
        .ferry(&["plan", "apply", &file.display().to_string()])
        .await;
    assert!(
        !unknown.status.success() && text(&unknown).contains("no hook named"),
        "{}",
        text(&unknown)
    );
    let inline = dir.path().join("inline.toml");
    std::fs::write(
        &inline,
        format!("{group}hook = {{ command = [\"/bin/sh\", \"-c\", \"id\"] }}\n"),
    )
    .unwrap();
    let refused = plane
        .ferry(&["plan", "apply", &inline.display().to_string()])
        .await;
    assert!(!refused.status.success(), "{}", text(&refused));
    let addr = plane.addr;
    plane.stop().await;
    let config = format!(
        "{config}[[hook]]\nname = \"repoint\"\ncommand = [\"{}\"]\ntimeout_secs = 30\n",
        hook.display()
    );
    let plane = ControlPlane::start_on(dir.path(), &config, addr).await;
    let applied = plane
        .ferry_json(&["plan", "apply", &file.display().to_string()])
        .await;
    assert_eq!(
        applied["changes"],
        serde_json::json!(["group shop: created"]),
        "{applied}"
    );

    // Shop alone: its failover waits for ShopAudit, whose cutover has not started.
    for db in ["Shop", "ShopAudit"] {
        lab.set_workload("SQL22", db, &Default::default()).unwrap();
    }
    let cut = plane
        .ferry(&["cutover", &shop, "--confirm-traffic-stopped"])
        .await;
    assert!(cut.status.success(), "{}", text(&cut));
    let waiting = show_when(&plane, &shop, "Shop waits for its group", |m| {
        m["gates"].as_array().is_some_and(|g| !g.is_empty())
            && gate(m, "group")["reason"]
                .as_str()
                .is_some_and(|r| r.contains(&format!("`ferry cutover {audit}`")))
    })
    .await;
    assert_eq!(
        step(&waiting, "failover")["state"],
        "pending",
        "{waiting:#}"
    );

    let cut = plane
        .ferry(&["cutover", &audit, "--confirm-traffic-stopped"])
        .await;
    assert!(cut.status.success(), "{}", text(&cut));
    watch_until(&plane, &both, "completed").await;

    // The hook ran once, given both databases on the MI.
    let ran = std::fs::read_to_string(&log).unwrap();
    assert_eq!(ran.lines().count(), 1, "{ran}");
    let (group, payload) = ran.trim().split_once(' ').unwrap();
    assert_eq!(group, "shop");
    let payload: serde_json::Value = serde_json::from_str(payload).unwrap();
    let databases: Vec<&str> = payload["databases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["database"].as_str().unwrap())
        .collect();
    assert_eq!(databases, ["Shop", "ShopAudit"], "{payload}");
    for d in payload["databases"].as_array().unwrap() {
        assert!(
            d["server"].as_str().unwrap().starts_with("mi-sales.") && d["port"] == 1433,
            "{d}"
        );
    }
    for id in &both {
        let m = plane.ferry_json(&["migrate", "show", id]).await;
        // How it ended, not what it said: the output is the control plane's log's.
        let hooked = step(&m, "application_hook")["detail"].as_str().unwrap();
        assert!(
            hooked.contains("hook repoint: exit status: 0") && !hooked.contains("repointed"),
            "{hooked}"
        );
        let failover = step(&m, "failover")["detail"].as_str().unwrap();
        assert!(failover.contains("group: group shop"), "{failover}");
    }
    let shown = plane.ferry_json(&["plan", "show"]).await;
    assert_eq!(shown["groups"][0]["hook_state"], "done", "{shown}");
    stop(plane, agents).await;
}
