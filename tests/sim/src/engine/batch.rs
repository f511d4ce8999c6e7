//! A T-SQL batch split into statements. sqlparser (MsSql dialect) is the tokenizer and
//! parses queries and expressions; the statements it does not know (USE, IF, DECLARE,
//! SET @v, WAITFOR, PRINT, EXEC, BACKUP, DBCC, CREATE CERTIFICATE ...) are parsed here
//! and in `effects`. A syntax error anywhere means nothing in the batch runs, as in
//! SQL Server.

use std::time::Duration;

use sqlparser::ast::{Expr, Statement};
use sqlparser::dialect::MsSqlDialect;
use sqlparser::parser::{Parser, ParserError};
use sqlparser::tokenizer::Token;

use crate::tds::tokens::Message;

use super::effects::{self, Effect};
use super::errors;

#[derive(Debug, Clone)]
pub enum Stmt {
    Query(Box<Statement>),
    Use(String),
    Declare(Vec<(String, String, Option<Expr>)>),
    SetVariable(String, Expr),
    /// SET NOCOUNT ON and the other session options clients send.
    SetOption {
        option: String,
        on: bool,
    },
    If {
        condition: Expr,
        then: Box<Line>,
        otherwise: Option<Box<Line>>,
    },
    Block(Vec<Line>),
    WaitFor(Duration),
    Print(Expr),
    Exec {
        procedure: String,
        args: Vec<(Option<String>, Expr)>,
    },
    Effect(Effect),
    /// BEGIN TRAN / COMMIT: each statement commits on its own in the lab.
    Transaction,
}

/// A statement and the line it starts on (for error messages).
#[derive(Debug, Clone)]
pub struct Line {
    pub stmt: Stmt,
    pub line: i32,
}

pub fn parse_batch(sql: &str) -> Result<Vec<Line>, Message> {
    let dialect = MsSqlDialect {};
    let mut p = Parser::new(&dialect)
        .try_with_sql(sql)
        .map_err(|e| syntax(&e, 1))?;
    let mut out = Vec::new();
    loop {
        while p.consume_token(&Token::SemiColon) {}
        if p.peek_token().token == Token::EOF {
            return Ok(out);
        }
        out.push(parse_statement(&mut p)?);
    }
}

/// Error 102 with the token the parser stopped at.
pub fn syntax(error: &ParserError, line: i32) -> Message {
    let text = error.to_string();
    let near = text
        .split("found: ")
        .nth(1)
        .map(|rest| {
            rest.split(" at Line")
                .next()
                .unwrap_or(rest)
                .trim()
                .to_string()
        })
        .unwrap_or_else(|| text.clone());
    let line = text
        .split("Line: ")
        .nth(1)
        .and_then(|rest| rest.split(',').next())
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(line);
    let near = if near == "EOF" { String::new() } else { near };
    let mut message = errors::syntax_near(&near);
    message.line = line;
    message
}

fn word(token: &Token) -> Option<String> {
    match token {
        Token::Word(w) if w.quote_style.is_none() => Some(w.value.to_ascii_uppercase()),
        _ => None,
    }
}

pub fn peek_word(p: &Parser) -> Option<String> {
    word(&p.peek_token().token)
}

pub fn next_word(p: &mut Parser) -> Option<String> {
    word(&p.next_token().token)
}

/// Consumes the given words in order, or none of them.
pub fn words(p: &mut Parser, expected: &[&str]) -> bool {
    for (n, w) in expected.iter().enumerate() {
        if word(&p.peek_nth_token(n).token).as_deref() != Some(*w) {
            return false;
        }
    }
    for _ in expected {
        p.next_token();
    }
    true
}

pub fn expect_words(p: &mut Parser, expected: &[&str], line: i32) -> Result<(), Message> {
    if words(p, expected) {
        Ok(())
    } else {
        Err(near(p, line))
    }
}

/// Consumes `token`, or fails with error 102 at what stands there instead.
pub fn expect_token(p: &mut Parser, token: &Token, line: i32) -> Result<(), Message> {
    p.expect_token(token).map(|_| ()).map_err(|_| near(p, line))
}

/// Error 102 at the next token.
pub fn near(p: &Parser, line: i32) -> Message {
    let token = p.peek_token();
    let mut message = errors::syntax_near(&token.token.to_string());
    message.line = i32::try_from(token.span.start.line).unwrap_or(line);
    message
}

