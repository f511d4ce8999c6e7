//! After a forced failover (mi-link.md §4.4): the MI is the link's primary, and SQL
//! Server, which never heard of the failover, may still be primary too — split
//! brain, both sides taking writes. The former primary keeps what the MI lost in a
//! copy-only tail-log backup (`<db>_ferry_tail.trn` in the instance's default backup
//! folder; it does not break the log chain), then its member of the distributed AG
//! is set SECONDARY, so it takes no more writes.

use crate::sql::{self, literal, quote_name, text};
use crate::workflow::{execute, Context, Found, StepError};

/// The tail-log backup's file, relative: SQL Server puts it in its default backup
/// folder. The database's name is kept only as far as it is safe in a file name
/// (letters, digits, `_`, `-`, at most 100): anything else (`\`, `/`, `..`, `:`)
/// becomes `_`, and a name so changed gets a digest of itself, so that two databases
/// never share a file and no name can leave the backup folder.
fn tail_file(database: &str) -> String {
    use sha2::{Digest, Sha256};
    let safe: String = database
        .chars()
        .take(100)
        .map(|c| match c {
            'a'..='z' | 'A'..='Z' | '0'..='9' | '_' | '-' => c,
            _ => '_',
        })
        .collect();
    if safe == database {
        return format!("{database}_ferry_tail.trn");
    }
    let digest = hex::encode(&Sha256::digest(database.as_bytes())[..4]);
    format!("{safe}_{digest}_ferry_tail.trn")
}

pub async fn inspect(ctx: &mut Context<'_>) -> Result<Found, StepError> {
    let q = "distributed availability group role";
    let link = ctx.link(q)?.name.clone();
    let quoted = quote_name(&link);
    let statement = format!(
        "SELECT rs.role_desc AS role FROM sys.availability_groups ag
         JOIN sys.dm_hadr_availability_replica_states rs ON rs.group_id = ag.group_id
         WHERE rs.is_local = 1 AND ag.is_distributed = 1 AND ag.name = {}",
        literal(&link)
    );
    let rows = sql::rows(ctx.conn, q, &statement, ctx.timeout).await?;
    let Some(row) = rows.first() else {
        return Ok(Found::Done(format!(
            "SQL Server has no distributed availability group {quoted}: no split brain"
        )));
    };
    let role = text(row, q, "role")?;
    if role.eq_ignore_ascii_case("SECONDARY") {
        return Ok(Found::Done(format!(
            "SQL Server's member of {quoted} is SECONDARY: no split brain{}",
            tail(ctx).await?
        )));
    }
    Ok(Found::Missing(format!(
        "split brain: SQL Server's member of {quoted} is {role} as well as the MI; a copy-only tail-log backup ({}), then SET (ROLE = SECONDARY)",
        tail_file(&ctx.database)
    )))
}

/// The newest copy-only log backup of the database, as msdb records it.
async fn tail(ctx: &mut Context<'_>) -> Result<String, StepError> {
    let q = "tail-log backup";
    let statement = format!(
        "SELECT TOP 1 CAST(last_lsn AS varchar(30)) AS last_lsn FROM msdb.dbo.backupset
         WHERE database_name = {} AND type = 'L' AND is_copy_only = 1
         ORDER BY backup_finish_date DESC",
        literal(&ctx.database)
    );
    let rows = sql::rows(ctx.conn, q, &statement, ctx.timeout).await?;
    Ok(match rows.first() {
        Some(row) => format!(
            "; the copy-only tail-log backup {} ends at LSN {}: what the MI lost is in it",
            tail_file(&ctx.database),
            text(row, q, "last_lsn")?
        ),
        None => String::new(),
    })
}

pub async fn apply(ctx: &mut Context<'_>) -> Result<(), StepError> {
    let link = ctx.link("demote")?.name.clone();
    let backup = format!(
        "BACKUP LOG {} TO DISK = {} WITH COPY_ONLY",
        quote_name(&ctx.database),
        literal(&tail_file(&ctx.database))
    );
    execute(ctx, "tail-log backup", &backup).await?;
    let demote = format!(
        "ALTER AVAILABILITY GROUP {} SET (ROLE = SECONDARY)",
        quote_name(&link)
    );
    execute(ctx, "set the distributed AG secondary", &demote).await
}

#[cfg(test)]
mod tests {
    use super::tail_file;

    #[test]
    fn tail_files_stay_in_the_backup_folder() {
        assert_eq!(tail_file("Shop"), "Shop_ferry_tail.trn");
        for hostile in [
            "..\\..\\Windows\\evil",
            "../../etc/x",
            "C:\\x",
            "a b",
            "..",
            "Ünïcode",
            &"x".repeat(128),
        ] {
            let file = tail_file(hostile);
            assert!(
                file.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.')),
                "{file}"
            );
            assert!(!file.contains(".."), "{file}");
            assert!(file.len() < 140, "{file}");
        }
        assert_ne!(tail_file("a b"), tail_file("a_b"));
        assert_ne!(tail_file("a/b"), tail_file("a\\b"));
    }
}
