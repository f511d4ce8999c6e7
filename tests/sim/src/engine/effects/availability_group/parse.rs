//! The grammar of CREATE, ALTER and DROP AVAILABILITY GROUP.

use sqlparser::parser::Parser;
use sqlparser::tokenizer::Token;

use crate::tds::tokens::Message;

use super::super::super::batch::{expect_token, expect_words, near, next_word, words};
use super::super::super::errors;
use super::super::{parse_name, skip_to_end, Effect};
use super::spec::{
    AvailabilityMode, BackupPreference, ClusterType, FailoverMode, GroupChange, GroupOptions,
    GroupSpec, PrimaryConnections, ReplicaSpec, SecondaryConnections, SeedingMode,
};

const GROUP: [&str; 3] = ["AVAILABILITY", "GROUP", "ON"];

pub fn parse_create(p: &mut Parser, line: i32) -> Result<Effect, Message> {
    expect_words(p, &["CREATE", "AVAILABILITY", "GROUP"], line)?;
    let mut spec = GroupSpec {
        name: parse_name(p, line)?,
        ..Default::default()
    };
    if words(p, &["WITH"]) {
        spec.options = parse_options(p, line)?;
    }
    if words(p, &["FOR"]) && words(p, &["DATABASE"]) {
        spec.databases = parse_names(p, line)?;
    }
    // REPLICA ON for a plain group, AVAILABILITY GROUP ON for a distributed one.
    if !words(p, &["REPLICA", "ON"]) && !words(p, &GROUP) {
        return Err(near(p, line));
    }
    spec.replicas = parse_replicas(p, line)?;
    if words(p, &["LISTENER"]) {
        return Err(errors::not_modelled(
            "CREATE AVAILABILITY GROUP ... LISTENER",
        ));
    }
    skip_to_end(p);
    Ok(Effect::CreateAvailabilityGroup(spec))
}

pub fn parse_alter(p: &mut Parser, line: i32) -> Result<Effect, Message> {
    expect_words(p, &["ALTER", "AVAILABILITY", "GROUP"], line)?;
    let name = parse_name(p, line)?;
    let change = match next_word(p).as_deref() {
        Some("SET") => GroupChange::Set(parse_options(p, line)?),
        Some("ADD") if words(p, &["DATABASE"]) => GroupChange::AddDatabases(parse_names(p, line)?),
        Some("ADD") if words(p, &["REPLICA", "ON"]) => {
            GroupChange::AddReplicas(parse_replicas(p, line)?)
        }
        Some("REMOVE") if words(p, &["DATABASE"]) => {
            GroupChange::RemoveDatabase(parse_name(p, line)?)
        }
        Some("REMOVE") if words(p, &["REPLICA", "ON"]) => {
            GroupChange::RemoveReplica(parse_name(p, line)?)
        }
        Some("MODIFY") if words(p, &["REPLICA", "ON"]) => {
            GroupChange::ModifyReplica(parse_replica(p, line)?)
        }
        Some("MODIFY") if words(p, &GROUP) => GroupChange::ModifyMembers(parse_replicas(p, line)?),
        Some("GRANT") => {
            expect_words(p, &["CREATE", "ANY", "DATABASE"], line)?;
            GroupChange::CreateAnyDatabase(true)
        }
        Some("DENY") => {
            expect_words(p, &["CREATE", "ANY", "DATABASE"], line)?;
            GroupChange::CreateAnyDatabase(false)
        }
        Some("FAILOVER") => GroupChange::Failover,
        Some("FORCE_FAILOVER_ALLOW_DATA_LOSS") => GroupChange::ForceFailover,
        Some("OFFLINE") => GroupChange::Offline,
        Some(other @ ("JOIN" | "ADD" | "MODIFY" | "REMOVE" | "RESTART")) => {
            return Err(errors::not_modelled(&format!(
                "ALTER AVAILABILITY GROUP ... {other}"
            )))
        }
        _ => return Err(near(p, line)),
    };
    skip_to_end(p);
    Ok(Effect::AlterAvailabilityGroup { name, change })
}

