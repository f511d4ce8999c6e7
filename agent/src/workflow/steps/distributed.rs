//! The distributed availability group: the link on SQL Server's side (mi-link.md §2.1
//! (i)). Its name is the link's name in Azure; its members are `AG_<db>` at this
//! instance's endpoint and `AG_<db>_MI` at the MI's (`tcp://<fqdn>:5022;Server=[<mi>]`).
//! One database has one link: a distributed AG over `AG_<db>` under another name
//! blocks, as does one under this name with other members.

use crate::network::LINK_PORT;
use crate::sql::{self, literal, plain_literal, quote_name, text};
use crate::workflow::names::{availability_group, mi_availability_group};
use crate::workflow::{execute, listener_url, Context, Found, StepError};

/// The MI's listener URL as the docs write it.
fn mi_listener_url(fqdn: &str, mi_name: &str) -> String {
    format!("tcp://{fqdn}:{LINK_PORT};Server=[{mi_name}]")
}

/// (member, listener URL) pairs the link needs, SQL Server's first.
async fn members(ctx: &mut Context<'_>) -> Result<[(String, String); 2], StepError> {
    let link = ctx.link("distributed_availability_group")?.clone();
    Ok([
        (availability_group(&ctx.database), listener_url(ctx).await?),
        (
            mi_availability_group(&ctx.database),
            mi_listener_url(&link.mi_fqdn, &link.mi_name),
        ),
    ])
}

pub async fn inspect(ctx: &mut Context<'_>) -> Result<Found, StepError> {
    let q = "distributed availability group";
    let link = ctx.link(q)?.name.clone();
    let wanted = members(ctx).await?;
    let statement = format!(
        "SELECT ag.name, CAST(ag.is_distributed AS int) AS is_distributed,
                ar.replica_server_name AS member, ar.endpoint_url AS url
         FROM sys.availability_groups ag
         LEFT JOIN sys.availability_replicas ar ON ar.group_id = ag.group_id
         WHERE ag.name = {link} OR (ag.is_distributed = 1 AND ar.replica_server_name = {ours})",
        link = literal(&link),
        ours = literal(&wanted[0].0),
    );
    let rows = sql::rows(ctx.conn, q, &statement, ctx.timeout).await?;
    let quoted = quote_name(&link);
    let mut found = Vec::new();
    for row in &rows {
        let name = text(row, q, "name")?;
        if name != link {
            return Ok(Found::Blocked(format!(
                "availability group {} is already linked by distributed availability group {}: a database has one link; cancel that link or use its name",
                quote_name(&wanted[0].0),
                quote_name(&name)
            )));
        }
        if sql::int(row, q, "is_distributed")? == 0 {
            return Ok(Found::Blocked(format!(
                "an availability group named {quoted} exists and is not distributed: choose another link name"
            )));
        }
        found.push((text(row, q, "member")?, text(row, q, "url")?));
    }
    if found.is_empty() {
        return Ok(Found::Missing(format!(
            "create distributed availability group {quoted}: {} at {}, {} at {}",
            wanted[0].0, wanted[0].1, wanted[1].0, wanted[1].1
        )));
    }
    let matches = wanted.iter().all(|(member, url)| {
        found
            .iter()
            .any(|(m, u)| m.eq_ignore_ascii_case(member) && u.eq_ignore_ascii_case(url))
    });
    Ok(if matches && found.len() == 2 {
        Found::Done(format!(
            "distributed availability group {quoted} links {} to {}",
            wanted[0].0, wanted[1].0
        ))
    } else {
        let found: Vec<String> = found.iter().map(|(m, u)| format!("{m} at {u}")).collect();
        Found::Blocked(format!(
            "distributed availability group {quoted} exists with {}, not {} at {} and {} at {}: drop it (DROP AVAILABILITY GROUP {quoted}) or cancel the migration that made it",
            found.join(", "), wanted[0].0, wanted[0].1, wanted[1].0, wanted[1].1
        ))
    })
}

pub async fn apply(ctx: &mut Context<'_>) -> Result<(), StepError> {
    let link = ctx.link("distributed_availability_group")?.name.clone();
    let [(ours, our_url), (theirs, their_url)] = members(ctx).await?;
    let statement = format!(
        "ALTER AVAILABILITY GROUP {group} GRANT CREATE ANY DATABASE;
         CREATE AVAILABILITY GROUP {link} WITH (DISTRIBUTED) AVAILABILITY GROUP ON
           {ours} WITH (LISTENER_URL = {our_url}, AVAILABILITY_MODE = ASYNCHRONOUS_COMMIT,
             FAILOVER_MODE = MANUAL, SEEDING_MODE = AUTOMATIC, SESSION_TIMEOUT = 20),
           {theirs} WITH (LISTENER_URL = {their_url}, AVAILABILITY_MODE = ASYNCHRONOUS_COMMIT,
             FAILOVER_MODE = MANUAL, SEEDING_MODE = AUTOMATIC)",
        group = quote_name(&ours),
        link = quote_name(&link),
        ours = literal(&ours),
        our_url = plain_literal(&our_url),
        theirs = literal(&theirs),
        their_url = plain_literal(&their_url),
    );
    execute(ctx, "create distributed availability group", &statement).await
}
