//! CREATE / ALTER / DROP ENDPOINT ... FOR DATABASE_MIRRORING, shown in sys.endpoints,
//! sys.tcp_endpoints and sys.database_mirroring_endpoints. The endpoint really listens
//! on its TCP port while STARTED or STOPPED ("listening, but not processing requests");
//! DISABLED and DROP close the port.
//! https://learn.microsoft.com/sql/t-sql/statements/create-endpoint-transact-sql
//! https://learn.microsoft.com/sql/t-sql/statements/alter-endpoint-transact-sql
//!
//! Defaults as documented: STATE = STOPPED, AUTHENTICATION = WINDOWS NEGOTIATE,
//! ENCRYPTION = REQUIRED, ALGORITHM AES (SQL Server 2016 and later), LISTENER_IP = ALL.
//! Only one DATABASE_MIRRORING endpoint per instance (error 7862). TSQL and
//! SERVICE_BROKER endpoints are not modelled and say so.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use rusqlite::{params, OptionalExtension};
use sqlparser::parser::Parser;
use sqlparser::tokenizer::Token;

use crate::tds::tokens::Message;

use super::super::batch::{expect_token, expect_words, near, next_word, peek_word, words};
use super::super::errors;
use super::super::session::Output;
use super::{parse_name, require_any, skip_to_end, sqlite, Effect, Target};

/// The first id of a user-defined endpoint; lower ids are system endpoints.
const FIRST_USER_ENDPOINT: i64 = 65536;

/// What a CREATE or ALTER ENDPOINT statement says; ALTER leaves unnamed parts as they are.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EndpointSpec {
    pub name: String,
    pub owner: Option<String>,
    pub state: Option<State>,
    pub port: Option<u16>,
    /// None is LISTENER_IP = ALL.
    pub ip: Option<Option<IpAddr>>,
    pub authentication: Option<Authentication>,
    pub encryption: Option<Encryption>,
    pub role: Option<Role>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    Started,
    Stopped,
    Disabled,
}

impl State {
    fn code(self) -> (i64, &'static str) {
        match self {
            State::Started => (0, "STARTED"),
            State::Stopped => (1, "STOPPED"),
            State::Disabled => (2, "DISABLED"),
        }
    }
}

/// WINDOWS [NTLM | KERBEROS | NEGOTIATE], CERTIFICATE name, or both in either order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authentication {
    pub windows: Option<&'static str>,
    pub certificate: Option<String>,
    pub certificate_first: bool,
}

impl Authentication {
    /// sys.database_mirroring_endpoints.connection_auth and its description.
    fn code(&self) -> (i64, String) {
        let windows = |w: &str| match w {
            "NTLM" => 1,
            "KERBEROS" => 2,
            _ => 3,
        };
        match (self.windows, &self.certificate) {
            (Some(w), None) => (windows(w), w.to_string()),
            (None, _) => (4, "CERTIFICATE".into()),
            (Some(w), Some(_)) if self.certificate_first => {
                (7 + windows(w), format!("CERTIFICATE, {w}"))
            }
            (Some(w), Some(_)) => (4 + windows(w), format!("{w}, CERTIFICATE")),
        }
    }
}

/// ENCRYPTION = DISABLED | SUPPORTED | REQUIRED [ALGORITHM ...].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Encryption {
    pub mode: &'static str,
    /// The algorithms in order of preference.
    pub algorithms: [Option<&'static str>; 2],
}

