//! `AG_<db>`: the availability group on SQL Server that carries the database, with
//! this instance as its only replica (mi-link.md §2.1 (h)): CLUSTER_TYPE = NONE,
//! except on SQL Server 2016, which has no CLUSTER_TYPE. The grant the MI's seeding
//! needs (GRANT CREATE ANY DATABASE) is given by the distributed AG's step, which
//! runs it before every create, so a crash between the two leaves nothing missing.

use crate::sql::{self, literal, plain_literal, quote_name, text};
use crate::workflow::names::availability_group;
use crate::workflow::{execute, listener_url, Context, Found, StepError};

pub async fn inspect(ctx: &mut Context<'_>) -> Result<Found, StepError> {
    let q = "availability group";
    let name = availability_group(&ctx.database);
    let statement = format!(
        "SELECT ag.name,
                (SELECT COUNT(*) FROM sys.availability_databases_cluster adc
                 WHERE adc.group_id = ag.group_id AND adc.database_name = {db}) AS carries
         FROM sys.availability_groups ag
         WHERE ag.is_distributed = 0
           AND (ag.name = {name} OR ag.group_id IN (SELECT group_id FROM sys.availability_databases_cluster WHERE database_name = {db}))",
        db = literal(&ctx.database),
        name = literal(&name),
    );
    let rows = sql::rows(ctx.conn, q, &statement, ctx.timeout).await?;
    let quoted = quote_name(&name);
    let database = quote_name(&ctx.database);
    let mut own = None;
    for row in &rows {
        let group = text(row, q, "name")?;
        let carries = sql::column::<i32>(row, q, "carries")?.unwrap_or(0) > 0;
        if group == name {
            own = Some(carries);
        } else if carries {
            return Ok(Found::Blocked(format!(
                "database {database} is already in availability group {}: Ferry links from its own group {quoted}; remove the database from that group or link it by hand",
                quote_name(&group)
            )));
        }
    }
    Ok(match own {
        Some(true) => Found::Done(format!("availability group {quoted} carries {database}")),
        Some(false) => Found::Blocked(format!(
            "availability group {quoted} exists without {database}: add it (ALTER AVAILABILITY GROUP {quoted} ADD DATABASE {database}) or drop the group"
        )),
        None => Found::Missing(format!("create availability group {quoted} for {database}")),
    })
}

pub async fn apply(ctx: &mut Context<'_>) -> Result<(), StepError> {
    let url = listener_url(ctx).await?;
    let cluster_type = if ctx.major_version == 13 {
        ""
    } else {
        "WITH (CLUSTER_TYPE = NONE) "
    };
    let statement = format!(
        "CREATE AVAILABILITY GROUP {} {cluster_type}FOR DATABASE {}
         REPLICA ON {} WITH (ENDPOINT_URL = {}, AVAILABILITY_MODE = SYNCHRONOUS_COMMIT,
           FAILOVER_MODE = MANUAL, SEEDING_MODE = AUTOMATIC)",
        quote_name(&availability_group(&ctx.database)),
        quote_name(&ctx.database),
        literal(&ctx.server_name),
        plain_literal(&url),
    );
    execute(ctx, "create availability group", &statement).await
}
