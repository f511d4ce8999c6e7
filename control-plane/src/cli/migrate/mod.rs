//! `ferry migrate start|ls|show|watch|retry|cancel`: migrations over the MI link.
//!
//! - [`file`]: `start --file`: many databases at once.
//! - [`render`]: tables, the detail view with steps and the link, JSON.

pub mod file;
pub mod render;

use std::time::{Duration, Instant};

use clap::Subcommand;
use ferry_proto::operator::v1 as op;
use ferry_proto::operator::v1::operator_client::OperatorClient;
use serde_json::Value;
use tonic::transport::Channel;

use super::output::{self, Format};
use super::{request, CliError};

#[derive(Subcommand)]
pub enum MigrateVerb {
    /// Start migrating databases of one host to a target, or those a file lists
    /// (starting one that already runs returns it).
    Start {
        /// The host, by name or id.
        #[arg(long, required_unless_present = "file", conflicts_with = "file")]
        host: Option<String>,
        /// The instance, as named in the agent's configuration; needed only when
        /// several of the host's instances have the database.
        #[arg(long)]
        instance: Option<String>,
        /// A database to migrate (repeat for several: one link each).
        #[arg(long = "database", required_unless_present = "file")]
        databases: Vec<String>,
        /// A TOML file of `[[migration]]` entries (host, database; optionally
        /// instance, link_name, target), instead of --host and --database.
        #[arg(long, conflicts_with_all = ["instance", "link_name"])]
        file: Option<std::path::PathBuf>,
        /// The target's resource id or name (in a file, the default for its entries).
        #[arg(long, required_unless_present = "file")]
        target: Option<String>,
        /// The link's name (default DAG_<database>); only with one database.
        #[arg(long)]
        link_name: Option<String>,
        /// Set a database in SIMPLE or BULK_LOGGED recovery to FULL.
        #[arg(long)]
        allow_recovery_change: bool,
        /// Alter an existing mirroring endpoint that cannot carry the link.
        #[arg(long)]
        allow_endpoint_change: bool,
        /// Start despite the pre-flight's warnings (recorded as accepted).
        #[arg(long)]
        accept_warnings: bool,
    },
    /// List migrations.
    Ls {
        /// Only this state (preparing, seeding, ..., ready_for_cutover, stalled, failed).
        #[arg(long)]
        state: Option<String>,
        #[arg(long)]
        host: Option<String>,
    },
    /// One migration: its steps with timings, the link as Azure reports it, errors.
    Show { id: String },
    /// Follow migrations live until each reaches a state (or fails).
    Watch {
        /// These migrations; every one not ended when none is given.
        ids: Vec<String>,
        /// The state to wait for.
        #[arg(long, default_value = "ready_for_cutover")]
        until: String,
        /// Give up after this long (e.g. 90s, 30m, 2h); exits 1 when it does.
        #[arg(long, value_parser = super::parse_duration, default_value = "24h")]
        timeout: Duration,
    },
    /// Run a failed migration again from its first step not done.
    Retry { id: String },
    /// Remove what the migration made (link, distributed AG, AG, and the certificates
    /// Ferry made that nothing else uses); the database stays on SQL Server.
    Cancel { id: String },
}

pub async fn run(
    client: &mut OperatorClient<Channel>,
    verb: MigrateVerb,
    format: Format,
) -> Result<(), CliError> {
    let json = format == Format::Json;
    match verb {
        MigrateVerb::Start {
            host,
            instance,
            databases,
            file,
            target,
            link_name,
            allow_recovery_change,
            allow_endpoint_change,
            accept_warnings,
        } => {
            if link_name.is_some() && databases.len() > 1 {
                return Err(CliError::Usage(
                    "--link-name names one link: give it with one --database".into(),
                ));
            }
            let entries = match file {
                Some(path) => file::read(&path, target.as_deref()).map_err(CliError::Usage)?,
                None => databases
                    .into_iter()
                    .map(|database| file::Entry {
                        host: host.clone().unwrap_or_default(),
                        database,
                        instance: instance.clone(),
                        link_name: link_name.clone(),
                        target: target.clone(),
                    })
                    .collect(),
            };
            let mut started = Vec::new();
            let mut refused = Vec::new();
            for entry in entries {
                let asked = client
                    .start_migration(request(op::StartMigrationRequest {
                        host: entry.host.clone(),
                        instance: entry.instance.unwrap_or_default(),
                        database: entry.database.clone(),
                        target: entry.target.unwrap_or_default(),
                        link_name: entry.link_name.unwrap_or_default(),
                        allow_recovery_change,
                        allow_endpoint_change,
                        accept_warnings,
                    }))
                    .await;
                match asked {
                    Ok(answer) => started.push(answer.into_inner()),
                    Err(status) => refused.push(format!(
                        "{} on {}: {}",
                        entry.database,
                        entry.host,
                        status.message()
                    )),
                }
            }
            if json {
                output::print_json(&Value::Array(
                    started.iter().map(render::started_json).collect(),
                ));
            } else {
                print!("{}", render::started_text(&started));
            }
            if !refused.is_empty() {
                return Err(CliError::Refused(refused.join("\n")));
            }
        }
        MigrateVerb::Ls { state, host } => {
            let migrations = list(client, state, host).await?;
            if json {
                output::print_json(&Value::Array(
                    migrations.iter().map(render::migration_json).collect(),
                ));
            } else {
                println!("{}", render::table(&migrations));
            }
        }
        MigrateVerb::Show { id } => {
            let m = client
                .get_migration(request(op::GetMigrationRequest { id }))
                .await?
                .into_inner();
            if json {
                output::print_json(&render::migration_json(&m));
            } else {
                print!("{}", render::detail(&m));
            }
        }
        MigrateVerb::Watch {
            ids,
            until,
            timeout,
        } => watch(client, ids, &until, timeout, json).await?,
        MigrateVerb::Retry { id } => {
            let m = client
                .retry_migration(request(op::GetMigrationRequest { id }))
                .await?;
            print_changed("retrying", &m.into_inner());
        }
        MigrateVerb::Cancel { id } => {
            let m = client
                .cancel_migration(request(op::GetMigrationRequest { id }))
                .await?;
            print_changed("cancelling", &m.into_inner());
        }
    }
    Ok(())
}

