//! `ferry`: the operator CLI. Parses arguments, connects with an operator certificate,
//! makes one call and prints the answer.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use ferry_control::cli::output::{self, Format};
use ferry_control::cli::{self, request, CliError};
use ferry_control::cli::{assess, audit, credentials, cutover, migrate, operator, plan, target};
use ferry_proto::clock::now_ms;
use ferry_proto::operator::v1::{
    CreateCommandRequest, CreateEnrollmentTokenRequest, GetHostRequest, ListCommandsRequest,
    ListHostsRequest, RevokeHostRequest, SetHostLabelsRequest,
};

#[derive(Parser)]
#[command(
    name = "ferry",
    version,
    about = "Operate a Ferry fleet: hosts, tokens, commands, assessments, targets"
)]
struct Cli {
    /// Control-plane address.
    #[arg(
        long,
        env = "FERRY_CONTROL_PLANE",
        default_value = "https://localhost:7443",
        global = true
    )]
    control_plane: String,
    /// Directory holding your operator cert.pem, key.pem and ca.pem.
    #[arg(
        long,
        env = "FERRY_CREDENTIALS",
        default_value = "ferry-data/operators/admin",
        global = true
    )]
    credentials: PathBuf,
    /// Output format.
    #[arg(long, short, value_enum, default_value = "table", global = true)]
    output: Format,
    #[command(subcommand)]
    command: Verb,
}

#[derive(Subcommand)]
enum Verb {
    /// Enrollment tokens.
    Token {
        #[command(subcommand)]
        command: TokenVerb,
    },
    /// List enrolled hosts with their status.
    Hosts,
    /// One host.
    Host {
        #[command(subcommand)]
        command: HostVerb,
    },
    /// Revoke a host's agent: its certificates are refused from now on.
    Revoke {
        /// Host id or name.
        host: String,
        #[arg(long)]
        reason: String,
    },
    /// Commands queued for agents.
    Command {
        #[command(subcommand)]
        command: CommandVerb,
    },
    /// Readiness assessments for the MI link: run, report, show findings.
    Assess {
        #[command(subcommand)]
        command: assess::AssessVerb,
    },
    /// Target managed instances, read through ARM.
    Target {
        #[command(subcommand)]
        command: target::TargetVerb,
    },
    /// Migrations over the MI link: start, follow, retry.
    Migrate {
        #[command(subcommand)]
        command: migrate::MigrateVerb,
    },
    /// Cut a linked migration over to its MI once every gate holds, or cancel a
    /// cutover before its failover (`ferry cutover cancel ID`).
    Cutover(cutover::CutoverArgs),
    /// Plans: waves of migrations with a window, approvals and a failure policy.
    Plan {
        #[command(subcommand)]
        command: plan::PlanVerb,
    },
    /// One wave: approve, pause, resume.
    Wave {
        #[command(subcommand)]
        command: plan::WaveVerb,
    },
    /// The audit log, newest first: who changed what, each gate decision and step.
    Audit {
        /// Only events about this target or its prefix (e.g. migration/<id>).
        #[arg(long)]
        target: Option<String>,
        #[arg(long, default_value_t = 100)]
        limit: u32,
    },
    /// Operators and their certificates: list, revoke (admins).
    Operator {
        #[command(subcommand)]
        command: operator::OperatorVerb,
    },
}

#[derive(Subcommand)]
enum TokenVerb {
    /// Create a one-time enrollment token.
    Create {
        /// Lifetime, e.g. 30m, 1h, 2d (default: the server's, 1h).
        #[arg(long, value_parser = cli::parse_duration)]
        ttl: Option<std::time::Duration>,
        #[arg(long, default_value = "")]
        description: String,
    },
}

#[derive(Subcommand)]
enum HostVerb {
    /// Show a host's agent, instances and databases.
    Show { host: String },
    /// Set labels (key=value) and remove them (key-), e.g. `env=prod site-`.
    Label {
        host: String,
        #[arg(required = true)]
        labels: Vec<String>,
    },
}

