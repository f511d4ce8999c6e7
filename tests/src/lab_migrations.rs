//! `ferry-lab`'s migrations: the lab's managed instance added as a target, the
//! connection tested from a few hosts, their Ready databases (at most two each,
//! smallest first, up to 2 GiB so that seeding takes seconds) migrated over the MI link, and followed until every one is ready
//! for cutover (or failed), through the operator API as `ferry` would.

use std::time::{Duration, Instant};

use anyhow::Context;
use ferry_control::cli::migrate::render;
use ferry_control::cli::request;
use ferry_proto::operator::v1 as op;

use crate::fleet::Fleet;

/// The largest database ferry-lab migrates: seeding copies it at the lab's bandwidth.
const MAX_BYTES: i64 = 2 << 30;
/// How long the migrations may take to become ready for cutover.
const LIMIT: Duration = Duration::from_secs(300);

/// The managed instance migrations go to when the scenario declares none.
const LAB_TARGET: &str = r#"
[[managed_instance]]
name = "mi-lab"
tier = "BusinessCritical"
vcores = 16
storage_gb = 2048
link_bandwidth_mbps = 1000.0
link_latency_ms = 5.0

[azure]
speed = 20.0
"#;

/// Gives a scenario without a managed instance the lab's (`mi-lab`, 1000 Mbps).
pub fn add_target(scenario: &mut ferry_sim::Scenario) -> anyhow::Result<()> {
    if scenario.managed_instances.is_empty() {
        let target = ferry_sim::Scenario::parse(LAB_TARGET).map_err(anyhow::Error::msg)?;
        scenario.managed_instances = target.managed_instances;
        scenario.azure = target.azure;
    }
    Ok(())
}

/// Gives every database small enough to migrate that declares no table a table of
/// rows for the cutover to count on both sides (`dbo.LabOrders`, 200 rows), its
/// application writing at most 5 transactions a second (each inserts a row there), so
/// that the rows the lab holds grow slowly while ferry-lab runs.
pub fn add_tables(scenario: &mut ferry_sim::Scenario) {
    let databases = scenario
        .instances
        .iter_mut()
        .flat_map(|i| i.databases.iter_mut())
        .filter(|d| d.tables.is_empty() && (d.data_mb << 20) as i64 <= MAX_BYTES);
    for d in databases {
        let column = |name: &str, ty: &str, primary_key| ferry_sim::scenario::ColumnSpec {
            name: name.into(),
            ty: ty.into(),
            primary_key,
            nullable: false,
        };
        d.tables.push(ferry_sim::scenario::TableSpec {
            name: "LabOrders".into(),
            columns: vec![
                column("id", "int", true),
                column("amount", "decimal(10,2)", false),
            ],
            rows: 200,
        });
        d.workload.transactions_per_sec = d.workload.transactions_per_sec.min(5.0);
    }
}

/// Migrates the Ready databases of `hosts` hosts; those that became ready for cutover.
pub async fn ready_databases(
    fleet: &mut Fleet,
    report: &op::AssessmentReport,
    hosts: usize,
) -> anyhow::Result<Vec<op::Migration>> {
    let chosen = choose(report, &["ready"], (hosts, 2), MAX_BYTES);
    if chosen.is_empty() {
        println!("\nNo Ready database to migrate.");
        return Ok(Vec::new());
    }
    let Some(started) = start_all(fleet, &chosen, false).await? else {
        return Ok(Vec::new());
    };
    let until = ("ready_for_cutover", LIMIT);
    let all = follow(fleet, &started.ids, until, |ready, failed, total, secs| {
        eprint!("\r{ready}/{total} ready for cutover, {failed} failed ({secs:.0} s)");
    })
    .await?;
    eprintln!();
    println!("{}", render::table(&all));
    Ok(all
        .into_iter()
        .filter(|m| m.state == "ready_for_cutover")
        .collect())
}

/// The databases of up to `hosts` hosts whose readiness is one of `readiness`, at
/// most `per_host` each (smallest first) and none larger than `max_bytes`, no two of
/// one name (the managed instance holds one database of a name).
pub fn choose(
    report: &op::AssessmentReport,
    readiness: &[&str],
    (hosts, per_host): (usize, usize),
    max_bytes: i64,
) -> Vec<op::DatabaseReadiness> {
    let mut by_host: std::collections::BTreeMap<&str, Vec<&op::DatabaseReadiness>> =
        Default::default();
    for d in report
        .database_details
        .iter()
        .filter(|d| readiness.contains(&d.readiness.as_str()) && d.size_bytes <= max_bytes)
    {
        by_host.entry(&d.host).or_default().push(d);
    }
    let mut names = std::collections::HashSet::new();
    let (mut chosen, mut used) = (Vec::new(), 0);
    for mut databases in by_host.into_values() {
        databases.sort_by_key(|d| d.size_bytes);
        let picked: Vec<op::DatabaseReadiness> = databases
            .into_iter()
            .filter(|d| !names.contains(&d.database.to_lowercase()))
            .take(per_host)
            .cloned()
            .collect();
        if picked.is_empty() {
            continue;
        }
        names.extend(picked.iter().map(|d| d.database.to_lowercase()));
        chosen.extend(picked);
        used += 1;
        if used == hosts {
            break;
        }
    }
    chosen
}