fn parse_statement(p: &mut Parser) -> Result<Line, Message> {
    let start = p.peek_token();
    let line = i32::try_from(start.span.start.line).unwrap_or(1).max(1);
    let map = |e: ParserError| syntax(&e, line);
    let Some(first) = word(&start.token) else {
        if start.token == Token::LParen {
            let statement = p.parse_statement().map_err(map)?;
            return Ok(Line {
                stmt: Stmt::Query(Box::new(statement)),
                line,
            });
        }
        return Err(near(p, line));
    };
    let stmt = match first.as_str() {
        "SELECT" | "WITH" | "INSERT" | "UPDATE" | "DELETE" => {
            Stmt::Query(Box::new(p.parse_statement().map_err(map)?))
        }
        "USE" => {
            p.next_token();
            Stmt::Use(p.parse_identifier().map_err(map)?.value)
        }
        "IF" => {
            p.next_token();
            let condition = p.parse_expr().map_err(map)?;
            let then = Box::new(parse_statement(p)?);
            while p.consume_token(&Token::SemiColon) {}
            let otherwise = if words(p, &["ELSE"]) {
                Some(Box::new(parse_statement(p)?))
            } else {
                None
            };
            Stmt::If {
                condition,
                then,
                otherwise,
            }
        }
        "BEGIN"
            if matches!(
                word(&p.peek_nth_token(1).token).as_deref(),
                Some("TRAN" | "TRANSACTION")
            ) =>
        {
            p.next_token();
            p.next_token();
            Stmt::Transaction
        }
        "BEGIN" => {
            p.next_token();
            let mut body = Vec::new();
            loop {
                while p.consume_token(&Token::SemiColon) {}
                if words(p, &["END"]) {
                    break;
                }
                if p.peek_token().token == Token::EOF {
                    return Err(near(p, line));
                }
                body.push(parse_statement(p)?);
            }
            Stmt::Block(body)
        }
        "COMMIT" => {
            p.next_token();
            let _ = words(p, &["TRAN"]) || words(p, &["TRANSACTION"]);
            Stmt::Transaction
        }
        "DECLARE" => {
            p.next_token();
            let mut vars = Vec::new();
            loop {
                let name = p.parse_identifier().map_err(map)?.value;
                let _ = words(p, &["AS"]);
                let ty = p.parse_data_type().map_err(map)?.to_string();
                let value = if p.consume_token(&Token::Eq) {
                    Some(p.parse_expr().map_err(map)?)
                } else {
                    None
                };
                vars.push((name, ty, value));
                if !p.consume_token(&Token::Comma) {
                    break;
                }
            }
            Stmt::Declare(vars)
        }
        "SET" => {
            p.next_token();
            match p.peek_token().token {
                Token::Word(w) if w.value.starts_with('@') => {
                    let name = p.parse_identifier().map_err(map)?.value;
                    p.expect_token(&Token::Eq).map_err(map)?;
                    Stmt::SetVariable(name, p.parse_expr().map_err(map)?)
                }
                _ => parse_set_option(p, line)?,
            }
        }
        "WAITFOR" => {
            p.next_token();
            expect_words(p, &["DELAY"], line)?;
            let text = p.parse_literal_string().map_err(map)?;
            Stmt::WaitFor(parse_delay(&text).ok_or_else(|| {
                let mut m = Message::new(
                    148,
                    1,
                    15,
                    "Incorrect time syntax in time string used with WAITFOR.",
                );
                m.line = line;
                m
            })?)
        }
        "PRINT" => {
            p.next_token();
            Stmt::Print(p.parse_expr().map_err(map)?)
        }
        "EXEC" | "EXECUTE" => {
            p.next_token();
            let procedure = p.parse_object_name(false).map_err(map)?.to_string();
            let mut args = Vec::new();
            if !matches!(p.peek_token().token, Token::EOF | Token::SemiColon)
                && !starts_statement(p)
            {
                loop {
                    let named = match (p.peek_token().token, p.peek_nth_token(1).token) {
                        (Token::Word(w), Token::Eq) if w.value.starts_with('@') => {
                            p.next_token();
                            p.next_token();
                            Some(w.value)
                        }
                        _ => None,
                    };
                    args.push((named, p.parse_expr().map_err(map)?));
                    if !p.consume_token(&Token::Comma) {
                        break;
                    }
                }
            }
            Stmt::Exec { procedure, args }
        }
        _ => Stmt::Effect(effects::parse(p, line)?),
    };
    Ok(Line { stmt, line })
}

