//! `ferry plan apply FILE|show` and `ferry wave approve|pause|resume NAME`: waves of
//! migrations with their window, approvals and failure policy (`cutover::wave`), and
//! cutover groups with their application hook (`cutover::group`).

use clap::Subcommand;
use ferry_proto::operator::v1 as op;
use ferry_proto::operator::v1::operator_client::OperatorClient;
use serde_json::json;
use tonic::transport::Channel;

use super::migrate::render;
use super::output::{self, Format};
use super::{request, CliError};

#[derive(Subcommand)]
pub enum PlanVerb {
    /// Make the waves exactly a plan file's ([[wave]] name, members, window,
    /// approvals, on_failure); the same file again changes nothing.
    Apply { file: std::path::PathBuf },
    /// The waves and their migrations.
    Show,
}

#[derive(Subcommand)]
pub enum WaveVerb {
    /// Approve a wave as it stands (the approver role).
    Approve {
        name: String,
    },
    /// Hold the wave's cutovers before their failover.
    Pause {
        name: String,
    },
    Resume {
        name: String,
    },
}

pub async fn run_plan(
    client: &mut OperatorClient<Channel>,
    verb: PlanVerb,
    format: Format,
) -> Result<(), CliError> {
    let plan = match verb {
        PlanVerb::Apply { file } => {
            let plan_toml = std::fs::read_to_string(&file)
                .map_err(|e| CliError::Usage(format!("cannot read {}: {e}", file.display())))?;
            client
                .apply_plan(request(op::ApplyPlanRequest { plan_toml }))
                .await?
                .into_inner()
        }
        PlanVerb::Show => client
            .show_plan(request(op::ShowPlanRequest {}))
            .await?
            .into_inner(),
    };
    print(&plan, format);
    Ok(())
}

pub async fn run_wave(
    client: &mut OperatorClient<Channel>,
    verb: WaveVerb,
    format: Format,
) -> Result<(), CliError> {
    let plan = match verb {
        WaveVerb::Approve { name } => {
            client
                .approve_wave(request(op::WaveRequest { name }))
                .await?
        }
        WaveVerb::Pause { name } => client.pause_wave(request(op::WaveRequest { name })).await?,
        WaveVerb::Resume { name } => {
            client
                .resume_wave(request(op::WaveRequest { name }))
                .await?
        }
    };
    print(&plan.into_inner(), format);
    Ok(())
}

fn print(plan: &op::Plan, format: Format) {
    if format == Format::Json {
        output::print_json(&json!({
            "changes": plan.changes,
            "waves": plan.waves.iter().map(|w| json!({
                "name": w.name,
                "approvals": w.approvals,
                "on_failure": w.on_failure,
                "window_start_unix_ms": (w.window_start_unix_ms > 0).then_some(w.window_start_unix_ms),
                "window_end_unix_ms": (w.window_end_unix_ms > 0).then_some(w.window_end_unix_ms),
                "window": w.window,
                "paused": w.paused,
                "approvers": w.approvers,
                "migrations": w.migrations.iter().map(render::migration_json).collect::<Vec<_>>(),
            })).collect::<Vec<_>>(),
            "groups": plan.groups.iter().map(|g| json!({
                "name": g.name,
                "hook": g.hook,
                "hook_state": g.hook_state,
                "hook_detail": g.hook_detail,
                "migrations": g.migrations.iter().map(render::migration_json).collect::<Vec<_>>(),
            })).collect::<Vec<_>>(),
        }));
        return;
    }
    for change in &plan.changes {
        println!("{change}");
    }
    for w in &plan.waves {
        let window = if w.window.is_empty() {
            "no window".to_string()
        } else {
            format!("window {}", w.window)
        };
        println!(
            "\nWave {}{}: {window}; {} approval(s) needed, approved by {}; on failure {}",
            w.name,
            if w.paused { " (paused)" } else { "" },
            w.approvals,
            if w.approvers.is_empty() {
                "nobody".into()
            } else {
                w.approvers.join(", ")
            },
            w.on_failure,
        );
        println!("{}", render::table(&w.migrations));
    }
    for g in &plan.groups {
        println!(
            "\nGroup {} (all or none): hook {}{}",
            g.name,
            if g.hook.is_empty() { "none" } else { &g.hook },
            match g.hook_state.as_str() {
                "" => String::new(),
                state => format!(" ({state}: {})", g.hook_detail),
            }
        );
        println!("{}", render::table(&g.migrations));
    }
}
