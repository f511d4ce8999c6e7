//! `ferry audit [--target T] [--limit N]`: the audit log, newest first, as many pages
//! as N takes.

use ferry_proto::operator::v1 as op;
use ferry_proto::operator::v1::operator_client::OperatorClient;
use serde_json::json;
use tonic::transport::Channel;

use super::output::{self, Format};
use super::{request, CliError};

pub async fn run(
    client: &mut OperatorClient<Channel>,
    target: Option<String>,
    limit: u32,
    format: Format,
) -> Result<(), CliError> {
    let target = target.unwrap_or_default();
    let events = super::first_items(limit, |page_token, limit| {
        let mut client = client.clone();
        let request = request(op::ListAuditRequest {
            target: target.clone(),
            limit,
            page_token,
        });
        async move {
            let page = client.list_audit(request).await?.into_inner();
            Ok((page.events, page.next_page_token))
        }
    })
    .await?;
    if format == Format::Json {
        output::print_json(&serde_json::Value::Array(
            events
                .iter()
                .map(|e| {
                    json!({
                        "at_unix_ms": e.at_unix_ms,
                        "actor": e.actor,
                        "action": e.action,
                        "target": e.target,
                        "detail": e.detail,
                    })
                })
                .collect(),
        ));
        return Ok(());
    }
    for e in &events {
        println!(
            "{}  {:<32} {:<22} {}",
            crate::rfc3339::format(e.at_unix_ms),
            e.actor,
            e.action,
            e.target
        );
        if !e.detail.is_empty() {
            println!("    {}", e.detail);
        }
    }
    Ok(())
}