pub fn parse_drop(p: &mut Parser, line: i32) -> Result<Effect, Message> {
    expect_words(p, &["DROP", "AVAILABILITY", "GROUP"], line)?;
    let name = parse_name(p, line)?;
    skip_to_end(p);
    Ok(Effect::DropAvailabilityGroup(name))
}

fn equals(p: &mut Parser, line: i32) -> Result<(), Message> {
    expect_token(p, &Token::Eq, line)
}

fn number(p: &mut Parser, line: i32) -> Result<i64, Message> {
    equals(p, line)?;
    match p.next_token().token {
        Token::Number(n, _) => n.parse().map_err(|_| errors::syntax_near(&n)),
        _ => Err(near(p, line)),
    }
}

fn string(p: &mut Parser, line: i32) -> Result<String, Message> {
    equals(p, line)?;
    match p.next_token().token {
        Token::SingleQuotedString(s) | Token::NationalStringLiteral(s) => Ok(s),
        _ => Err(near(p, line)),
    }
}

/// `= KEYWORD`, one of the values `named` knows.
fn keyword<T>(p: &mut Parser, line: i32, named: fn(&str) -> Option<T>) -> Result<T, Message> {
    equals(p, line)?;
    let value = next_word(p).and_then(|w| named(&w));
    value.ok_or_else(|| near(p, line))
}

fn on_off(p: &mut Parser, line: i32) -> Result<bool, Message> {
    keyword(p, line, |w| match w {
        "ON" => Some(true),
        "OFF" => Some(false),
        _ => None,
    })
}

/// A comma-separated list of database names.
fn parse_names(p: &mut Parser, line: i32) -> Result<Vec<String>, Message> {
    let mut names = vec![parse_name(p, line)?];
    while p.consume_token(&Token::Comma) {
        names.push(parse_name(p, line)?);
    }
    Ok(names)
}

/// `( option [, ...] )` after WITH or SET.
fn parse_options(p: &mut Parser, line: i32) -> Result<GroupOptions, Message> {
    expect_token(p, &Token::LParen, line)?;
    let mut o = GroupOptions::default();
    loop {
        match next_word(p).as_deref() {
            Some("CLUSTER_TYPE") => {
                o.cluster_type = Some(keyword(p, line, ClusterType::keyword_named)?)
            }
            Some("DISTRIBUTED") => o.distributed = true,
            Some("BASIC") => o.basic = true,
            Some("CONTAINED") => o.contained = true,
            Some("REUSE_SYSTEM_DATABASES") => {}
            Some("DB_FAILOVER") => o.db_failover = Some(on_off(p, line)?),
            Some("DTC_SUPPORT") => {
                o.dtc_support = Some(keyword(p, line, |w| match w {
                    "PER_DB" => Some(true),
                    "NONE" => Some(false),
                    _ => None,
                })?)
            }
            Some("AUTOMATED_BACKUP_PREFERENCE") => {
                o.automated_backup_preference = Some(keyword(p, line, BackupPreference::named)?)
            }
            Some("FAILURE_CONDITION_LEVEL") => o.failure_condition_level = Some(number(p, line)?),
            Some("HEALTH_CHECK_TIMEOUT") => o.health_check_timeout = Some(number(p, line)?),
            Some("REQUIRED_SYNCHRONIZED_SECONDARIES_TO_COMMIT") => {
                o.required_synchronized_secondaries_to_commit = Some(number(p, line)?)
            }
            Some("ROLE") => {
                keyword(p, line, |w| (w == "SECONDARY").then_some(()))?;
                o.role_secondary = true;
            }
            _ => return Err(near(p, line)),
        }
        if !p.consume_token(&Token::Comma) {
            break;
        }
    }
    expect_token(p, &Token::RParen, line)?;
    Ok(o)
}

