//! `ferry target add|ls|rm`: the managed instances migrations go to, read through ARM
//! by the control plane.

use clap::Subcommand;
use ferry_proto::operator::v1 as op;
use ferry_proto::operator::v1::operator_client::OperatorClient;
use serde_json::{json, Value};
use tonic::transport::Channel;

use super::output::{self, Format};
use super::{request, CliError};

#[derive(Subcommand)]
pub enum TargetVerb {
    /// Read a managed instance through ARM, check it and add it (again: refresh it).
    Add {
        /// /subscriptions/{id}/resourceGroups/{group}/providers/Microsoft.Sql/managedInstances/{name}
        resource_id: String,
    },
    /// List the targets.
    Ls,
    /// Forget a target (nothing changes in Azure).
    Rm { resource_id: String },
}

pub async fn run(
    client: &mut OperatorClient<Channel>,
    verb: TargetVerb,
    format: Format,
) -> Result<(), CliError> {
    let json = format == Format::Json;
    match verb {
        TargetVerb::Add { resource_id } => {
            let target = client
                .add_target(request(op::AddTargetRequest { resource_id }))
                .await?
                .into_inner();
            if json {
                output::print_json(&target_json(&target));
            } else {
                let verb = if target.created { "added" } else { "refreshed" };
                println!("{verb} {}", target.resource_id);
                println!("{}", table(std::slice::from_ref(&target)));
            }
        }
        TargetVerb::Ls => {
            let targets = client
                .list_targets(request(op::ListTargetsRequest {}))
                .await?
                .into_inner()
                .targets;
            if json {
                output::print_json(&Value::Array(targets.iter().map(target_json).collect()));
            } else {
                println!("{}", table(&targets));
            }
        }
        TargetVerb::Rm { resource_id } => {
            client
                .remove_target(request(op::RemoveTargetRequest {
                    resource_id: resource_id.clone(),
                }))
                .await?;
            println!("removed {resource_id}");
        }
    }
    Ok(())
}

fn table(targets: &[op::Target]) -> String {
    let rows: Vec<Vec<String>> = targets
        .iter()
        .map(|t| {
            vec![
                t.name.clone(),
                t.fqdn.clone(),
                format!("{} {}", t.tier, t.family),
                t.vcores.to_string(),
                format!("{} GB", t.storage_gb),
                t.update_policy.clone(),
                t.collation.clone(),
                t.state.clone(),
            ]
        })
        .collect();
    output::table(
        &[
            "NAME",
            "FQDN",
            "TIER",
            "VCORES",
            "STORAGE",
            "UPDATE POLICY",
            "COLLATION",
            "STATE",
        ],
        &rows,
    )
}

fn target_json(t: &op::Target) -> Value {
    json!({
        "resource_id": t.resource_id,
        "name": t.name,
        "location": t.location,
        "tier": t.tier,
        "family": t.family,
        "vcores": t.vcores,
        "storage_gb": t.storage_gb,
        "fqdn": t.fqdn,
        "collation": t.collation,
        "update_policy": t.update_policy,
        "state": t.state,
        "added_by": t.added_by,
        "added_unix_ms": t.added_unix_ms,
        "refreshed_unix_ms": t.refreshed_unix_ms,
        "created": t.created,
    })
}