#[derive(Subcommand)]
enum CommandVerb {
    /// Queue a command for a host (delivered now if connected, else when it reconnects).
    Send {
        #[arg(long)]
        host: String,
        /// collect-inventory
        kind: String,
        #[arg(long, value_parser = cli::parse_duration)]
        ttl: Option<std::time::Duration>,
    },
    /// List recent commands.
    List {
        #[arg(long)]
        host: Option<String>,
        #[arg(long, default_value_t = 50)]
        limit: u32,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // Warnings only, but the CLI's own span is kept: it starts the operation's trace.
    let _telemetry = ferry_proto::telemetry::init("ferry", "warn,ferry=info");
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start: {e}");
            return ExitCode::FAILURE;
        }
    };
    let span = tracing::info_span!("ferry", command = %std::env::args().skip(1).collect::<Vec<_>>().join(" "));
    match runtime.block_on(tracing::Instrument::instrument(run(cli), span)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> Result<(), CliError> {
    let csv_allowed = matches!(
        cli.command,
        Verb::Assess {
            command: assess::AssessVerb::Report { .. }
        }
    );
    if cli.output == Format::Csv && !csv_allowed {
        return Err(CliError::Usage(
            "--output csv is available for `ferry assess report`; use table or json".into(),
        ));
    }
    let mut client = cli::connect(&cli.control_plane, &cli.credentials).await?;
    if let Some(until) = credentials::renew_if_due(&mut client, &cli.credentials).await? {
        eprintln!(
            "renewed the operator certificate in {} (valid until {})",
            cli.credentials.display(),
            ferry_control::rfc3339::format(until)
        );
    }
    let now = now_ms();
    let json = cli.output == Format::Json;
    match cli.command {
        Verb::Assess { command } => assess::run(&mut client, command, cli.output).await?,
        Verb::Target { command } => target::run(&mut client, command, cli.output).await?,
        Verb::Operator { command } => operator::run(&mut client, command, cli.output).await?,
        Verb::Migrate { command } => migrate::run(&mut client, command, cli.output).await?,
        Verb::Cutover(args) => cutover::run(&mut client, args, cli.output).await?,
        Verb::Plan { command } => plan::run_plan(&mut client, command, cli.output).await?,
        Verb::Wave { command } => plan::run_wave(&mut client, command, cli.output).await?,
        Verb::Audit { target, limit } => audit::run(&mut client, target, limit, cli.output).await?,
        Verb::Token {
            command: TokenVerb::Create { ttl, description },
        } => {
            let ttl_seconds = ttl_seconds(ttl);
            let token = client
                .create_enrollment_token(request(CreateEnrollmentTokenRequest {
                    ttl_seconds,
                    description,
                }))
                .await?
                .into_inner();
            if json {
                output::print_json(
                    &serde_json::json!({"token": token.token, "token_id": token.token_id, "expires_unix_ms": token.expires_unix_ms, "ca_fingerprint_sha256": token.ca_fingerprint_sha256}),
                );
            } else {
                println!("{}", token.token);
                eprintln!(
                    "One-time token {} expires in {}s. On the SQL Server host run:\n  ferry-agent enroll --control-plane {} --token <the token above>",
                    token.token_id,
                    (token.expires_unix_ms - now) / 1000,
                    cli.control_plane
                );
            }
        }
        Verb::Hosts => {
            let hosts = cli::every_page(|page_token| {
                let mut client = client.clone();
                let request = request(ListHostsRequest {
                    page_token,
                    page_size: cli::PAGE_SIZE,
                });
                async move {
                    let page = client.list_hosts(request).await?.into_inner();
                    Ok((page.hosts, page.next_page_token))
                }
            })
            .await?;
            if json {
                output::print_json(&serde_json::Value::Array(
                    hosts.iter().map(output::host_json).collect(),
                ));
            } else {
                println!("{}", output::hosts_table(&hosts, now));
            }
        }
        Verb::Host {
            command: HostVerb::Show { host },
        } => {
            let detail = client
                .get_host(request(GetHostRequest { host }))
                .await?
                .into_inner();
            if json {
                output::print_json(&output::host_detail_json(&detail));
            } else {
                print!("{}", output::host_detail_text(&detail, now));
            }
        }
        Verb::Host {
            command: HostVerb::Label { host, labels },
        } => {
            let mut change = SetHostLabelsRequest {
                host,
                ..Default::default()
            };
            for term in labels {
                if let Some((key, value)) = term.split_once('=') {
                    change.set.insert(key.into(), value.into());
                } else if let Some(key) = term.strip_suffix('-') {
                    change.remove.push(key.into());
                } else {
                    return Err(CliError::Usage(format!(
                        "label {term:?}: write key=value to set it or key- to remove it"
                    )));
                }
            }
            let host = client.set_host_labels(request(change)).await?.into_inner();
            if json {
                output::print_json(&output::host_json(&host));
            } else {
                println!("{}: {}", host.name, output::labels_text(&host));
            }
        }
        Verb::Revoke { host, reason } => {
            let revoked = client
                .revoke_host(request(RevokeHostRequest { host, reason }))
                .await?
                .into_inner();
            println!("revoked {}", revoked.id);
        }
        Verb::Command {
            command: CommandVerb::Send { host, kind, ttl },
        } => {
            let ttl_seconds = ttl_seconds(ttl);
            let command = client
                .create_command(request(CreateCommandRequest {
                    host,
                    kind,
                    ttl_seconds,
                }))
                .await?
                .into_inner();
            if json {
                output::print_json(&output::command_json(&command));
            } else {
                println!(
                    "queued {} ({}) for {}",
                    command.id, command.kind, command.agent_id
                );
            }
        }
        Verb::Command {
            command: CommandVerb::List { host, limit },
        } => {
            let host = host.unwrap_or_default();
            let commands = cli::first_items(limit, |page_token, limit| {
                let mut client = client.clone();
                let request = request(ListCommandsRequest {
                    host: host.clone(),
                    limit,
                    page_token,
                });
                async move {
                    let page = client.list_commands(request).await?.into_inner();
                    Ok((page.commands, page.next_page_token))
                }
            })
            .await?;
            if json {
                output::print_json(&serde_json::Value::Array(
                    commands.iter().map(output::command_json).collect(),
                ));
            } else {
                println!("{}", output::commands_table(&commands, now));
            }
        }
    }
    Ok(())
}

/// A `--ttl` for the wire: whole seconds, 0 meaning the server's default.
fn ttl_seconds(ttl: Option<std::time::Duration>) -> u32 {
    ttl.map(|t| u32::try_from(t.as_secs()).unwrap_or(u32::MAX))
        .unwrap_or(0)
}