impl Encryption {
    fn code(&self) -> (bool, i64, String) {
        if self.mode == "DISABLED" {
            return (false, 0, "NONE".into());
        }
        let names: Vec<&str> = self.algorithms.iter().flatten().copied().collect();
        let order = names.join(", ");
        let code = match order.as_str() {
            "RC4" => 1,
            "AES" => 2,
            "RC4, AES" => 5,
            _ => 6,
        };
        if self.mode == "SUPPORTED" {
            // NONE, RC4 = 3; NONE, AES = 4; NONE, RC4, AES = 7; NONE, AES, RC4 = 8.
            let code = match code {
                1 => 3,
                2 => 4,
                5 => 7,
                _ => 8,
            };
            (true, code, format!("NONE, {order}"))
        } else {
            (true, code, order)
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Partner,
    Witness,
    All,
}

impl Role {
    fn code(self) -> (i64, &'static str) {
        match self {
            Role::Partner => (1, "PARTNER"),
            Role::Witness => (2, "WITNESS"),
            Role::All => (3, "ALL"),
        }
    }
}

fn equals(p: &mut Parser, line: i32) -> Result<(), Message> {
    expect_token(p, &Token::Eq, line)
}

fn open(p: &mut Parser, line: i32) -> Result<(), Message> {
    expect_token(p, &Token::LParen, line)
}

/// CREATE ENDPOINT and ALTER ENDPOINT share one grammar.
pub fn parse(p: &mut Parser, line: i32) -> Result<Effect, Message> {
    let create = words(p, &["CREATE", "ENDPOINT"]);
    if !create {
        expect_words(p, &["ALTER", "ENDPOINT"], line)?;
    }
    let mut spec = EndpointSpec {
        name: parse_name(p, line)?,
        ..Default::default()
    };
    if words(p, &["AUTHORIZATION"]) {
        spec.owner = Some(parse_name(p, line)?);
    }
    if words(p, &["STATE"]) {
        equals(p, line)?;
        spec.state = Some(match next_word(p).as_deref() {
            Some("STARTED") => State::Started,
            Some("STOPPED") => State::Stopped,
            Some("DISABLED") => State::Disabled,
            _ => return Err(near(p, line)),
        });
    }
    if words(p, &["AS"]) {
        if !words(p, &["TCP"]) {
            return Err(errors::not_modelled("ENDPOINT AS HTTP"));
        }
        parse_tcp(p, line, &mut spec)?;
    }
    if words(p, &["FOR"]) {
        match next_word(p).as_deref() {
            Some("DATABASE_MIRRORING") => parse_mirroring(p, line, &mut spec)?,
            Some(other) => return Err(errors::not_modelled(&format!("ENDPOINT FOR {other}"))),
            None => return Err(near(p, line)),
        }
    } else if create {
        return Err(near(p, line));
    }
    skip_to_end(p);
    Ok(if create {
        Effect::CreateEndpoint(spec)
    } else {
        Effect::AlterEndpoint(spec)
    })
}

fn parse_tcp(p: &mut Parser, line: i32, spec: &mut EndpointSpec) -> Result<(), Message> {
    open(p, line)?;
    loop {
        match next_word(p).as_deref() {
            Some("LISTENER_PORT") => {
                equals(p, line)?;
                spec.port = Some(match p.next_token().token {
                    Token::Number(n, _) => n.parse().map_err(|_| near(p, line))?,
                    _ => return Err(near(p, line)),
                });
            }
            Some("LISTENER_IP") => {
                equals(p, line)?;
                spec.ip = Some(if words(p, &["ALL"]) {
                    None
                } else {
                    Some(parse_ip(p, line)?)
                });
            }
            _ => return Err(near(p, line)),
        }
        if !p.consume_token(&Token::Comma) {
            break;
        }
    }
    expect_token(p, &Token::RParen, line)
}

/// `(10.0.75.1)` or `('::1')`: the tokenizer splits a dotted address into numbers, so
/// the tokens up to the closing parenthesis are joined again.
fn parse_ip(p: &mut Parser, line: i32) -> Result<IpAddr, Message> {
    open(p, line)?;
    let mut text = String::new();
    loop {
        match p.next_token().token {
            Token::RParen => break,
            Token::EOF => return Err(near(p, line)),
            Token::SingleQuotedString(s) | Token::DoubleQuotedString(s) => text.push_str(&s),
            other => text.push_str(&other.to_string()),
        }
    }
    text.parse().map_err(|_| errors::syntax_near(&text))
}

fn parse_mirroring(p: &mut Parser, line: i32, spec: &mut EndpointSpec) -> Result<(), Message> {
    open(p, line)?;
    loop {
        match next_word(p).as_deref() {
            Some("AUTHENTICATION") => {
                equals(p, line)?;
                spec.authentication = Some(parse_authentication(p, line)?);
            }
            Some("ENCRYPTION") => {
                equals(p, line)?;
                spec.encryption = Some(parse_encryption(p, line)?);
            }
            Some("ROLE") => {
                equals(p, line)?;
                spec.role = Some(match next_word(p).as_deref() {
                    Some("PARTNER") => Role::Partner,
                    Some("WITNESS") => Role::Witness,
                    Some("ALL") => Role::All,
                    _ => return Err(near(p, line)),
                });
            }
            _ => return Err(near(p, line)),
        }
        if !p.consume_token(&Token::Comma) {
            break;
        }
    }
    expect_token(p, &Token::RParen, line)
}

fn parse_windows(p: &mut Parser) -> &'static str {
    match peek_word(p).as_deref() {
        Some("NTLM") => {
            p.next_token();
            "NTLM"
        }
        Some("KERBEROS") => {
            p.next_token();
            "KERBEROS"
        }
        Some("NEGOTIATE") => {
            p.next_token();
            "NEGOTIATE"
        }
        _ => "NEGOTIATE",
    }
}

fn parse_authentication(p: &mut Parser, line: i32) -> Result<Authentication, Message> {
    let mut auth = Authentication {
        windows: None,
        certificate: None,
        certificate_first: false,
    };
    for _ in 0..2 {
        if auth.windows.is_none() && words(p, &["WINDOWS"]) {
            auth.windows = Some(parse_windows(p));
        } else if auth.certificate.is_none() && words(p, &["CERTIFICATE"]) {
            auth.certificate_first = auth.windows.is_none();
            auth.certificate = Some(parse_name(p, line)?);
        }
    }
    if auth.windows.is_none() && auth.certificate.is_none() {
        return Err(near(p, line));
    }
    Ok(auth)
}

fn parse_encryption(p: &mut Parser, line: i32) -> Result<Encryption, Message> {
    let mode = match next_word(p).as_deref() {
        Some("DISABLED") => "DISABLED",
        Some("SUPPORTED") => "SUPPORTED",
        Some("REQUIRED") => "REQUIRED",
        _ => return Err(near(p, line)),
    };
    let mut algorithms = [Some("AES"), None];
    if mode != "DISABLED" && words(p, &["ALGORITHM"]) {
        algorithms = [None, None];
        for slot in &mut algorithms {
            *slot = match peek_word(p).as_deref() {
                Some("AES") => Some("AES"),
                Some("RC4") => Some("RC4"),
                _ => break,
            };
            p.next_token();
        }
        if algorithms[0].is_none() || algorithms[0] == algorithms[1] {
            return Err(near(p, line));
        }
    }
    Ok(Encryption { mode, algorithms })
}

pub fn parse_drop(p: &mut Parser, line: i32) -> Result<Effect, Message> {
    expect_words(p, &["DROP", "ENDPOINT"], line)?;
    let name = parse_name(p, line)?;
    skip_to_end(p);
    Ok(Effect::DropEndpoint(name))
}

fn require_permission(t: &Target) -> Result<(), Message> {
    require_any(t, &["CREATE ENDPOINT"])
}

/// The certificate in master an endpoint authenticates with (error 15151 when absent).
fn certificate_id(t: &Target, name: &str) -> Result<i64, Message> {
    t.catalog
        .conn
        .query_row(
            "SELECT certificate_id FROM \"sys.certificates\" WHERE \"$database_id\" = 1 AND name = ?1",
            [name],
            |r| r.get(0),
        )
        .optional()
        .map_err(sqlite)?
        .ok_or_else(|| Message::new(15151, 1, 16, format!("Cannot find the certificate '{name}', because it does not exist or you do not have permission.")))
}

fn owner_id(t: &Target, owner: Option<&str>) -> Result<i64, Message> {
    let Some(owner) = owner else {
        return Ok(t.login.principal_id);
    };
    t.catalog
        .conn
        .query_row(
            "SELECT principal_id FROM \"sys.server_principals\" WHERE name = ?1 AND type IN ('S', 'U', 'G')",
            [owner],
            |r| r.get(0),
        )
        .optional()
        .map_err(sqlite)?
        .ok_or_else(|| Message::new(15151, 1, 16, format!("Cannot find the login '{owner}', because it does not exist or you do not have permission.")))
}

/// The endpoint's row as it stands, for ALTER and DROP.
struct Existing {
    id: i64,
    spec: EndpointSpec,
}

fn existing(t: &Target, name: &str) -> Result<Option<Existing>, Message> {
    let row = t
        .catalog
        .conn
        .query_row(
            "SELECT e.endpoint_id, e.state, t.port, t.ip_address, m.role, m.connection_auth, c.name, m.is_encryption_enabled,
                    m.encryption_algorithm_desc
             FROM \"sys.database_mirroring_endpoints\" m JOIN \"sys.endpoints\" e ON e.endpoint_id = m.endpoint_id
             JOIN \"sys.tcp_endpoints\" t ON t.endpoint_id = m.endpoint_id
             LEFT JOIN \"sys.certificates\" c ON c.\"$database_id\" = 1 AND c.certificate_id = m.certificate_id
             WHERE e.name = ?1",
            [name],
            |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, i64>(2)?,
                    r.get::<_, Option<String>>(3)?,
                    r.get::<_, i64>(4)?,
                    r.get::<_, i64>(5)?,
                    r.get::<_, Option<String>>(6)?,
                    r.get::<_, bool>(7)?,
                    r.get::<_, String>(8)?,
                ))
            },
        )
        .optional()
        .map_err(sqlite)?;
    let Some((id, state, port, ip, role, auth, certificate, encrypted, algorithms)) = row else {
        return Ok(None);
    };
    let windows = match auth {
        1 | 5 | 8 => Some("NTLM"),
        2 | 6 | 9 => Some("KERBEROS"),
        4 => None,
        _ => Some("NEGOTIATE"),
    };
    let mut named =
        algorithms
            .split(", ")
            .filter(|a| *a != "NONE")
            .map(|a| if a == "RC4" { "RC4" } else { "AES" });
    let spec = EndpointSpec {
        name: name.to_string(),
        owner: None,
        state: Some(match state {
            0 => State::Started,
            1 => State::Stopped,
            _ => State::Disabled,
        }),
        port: u16::try_from(port).ok(),
        ip: Some(ip.and_then(|i| i.parse().ok())),
        authentication: Some(Authentication {
            windows,
            certificate,
            certificate_first: auth >= 8,
        }),
        encryption: Some(Encryption {
            mode: if !encrypted {
                "DISABLED"
            } else if algorithms.starts_with("NONE") {
                "SUPPORTED"
            } else {
                "REQUIRED"
            },
            algorithms: [named.next(), named.next()],
        }),
        role: Some(match role {
            1 => Role::Partner,
            2 => Role::Witness,
            _ => Role::All,
        }),
    };
    Ok(Some(Existing { id, spec }))
}

