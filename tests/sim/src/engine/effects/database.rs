//! ALTER DATABASE ... SET RECOVERY and BACKUP DATABASE / BACKUP LOG.
//! https://learn.microsoft.com/sql/t-sql/statements/alter-database-transact-sql-set-options
//! https://learn.microsoft.com/sql/t-sql/statements/backup-transact-sql

use rusqlite::params;
use sqlparser::parser::Parser;

use crate::scenario::Recovery;
use crate::tds::tokens::Message;

use super::super::batch::{expect_words, near, next_word, words};
use super::super::session::Output;
use super::super::{errors, log, populate};
use super::{parse_name, skip_to_end, sqlite, Effect, Target};

pub fn parse_alter(p: &mut Parser, line: i32) -> Result<Effect, Message> {
    expect_words(p, &["ALTER", "DATABASE"], line)?;
    let database = parse_name(p, line)?;
    expect_words(p, &["SET", "RECOVERY"], line)?;
    let recovery = match next_word(p).as_deref() {
        Some("FULL") => Recovery::Full,
        Some("SIMPLE") => Recovery::Simple,
        Some("BULK_LOGGED") => Recovery::BulkLogged,
        _ => return Err(near(p, line)),
    };
    skip_to_end(p);
    Ok(Effect::SetRecovery { database, recovery })
}

pub fn parse_backup(p: &mut Parser, line: i32) -> Result<Effect, Message> {
    expect_words(p, &["BACKUP"], line)?;
    let log = match next_word(p).as_deref() {
        Some("DATABASE") => false,
        Some("LOG") => true,
        _ => return Err(near(p, line)),
    };
    let database = parse_name(p, line)?;
    expect_words(p, &["TO"], line)?;
    let _ = words(p, &["DISK"]) || words(p, &["URL"]);
    p.expect_token(&sqlparser::tokenizer::Token::Eq)
        .map_err(|_| near(p, line))?;
    parse_name(p, line)?;
    let mut copy_only = false;
    if words(p, &["WITH"]) {
        while let Some(option) = next_word(p) {
            if option == "COPY_ONLY" {
                copy_only = true;
            }
            if !p.consume_token(&sqlparser::tokenizer::Token::Comma) {
                if p.consume_token(&sqlparser::tokenizer::Token::Eq) {
                    p.next_token();
                    if p.consume_token(&sqlparser::tokenizer::Token::Comma) {
                        continue;
                    }
                }
                break;
            }
        }
    }
    skip_to_end(p);
    Ok(Effect::Backup {
        log,
        database,
        copy_only,
    })
}

pub fn set_recovery(
    t: &Target,
    database: &str,
    recovery: Recovery,
) -> Result<Vec<Output>, Message> {
    let Some(id) = t.catalog.database_id(database) else {
        return Err(errors::alter_database_denied(database));
    };
    if !t.login.sysadmin {
        return Err(errors::alter_database_denied(database));
    }
    if id == 2 && recovery != Recovery::Simple {
        return Err(Message::new(
            5058,
            1,
            16,
            "Option 'RECOVERY' cannot be set in database 'tempdb'.",
        ));
    }
    let (code, desc) = recovery.code();
    t.catalog
        .conn
        .execute("UPDATE \"sys.databases\" SET recovery_model = ?1, recovery_model_desc = ?2 WHERE database_id = ?3", params![code, desc, id])
        .map_err(sqlite)?;
    log::recovery_changed(&t.catalog.conn, id)
        .and_then(|()| log::refresh(&t.catalog.conn, id))
        .map_err(sqlite)?;
    Ok(Vec::new())
}

/// A backup that has been taken: what msdb and the log record of it.
pub struct Taken<'a> {
    pub database: (i64, &'a str),
    pub recovery: &'a str,
    /// `D` full, `L` log.
    pub kind: &'a str,
    pub copy_only: bool,
    pub bytes: i64,
    pub finished: time::OffsetDateTime,
}

/// Records a backup of a database on `server`: its LSNs, what it truncates or
/// starts in the log, and its row in msdb.dbo.backupset.
pub fn record(conn: &rusqlite::Connection, server: &str, b: &Taken) -> rusqlite::Result<()> {
    let (id, name) = b.database;
    let finished = super::super::datetime_text(b.finished);
    let lsns = log::backup(conn, id, b.kind, b.copy_only, &finished)?;
    log::refresh(conn, id)?;
    populate::insert_backup(
        conn,
        server,
        name,
        b.recovery,
        b.kind,
        b.copy_only,
        b.finished,
        b.bytes,
        lsns,
    )
}

pub fn backup(
    t: &Target,
    log: bool,
    database: &str,
    copy_only: bool,
) -> Result<Vec<Output>, Message> {
    let statement = if log { "BACKUP LOG" } else { "BACKUP DATABASE" };
    let fail = |m: Message| {
        Ok(vec![
            Output::Message(m),
            Output::Message(errors::backup_terminating(statement)),
        ])
    };
    let Some(name) = t.catalog.database_name(database) else {
        return fail(errors::no_database(database));
    };
    if !t.login.sysadmin {
        return fail(errors::backup_denied(statement, &name));
    }
    let (id, recovery, pages): (i64, String, i64) = t
        .catalog
        .conn
        .query_row(
            "SELECT d.database_id, d.recovery_model_desc, COALESCE(SUM(f.size), 0) FROM \"sys.databases\" d LEFT JOIN \"sys.master_files\" f ON f.database_id = d.database_id AND f.type = 0 WHERE d.name = ?1",
            [&name],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .map_err(sqlite)?;
    if log {
        if recovery == "SIMPLE" {
            return fail(errors::log_backup_in_simple());
        }
        // The log chain starts with a full backup taken in FULL or BULK_LOGGED
        // recovery; one taken before a switch from SIMPLE does not count.
        if !log::has_chain(&t.catalog.conn, id).map_err(sqlite)? {
            return fail(errors::log_backup_without_full());
        }
    }
    let kind = if log { "L" } else { "D" };
    let taken = Taken {
        database: (id, &name),
        recovery: &recovery,
        kind,
        copy_only,
        bytes: pages * 8192,
        finished: time::OffsetDateTime::now_utc(),
    };
    record(&t.catalog.conn, &t.info.name, &taken).map_err(sqlite)?;
    let pages_done = if log { 2 } else { pages.max(1) };
    let file = if log {
        format!("{name}_log")
    } else {
        name.clone()
    };
    Ok(vec![
        Output::Message(Message::new(4035, 1, 0, format!("Processed {pages_done} pages for database '{name}', file '{file}' on file 1."))),
        Output::Message(Message::new(
            3014,
            1,
            0,
            format!("{statement} successfully processed {pages_done} pages in 0.010 seconds ({:.3} MB/sec).", pages_done as f64 * 8192.0 / 1048576.0 / 0.01),
        )),
    ])
}
