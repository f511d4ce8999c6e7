//! The link's commit mode on SQL Server's side (mi-link.md §4.2 step 2): before a
//! cutover both members of the distributed AG are switched to SYNCHRONOUS_COMMIT, so
//! that the MI hardens every commit before it is acknowledged; a cutover cancelled
//! before its failover switches them back to ASYNCHRONOUS_COMMIT, as they were made.
//! (Azure's side, `replicationMode`, is switched by the control plane.)

use crate::sql::{self, literal, quote_name, text};
use crate::workflow::names::{availability_group, mi_availability_group};
use crate::workflow::{execute, Context, Found, StepError};

/// SQL Server's words for the two modes.
fn mode(synchronous: bool) -> &'static str {
    if synchronous {
        "SYNCHRONOUS_COMMIT"
    } else {
        "ASYNCHRONOUS_COMMIT"
    }
}

pub async fn inspect(ctx: &mut Context<'_>, synchronous: bool) -> Result<Found, StepError> {
    let q = "distributed availability group commit mode";
    let link = ctx.link(q)?.name.clone();
    let statement = format!(
        "SELECT ar.replica_server_name AS member, ar.availability_mode_desc AS mode
         FROM sys.availability_groups ag
         JOIN sys.availability_replicas ar ON ar.group_id = ag.group_id
         WHERE ag.name = {} AND ag.is_distributed = 1",
        literal(&link)
    );
    let rows = sql::rows(ctx.conn, q, &statement, ctx.timeout).await?;
    let quoted = quote_name(&link);
    if rows.is_empty() {
        return Ok(Found::Blocked(format!(
            "distributed availability group {quoted} does not exist on SQL Server: the link is gone; cancel the migration"
        )));
    }
    let wanted = mode(synchronous);
    let mut other = Vec::new();
    for row in &rows {
        let found = text(row, q, "mode")?;
        if !found.eq_ignore_ascii_case(wanted) {
            other.push(format!("{} is {found}", text(row, q, "member")?));
        }
    }
    Ok(if other.is_empty() {
        Found::Done(format!("both members of {quoted} are {wanted}"))
    } else {
        Found::Missing(format!(
            "switch {quoted} to {wanted} ({})",
            other.join(", ")
        ))
    })
}

pub async fn apply(ctx: &mut Context<'_>, synchronous: bool) -> Result<(), StepError> {
    let link = ctx.link("commit mode")?.name.clone();
    let wanted = mode(synchronous);
    let statement = format!(
        "ALTER AVAILABILITY GROUP {link} MODIFY AVAILABILITY GROUP ON
           {ours} WITH (AVAILABILITY_MODE = {wanted}),
           {theirs} WITH (AVAILABILITY_MODE = {wanted})",
        link = quote_name(&link),
        ours = literal(&availability_group(&ctx.database)),
        theirs = literal(&mi_availability_group(&ctx.database)),
    );
    execute(ctx, "switch the commit mode", &statement).await
}