pub fn create(t: &Target, spec: &EndpointSpec) -> Result<Vec<Output>, Message> {
    require_permission(t)?;
    let taken: bool = t
        .catalog
        .conn
        .query_row(
            "SELECT EXISTS (SELECT 1 FROM \"sys.database_mirroring_endpoints\")",
            [],
            |r| r.get(0),
        )
        .map_err(sqlite)?;
    if taken {
        return Err(Message::new(7862, 1, 16, "An endpoint of the requested type already exists.  Only one endpoint of this type is supported.  Use ALTER ENDPOINT or DROP the existing endpoint and execute the CREATE ENDPOINT command."));
    }
    let Some(port) = spec.port else {
        return Err(errors::syntax_near("FOR"));
    };
    let id: i64 = t
        .catalog
        .conn
        .query_row(
            "SELECT MAX(COALESCE(MAX(endpoint_id) + 1, 0), ?1) FROM \"sys.endpoints\" WHERE endpoint_id >= ?1",
            [FIRST_USER_ENDPOINT],
            |r| r.get(0),
        )
        .map_err(sqlite)?;
    let full = EndpointSpec {
        name: spec.name.clone(),
        owner: spec.owner.clone(),
        state: Some(spec.state.unwrap_or(State::Stopped)),
        port: Some(port),
        ip: Some(spec.ip.flatten()),
        authentication: Some(spec.authentication.clone().unwrap_or(Authentication {
            windows: Some("NEGOTIATE"),
            certificate: None,
            certificate_first: false,
        })),
        encryption: Some(spec.encryption.unwrap_or(Encryption {
            mode: "REQUIRED",
            algorithms: [Some("AES"), None],
        })),
        role: Some(spec.role.unwrap_or(Role::All)),
    };
    let owner = owner_id(t, spec.owner.as_deref())?;
    write(t, id, owner, &full)?;
    Ok(Vec::new())
}

