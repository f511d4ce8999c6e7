//! Undoing the link on SQL Server (`ferry migrate cancel`), after the MI's side is
//! gone (mi-link.md §2.2: deleting the link in Azure leaves SQL Server's distributed
//! AG, which must still be dropped): the distributed AG, then `AG_<db>` (which takes
//! the database out of it; the database itself stays as it is), then the MI's
//! certificate when the control plane says nothing else uses it. Each step is done
//! when its object is absent.

use crate::sql::{self, literal, quote_name};
use crate::workflow::names::availability_group;
use crate::workflow::steps::certificate::encoded;
use crate::workflow::{execute, Context, Found, StepError};

async fn group_exists(ctx: &mut Context<'_>, name: &str) -> Result<bool, StepError> {
    let q = "availability group exists";
    let query = format!(
        "SELECT CAST(COUNT(*) AS int) AS n FROM sys.availability_groups WHERE name = {}",
        literal(name)
    );
    Ok(sql::positive(ctx.conn, q, &query, ctx.timeout).await?)
}

async fn inspect_group(ctx: &mut Context<'_>, name: &str) -> Result<Found, StepError> {
    let quoted = quote_name(name);
    Ok(if group_exists(ctx, name).await? {
        Found::Missing(format!("drop availability group {quoted}"))
    } else {
        Found::Done(format!("availability group {quoted} is gone"))
    })
}

async fn drop_group(ctx: &mut Context<'_>, name: &str) -> Result<(), StepError> {
    let statement = format!("DROP AVAILABILITY GROUP {}", quote_name(name));
    execute(ctx, "drop availability group", &statement).await
}

pub async fn inspect_distributed(ctx: &mut Context<'_>) -> Result<Found, StepError> {
    let name = ctx
        .link("drop_distributed_availability_group")?
        .name
        .clone();
    inspect_group(ctx, &name).await
}

pub async fn drop_distributed(ctx: &mut Context<'_>) -> Result<(), StepError> {
    let name = ctx
        .link("drop_distributed_availability_group")?
        .name
        .clone();
    drop_group(ctx, &name).await
}

pub async fn inspect_availability_group(ctx: &mut Context<'_>) -> Result<Found, StepError> {
    let name = availability_group(&ctx.database);
    inspect_group(ctx, &name).await
}

pub async fn drop_availability_group(ctx: &mut Context<'_>) -> Result<(), StepError> {
    let name = availability_group(&ctx.database);
    drop_group(ctx, &name).await
}

pub async fn inspect_mi_certificate(ctx: &mut Context<'_>) -> Result<Found, StepError> {
    let fqdn = ctx.link("drop_mi_certificate")?.mi_fqdn.clone();
    let quoted = quote_name(&fqdn);
    Ok(match encoded(ctx, &fqdn).await? {
        Some(_) => Found::Missing(format!("drop certificate {quoted}")),
        None => Found::Done(format!("certificate {quoted} is gone")),
    })
}

pub async fn drop_mi_certificate(ctx: &mut Context<'_>) -> Result<(), StepError> {
    let fqdn = ctx.link("drop_mi_certificate")?.mi_fqdn.clone();
    let statement = format!("USE master; DROP CERTIFICATE {}", quote_name(&fqdn));
    execute(ctx, "drop MI certificate", &statement).await
}
