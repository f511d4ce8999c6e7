//! `ferry assess`: the verbs (run, status, report, diff, show, sku), waiting for a run, and
//! [`render`]ing what comes back ([`diff`] for `ferry assess diff`, [`sku`] for
//! `ferry assess sku`).

mod diff;
pub(crate) mod render;
mod sku;

use std::io::Write;
use std::time::Duration;

use clap::Subcommand;
use ferry_proto::operator::v1::operator_client::OperatorClient;
use ferry_proto::operator::v1::{
    AssessmentReport, AssessmentRun, DiffAssessmentsRequest, GetAssessmentReportRequest,
    GetAssessmentRunRequest, RecommendSkuRequest, ShowAssessmentRequest, StartAssessmentRequest,
};
use tonic::transport::Channel;

pub use diff::*;
pub use render::*;
pub use sku::*;

use super::output::{self, Format};
use super::{parse_duration, request, CliError};
use ferry_proto::clock::now_ms;

#[derive(Subcommand)]
pub enum AssessVerb {
    /// Assess the whole fleet or some hosts; offline hosts are assessed when they return.
    Run {
        /// Every enrolled host.
        #[arg(long, conflicts_with_all = ["host", "label"])]
        all: bool,
        /// A host name or id (repeat for more).
        #[arg(long, required_unless_present_any = ["all", "label"], conflicts_with = "label")]
        host: Vec<String>,
        /// Hosts with this label, key=value (repeat: hosts with all of them).
        #[arg(long)]
        label: Vec<String>,
        /// How long to wait for offline hosts, e.g. 2h (default: the server's, 24h).
        #[arg(long, value_parser = parse_duration)]
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
    /// What changed between two runs: findings fixed and new, readiness changes.
    Diff {
        /// The earlier run (default: the run before --to).
        #[arg(long)]
        from: Option<String>,
        /// The later run (default: the newest).
        #[arg(long)]
        to: Option<String>,
    },
    /// The recommended MI tier, hardware, vCores and storage per instance, with a
    /// monthly cost, from the load the agents sampled.
    Sku {
        /// One host (default: every host).
        #[arg(long)]
        host: Option<String>,
        /// Size for this percentile of the load windows (default: the server's, 95).
        #[arg(long)]
        percentile: Option<f64>,
        /// Headroom on top, percent (default: the server's, 20).
        #[arg(long)]
        headroom: Option<f64>,
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

/// Runs one `ferry assess` verb and prints its answer in `format`.
/// The whole report of run `run_id` ('' for the newest), every page gathered: the
/// run, counts and rules from the first page, the instances and databases of all.
pub async fn report(
    client: &mut OperatorClient<Channel>,
    run_id: &str,
) -> Result<AssessmentReport, CliError> {
    let mut report: Option<AssessmentReport> = None;
    let mut page_token = String::new();
    loop {
        let page = client
            .get_assessment_report(request(GetAssessmentReportRequest {
                run_id: run_id.to_string(),
                page_token,
                page_size: super::PAGE_SIZE,
            }))
            .await?
            .into_inner();
        page_token = page.next_page_token.clone();
        match report.as_mut() {
            None => report = Some(page),
            Some(whole) => {
                whole.instances.extend(page.instances);
                whole.database_details.extend(page.database_details);
            }
        }
        if page_token.is_empty() {
            let mut whole = report.unwrap_or_default();
            whole.next_page_token.clear();
            return Ok(whole);
        }
    }
}

pub async fn run(
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
            label,
            deadline,
            wait,
        } => {
            let mut run = client
                .start_assessment(request(StartAssessmentRequest {
                    all,
                    hosts: host,
                    labels: label,
                    deadline_seconds: deadline
                        .map(|d| u32::try_from(d.as_secs()).unwrap_or(u32::MAX))
                        .unwrap_or(0),
                }))
                .await?
                .into_inner();
            if wait {
                run = wait_for(client, run, Duration::from_millis(500), |run| {
                    eprint!("\r{}", progress_line(run));
                    let _ = std::io::stderr().flush();
                })
                .await?;
                eprintln!();
                let report = report(client, &run.id).await?;
                if json {
                    output::print_json(&report_json(&report));
                } else {
                    print!("{}", summary_text(&report));
                    println!("Details: ferry assess report --run {}", run.id);
                }
            } else if json {
                output::print_json(&run_json(&run));
            } else {
                println!(
                    "assessment {} started for {} host(s); follow it with `ferry assess status {}`",
                    run.id,
                    run.target_counts.unwrap_or_default().total,
                    run.id
                );
            }
        }
        AssessVerb::Status { run } => {
            let run = run_with_targets(client, &run.unwrap_or_default()).await?;
            if json {
                output::print_json(&run_json(&run));
            } else {
                print!("{}", run_text(&run, now));
            }
        }
        AssessVerb::Report { run } => {
            let report = report(client, &run.unwrap_or_default()).await?;
            match format {
                Format::Json => output::print_json(&report_json(&report)),
                Format::Csv => print!("{}", report_csv(&report)),
                Format::Table => print!("{}", report_text(&report, now)),
            }
        }
        AssessVerb::Diff { from, to } => {
            let diff = client
                .diff_assessments(request(DiffAssessmentsRequest {
                    from_run_id: from.unwrap_or_default(),
                    to_run_id: to.unwrap_or_default(),
                }))
                .await?
                .into_inner();
            if json {
                output::print_json(&diff_json(&diff));
            } else {
                print!("{}", diff_text(&diff));
            }
        }
        AssessVerb::Sku {
            host,
            percentile,
            headroom,
        } => {
            let found = client
                .recommend_sku(request(RecommendSkuRequest {
                    host: host.unwrap_or_default(),
                    percentile,
                    headroom_percent: headroom,
                }))
                .await?
                .into_inner();
            if json {
                output::print_json(&sku_json(&found));
            } else {
                print!("{}", sku_text(&found));
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
                output::print_json(&detail_json(&detail));
            } else {
                print!("{}", detail_text(&detail));
            }
        }
    }
    Ok(())
}

/// Polls the run every `every` until every host finished, calling `progress` with each
/// state seen (the last one complete).
pub async fn wait_for(
    client: &mut OperatorClient<Channel>,
    mut run: AssessmentRun,
    every: Duration,
    mut progress: impl FnMut(&AssessmentRun),
) -> Result<AssessmentRun, CliError> {
    let mut poll = tokio::time::interval(every);
    loop {
        progress(&run);
        if run.state == "complete" {
            return Ok(run);
        }
        poll.tick().await;
        // The counts are all progress needs: one target, not the fleet.
        run = client
            .get_assessment_run(request(GetAssessmentRunRequest {
                run_id: run.id.clone(),
                page_size: 1,
                ..Default::default()
            }))
            .await?
            .into_inner();
    }
}

/// The run (the newest when `run_id` is empty) with every one of its targets, page by
/// page.
pub async fn run_with_targets(
    client: &mut OperatorClient<Channel>,
    run_id: &str,
) -> Result<AssessmentRun, CliError> {
    let mut whole: Option<AssessmentRun> = None;
    let mut page_token = String::new();
    loop {
        let page = client
            .get_assessment_run(request(GetAssessmentRunRequest {
                // Later pages name the run the first one found.
                run_id: whole.as_ref().map_or(run_id, |w| w.id.as_str()).to_string(),
                page_token,
                page_size: super::PAGE_SIZE,
            }))
            .await?
            .into_inner();
        page_token = page.next_page_token.clone();
        match whole.as_mut() {
            None => whole = Some(page),
            Some(whole) => whole.targets.extend(page.targets),
        }
        if page_token.is_empty() {
            let mut whole = whole.unwrap_or_default();
            whole.next_page_token.clear();
            return Ok(whole);
        }
    }
}