pub fn alter(t: &Target, change: &EndpointSpec) -> Result<Vec<Output>, Message> {
    require_permission(t)?;
    let Some(Existing { id, spec: current }) = existing(t, &change.name)? else {
        return Err(Message::new(15151, 1, 16, format!("Cannot alter the endpoint '{}', because it does not exist or you do not have permission.", change.name)));
    };
    let merged = EndpointSpec {
        name: current.name.clone(),
        owner: None,
        state: change.state.or(current.state),
        port: change.port.or(current.port),
        ip: change.ip.or(current.ip),
        authentication: change.authentication.clone().or(current.authentication),
        encryption: change.encryption.or(current.encryption),
        role: change.role.or(current.role),
    };
    let owner: i64 = match &change.owner {
        Some(o) => owner_id(t, Some(o))?,
        None => t
            .catalog
            .conn
            .query_row(
                "SELECT principal_id FROM \"sys.endpoints\" WHERE endpoint_id = ?1",
                [id],
                |r| r.get(0),
            )
            .map_err(sqlite)?,
    };
    write(t, id, owner, &merged)?;
    Ok(Vec::new())
}

pub fn drop(t: &Target, name: &str) -> Result<Vec<Output>, Message> {
    require_permission(t)?;
    let Some(Existing { id, .. }) = existing(t, name)? else {
        return Err(errors::cannot_drop("endpoint", name));
    };
    t.catalog.close_listener(id);
    for table in [
        "sys.endpoints",
        "sys.tcp_endpoints",
        "sys.database_mirroring_endpoints",
    ] {
        t.catalog
            .conn
            .execute(
                &format!("DELETE FROM \"{table}\" WHERE endpoint_id = ?1"),
                [id],
            )
            .map_err(sqlite)?;
    }
    Ok(Vec::new())
}

