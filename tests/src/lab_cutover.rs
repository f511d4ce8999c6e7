//! `ferry-lab`'s cutover: each migration ready for cutover has its lab workload stopped
//! (the application going away), is cut over through the operator API as
//! `ferry cutover` would, inside a maintenance window of the next hour (the workload
//! gate measuring SQL Server's log, not told),
//! followed until completed or failed, and has every committed row counted on SQL
//! Server and on the MI. A report per database: the lag before the cutover, the gates'
//! evidence, how long the failover took, the rows verified.

use std::time::Duration;

use anyhow::Context;
use ferry_agent::sql::{self, Connection};
use ferry_control::cli::request;
use ferry_proto::operator::v1 as op;

use crate::fleet::{lab_instance, Fleet};
use crate::lab_migrations::follow;

/// How long the cutovers may take together.
const LIMIT: Duration = Duration::from_secs(300);
const QUERY: Duration = Duration::from_secs(30);

/// Rows per user table of a database, as one connection counts them.
async fn rows(conn: &mut Connection, database: &str) -> anyhow::Result<(usize, i64)> {
    let db = ferry_proto::tsql::quote_name(database);
    let listed = sql::rows(
        conn,
        "user tables",
        &format!("USE {db}; SELECT s.name AS s, t.name AS t FROM sys.tables t JOIN sys.schemas s ON s.schema_id = t.schema_id ORDER BY s.name, t.name"),
        QUERY,
    )
    .await?;
    let mut total = 0;
    for row in &listed {
        let (schema, table) = (
            sql::text(row, "user tables", "s")?,
            sql::text(row, "user tables", "t")?,
        );
        let count = format!(
            "SELECT CAST(COUNT(*) AS bigint) AS n FROM {db}.{}.{}",
            ferry_proto::tsql::quote_name(&schema),
            ferry_proto::tsql::quote_name(&table)
        );
        let counted = sql::rows(conn, "row count", &count, QUERY).await?;
        total += counted
            .first()
            .map(|r| sql::big(r, "row count", "n"))
            .transpose()?
            .unwrap_or(0);
    }
    Ok((listed.len(), total))
}

/// What one database's cutover came to.
struct Outcome {
    migration: op::Migration,
    lag: String,
    /// Tables and rows on SQL Server once its workload stopped.
    source: (usize, i64),
    /// Rows on the MI once cut over.
    arrived: Option<i64>,
}

pub async fn cut_over(fleet: &mut Fleet, ready: &[op::Migration]) -> anyhow::Result<()> {
    let Some(mi) = fleet.lab.managed.first().cloned() else {
        return Ok(());
    };
    if ready.is_empty() {
        return Ok(());
    }
    println!(
        "\nCutting over {} database(s) to {}: the lab's application stops writing to each, then Ferry waits for its gates (workload, replication, health, the window, the row counts of both sides) and fails over:",
        ready.len(),
        mi.fqdn
    );
    // A maintenance window of the next hour.
    let now = ferry_proto::clock::now_ms();
    let rfc3339 = ferry_control::rfc3339::format;
    let window = (rfc3339(now), rfc3339(now + 3_600_000));
    let mut outcomes = Vec::new();
    for m in ready {
        let endpoint = fleet
            .lab
            .endpoint(&m.host)
            .with_context(|| format!("the lab has no instance for host {}", m.host))?;
        fleet
            .lab
            .set_workload(&endpoint.name, &m.database, &Default::default())?;
        let mut conn = sql::connect(&lab_instance(
            &m.host,
            endpoint.address,
            &endpoint.login,
            &endpoint.password,
        ))
        .await?;
        let source = rows(&mut conn, &m.database).await?;
        let lag = m.link.as_ref().map_or("--".into(), |l| {
            format!(
                "{} s to send, {} s to redo",
                l.send_lag_seconds.max(0),
                l.redo_lag_seconds.max(0)
            )
        });
        fleet
            .client
            .start_cutover(request(op::StartCutoverRequest {
                id: m.id.clone(),
                confirm_traffic_stopped: false,
                window_start: window.0.clone(),
                window_end: window.1.clone(),
                ..Default::default()
            }))
            .await
            .with_context(|| format!("cutting over {} on {}", m.database, m.host))?;
        outcomes.push(Outcome {
            migration: m.clone(),
            lag,
            source,
            arrived: None,
        });
    }
    let ids: Vec<String> = ready.iter().map(|m| m.id.clone()).collect();
    follow(
        fleet,
        &ids,
        ("completed", LIMIT),
        |done, failed, total, secs| {
            eprint!("\r{done}/{total} cut over, {failed} failed ({secs:.0} s)");
        },
    )
    .await?;
    // Their steps, for the report.
    for o in &mut outcomes {
        let id = o.migration.id.clone();
        let request = request(op::GetMigrationRequest { id });
        o.migration = fleet.client.get_migration(request).await?.into_inner();
    }
    eprintln!();
    let mut on_mi = sql::connect(&lab_instance(
        "mi",
        std::net::SocketAddr::new(mi.ip.into(), 1433),
        &mi.spec.admin_login,
        &mi.spec.admin_password,
    ))
    .await?;
    for o in &mut outcomes {
        if o.migration.state == "completed" {
            o.arrived = Some(rows(&mut on_mi, &o.migration.database).await?.1);
        }
    }
    for o in &outcomes {
        print!("{}", report(o));
    }
    Ok(())
}