/// Whether the next word begins another statement (EXEC without arguments).
fn starts_statement(p: &Parser) -> bool {
    matches!(
        peek_word(p).as_deref(),
        Some(
            "SELECT"
                | "INSERT"
                | "UPDATE"
                | "DELETE"
                | "IF"
                | "EXEC"
                | "EXECUTE"
                | "DECLARE"
                | "SET"
                | "USE"
                | "PRINT"
                | "BEGIN"
                | "END"
                | "CREATE"
                | "ALTER"
                | "DROP"
                | "BACKUP"
                | "DBCC"
                | "WAITFOR"
                | "ELSE"
        )
    )
}

const SESSION_OPTIONS: &[&str] = &[
    "NOCOUNT",
    "ANSI_NULLS",
    "ANSI_NULL_DFLT_ON",
    "ANSI_PADDING",
    "ANSI_WARNINGS",
    "QUOTED_IDENTIFIER",
    "ARITHABORT",
    "CONCAT_NULL_YIELDS_NULL",
    "CURSOR_CLOSE_ON_COMMIT",
    "IMPLICIT_TRANSACTIONS",
    "XACT_ABORT",
    "NUMERIC_ROUNDABORT",
    "TEXTSIZE",
    "DATEFORMAT",
    "DATEFIRST",
    "LANGUAGE",
    "LOCK_TIMEOUT",
    "DEADLOCK_PRIORITY",
    "TRANSACTION",
];

fn parse_set_option(p: &mut Parser, line: i32) -> Result<Stmt, Message> {
    let option = next_word(p).unwrap_or_default();
    if !SESSION_OPTIONS.contains(&option.as_str()) {
        return Err(errors::not_modelled(&format!("SET {option}")));
    }
    // The value: ON/OFF, a number, a name, or ISOLATION LEVEL ... up to the statement's end.
    let mut on = true;
    while !matches!(p.peek_token().token, Token::EOF | Token::SemiColon) && !starts_statement(p) {
        match next_word(p).as_deref() {
            Some("OFF") => on = false,
            Some("ON") => on = true,
            _ => {}
        }
    }
    let _ = line;
    Ok(Stmt::SetOption { option, on })
}

/// 'hh:mm[:ss[.mmm]]'
fn parse_delay(text: &str) -> Option<Duration> {
    let (clock, millis) = text.split_once('.').unwrap_or((text, "0"));
    let parts: Vec<u64> = clock
        .split(':')
        .map(|p| p.trim().parse().ok())
        .collect::<Option<_>>()?;
    let seconds = match parts.as_slice() {
        [h, m] => h * 3600 + m * 60,
        [h, m, s] if *m < 60 && *s < 60 => h * 3600 + m * 60 + s,
        _ => return None,
    };
    Some(Duration::from_secs(seconds) + Duration::from_millis(millis.parse().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_split_without_semicolons_and_keep_lines() {
        let batch = parse_batch(
            "SELECT 1\nSELECT 2;\nUSE [master]\nIF NOT EXISTS (SELECT 1) PRINT N'x' ELSE SELECT 3",
        )
        .unwrap();
        assert_eq!(batch.len(), 4);
        assert_eq!(batch[2].line, 3);
        assert!(matches!(
            batch[3].stmt,
            Stmt::If {
                otherwise: Some(_),
                ..
            }
        ));
    }

    #[test]
    fn a_syntax_error_names_the_token_and_line() {
        let err = parse_batch("SELECT 1\nSELECT FROM WHERE").unwrap_err();
        assert_eq!(err.number, 102);
        assert_eq!(err.line, 2);
        assert!(
            err.text.contains("WHERE") || err.text.contains("FROM"),
            "{}",
            err.text
        );
    }

    #[test]
    fn delays_parse_as_waitfor_reads_them() {
        assert_eq!(
            parse_delay("00:00:01.500"),
            Some(Duration::from_millis(1500))
        );
        assert_eq!(parse_delay("00:61:00"), None);
    }
}