/// Opens or closes the port as the state says, then writes the three views' rows.
fn write(t: &Target, id: i64, owner: i64, spec: &EndpointSpec) -> Result<(), Message> {
    let (Some(state), Some(port), Some(ip), Some(auth), Some(encryption), Some(role)) = (
        spec.state,
        spec.port,
        spec.ip,
        &spec.authentication,
        spec.encryption,
        spec.role,
    ) else {
        return Err(errors::internal("an endpoint without all its settings"));
    };
    let certificate = match &auth.certificate {
        Some(name) => Some(certificate_id(t, name)?),
        None => None,
    };
    let address = SocketAddr::new(ip.unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST)), port);
    if state == State::Disabled {
        t.catalog.close_listener(id);
    } else if !t.catalog.listening(id, address) {
        // Bound before the old port closes, so a failed ALTER leaves things as they were.
        let listener = std::net::TcpListener::bind(address).map_err(|_| {
            Message::new(9692, 1, 16, format!("The Database Mirroring protocol transport cannot listen on port {port} because it is in use by another process."))
        })?;
        t.catalog.keep_listener(id, listener);
    }
    let (state_code, state_desc) = state.code();
    let (auth_code, auth_desc) = auth.code();
    let (encrypted, algorithm, algorithm_desc) = encryption.code();
    let (role_code, role_desc) = role.code();
    let conn = &t.catalog.conn;
    let common = params![id, spec.name, owner, state_code, state_desc];
    conn.execute(
        "INSERT OR REPLACE INTO \"sys.endpoints\" (endpoint_id, name, principal_id, state, state_desc, protocol, protocol_desc, type, type_desc, is_admin_endpoint)
         VALUES (?1, ?2, ?3, ?4, ?5, 2, 'TCP', 4, 'DATABASE_MIRRORING', 0)",
        common,
    )
    .map_err(sqlite)?;
    conn.execute(
        "INSERT OR REPLACE INTO \"sys.tcp_endpoints\" (endpoint_id, name, principal_id, state, state_desc, protocol, protocol_desc, type, type_desc,
            is_admin_endpoint, port, is_dynamic_port, ip_address)
         VALUES (?1, ?2, ?3, ?4, ?5, 2, 'TCP', 4, 'DATABASE_MIRRORING', 0, ?6, 0, ?7)",
        params![id, spec.name, owner, state_code, state_desc, port, ip.map(|i| i.to_string())],
    )
    .map_err(sqlite)?;
    conn.execute(
        "INSERT OR REPLACE INTO \"sys.database_mirroring_endpoints\" (endpoint_id, name, principal_id, state, state_desc, protocol, protocol_desc,
            type, type_desc, is_admin_endpoint, role, role_desc, is_encryption_enabled, connection_auth, connection_auth_desc, certificate_id,
            encryption_algorithm, encryption_algorithm_desc)
         VALUES (?1, ?2, ?3, ?4, ?5, 2, 'TCP', 4, 'DATABASE_MIRRORING', 0, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
        params![
            id,
            spec.name,
            owner,
            state_code,
            state_desc,
            role_code,
            role_desc,
            encrypted,
            auth_code,
            auth_desc,
            certificate,
            algorithm,
            algorithm_desc
        ],
    )
    .map_err(sqlite)?;
    Ok(())
}
