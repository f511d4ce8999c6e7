//! What an operator watches a fleet migration with, through the real binaries: the
//! control plane's `/healthz`, `/readyz` and `/metrics` on their own listener, and a
//! real Prometheus scraping it (with the shipped alert rules) while a host is
//! assessed, a database linked (its seeding seen), its link cut until the migration
//! stalls (the stalled-migration alert's expression turns true) and restored, and cut
//! over in a wave that waits for an approver. Then every query of every shipped
//! dashboard returns series over the run, and every metric emitted, charted or alerted
//! on is documented in `docs/reference/metrics.md`.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use ferry_sim::faults::Direction;
use ferry_tests::http_get::get;
use ferry_tests::prometheus::{sample, Prometheus};

use super::cutover::{issue_operator, SCENARIO};
use super::migrations::{fixture_with, preflight_inputs, ready, shown_until, start, stop};
use super::migrations::{watch_until, Fixture};
use super::*;

fn repository() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// The metric families every scrape so far has shown (`# TYPE` lines).
type Seen = std::sync::Mutex<BTreeSet<String>>;

/// Scrapes `/metrics` and adds its families to `seen`.
async fn scrape(addr: std::net::SocketAddr, seen: &Seen) -> String {
    let (status, body) = get(addr, "/metrics").await.unwrap();
    assert_eq!(status, 200, "{body}");
    let families = body
        .lines()
        .filter_map(|line| line.strip_prefix("# TYPE "))
        .map(|family| family.split(' ').next().unwrap().to_string());
    seen.lock().unwrap().extend(families);
    body
}

/// Scrapes until `ok` holds of the metrics text.
async fn metrics_until(
    addr: std::net::SocketAddr,
    seen: &Seen,
    what: &str,
    ok: impl Fn(&str) -> bool,
) -> String {
    wait::until(what, LIMIT, || async {
        let body = scrape(addr, seen).await;
        if ok(&body) {
            Ok(Some(body))
        } else {
            Err(body)
        }
    })
    .await
}

