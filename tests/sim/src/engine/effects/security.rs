//! The database master key, certificates, and trusted issuers.
//! https://learn.microsoft.com/sql/t-sql/statements/create-master-key-transact-sql
//! https://learn.microsoft.com/sql/t-sql/statements/create-certificate-transact-sql
//! Certificates are real X.509 (rcgen); CERTENCODED returns their DER, and FROM BINARY
//! reads subject and validity from the bytes given.

use rusqlite::params;
use sqlparser::parser::Parser;
use sqlparser::tokenizer::Token;

use crate::tds::tokens::Message;
use crate::tds::types::Value;

use super::super::batch::{expect_token, expect_words, near, next_word, words};
use super::super::session::Output;
use super::super::{datetime_text, errors};
use super::{parse_name, skip_to_end, sqlite, Effect, Target};

#[derive(Debug, Clone, Default)]
pub struct NewCertificate {
    pub name: String,
    pub subject: Option<String>,
    pub start_date: Option<String>,
    pub expiry_date: Option<String>,
    pub from_binary: Option<Vec<u8>>,
    /// ENCRYPTION BY PASSWORD: the private key does not need the master key.
    pub by_password: bool,
}

pub fn parse_create_master_key(p: &mut Parser, line: i32) -> Result<Effect, Message> {
    expect_words(p, &["CREATE", "MASTER", "KEY"], line)?;
    expect_words(p, &["ENCRYPTION", "BY", "PASSWORD"], line)?;
    expect_token(p, &Token::Eq, line)?;
    p.parse_literal_string().map_err(|_| near(p, line))?;
    Ok(Effect::CreateMasterKey)
}

pub fn parse_create_certificate(p: &mut Parser, line: i32) -> Result<Effect, Message> {
    expect_words(p, &["CREATE", "CERTIFICATE"], line)?;
    let mut new = NewCertificate {
        name: p.parse_identifier().map_err(|_| near(p, line))?.value,
        ..Default::default()
    };
    if words(p, &["AUTHORIZATION"]) {
        p.parse_identifier().map_err(|_| near(p, line))?;
    }
    if words(p, &["FROM", "BINARY"]) {
        expect_token(p, &Token::Eq, line)?;
        new.from_binary = Some(match p.next_token().token {
            Token::HexStringLiteral(hex) => decode_hex(&hex).ok_or_else(|| near(p, line))?,
            _ => return Err(near(p, line)),
        });
    }
    if words(p, &["ENCRYPTION", "BY", "PASSWORD"]) {
        expect_token(p, &Token::Eq, line)?;
        p.parse_literal_string().map_err(|_| near(p, line))?;
        new.by_password = true;
    }
    if words(p, &["WITH"]) {
        loop {
            let option = next_word(p).ok_or_else(|| near(p, line))?;
            expect_token(p, &Token::Eq, line)?;
            let value = parse_name(p, line)?;
            match option.as_str() {
                "SUBJECT" => new.subject = Some(value),
                "START_DATE" => new.start_date = Some(value),
                "EXPIRY_DATE" => new.expiry_date = Some(value),
                _ => return Err(near(p, line)),
            }
            if !p.consume_token(&Token::Comma) {
                break;
            }
        }
    }
    skip_to_end(p);
    if new.from_binary.is_none() && new.subject.is_none() {
        let mut m = errors::syntax_near(&new.name);
        m.line = line;
        return Err(m);
    }
    Ok(Effect::CreateCertificate(new))
}

fn decode_hex(hex: &str) -> Option<Vec<u8>> {
    let hex = hex.trim_start_matches("0x").trim_start_matches("0X");
    (0..hex.len() / 2)
        .map(|i| u8::from_str_radix(hex.get(i * 2..i * 2 + 2)?, 16).ok())
        .collect()
}

fn master_key_exists(t: &Target) -> Result<bool, Message> {
    t.catalog
        .conn
        .query_row(
            "SELECT EXISTS (SELECT 1 FROM \"sys.symmetric_keys\" WHERE \"$database_id\" = ?1 AND symmetric_key_id = 101)",
            [t.database_id],
            |r| r.get(0),
        )
        .map_err(sqlite)
}

fn require_control(t: &Target) -> Result<(), Message> {
    if t.login.sysadmin {
        Ok(())
    } else {
        Err(errors::no_permission())
    }
}

