//! The database mirroring endpoint (mi-link.md §2.1 (g)): created when the instance
//! has none (started, certificate authentication, AES); an existing one that cannot
//! carry the link is altered only when allowed, keeping Windows authentication for the
//! availability groups that may use it (`WINDOWS NEGOTIATE CERTIFICATE`).

use crate::checks::facts::MirroringEndpoint;
use crate::checks::mirroring_endpoint::problems;
use crate::sql::quote_name;
use crate::workflow::names::{endpoint_certificate, ENDPOINT};
use crate::workflow::{execute, Context, Found, StepError};

/// The instance's mirroring endpoints (at most one).
pub(crate) async fn read(ctx: &mut Context<'_>) -> Result<Vec<MirroringEndpoint>, StepError> {
    crate::sql::assessment::mirroring_endpoints(ctx.conn, ctx.timeout)
        .await
        .map_err(|missing| StepError::Local(format!("reading the endpoint: {}", missing.0)))
}

pub async fn inspect(ctx: &mut Context<'_>) -> Result<Found, StepError> {
    let endpoints = read(ctx).await?;
    let Some(endpoint) = endpoints.first() else {
        return Ok(Found::Missing(format!(
            "create endpoint {} on port {}",
            quote_name(ENDPOINT),
            ctx.endpoint_port
        )));
    };
    let name = quote_name(&endpoint.name);
    let problems = problems(endpoint);
    Ok(if problems.is_empty() {
        Found::Done(format!("endpoint {name} on port {}", endpoint.port))
    } else if ctx.allow_endpoint_change {
        Found::Missing(format!("alter endpoint {name}: it {}", problems.join(", ")))
    } else {
        Found::Blocked(format!(
            "endpoint {name} {}: allow Ferry to change the endpoint, or ALTER ENDPOINT {name} STATE = STARTED FOR DATABASE_MIRRORING (AUTHENTICATION = WINDOWS NEGOTIATE CERTIFICATE {}, ENCRYPTION = REQUIRED ALGORITHM AES)",
            problems.join(", "),
            quote_name(&endpoint_certificate(&ctx.server_name))
        ))
    })
}

pub async fn apply(ctx: &mut Context<'_>) -> Result<(), StepError> {
    let certificate = quote_name(&endpoint_certificate(&ctx.server_name));
    let existing = read(ctx).await?;
    let statement = match existing.first() {
        None => format!(
            "CREATE ENDPOINT {} STATE = STARTED AS TCP (LISTENER_PORT = {}, LISTENER_IP = ALL)
             FOR DATABASE_MIRRORING (ROLE = ALL, AUTHENTICATION = CERTIFICATE {certificate}, ENCRYPTION = REQUIRED ALGORITHM AES)",
            quote_name(ENDPOINT),
            ctx.endpoint_port
        ),
        Some(endpoint) => format!(
            "ALTER ENDPOINT {} STATE = STARTED
             FOR DATABASE_MIRRORING (AUTHENTICATION = WINDOWS NEGOTIATE CERTIFICATE {certificate}, ENCRYPTION = REQUIRED ALGORITHM AES)",
            quote_name(&endpoint.name)
        ),
    };
    execute(ctx, "mirroring endpoint", &statement).await
}
