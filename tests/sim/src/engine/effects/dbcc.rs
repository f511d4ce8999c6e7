//! DBCC TRACESTATUS / TRACEON / TRACEOFF and DBCC SQLPERF(LOGSPACE), with the result
//! sets and messages SQL Server sends. Trace flags here are global (the `$trace_flags`
//! table).
//! https://learn.microsoft.com/sql/t-sql/database-console-commands/dbcc-tracestatus-transact-sql
//! https://learn.microsoft.com/sql/t-sql/database-console-commands/dbcc-sqlperf-transact-sql

use rusqlite::params;
use sqlparser::parser::Parser;
use sqlparser::tokenizer::Token;

use crate::tds::tokens::Message;
use crate::tds::types::{SqlType, Value};

use super::super::batch::{expect_token, expect_words, near, next_word};
use super::super::errors;
use super::super::session::Output;
use super::{skip_to_end, sqlite, Effect, Target};

pub fn parse(p: &mut Parser, line: i32) -> Result<Effect, Message> {
    expect_words(p, &["DBCC"], line)?;
    let command = next_word(p).unwrap_or_default();
    if command == "SQLPERF" {
        expect_token(p, &Token::LParen, line)?;
        let option = next_word(p).unwrap_or_default();
        expect_token(p, &Token::RParen, line)?;
        skip_to_end(p);
        return match option.as_str() {
            "LOGSPACE" => Ok(Effect::LogSpace),
            other => Err(errors::not_modelled(&format!("DBCC SQLPERF({other})"))),
        };
    }
    let mut flags = Vec::new();
    if p.consume_token(&Token::LParen) {
        loop {
            let negative = p.consume_token(&Token::Minus);
            let number = match p.next_token().token {
                Token::Number(n, _) => n.parse::<i64>().map_err(|_| near(p, line))?,
                _ => return Err(near(p, line)),
            };
            flags.push(if negative { -number } else { number });
            if !p.consume_token(&Token::Comma) {
                break;
            }
        }
        expect_token(p, &Token::RParen, line)?;
    }
    skip_to_end(p);
    // -1 means "global"; the lab's flags are all global.
    let flags: Vec<i64> = flags.into_iter().filter(|f| *f != -1).collect();
    Ok(match command.as_str() {
        "TRACESTATUS" => Effect::TraceStatus(flags),
        "TRACEON" => Effect::TraceOn(flags),
        "TRACEOFF" => Effect::TraceOff(flags),
        other => return Err(errors::not_modelled(&format!("DBCC {other}"))),
    })
}

fn completed() -> Output {
    Output::Message(Message::new(2528, 1, 0, "DBCC execution completed. If DBCC printed error messages, contact your system administrator."))
}

pub fn trace_status(t: &Target, flags: &[i64]) -> Result<Vec<Output>, Message> {
    let mut stmt = t
        .catalog
        .conn
        .prepare("SELECT flag FROM \"$trace_flags\" ORDER BY flag")
        .map_err(sqlite)?;
    let on: Vec<i64> = stmt
        .query_map([], |r| r.get(0))
        .map_err(sqlite)?
        .collect::<Result<_, _>>()
        .map_err(sqlite)?;
    let shown: Vec<(i64, bool)> = if flags.is_empty() {
        on.iter().map(|f| (*f, true)).collect()
    } else {
        flags.iter().map(|f| (*f, on.contains(f))).collect()
    };
    let columns = ["TraceFlag", "Status", "Global", "Session"]
        .iter()
        .map(|c| (c.to_string(), SqlType::SmallInt))
        .collect();
    let rows = shown
        .into_iter()
        .map(|(flag, status)| {
            vec![
                Value::Int(flag),
                Value::Int(i64::from(status)),
                Value::Int(i64::from(status)),
                Value::Int(0),
            ]
        })
        .collect();
    Ok(vec![Output::Rows { columns, rows }, completed()])
}

pub fn trace_set(t: &Target, flags: &[i64], on: bool) -> Result<Vec<Output>, Message> {
    let command = if on { "TRACEON" } else { "TRACEOFF" };
    if !t.login.sysadmin {
        return Err(errors::dbcc_denied(&t.login.name, command));
    }
    for flag in flags {
        if !(1..=32767).contains(flag) {
            return Err(errors::invalid_trace_flag(*flag));
        }
        let sql = if on {
            "INSERT OR IGNORE INTO \"$trace_flags\" (flag) VALUES (?1)"
        } else {
            "DELETE FROM \"$trace_flags\" WHERE flag = ?1"
        };
        t.catalog.conn.execute(sql, params![flag]).map_err(sqlite)?;
    }
    Ok(vec![completed()])
}

/// DBCC SQLPERF(LOGSPACE): every database's log size and how much of it is in use.
pub fn log_space(t: &Target) -> Result<Vec<Output>, Message> {
    if !t.login.may_view_server_state() {
        return Err(errors::view_server_state_denied());
    }
    let mut stmt = t
        .catalog
        .conn
        .prepare(
            "SELECT d.name, u.total_log_size_in_bytes / 1048576.0, u.used_log_space_in_percent
             FROM \"sys.databases\" d JOIN \"sys.dm_db_log_space_usage\" u ON u.\"$database_id\" = d.database_id
             ORDER BY d.database_id",
        )
        .map_err(sqlite)?;
    let rows = stmt
        .query_map([], |r| {
            Ok(vec![
                Value::Text(r.get(0)?),
                Value::Float(r.get(1)?),
                Value::Float(r.get(2)?),
                Value::Int(0),
            ])
        })
        .map_err(sqlite)?
        .collect::<Result<_, _>>()
        .map_err(sqlite)?;
    let columns = vec![
        ("Database Name".to_string(), SqlType::NVarChar(Some(128))),
        ("Log Size (MB)".to_string(), SqlType::Float),
        ("Log Space Used (%)".to_string(), SqlType::Float),
        ("Status".to_string(), SqlType::Int),
    ];
    Ok(vec![Output::Rows { columns, rows }, completed()])
}