pub fn print_changed(verb: &str, m: &op::Migration) {
    println!(
        "{verb} {} ({} on {}): {}",
        m.id, m.database, m.host, m.detail
    );
}

async fn list(
    client: &mut OperatorClient<Channel>,
    state: Option<String>,
    host: Option<String>,
) -> Result<Vec<op::Migration>, CliError> {
    let (state, host) = (state.unwrap_or_default(), host.unwrap_or_default());
    super::every_page(|page_token| {
        let mut client = client.clone();
        let request = request(op::ListMigrationsRequest {
            state: state.clone(),
            host: host.clone(),
            page_token,
            page_size: super::PAGE_SIZE,
        });
        async move {
            let page = client.list_migrations(request).await?.into_inner();
            Ok((page.migrations, page.next_page_token))
        }
    })
    .await
}

/// Ended: nothing will change it without the operator.
fn ended(m: &op::Migration) -> bool {
    matches!(m.state.as_str(), "failed" | "cancelled" | "completed")
}

/// Polls once a second, printing the table whenever something changed, until every
/// watched migration is in `until` or ended. Err when any failed or time ran out.
pub async fn watch(
    client: &mut OperatorClient<Channel>,
    mut ids: Vec<String>,
    until: &str,
    timeout: Duration,
    json: bool,
) -> Result<(), CliError> {
    if crate::migration::State::parse(until).is_none() {
        return Err(CliError::Usage(format!(
            "--until {until:?} is not a migration state"
        )));
    }
    let started = Instant::now();
    let mut poll = tokio::time::interval(Duration::from_secs(1));
    let mut shown = String::new();
    loop {
        poll.tick().await;
        let mut migrations = list(client, None, None).await?;
        // Without ids, those not ended when the watch starts are followed to the end:
        // one that fails meanwhile is reported, not dropped.
        if ids.is_empty() {
            ids = migrations
                .iter()
                .filter(|m| !ended(m) || m.state == until)
                .map(|m| m.id.clone())
                .collect();
        }
        migrations.retain(|m| ids.contains(&m.id));
        if migrations.len() < ids.len() {
            return Err(CliError::Refused(
                "some of the migrations named do not exist".into(),
            ));
        }
        let view = render::table(&migrations);
        if view != shown && !json {
            println!("{view}\n");
            shown = view;
        }
        let done = migrations.iter().all(|m| m.state == until || ended(m));
        if done || started.elapsed() >= timeout {
            if json {
                output::print_json(&Value::Array(
                    migrations.iter().map(render::migration_json).collect(),
                ));
            }
            let failed: Vec<String> = migrations
                .iter()
                .filter(|m| m.state != until)
                .map(|m| {
                    format!(
                        "{} ({} on {}): {}: {}",
                        m.id, m.database, m.host, m.state, m.detail
                    )
                })
                .collect();
            return match (done, failed.is_empty()) {
                (true, true) => Ok(()),
                (true, false) => Err(CliError::Refused(format!(
                    "ended without reaching {until}:\n{}",
                    failed.join("\n")
                ))),
                (false, _) => Err(CliError::Refused(format!(
                    "still not {until} after {timeout:?}:\n{}",
                    failed.join("\n")
                ))),
            };
        }
    }
}
