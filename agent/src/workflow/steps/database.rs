//! The database is ONLINE, in FULL recovery, in a backup chain: a full backup that is
//! not COPY_ONLY since it entered FULL recovery (mi-link.md §1.3, §2.1 (a); without it
//! seeding fails with 1475; `sys.database_recovery_status.last_log_backup_lsn` is NULL
//! outside a chain). Ferry verifies;
//! it sets FULL recovery only when allowed, and never takes a backup itself: where
//! backups go is the DBA's decision.

use crate::sql::{self, int, literal, optional_text, quote_name, text};
use crate::workflow::{execute, Context, Found, StepError};

pub async fn inspect(ctx: &mut Context<'_>) -> Result<Found, StepError> {
    let q = "database";
    let sql_text = format!(
        "SELECT d.state_desc, d.recovery_model_desc,
                CAST(CASE WHEN r.last_log_backup_lsn IS NULL THEN 0 ELSE 1 END AS int) AS in_chain,
                CONVERT(nvarchar(30), MAX(CASE WHEN b.type = 'D' AND b.is_copy_only = 0 THEN b.backup_finish_date END), 120) AS last_full
         FROM sys.databases AS d
         LEFT JOIN sys.database_recovery_status AS r ON r.database_id = d.database_id
         LEFT JOIN msdb.dbo.backupset AS b ON b.database_name = d.name
         WHERE d.name = {}
         GROUP BY d.state_desc, d.recovery_model_desc, r.last_log_backup_lsn",
        literal(&ctx.database)
    );
    let rows = sql::rows(ctx.conn, q, &sql_text, ctx.timeout).await?;
    let name = quote_name(&ctx.database);
    let Some(row) = rows.first() else {
        return Ok(Found::Blocked(format!("there is no database {name}")));
    };
    let state = text(row, q, "state_desc")?;
    let recovery = text(row, q, "recovery_model_desc")?;
    // NULL last_log_backup_lsn: no backup chain (a FULL database without a full backup
    // since it left SIMPLE behaves as SIMPLE).
    let in_chain = int(row, q, "in_chain")? == 1;
    let last_full = optional_text(row, q, "last_full")?.unwrap_or_else(|| "none".into());
    Ok(if state != "ONLINE" {
        Found::Blocked(format!("database {name} is {state}, not ONLINE"))
    } else if recovery != "FULL" && ctx.allow_recovery_change {
        Found::Missing(format!("set database {name} to FULL recovery"))
    } else if recovery != "FULL" {
        Found::Blocked(format!(
            "database {name} uses the {recovery} recovery model: run ALTER DATABASE {name} SET RECOVERY FULL (or allow Ferry to), then take a full backup"
        ))
    } else if in_chain {
        Found::Done(format!(
            "database {name}: FULL recovery, last full backup {last_full}"
        ))
    } else {
        Found::Blocked(format!(
            "database {name} has no backup chain (last full backup: {last_full}): run BACKUP DATABASE {name} TO DISK = N'<path>', not COPY_ONLY (seeding needs the chain, error 1475)"
        ))
    })
}

pub async fn apply(ctx: &mut Context<'_>) -> Result<(), StepError> {
    let sql_text = format!(
        "ALTER DATABASE {} SET RECOVERY FULL",
        quote_name(&ctx.database)
    );
    execute(ctx, "set recovery full", &sql_text).await
}
