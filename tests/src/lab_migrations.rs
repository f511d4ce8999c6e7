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

pub async fn ready_databases(
    fleet: &mut Fleet,
    report: &op::AssessmentReport,
    hosts: usize,
) -> anyhow::Result<()> {
    let (Some(azure), Some(mi)) = (&fleet.lab.azure, fleet.lab.managed.first()) else {
        return Ok(());
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
    let mut by_host: std::collections::BTreeMap<&str, Vec<&op::DatabaseReadiness>> =
        Default::default();
    for d in report
        .database_details
        .iter()
        .filter(|d| d.readiness == "ready" && d.size_bytes <= MAX_BYTES)
    {
        by_host.entry(&d.host).or_default().push(d);
    }
    let chosen: Vec<&op::DatabaseReadiness> = by_host
        .into_values()
        .take(hosts)
        .flat_map(|mut databases| {
            databases.sort_by_key(|d| d.size_bytes);
            databases.into_iter().take(2)
        })
        .collect();
    if chosen.is_empty() {
        println!("\nNo Ready database to migrate.");
        return Ok(());
    }
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
    ferry_control::cli::connection::wait_for(
        client,
        tests,
        Duration::from_millis(250),
        Duration::from_secs(60),
    )
    .await?;
    println!(
        "\nMigrating {} Ready database(s) of {} host(s) to {} over the MI link (the lab's names resolve through the agents' [network.hosts], a warning accepted here):",
        chosen.len(),
        hosts.len(),
        mi.fqdn
    );
    let mut ids = Vec::new();
    for d in &chosen {
        let started = client
            .start_migration(request(op::StartMigrationRequest {
                host: d.host.clone(),
                instance: d.instance.clone(),
                database: d.database.clone(),
                target: target.clone(),
                accept_warnings: true,
                ..Default::default()
            }))
            .await
            .with_context(|| format!("starting {} on {}", d.database, d.host))?
            .into_inner();
        ids.extend(started.migration.map(|m| m.id));
    }
    let started = Instant::now();
    let mut poll = tokio::time::interval(Duration::from_secs(1));
    loop {
        poll.tick().await;
        let mut all = client
            .list_migrations(request(op::ListMigrationsRequest::default()))
            .await?
            .into_inner()
            .migrations;
        all.retain(|m| ids.contains(&m.id));
        let ready = all
            .iter()
            .filter(|m| m.state == "ready_for_cutover")
            .count();
        let failed = all.iter().filter(|m| m.state == "failed").count();
        eprint!(
            "\r{ready}/{} ready for cutover, {failed} failed ({:.0} s)",
            all.len(),
            started.elapsed().as_secs_f64()
        );
        if ready + failed == all.len() || started.elapsed() > LIMIT {
            eprintln!();
            println!("{}", render::table(&all));
            return Ok(());
        }
    }
}