fn report(o: &Outcome) -> String {
    let m = &o.migration;
    let step = |name: &str| m.steps.iter().rev().find(|s| s.name == name);
    let took = |s: &op::MigrationStep| (s.finished_unix_ms - s.started_unix_ms) as f64 / 1000.0;
    let mut out = format!(
        "\n{} on {}: {}\n  lag before the cutover: {}\n",
        m.database, m.host, m.state, o.lag
    );
    if let Some(failover) = step("failover") {
        out.push_str(&format!("  gates and failover: {}\n", failover.detail));
        if failover.state == "done" {
            out.push_str(&format!("  failover took {:.1} s\n", took(failover)));
        }
    }
    let (tables, rows) = o.source;
    out.push_str(&match o.arrived {
        Some(arrived) if arrived == rows => format!("  rows verified: {rows} in {tables} table(s) on SQL Server, {arrived} on the MI: every committed row arrived\n"),
        Some(arrived) => format!("  ROWS DIFFER: {rows} in {tables} table(s) on SQL Server, {arrived} on the MI\n"),
        None => format!("  not cut over: {}\n", m.detail),
    });
    out
}

/// Ferry's own time in one cutover, milliseconds: from the newest reading that opened
/// every gate to the failover requested, and from the failover seen done to the
/// database verified on the MI; and the whole cutover.
#[derive(Debug, Clone, Copy)]
pub struct Overhead {
    pub to_failover_ms: i64,
    pub to_verified_ms: i64,
    pub total_ms: i64,
}

/// The overhead of completed migration `m`, from its journal and its audit log.
pub async fn overhead(fleet: &mut Fleet, m: &op::Migration) -> anyhow::Result<Option<Overhead>> {
    let step = |name: &str| m.steps.iter().rev().find(|s| s.name == name);
    let (Some(failover), Some(verified), Some(first)) = (
        step("failover"),
        step("verify_on_mi"),
        step("synchronous_commit"),
    ) else {
        return Ok(None);
    };
    let events = fleet
        .client
        .list_audit(request(op::ListAuditRequest {
            target: format!("migration/{}", m.id),
            limit: 1000,
            page_token: String::new(),
        }))
        .await?
        .into_inner()
        .events;
    let Some(opened) = events.iter().find(|e| e.action == "cutover.gates_open") else {
        return Ok(None);
    };
    let detail: serde_json::Value = serde_json::from_str(&opened.detail)?;
    let readings_at = detail["readings_at_ms"]
        .as_i64()
        .unwrap_or(opened.at_unix_ms);
    Ok(Some(Overhead {
        to_failover_ms: failover.started_unix_ms - readings_at,
        to_verified_ms: verified.finished_unix_ms - failover.finished_unix_ms,
        total_ms: m
            .steps
            .iter()
            .map(|s| s.finished_unix_ms)
            .max()
            .unwrap_or(0)
            - first.started_unix_ms,
    }))
}
