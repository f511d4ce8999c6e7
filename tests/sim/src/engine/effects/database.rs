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
    let finished = time::OffsetDateTime::now_utc();
    let lsns = log::backup(
        &t.catalog.conn,
        id,
        kind,
        copy_only,
        &super::super::datetime_text(finished),
    )
    .and_then(|lsns| log::refresh(&t.catalog.conn, id).map(|()| lsns))
    .map_err(sqlite)?;
    populate::insert_backup(
        &t.catalog.conn,
        &t.info.name,
        &name,
        &recovery,
        kind,
        copy_only,
        finished,
        pages * 8192,
        lsns,
    )
    .map_err(sqlite)?;
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