/// What `start_all` started.
pub struct Started {
    pub ids: Vec<String>,
    /// The managed instance's link bandwidth, bytes per second.
    pub bandwidth: f64,
}

/// Adds the lab's managed instance as a target, tests the hosts' connections to it and
/// starts a migration of each chosen database (the DNS warning accepted; endpoints
/// fixed when `allow_endpoint_change`). None when the lab has no managed instance.
pub async fn start_all(
    fleet: &mut Fleet,
    chosen: &[op::DatabaseReadiness],
    allow_endpoint_change: bool,
) -> anyhow::Result<Option<Started>> {
    let (Some(azure), Some(mi)) = (&fleet.lab.azure, fleet.lab.managed.first()) else {
        return Ok(None);
    };
    let target = format!(
        "/subscriptions/{}/resourceGroups/{}/providers/Microsoft.Sql/managedInstances/{}",
        azure.subscription, mi.spec.resource_group, mi.spec.name
    );
    let client = &mut fleet.client;
    client
        .add_target(request(op::AddTargetRequest {
            resource_id: target.clone(),
        }))
        .await
        .context("adding the lab's managed instance as a target")?;
    let mut hosts: Vec<String> = chosen.iter().map(|d| d.host.clone()).collect();
    hosts.dedup();
    let tests = client
        .test_connection(request(op::TestConnectionRequest {
            target: mi.spec.name.clone(),
            hosts: hosts.clone(),
            ..Default::default()
        }))
        .await?
        .into_inner()
        .tests;
    ferry_control::cli::connection_test::wait_for(
        client,
        tests,
        Duration::from_millis(250),
        Duration::from_secs(120),
    )
    .await?;
    println!(
        "\nMigrating {} Ready database(s) of {} host(s) to {} over the MI link (the lab's names resolve through the agents' [network.hosts], a warning accepted here):",
        chosen.len(),
        hosts.len(),
        mi.fqdn
    );
    let mut ids = Vec::new();
    for d in chosen {
        let started = client
            .start_migration(request(op::StartMigrationRequest {
                host: d.host.clone(),
                instance: d.instance.clone(),
                database: d.database.clone(),
                target: target.clone(),
                accept_warnings: true,
                allow_endpoint_change,
                ..Default::default()
            }))
            .await
            .with_context(|| format!("starting {} on {}", d.database, d.host))?
            .into_inner();
        ids.extend(started.migration.map(|m| m.id));
    }
    Ok(Some(Started {
        ids,
        bandwidth: mi.spec.link_bandwidth_mbps * 1e6 / 8.0,
    }))
}

/// Polls the migrations `ids` once a second until each is in state `until` or failed,
/// or `limit` passed, calling `progress(arrived, failed, total, seconds)`; their last
/// state.
pub async fn follow(
    fleet: &mut Fleet,
    ids: &[String],
    (until, limit): (&str, Duration),
    mut progress: impl FnMut(usize, usize, usize, f64),
) -> anyhow::Result<Vec<op::Migration>> {
    let started = Instant::now();
    let wanted: std::collections::HashSet<&str> = ids.iter().map(String::as_str).collect();
    let mut poll = tokio::time::interval(Duration::from_secs(1));
    loop {
        poll.tick().await;
        let mut all = Vec::new();
        let mut page_token = String::new();
        loop {
            let page = fleet
                .client
                .list_migrations(request(op::ListMigrationsRequest {
                    page_token,
                    page_size: 1000,
                    ..Default::default()
                }))
                .await?
                .into_inner();
            all.extend(
                page.migrations
                    .into_iter()
                    .filter(|m| wanted.contains(m.id.as_str())),
            );
            page_token = page.next_page_token;
            if page_token.is_empty() {
                break;
            }
        }
        let ready = all.iter().filter(|m| m.state == until).count();
        let failed = all.iter().filter(|m| m.state == "failed").count();
        progress(ready, failed, all.len(), started.elapsed().as_secs_f64());
        if ready + failed == all.len() || started.elapsed() > limit {
            return Ok(all);
        }
    }
}