#[tokio::test]
async fn a_migration_is_seen_in_metrics_dashboards_and_alerts() {
    let Fixture {
        lab,
        plane,
        agents,
        dir,
        ..
    } = fixture_with(
        SCENARIO,
        &[("sqlhost", &["SQL22"])],
        (None, &[]),
        "stall_after_secs = 3\n[observability]\nlabel_keys = [\"env\"]\n",
    )
    .await;
    let metrics = plane.metrics_addr.expect("started with a metrics listener");
    let started_at = ferry_proto::clock::now_ms() / 1000;
    let seen = Seen::default();

    // Health: the process lives; ready once the store answers; nothing else is served.
    assert_eq!(
        get(metrics, "/healthz").await.unwrap(),
        (200, "ok\n".into())
    );
    let (status, readiness) = get(metrics, "/readyz").await.unwrap();
    assert!(
        status == 200 && readiness.contains("store answers"),
        "{status} {readiness}"
    );
    assert_eq!(get(metrics, "/nothing").await.unwrap().0, 404);

    let rules = repository().join("deploy/observability/alerts.yml");
    let prometheus = Prometheus::start(dir.path(), &[metrics], &[&rules]).await;

    // Assessed: the newest run's databases by readiness, also by the host's label,
    // every host reported.
    let labelled = plane.ferry(&["host", "label", "sqlhost", "env=prod"]).await;
    assert!(labelled.status.success(), "{}", text(&labelled));
    preflight_inputs(&plane, &["sqlhost"]).await;
    let body = metrics_until(metrics, &seen, "the assessment's gauges", |m| {
        sample(m, "ferry_assessment_hosts", &[("progress", "reported")]) == Some(1.0)
    })
    .await;
    let ready_dbs = sample(
        &body,
        "ferry_assessment_databases",
        &[("readiness", "ready")],
    );
    assert!(ready_dbs >= Some(1.0), "{body}");
    let by_env = [
        ("label_key", "env"),
        ("label_value", "prod"),
        ("readiness", "ready"),
    ];
    assert_eq!(
        sample(&body, "ferry_assessment_databases_by_label", &by_env),
        ready_dbs,
        "{body}"
    );
    assert_eq!(
        sample(&body, "ferry_agents", &[("state", "online")]),
        Some(1.0)
    );

    // Linked over a slow path: the seeding's progress is seen per migration.
    lab.control
        .shape("SQL22", "mi-sales", Duration::ZERO, Some(2.0))
        .unwrap();
    let id = start(&plane, "sqlhost", "Shop").await;
    let migration = [("migration", id.as_str())];
    metrics_until(metrics, &seen, "seeding progress", |m| {
        sample(m, "ferry_migration_seeding_transferred_bytes", &migration) > Some(0.0)
            && sample(m, "ferry_migration_seeding_size_bytes", &migration) > Some(0.0)
    })
    .await;
    lab.control
        .shape("SQL22", "mi-sales", Duration::ZERO, None)
        .unwrap();
    ready(&plane, std::slice::from_ref(&id)).await;
    // The gauges read the store at most once a second: waited for, not assumed.
    metrics_until(metrics, &seen, "the link's lag and LSN gauges", |m| {
        sample(m, "ferry_migration_lag_send_seconds", &migration).is_some()
            && sample(m, "ferry_migration_lsn_matched_readings", &migration).is_some()
    })
    .await;

    // The link cut: the migration stalls, with its cause; the alert's expression holds.
    lab.control
        .cut("SQL22", "mi-sales", Direction::Both)
        .unwrap();
    shown_until(&plane, &id, "the migration to stall", |m| {
        m["state"] == "stalled"
    })
    .await;
    metrics_until(metrics, &seen, "the stall's cause", |m| {
        sample(
            m,
            "ferry_migrations_stalled",
            &[("cause", "link_disconnected")],
        ) == Some(1.0)
    })
    .await;
    if let Some(prometheus) = &prometheus {
        wait::until("FerryMigrationStalled to be pending", LIMIT, || async {
            let alerts = prometheus.alerts().await.map_err(|e| e.to_string())?;
            let stalled = alerts.iter().any(|a| {
                a["labels"]["alertname"] == "FerryMigrationStalled"
                    && a["labels"]["cause"] == "link_disconnected"
            });
            Ok(stalled.then_some(()))
        })
        .await;
    }
    lab.control
        .restore("SQL22", "mi-sales", Direction::Both)
        .unwrap();
    ready(&plane, std::slice::from_ref(&id)).await;

    // Cut over in a wave that needs an approver: its gates are seen while it waits.
    let rfc3339 = ferry_control::rfc3339::format;
    let now = ferry_proto::clock::now_ms();
    let plan = format!(
        "[[wave]]\nname = \"wave-1\"\napprovals = 1\n\
         window = {{ start = \"{}\", end = \"{}\" }}\n\
         members = [{{ host = \"sqlhost\", database = \"Shop\" }}]\n",
        rfc3339(now - 60_000),
        rfc3339(now + 3_600_000),
    );
    let file = dir.path().join("plan.toml");
    std::fs::write(&file, plan).unwrap();
    let applied = plane
        .ferry(&["plan", "apply", &file.display().to_string()])
        .await;
    assert!(applied.status.success(), "{}", text(&applied));
    lab.set_workload("SQL22", "Shop", &Default::default())
        .unwrap();
    let cut = plane
        .ferry(&["cutover", &id, "--confirm-traffic-stopped"])
        .await;
    assert!(cut.status.success(), "{}", text(&cut));
    let body = metrics_until(metrics, &seen, "the cutover awaiting approval", |m| {
        sample(m, "ferry_cutovers_awaiting_approval", &[]) == Some(1.0)
    })
    .await;
    let approval = [("migration", id.as_str()), ("gate", "approval")];
    assert_eq!(
        sample(&body, "ferry_cutover_gate_open", &approval),
        Some(0.0),
        "{body}"
    );
    assert_eq!(
        sample(&body, "ferry_wave_window_open", &[("wave", "wave-1")]),
        Some(1.0),
        "{body}"
    );
    assert!(
        sample(&body, "ferry_cutover_waiting_seconds", &migration).is_some(),
        "{body}"
    );
    // The application stopped: the MI's hardened LSN catches up with SQL Server's.
    metrics_until(metrics, &seen, "the LSNs matched", |m| {
        sample(m, "ferry_migration_lsn_matched_readings", &migration) >= Some(1.0)
    })
    .await;
    let bob = issue_operator(&plane, dir.path(), "bob", "approver").await;
    let approved = plane.ferry_as(&bob, &["wave", "approve", "wave-1"]).await;
    assert!(approved.status.success(), "{}", text(&approved));
    watch_until(&plane, std::slice::from_ref(&id), "completed").await;
    let body = metrics_until(metrics, &seen, "the cutover's end", |m| {
        sample(m, "ferry_migrations", &[("state", "completed")]) == Some(1.0)
            && sample(m, "ferry_cutover_gate_open", &approval).is_none()
            && sample(m, "ferry_migration_lag_send_seconds", &migration).is_none()
    })
    .await;
    let failover = [("step", "failover"), ("outcome", "done")];
    assert_eq!(
        sample(
            &body,
            "ferry_migration_step_duration_seconds_count",
            &failover
        ),
        Some(1.0),
        "{body}"
    );
    assert!(
        sample(&body, "ferry_cutover_rows_validated_total", &[]) >= Some(500.0),
        "{body}"
    );
    assert_eq!(sample(&body, "ferry_driver_lease_held", &[]), Some(1.0));
    let list_hosts = [("rpc_method", "ListHosts"), ("rpc_grpc_status_code", "0")];
    assert!(
        sample(&body, "rpc_server_call_duration_seconds_count", &list_hosts) > Some(0.0),
        "{body}"
    );
    let arm = [
        ("http_request_method", "GET"),
        ("http_response_status_code", "200"),
    ];
    assert!(
        sample(&body, "ferry_azure_requests_total", &arm) > Some(0.0),
        "{body}"
    );
    let tokens = [("outcome", "ok")];
    assert!(
        sample(&body, "ferry_azure_token_refreshes_total", &tokens) >= Some(1.0),
        "{body}"
    );
    let store_op = [("db_operation_name", "record_report")];
    assert!(
        sample(
            &body,
            "db_client_operation_duration_seconds_count",
            &store_op
        ) > Some(0.0),
        "{body}"
    );
    // The agent's own vitals and heartbeat round trips, from its heartbeats; no step
    // failed.
    assert!(
        sample(&body, "ferry_agent_heartbeat_latency_seconds_count", &[]) > Some(0.0),
        "{body}"
    );
    assert!(
        sample(&body, "ferry_agent_memory_usage_max_bytes", &[]) > Some(1e6),
        "{body}"
    );
    assert_eq!(
        sample(&body, "ferry_migration_step_failures_total", &[]),
        Some(0.0),
        "{body}"
    );

    // Everything emitted is documented; every dashboard and alert names only that.
    let documented = documented_metrics();
    let seen = seen.into_inner().unwrap();
    let undocumented: Vec<&String> = seen.difference(&documented).collect();
    assert!(
        undocumented.is_empty(),
        "not in docs/reference/metrics.md: {undocumented:?}"
    );
    let boards = dashboard_queries();
    for (board, expr) in &boards {
        for name in metric_names(expr) {
            assert!(
                documented.contains(&name) || name == "up",
                "{board}: {expr} names {name}, which Ferry does not emit"
            );
        }
    }
    let alert_rules = std::fs::read_to_string(&rules).unwrap();
    for name in metric_names(&alert_rules) {
        assert!(
            documented.contains(&name) || name == "up",
            "alerts.yml names {name}, which Ferry does not emit"
        );
    }

    // Every panel's query has data over the run, as Grafana would chart it.
    if let Some(prometheus) = &prometheus {
        let end = ferry_proto::clock::now_ms() / 1000 + 1;
        for (board, expr) in &boards {
            wait::until(&format!("{board}: {expr}"), LIMIT, || async {
                let series = prometheus
                    .query_range(expr, started_at, end, 1)
                    .await
                    .map_err(|e| e.to_string())?;
                Ok((!series.is_empty()).then_some(()))
            })
            .await;
        }
    }
    stop(plane, agents).await;
}

