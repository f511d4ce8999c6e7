//! `ferry target add|ls|rm`: the managed instances migrations go to, read through ARM
//! by the control plane; `ferry target test|test-results`: the network toward one.

use std::time::Duration;

use clap::Subcommand;
use ferry_proto::operator::v1 as op;
use ferry_proto::operator::v1::operator_client::OperatorClient;
use serde_json::{json, Value};
use tonic::transport::Channel;

use super::connection_test;
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
    /// Test the network between hosts' SQL Server instances and a target, as the link
    /// needs it (DNS, ports 5022 and 11000-11999, the mirroring endpoint, addresses).
    Test {
        /// The target's resource id or name.
        target: String,
        /// A host to test from (repeat), by name or id.
        #[arg(long = "host", required_unless_present = "all")]
        hosts: Vec<String>,
        /// Every enrolled host.
        #[arg(long, conflicts_with = "hosts")]
        all: bool,
        /// Only this instance (repeat), as named in the agents' configurations.
        #[arg(long = "instance")]
        instances: Vec<String>,
        /// How long to wait for the hosts' answers, seconds (0: do not wait).
        #[arg(long, default_value_t = 60)]
        wait: u64,
    },
    /// The newest connection test of each host toward a target.
    TestResults {
        target: String,
        #[arg(long)]
        host: Option<String>,
    },
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
            let targets = super::every_page(|page_token| {
                let mut client = client.clone();
                let request = request(op::ListTargetsRequest {
                    page_token,
                    page_size: super::PAGE_SIZE,
                });
                async move {
                    let page = client.list_targets(request).await?.into_inner();
                    Ok((page.targets, page.next_page_token))
                }
            })
            .await?;
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
        TargetVerb::Test {
            target,
            hosts,
            all,
            instances,
            wait,
        } => {
            let started = client
                .test_connection(request(op::TestConnectionRequest {
                    target,
                    hosts,
                    all,
                    instances,
                }))
                .await?
                .into_inner()
                .tests;
            let tests = connection_test::wait_for(
                client,
                started,
                Duration::from_millis(250),
                Duration::from_secs(wait),
            )
            .await?;
            print_tests(&tests, json);
        }
        TargetVerb::TestResults { target, host } => {
            let tests = client
                .get_connection_tests(request(op::GetConnectionTestsRequest {
                    target,
                    host: host.unwrap_or_default(),
                    ..Default::default()
                }))
                .await?
                .into_inner()
                .tests;
            print_tests(&tests, json);
        }
    }
    Ok(())
}

fn print_tests(tests: &[op::ConnectionTest], json: bool) {
    if json {
        output::print_json(&connection_test::tests_json(tests));
    } else {
        print!("{}", connection_test::tests_text(tests));
    }
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