pub fn create_master_key(t: &Target) -> Result<Vec<Output>, Message> {
    require_control(t)?;
    if master_key_exists(t)? {
        return Err(errors::master_key_exists());
    }
    let now = datetime_text(time::OffsetDateTime::now_utc());
    t.catalog
        .conn
        .execute(
            "INSERT INTO \"sys.symmetric_keys\" (\"$database_id\", name, principal_id, symmetric_key_id, key_length, key_algorithm, algorithm_desc, create_date, modify_date, key_guid)
             VALUES (?1, '##MS_DatabaseMasterKey##', 1, 101, 256, 'A3', 'AES_256', ?2, ?2, ?3)",
            params![t.database_id, now, super::super::new_guid()],
        )
        .map_err(sqlite)?;
    Ok(Vec::new())
}

pub fn drop_master_key(t: &Target) -> Result<Vec<Output>, Message> {
    require_control(t)?;
    if !master_key_exists(t)? {
        return Err(errors::cannot_drop(
            "master key",
            "##MS_DatabaseMasterKey##",
        ));
    }
    let protected: Option<String> = t
        .catalog
        .conn
        .query_row(
            "SELECT name FROM \"sys.certificates\" WHERE \"$database_id\" = ?1 AND pvt_key_encryption_type = 'MK' ORDER BY certificate_id LIMIT 1",
            [t.database_id],
            |r| r.get(0),
        )
        .ok();
    if let Some(certificate) = protected {
        return Err(errors::master_key_in_use(&certificate));
    }
    t.catalog
        .conn
        .execute("DELETE FROM \"sys.symmetric_keys\" WHERE \"$database_id\" = ?1 AND symmetric_key_id = 101", [t.database_id])
        .map_err(sqlite)?;
    Ok(Vec::new())
}

fn parse_date(text: &str) -> Result<time::OffsetDateTime, Message> {
    let value = super::super::functions::cast(Value::Text(text.to_string()), "datetime")?;
    let Value::Text(normal) = value else {
        return Err(errors::internal("date conversion"));
    };
    let format = time::macros::format_description!(
        "[year]-[month]-[day] [hour]:[minute]:[second].[subsecond]"
    );
    time::PrimitiveDateTime::parse(&normal, format)
        .map(|t| t.assume_utc())
        .map_err(|e| errors::internal(&e.to_string()))
}

pub fn create_certificate(t: &Target, new: &NewCertificate) -> Result<Vec<Output>, Message> {
    require_control(t)?;
    let exists: bool = t
        .catalog
        .conn
        .query_row(
            "SELECT EXISTS (SELECT 1 FROM \"sys.certificates\" WHERE \"$database_id\" = ?1 AND name = ?2)",
            params![t.database_id, new.name],
            |r| r.get(0),
        )
        .map_err(sqlite)?;
    if exists {
        return Err(errors::certificate_exists(&new.name));
    }
    let (der, subject, start, expiry, serial, has_key) = match &new.from_binary {
        Some(der) => {
            let (_, parsed) = x509_parser::parse_x509_certificate(der)
                .map_err(|_| errors::certificate_bad_binary())?;
            let validity = parsed.validity();
            let subject = parsed
                .subject()
                .iter_common_name()
                .next()
                .and_then(|cn| cn.as_str().ok())
                .map_or_else(|| parsed.subject().to_string(), str::to_string);
            (
                der.clone(),
                subject,
                validity.not_before.to_datetime(),
                validity.not_after.to_datetime(),
                parsed.raw_serial_as_string(),
                false,
            )
        }
        None => {
            if !new.by_password && !master_key_exists(t)? {
                return Err(errors::master_key_missing());
            }
            let subject = new.subject.clone().unwrap_or_default();
            let start = match &new.start_date {
                Some(d) => parse_date(d)?,
                None => time::OffsetDateTime::now_utc() - time::Duration::days(1),
            };
            let expiry = match &new.expiry_date {
                Some(d) => parse_date(d)?,
                None => start + time::Duration::days(365),
            };
            let mut params = rcgen::CertificateParams::new(Vec::<String>::new())
                .map_err(|e| errors::internal(&e.to_string()))?;
            params.distinguished_name = rcgen::DistinguishedName::new();
            params
                .distinguished_name
                .push(rcgen::DnType::CommonName, subject.clone());
            params.not_before = start;
            params.not_after = expiry;
            let key = rcgen::KeyPair::generate().map_err(|e| errors::internal(&e.to_string()))?;
            let cert = params
                .self_signed(&key)
                .map_err(|e| errors::internal(&e.to_string()))?;
            let der = cert.der().to_vec();
            let serial = x509_parser::parse_x509_certificate(&der)
                .map(|(_, c)| c.raw_serial_as_string())
                .unwrap_or_default();
            (der, subject, start, expiry, serial, true)
        }
    };
    let thumbprint = ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, &der)
        .as_ref()
        .to_vec();
    let id: i64 = t
        .catalog
        .conn
        .query_row("SELECT COALESCE(MAX(certificate_id), 255) + 1 FROM \"sys.certificates\" WHERE \"$database_id\" = ?1", [t.database_id], |r| r.get(0))
        .map_err(sqlite)?;
    let (kind, kind_desc) = match (has_key, new.by_password) {
        (false, _) => ("NA", "NO_PRIVATE_KEY"),
        (true, true) => ("PW", "ENCRYPTED_BY_PASSWORD"),
        (true, false) => ("MK", "ENCRYPTED_BY_MASTER_KEY"),
    };
    t.catalog
        .conn
        .execute(
            "INSERT INTO \"sys.certificates\" (\"$database_id\", name, certificate_id, principal_id, pvt_key_encryption_type, pvt_key_encryption_type_desc,
                is_active_for_begin_dialog, issuer_name, cert_serial_number, sid, string_sid, subject, expiry_date, start_date, thumbprint, key_length, \"$der\")
             VALUES (?1, ?2, ?3, 1, ?4, ?5, 1, ?6, ?7, ?8, ?9, ?6, ?10, ?11, ?12, 2048, ?13)",
            params![
                t.database_id,
                new.name,
                id,
                kind,
                kind_desc,
                subject,
                serial,
                [&[1u8, 13, 0, 0, 0, 0, 0, 9, 1][..], &thumbprint[..16]].concat(),
                format!("S-1-9-1-{}", u32::from_le_bytes([thumbprint[0], thumbprint[1], thumbprint[2], thumbprint[3]])),
                datetime_text(expiry),
                datetime_text(start),
                thumbprint,
                der
            ],
        )
        .map_err(sqlite)?;
    Ok(Vec::new())
}

