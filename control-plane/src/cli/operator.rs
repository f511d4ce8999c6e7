//! `ferry operator ls|revoke`: operators and their certificates (admins only).

use clap::Subcommand;
use ferry_proto::operator::v1 as op;
use ferry_proto::operator::v1::operator_client::OperatorClient;
use serde_json::json;
use tonic::transport::Channel;

use super::output::{self, Format};
use super::{request, CliError};
use crate::rfc3339;

#[derive(Subcommand)]
pub enum OperatorVerb {
    /// List operators, their roles and certificates.
    Ls,
    /// Revoke an operator's certificates at once (issue-operator restores them).
    Revoke {
        /// The operator's name.
        name: String,
        /// Why, for the audit log.
        #[arg(long)]
        reason: String,
    },
}

pub async fn run(
    client: &mut OperatorClient<Channel>,
    verb: OperatorVerb,
    format: Format,
) -> Result<(), CliError> {
    let operators = match verb {
        OperatorVerb::Ls => all(client).await?,
        OperatorVerb::Revoke { name, reason } => vec![client
            .revoke_operator(request(op::RevokeOperatorRequest { name, reason }))
            .await?
            .into_inner()],
    };
    if format == Format::Json {
        output::print_json(&serde_json::Value::Array(
            operators.iter().map(operator_json).collect(),
        ));
        return Ok(());
    }
    println!(
        "{:<24} {:<9} {:<26} STATUS",
        "NAME", "ROLE", "CERTIFICATE EXPIRES"
    );
    for o in &operators {
        let status = match o.revoked_unix_ms {
            0 => "active".to_string(),
            at => format!("revoked {} ({})", rfc3339::format(at), o.revoked_reason),
        };
        println!(
            "{:<24} {:<9} {:<26} {status}",
            o.name,
            o.role,
            rfc3339::format(o.certificate_not_after_unix_ms)
        );
    }
    Ok(())
}

/// Every operator, page by page.
async fn all(client: &mut OperatorClient<Channel>) -> Result<Vec<op::OperatorInfo>, CliError> {
    super::every_page(|page_token| {
        let mut client = client.clone();
        let request = request(op::ListOperatorsRequest {
            page_token,
            page_size: super::PAGE_SIZE,
        });
        async move {
            let page = client.list_operators(request).await?.into_inner();
            Ok((page.operators, page.next_page_token))
        }
    })
    .await
}

fn operator_json(o: &op::OperatorInfo) -> serde_json::Value {
    json!({
        "name": o.name,
        "role": o.role,
        "certificate_serial": o.certificate_serial,
        "certificate_not_after": rfc3339::format(o.certificate_not_after_unix_ms),
        "issued": rfc3339::format(o.issued_unix_ms),
        "revoked": (o.revoked_unix_ms != 0).then(|| rfc3339::format(o.revoked_unix_ms)),
        "revoked_reason": o.revoked_reason,
    })
}