fn parse_replicas(p: &mut Parser, line: i32) -> Result<Vec<ReplicaSpec>, Message> {
    let mut replicas = vec![parse_replica(p, line)?];
    while p.consume_token(&Token::Comma) {
        replicas.push(parse_replica(p, line)?);
    }
    Ok(replicas)
}

/// `'name' WITH ( option [, ...] )`.
fn parse_replica(p: &mut Parser, line: i32) -> Result<ReplicaSpec, Message> {
    let mut r = ReplicaSpec {
        name: parse_name(p, line)?,
        ..Default::default()
    };
    expect_words(p, &["WITH"], line)?;
    expect_token(p, &Token::LParen, line)?;
    loop {
        match next_word(p).as_deref() {
            Some("ENDPOINT_URL" | "LISTENER_URL") => r.endpoint_url = Some(string(p, line)?),
            Some("AVAILABILITY_MODE") => {
                r.availability_mode = Some(keyword(p, line, AvailabilityMode::named)?)
            }
            Some("FAILOVER_MODE") => r.failover_mode = Some(keyword(p, line, FailoverMode::named)?),
            Some("SEEDING_MODE") => r.seeding_mode = Some(keyword(p, line, SeedingMode::named)?),
            Some("SESSION_TIMEOUT") => r.session_timeout = Some(number(p, line)?),
            Some("BACKUP_PRIORITY") => r.backup_priority = Some(number(p, line)?),
            Some("SECONDARY_ROLE") => parse_role(p, line, &mut r, false)?,
            Some("PRIMARY_ROLE") => parse_role(p, line, &mut r, true)?,
            _ => return Err(near(p, line)),
        }
        if !p.consume_token(&Token::Comma) {
            break;
        }
    }
    expect_token(p, &Token::RParen, line)?;
    Ok(r)
}

/// `SECONDARY_ROLE ( ALLOW_CONNECTIONS = ..., READ_ONLY_ROUTING_URL = '...' )` and
/// `PRIMARY_ROLE ( ALLOW_CONNECTIONS = ..., READ_ONLY_ROUTING_LIST = (...) | NONE )`.
fn parse_role(
    p: &mut Parser,
    line: i32,
    r: &mut ReplicaSpec,
    primary: bool,
) -> Result<(), Message> {
    expect_token(p, &Token::LParen, line)?;
    loop {
        match next_word(p).as_deref() {
            Some("ALLOW_CONNECTIONS") if primary => {
                r.primary_connections = Some(keyword(p, line, PrimaryConnections::named)?)
            }
            Some("ALLOW_CONNECTIONS") => {
                r.secondary_connections = Some(keyword(p, line, SecondaryConnections::named)?)
            }
            Some("READ_ONLY_ROUTING_URL") if !primary => {
                r.read_only_routing_url = Some(string(p, line)?)
            }
            Some("READ_WRITE_ROUTING_URL") => {
                string(p, line)?;
            }
            Some("READ_ONLY_ROUTING_LIST") if primary => {
                equals(p, line)?;
                if !words(p, &["NONE"]) {
                    skip_parenthesised(p, line)?;
                }
            }
            _ => return Err(near(p, line)),
        }
        if !p.consume_token(&Token::Comma) {
            break;
        }
    }
    expect_token(p, &Token::RParen, line)
}

/// A read-only routing list is accepted and not modelled (the lab has no listeners).
fn skip_parenthesised(p: &mut Parser, line: i32) -> Result<(), Message> {
    expect_token(p, &Token::LParen, line)?;
    let mut depth = 1;
    while depth > 0 {
        match p.next_token().token {
            Token::LParen => depth += 1,
            Token::RParen => depth -= 1,
            Token::EOF => return Err(near(p, line)),
            _ => {}
        }
    }
    Ok(())
}