pub fn drop_certificate(t: &Target, name: &str) -> Result<Vec<Output>, Message> {
    require_control(t)?;
    let removed = t
        .catalog
        .conn
        .execute(
            "DELETE FROM \"sys.certificates\" WHERE \"$database_id\" = ?1 AND name = ?2",
            params![t.database_id, name],
        )
        .map_err(sqlite)?;
    if removed == 0 {
        return Err(errors::cannot_drop("certificate", name));
    }
    Ok(Vec::new())
}

/// EXEC sp_certificate_add_issuer @certificate_id, @dns_name: present only on builds with
/// the servicing update (mi-link.md §1.1); the certificate must exist in master.
pub fn add_certificate_issuer(t: &Target, args: &[Value]) -> Result<Vec<Output>, Message> {
    if !t.info.build.has_certificate_issuer_procedure() {
        return Err(errors::no_procedure("sp_certificate_add_issuer"));
    }
    require_control(t)?;
    let (Some(Value::Int(id)), Some(Value::Text(dns))) = (args.first(), args.get(1)) else {
        return Err(Message::new(201, 4, 16, "Procedure or function 'sp_certificate_add_issuer' expects parameter '@certificate_id', which was not supplied."));
    };
    let known: bool = t
        .catalog
        .conn
        .query_row("SELECT EXISTS (SELECT 1 FROM \"sys.certificates\" WHERE \"$database_id\" = 1 AND certificate_id = ?1)", [id], |r| r.get(0))
        .map_err(sqlite)?;
    if !known {
        return Err(Message::new(15151, 1, 16, format!("Cannot find the certificate '{id}', because it does not exist or you do not have permission.")));
    }
    let already: bool = t
        .catalog
        .conn
        .query_row("SELECT EXISTS (SELECT 1 FROM \"$certificate_issuers\" WHERE certificate_id = ?1 AND dns_name = ?2)", params![id, dns], |r| r.get(0))
        .map_err(sqlite)?;
    if already {
        // The number is not in the documentation we have; the text is what Microsoft's
        // cmdlet matches on (and ignores) when it re-runs the set-up.
        return Err(Message::new(47134, 1, 16, format!("The certificate with id {id} has already been added as trusted issuer for '{dns}'.")));
    }
    t.catalog
        .conn
        .execute(
            "INSERT INTO \"$certificate_issuers\" VALUES (?1, ?2)",
            params![id, dns],
        )
        .map_err(sqlite)?;
    Ok(Vec::new())
}
