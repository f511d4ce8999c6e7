//! `ferry cutover ID [--confirm-traffic-stopped] [--window-start T --window-end T]
//! [--allow-data-loss --reason TEXT] [--wait]`, `ferry cutover approve ID` and
//! `ferry cutover cancel ID`: a linked migration moved over to its MI once every gate
//! holds (or forced, losing what the MI has not hardened), approved, or its cutover
//! cancelled before the failover. `ferry migrate show ID` shows the gates with their
//! evidence.

use std::time::Duration;

use clap::{Args, Subcommand};
use ferry_proto::operator::v1 as op;
use ferry_proto::operator::v1::operator_client::OperatorClient;
use tonic::transport::Channel;

use super::migrate::{print_changed, watch};
use super::output::Format;
use super::{request, CliError};

#[derive(Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct CutoverArgs {
    #[command(subcommand)]
    pub command: Option<CutoverVerb>,
    /// The migration to cut over.
    #[arg(conflicts_with = "wave")]
    pub id: Option<String>,
    /// Every linked migration of this wave (`ferry plan show`); the failovers wait for
    /// the wave's window, approvals and policy.
    #[arg(long)]
    pub wave: Option<String>,
    /// Confirm that the application's traffic to the database stopped (else Ferry
    /// waits for SQL Server's log to stand still).
    #[arg(long)]
    pub confirm_traffic_stopped: bool,
    /// Follow it until it is completed (or failed); exits 1 unless completed.
    #[arg(long)]
    pub wait: bool,
    /// The maintenance window the failover must happen in: its start and end as RFC
    /// 3339 times with their offsets (e.g. 2026-12-05T22:00:00+01:00).
    #[arg(long, requires = "window_end", conflicts_with = "wave")]
    pub window_start: Option<String>,
    #[arg(long, requires = "window_start")]
    pub window_end: Option<String>,
    /// Force the failover without waiting for the link (SQL Server lost): what the
    /// MI has not hardened is lost. Needs --reason and an approver besides you.
    #[arg(long, requires = "reason", conflicts_with_all = ["wave", "confirm_traffic_stopped"])]
    pub allow_data_loss: bool,
    /// Why the data loss is accepted (kept in the audit log).
    #[arg(long, requires = "allow_data_loss")]
    pub reason: Option<String>,
    /// Keep the link after the failover (SQL Server 2022 and later): SQL Server stays
    /// its secondary, ready for a failback.
    #[arg(long, conflicts_with_all = ["allow_data_loss", "drop_sql_objects", "wave"])]
    pub keep_link: bool,
    /// Also drop AG_<db> and the MI's certificate on SQL Server after the link.
    #[arg(long, conflicts_with_all = ["allow_data_loss", "wave"])]
    pub drop_sql_objects: bool,
    /// With --wait: give up after this long (e.g. 30m).
    #[arg(long, value_parser = super::parse_duration, default_value = "2h")]
    pub timeout: Duration,
}

#[derive(Subcommand)]
pub enum CutoverVerb {
    /// Cancel a cutover before its failover: both sides back to asynchronous commit.
    Cancel { id: String },
    /// Approve a running cutover (the approver role; its requester cannot be the only
    /// approver).
    Approve { id: String },
}

pub async fn run(
    client: &mut OperatorClient<Channel>,
    args: CutoverArgs,
    format: Format,
) -> Result<(), CliError> {
    match args.command {
        Some(CutoverVerb::Cancel { id }) => {
            let m = client
                .cancel_cutover(request(op::GetMigrationRequest { id }))
                .await?;
            print_changed("cancelling the cutover of", &m.into_inner());
            return Ok(());
        }
        Some(CutoverVerb::Approve { id }) => {
            let m = client
                .approve_cutover(request(op::GetMigrationRequest { id }))
                .await?;
            print_changed("approved the cutover of", &m.into_inner());
            return Ok(());
        }
        None => {}
    }
    let (ids, refused) = match (&args.id, &args.wave) {
        (Some(id), _) => {
            let started = client
                .start_cutover(request(op::StartCutoverRequest {
                    id: id.clone(),
                    confirm_traffic_stopped: args.confirm_traffic_stopped,
                    window_start: args.window_start.clone().unwrap_or_default(),
                    window_end: args.window_end.clone().unwrap_or_default(),
                    allow_data_loss: args.allow_data_loss,
                    reason: args.reason.clone().unwrap_or_default(),
                    keep_link: args.keep_link,
                    drop_sql_objects: args.drop_sql_objects,
                }))
                .await?
                .into_inner();
            print_changed("cutting over", &started);
            (vec![started.id], Vec::new())
        }
        (None, Some(wave)) => {
            let answer = client
                .start_wave_cutover(request(op::StartWaveCutoverRequest {
                    wave: wave.clone(),
                    confirm_traffic_stopped: args.confirm_traffic_stopped,
                }))
                .await?
                .into_inner();
            for m in &answer.started {
                print_changed("cutting over", m);
            }
            let ids = answer.started.into_iter().map(|m| m.id).collect();
            (ids, answer.refused)
        }
        (None, None) => {
            return Err(CliError::Usage(
                "name the migration to cut over, or --wave W (`ferry migrate ls` lists them)"
                    .into(),
            ))
        }
    };
    // Every member of a wave is tried; the ones refused are named at the end.
    if !refused.is_empty() {
        return Err(CliError::Refused(format!(
            "not cut over:\n{}",
            refused.join("\n")
        )));
    }
    if args.wait {
        watch(
            client,
            ids,
            "completed",
            args.timeout,
            format == Format::Json,
        )
        .await?;
    } else {
        println!("`ferry migrate show ID` shows each one's steps and gates; `ferry migrate watch ID... --until completed` follows them");
    }
    Ok(())
}
