//! `ferry`: the operator CLI. Parses arguments, connects with an operator certificate,
//! makes one call and prints the answer.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use ferry_control::cli::assess;
use ferry_control::cli::output::{self, Format};
use ferry_control::cli::{self, request, CliError};
use ferry_proto::clock::now_ms;
use ferry_proto::operator::v1::operator_client::OperatorClient;
use ferry_proto::operator::v1::{
    AssessmentRun, CreateCommandRequest, CreateEnrollmentTokenRequest, GetAssessmentReportRequest,
    GetAssessmentRunRequest, GetHostRequest, ListCommandsRequest, ListHostsRequest,
    RevokeHostRequest, ShowAssessmentRequest, StartAssessmentRequest,
};
use tonic::transport::Channel;

#[derive(Parser)]
#[command(
    name = "ferry",
    version,
    about = "Operate a Ferry fleet: hosts, tokens, commands, assessments"
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
        command: AssessVerb,
    },
}

#[derive(Subcommand)]
enum AssessVerb {
    /// Assess the whole fleet or some hosts; offline hosts are assessed when they return.
    Run {
        /// Every enrolled host.
        #[arg(long, conflicts_with = "host")]
        all: bool,
        /// A host name or id (repeat for more).
        #[arg(long, required_unless_present = "all")]
        host: Vec<String>,
        /// How long to wait for offline hosts, e.g. 2h (default: the server's, 24h).
        #[arg(long, value_parser = cli::parse_duration)]
        deadline: Option<std::time::Duration>,
        /// Show progress until every host finished, then the readiness summary.
        #[arg(long)]
        wait: bool,
    },
    /// A run's progress per host.
    Status {
        /// The run (default: the newest).
        run: Option<String>,
    },
    /// Readiness summary, rules, instances and databases of a run (`-o csv` for a sheet).
    Report {
        /// The run (default: the newest).
        #[arg(long)]
        run: Option<String>,
    },
    /// One host's findings, with evidence and remedies.
    Show {
        #[arg(long)]
        host: String,
        #[arg(long)]
        database: Option<String>,
        #[arg(long)]
        run: Option<String>,
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
            command: AssessVerb::Report { .. }
        }
    );
    if cli.output == Format::Csv && !csv_allowed {
        return Err(CliError::Usage(
            "--output csv is available for `ferry assess report`; use table or json".into(),
        ));
    }
    let mut client = cli::connect(&cli.control_plane, &cli.credentials).await?;
    let now = now_ms();
    let json = cli.output == Format::Json;
    match cli.command {
        Verb::Assess { command } => assess(&mut client, command, cli.output).await?,
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
                print_json(
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
            let hosts = client
                .list_hosts(request(ListHostsRequest {}))
                .await?
                .into_inner()
                .hosts;
            if json {
                print_json(&serde_json::Value::Array(
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
                print_json(&output::host_detail_json(&detail));
            } else {
                print!("{}", output::host_detail_text(&detail, now));
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
                print_json(&output::command_json(&command));
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
            let commands = client
                .list_commands(request(ListCommandsRequest {
                    host: host.unwrap_or_default(),
                    limit,
                }))
                .await?
                .into_inner()
                .commands;
            if json {
                print_json(&serde_json::Value::Array(
                    commands.iter().map(output::command_json).collect(),
                ));
            } else {
                println!("{}", output::commands_table(&commands, now));
            }
        }
    }
    Ok(())
}

async fn assess(
    client: &mut OperatorClient<Channel>,
    command: AssessVerb,
    format: Format,
) -> Result<(), CliError> {
    let now = now_ms();
    let json = format == Format::Json;
    match command {
        AssessVerb::Run {
            all,
            host,
            deadline,
            wait,
        } => {
            let mut run = client
                .start_assessment(request(StartAssessmentRequest {
                    all,
                    hosts: host,
                    deadline_seconds: ttl_seconds(deadline),
                }))
                .await?
                .into_inner();
            if wait {
                run = wait_for(client, run).await?;
                let report = client
                    .get_assessment_report(request(GetAssessmentReportRequest {
                        run_id: run.id.clone(),
                    }))
                    .await?
                    .into_inner();
                if json {
                    print_json(&assess::report_json(&report));
                } else {
                    print!("{}", assess::summary_text(&report));
                    println!("Details: ferry assess report --run {}", run.id);
                }
            } else if json {
                print_json(&assess::run_json(&run));
            } else {
                println!(
                    "assessment {} started for {} host(s); follow it with `ferry assess status {}`",
                    run.id,
                    run.targets.len(),
                    run.id
                );
            }
        }
        AssessVerb::Status { run } => {
            let run = client
                .get_assessment_run(request(GetAssessmentRunRequest {
                    run_id: run.unwrap_or_default(),
                }))
                .await?
                .into_inner();
            if json {
                print_json(&assess::run_json(&run));
            } else {
                print!("{}", assess::run_text(&run, now));
            }
        }
        AssessVerb::Report { run } => {
            let report = client
                .get_assessment_report(request(GetAssessmentReportRequest {
                    run_id: run.unwrap_or_default(),
                }))
                .await?
                .into_inner();
            match format {
                Format::Json => print_json(&assess::report_json(&report)),
                Format::Csv => print!("{}", assess::report_csv(&report)),
                Format::Table => print!("{}", assess::report_text(&report, now)),
            }
        }
        AssessVerb::Show {
            host,
            database,
            run,
        } => {
            let detail = client
                .show_assessment(request(ShowAssessmentRequest {
                    host,
                    database: database.unwrap_or_default(),
                    run_id: run.unwrap_or_default(),
                }))
                .await?
                .into_inner();
            if json {
                print_json(&assess::detail_json(&detail));
            } else {
                print!("{}", assess::detail_text(&detail));
            }
        }
    }
    Ok(())
}

/// Polls the run until every host finished, drawing progress on stderr.
async fn wait_for(
    client: &mut OperatorClient<Channel>,
    mut run: AssessmentRun,
) -> Result<AssessmentRun, CliError> {
    use std::io::Write;
    let mut poll = tokio::time::interval(std::time::Duration::from_millis(500));
    loop {
        eprint!("\r{}", assess::progress_line(&run));
        let _ = std::io::stderr().flush();
        if run.state == "complete" {
            eprintln!();
            return Ok(run);
        }
        poll.tick().await;
        run = client
            .get_assessment_run(request(GetAssessmentRunRequest {
                run_id: run.id.clone(),
            }))
            .await?
            .into_inner();
    }
}

/// A `--ttl` for the wire: whole seconds, 0 meaning the server's default.
fn ttl_seconds(ttl: Option<std::time::Duration>) -> u32 {
    ttl.map(|t| u32::try_from(t.as_secs()).unwrap_or(u32::MAX))
        .unwrap_or(0)
}

fn print_json(value: &serde_json::Value) {
    println!(
        "{}",
        serde_json::to_string_pretty(value).unwrap_or_default()
    );
}