/// The Prometheus names in `docs/reference/metrics.md`'s table.
fn documented_metrics() -> BTreeSet<String> {
    let doc = std::fs::read_to_string(repository().join("docs/reference/metrics.md")).unwrap();
    doc.lines()
        .filter_map(|line| line.strip_prefix("| `"))
        .filter_map(|rest| rest.split('`').next())
        .map(str::to_string)
        .collect()
}

/// Every panel query of every shipped dashboard, with its dashboard's file name.
fn dashboard_queries() -> Vec<(String, String)> {
    let dir = repository().join("deploy/observability/grafana/dashboards");
    let mut queries = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let board: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        for panel in board["panels"].as_array().unwrap() {
            for target in panel["targets"].as_array().unwrap() {
                queries.push((name.clone(), target["expr"].as_str().unwrap().to_string()));
            }
        }
    }
    assert!(queries.len() >= 20, "{queries:?}");
    queries
}

/// The metric names a PromQL text mentions (Ferry's, gRPC's and `up`), histogram
/// series suffixes removed; label names (in `by (...)`, `on (...)` and the like, and
/// in `{...}` matchers or templates) are not names.
fn metric_names(promql: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let word = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let grouping = [
        "by",
        "without",
        "on",
        "ignoring",
        "group_left",
        "group_right",
    ];
    let chars: Vec<char> = promql.chars().collect();
    let (mut i, mut previous) = (0, String::new());
    while i < chars.len() {
        let c = chars[i];
        if c == '{' || (c == '(' && grouping.contains(&previous.as_str())) {
            let close = if c == '{' { '}' } else { ')' };
            let mut depth = 0;
            while i < chars.len() {
                depth += i32::from(chars[i] == c) - i32::from(chars[i] == close);
                i += 1;
                if depth == 0 {
                    break;
                }
            }
            previous.clear();
            continue;
        }
        if word(c) {
            let start = i;
            while i < chars.len() && word(chars[i]) {
                i += 1;
            }
            let token: String = chars[start..i].iter().collect();
            if ["ferry_", "rpc_", "db_client_"]
                .iter()
                .any(|p| token.starts_with(p))
                || token == "up"
            {
                let family = ["_bucket", "_sum", "_count"]
                    .iter()
                    .find_map(|suffix| token.strip_suffix(suffix))
                    .unwrap_or(&token);
                names.insert(family.to_string());
            }
            previous = token;
            continue;
        }
        if !c.is_whitespace() {
            previous.clear();
        }
        i += 1;
    }
    names
}

#[test]
fn metric_names_are_told_from_labels() {
    let names = metric_names(
        "histogram_quantile(0.99, sum by (le, rpc_method) (rate(rpc_server_call_duration_seconds_bucket{rpc_method=\"x\"}[5m]))) > on () group_left () max(ferry_a) and up",
    );
    let expected: BTreeSet<String> = ["rpc_server_call_duration_seconds", "ferry_a", "up"]
        .map(String::from)
        .into();
    assert_eq!(names, expected);
}
