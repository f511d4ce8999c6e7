//! Statements that change the instance, parsed by hand (sqlparser has no grammar for
//! them) and applied with SQL Server's rules and error numbers.
//!
//! - `database`: ALTER DATABASE ... SET RECOVERY, BACKUP DATABASE / BACKUP LOG.
//! - `security`: CREATE/DROP MASTER KEY, CREATE/DROP CERTIFICATE, sp_certificate_add_issuer.
//! - `dbcc`: DBCC TRACESTATUS / TRACEON / TRACEOFF, DBCC SQLPERF(LOGSPACE).
//! - `endpoint`: CREATE/ALTER/DROP ENDPOINT ... FOR DATABASE_MIRRORING, on a real port.
//! - `availability_group`: CREATE/ALTER/DROP AVAILABILITY GROUP, plain and distributed.
//!
//! Anything else is refused with error 40517 naming the statement.

mod availability_group;
mod database;
mod dbcc;
mod endpoint;
mod security;

use sqlparser::parser::Parser;
use sqlparser::tokenizer::Token;

use crate::scenario::Recovery;
use crate::tds::tokens::Message;

use super::batch::{near, next_word, peek_word, words};
use super::session::{Output, SessionLogin};
use super::{errors, Catalog, InstanceInfo};

pub use availability_group::{link, parse_endpoint_url, seeding};
pub use database::{record as record_backup, Taken as TakenBackup};
pub use security::add_certificate_issuer;

#[derive(Debug, Clone)]
pub enum Effect {
    SetRecovery {
        database: String,
        recovery: Recovery,
    },
    Backup {
        log: bool,
        database: String,
        copy_only: bool,
    },
    CreateMasterKey,
    DropMasterKey,
    CreateCertificate(security::NewCertificate),
    DropCertificate(String),
    TraceStatus(Vec<i64>),
    TraceOn(Vec<i64>),
    TraceOff(Vec<i64>),
    LogSpace,
    CreateEndpoint(endpoint::EndpointSpec),
    AlterEndpoint(endpoint::EndpointSpec),
    DropEndpoint(String),
    CreateAvailabilityGroup(availability_group::GroupSpec),
    AlterAvailabilityGroup {
        name: String,
        change: availability_group::GroupChange,
    },
    DropAvailabilityGroup(String),
}

/// Where an effect applies.
pub struct Target<'a> {
    pub catalog: &'a Catalog,
    pub info: &'a InstanceInfo,
    pub database_id: i64,
    pub login: &'a SessionLogin,
}

pub fn parse(p: &mut Parser, line: i32) -> Result<Effect, Message> {
    let start: Vec<String> = (0..3)
        .filter_map(|n| match p.peek_nth_token(n).token {
            Token::Word(w) => Some(w.value.to_ascii_uppercase()),
            _ => None,
        })
        .collect();
    let effect = match start
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["ALTER", "DATABASE", ..] => database::parse_alter(p, line)?,
        ["BACKUP", ..] => database::parse_backup(p, line)?,
        ["CREATE", "MASTER", "KEY"] => security::parse_create_master_key(p, line)?,
        ["DROP", "MASTER", "KEY"] => {
            words(p, &["DROP", "MASTER", "KEY"]);
            Effect::DropMasterKey
        }
        ["CREATE", "CERTIFICATE", ..] => security::parse_create_certificate(p, line)?,
        ["DROP", "CERTIFICATE", ..] => {
            words(p, &["DROP", "CERTIFICATE"]);
            Effect::DropCertificate(p.parse_identifier().map_err(|_| near(p, line))?.value)
        }
        ["DBCC", ..] => dbcc::parse(p, line)?,
        ["CREATE" | "ALTER", "ENDPOINT", ..] => endpoint::parse(p, line)?,
        ["DROP", "ENDPOINT", ..] => endpoint::parse_drop(p, line)?,
        ["CREATE", "AVAILABILITY", "GROUP"] => availability_group::parse_create(p, line)?,
        ["ALTER", "AVAILABILITY", "GROUP"] => availability_group::parse_alter(p, line)?,
        ["DROP", "AVAILABILITY", "GROUP"] => availability_group::parse_drop(p, line)?,
        _ => {
            let mut text = Vec::new();
            while !matches!(p.peek_token().token, Token::EOF | Token::SemiColon) && text.len() < 4 {
                text.push(p.next_token().token.to_string());
            }
            let statement = text.join(" ").to_uppercase();
            let mut message = if statement.is_empty() {
                near(p, line)
            } else {
                errors::not_modelled(&statement)
            };
            message.line = line;
            return Err(message);
        }
    };
    Ok(effect)
}

pub fn apply(effect: &Effect, target: &Target) -> Result<Vec<Output>, Message> {
    match effect {
        Effect::SetRecovery { database, recovery } => {
            database::set_recovery(target, database, *recovery)
        }
        Effect::Backup {
            log,
            database,
            copy_only,
        } => database::backup(target, *log, database, *copy_only),
        Effect::CreateMasterKey => security::create_master_key(target),
        Effect::DropMasterKey => security::drop_master_key(target),
        Effect::CreateCertificate(new) => security::create_certificate(target, new),
        Effect::DropCertificate(name) => security::drop_certificate(target, name),
        Effect::TraceStatus(flags) => dbcc::trace_status(target, flags),
        Effect::TraceOn(flags) => dbcc::trace_set(target, flags, true),
        Effect::TraceOff(flags) => dbcc::trace_set(target, flags, false),
        Effect::LogSpace => dbcc::log_space(target),
        Effect::CreateEndpoint(spec) => endpoint::create(target, spec),
        Effect::AlterEndpoint(spec) => endpoint::alter(target, spec),
        Effect::DropEndpoint(name) => endpoint::drop(target, name),
        Effect::CreateAvailabilityGroup(spec) => availability_group::create(target, spec),
        Effect::AlterAvailabilityGroup { name, change } => {
            availability_group::alter(target, name, change)
        }
        Effect::DropAvailabilityGroup(name) => availability_group::drop(target, name),
    }
}

/// A string literal or a bracketed/bare name.
pub fn parse_name(p: &mut Parser, line: i32) -> Result<String, Message> {
    match p.peek_token().token {
        Token::SingleQuotedString(s) | Token::NationalStringLiteral(s) => {
            p.next_token();
            Ok(s)
        }
        _ => p
            .parse_identifier()
            .map(|i| i.value)
            .map_err(|_| near(p, line)),
    }
}

/// Error 15247 unless the login is sysadmin or holds one of `permissions`.
pub fn require_any(t: &Target, permissions: &[&str]) -> Result<(), Message> {
    if t.login.holds_any(permissions) {
        Ok(())
    } else {
        Err(errors::no_permission())
    }
}

pub fn sqlite(e: rusqlite::Error) -> Message {
    errors::internal(&e.to_string())
}

/// Skips the rest of an option list we accept but do not model (`WITH INIT, STATS = 10`).
pub fn skip_to_end(p: &mut Parser) {
    while !matches!(p.peek_token().token, Token::EOF | Token::SemiColon) {
        if matches!(
            peek_word(p).as_deref(),
            Some(
                "SELECT"
                    | "USE"
                    | "IF"
                    | "EXEC"
                    | "PRINT"
                    | "DBCC"
                    | "BACKUP"
                    | "CREATE"
                    | "ALTER"
                    | "DROP"
                    | "DECLARE"
                    | "SET"
            )
        ) {
            return;
        }
        let _ = next_word(p);
    }
}
