//! The token stream a server sends: LOGINACK, ENVCHANGE, INFO, ERROR, COLMETADATA, ROW,
//! DONE / DONEINPROC / DONEPROC, RETURNSTATUS. Each writer appends one token.
//! https://learn.microsoft.com/openspecs/windows_protocols/ms-tds/67b2f5a8-3d8f-4b27-a1e3-5a1d9e8b5c3c

use super::types::{SqlType, Value};

/// A TDS collation (LCID and flags, sort id), five bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Collation(pub [u8; 5]);

impl Collation {
    /// The collation bytes for a collation name. SQL collations carry a sort id; Windows
    /// collations carry sort id 0. Only Latin1 collations are modelled; others fall back
    /// to the LCID 0x0409 with the name's case sensitivity.
    pub fn from_name(name: &str) -> Collation {
        let lower = name.to_ascii_lowercase();
        let case_insensitive = !lower.contains("_cs");
        let flags: u8 = if case_insensitive { 0xD0 } else { 0xC0 };
        let sort_id = match lower.as_str() {
            "sql_latin1_general_cp1_ci_as" => 52,
            "sql_latin1_general_cp1_cs_as" => 51,
            "sql_latin1_general_cp1_ci_ai" => 54,
            _ => 0,
        };
        Collation([0x09, 0x04, flags, 0x00, sort_id])
    }
}

pub fn utf16(text: &str) -> Vec<u8> {
    text.encode_utf16().flat_map(u16::to_le_bytes).collect()
}

pub fn b_varchar(out: &mut Vec<u8>, text: &str) {
    let units: Vec<u16> = text.encode_utf16().take(255).collect();
    out.push(units.len() as u8);
    out.extend(units.iter().flat_map(|u| u.to_le_bytes()));
}

pub fn us_varchar(out: &mut Vec<u8>, text: &str) {
    let units: Vec<u16> = text.encode_utf16().take(65535).collect();
    out.extend_from_slice(&(units.len() as u16).to_le_bytes());
    out.extend(units.iter().flat_map(|u| u.to_le_bytes()));
}

/// A server message: what SQL Server sends in ERROR (class > 10) and INFO tokens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub number: i32,
    pub state: u8,
    pub class: u8,
    pub text: String,
    pub procedure: String,
    pub line: i32,
}

impl Message {
    pub fn new(number: i32, state: u8, class: u8, text: impl Into<String>) -> Message {
        Message {
            number,
            state,
            class,
            text: text.into(),
            procedure: String::new(),
            line: 1,
        }
    }

    pub fn is_error(&self) -> bool {
        self.class > 10
    }
}

/// DONE status bits.
pub const DONE_MORE: u16 = 0x0001;
pub const DONE_ERROR: u16 = 0x0002;
pub const DONE_COUNT: u16 = 0x0010;
pub const DONE_ATTN: u16 = 0x0020;

/// Which DONE token: a batch statement, a statement inside a procedure, or a procedure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DoneKind {
    Done = 0xFD,
    DoneProc = 0xFE,
    DoneInProc = 0xFF,
}

/// A growing token stream.
#[derive(Debug, Default)]
pub struct Tokens {
    pub bytes: Vec<u8>,
}

impl Tokens {
    pub fn login_ack(&mut self, tds_version: u32, server_version: [u8; 4]) {
        let mut body = vec![1];
        body.extend_from_slice(&tds_version.to_be_bytes());
        b_varchar(&mut body, "Microsoft SQL Server");
        body.extend_from_slice(&server_version);
        self.token_u16(0xAD, &body);
    }

    /// ENVCHANGE with B_VARCHAR new and old values (database, language, packet size).
    pub fn env_change_text(&mut self, kind: u8, new: &str, old: &str) {
        let mut body = vec![kind];
        b_varchar(&mut body, new);
        b_varchar(&mut body, old);
        self.token_u16(0xE3, &body);
    }

    /// ENVCHANGE type 7: the SQL collation, as five bytes.
    pub fn env_change_collation(&mut self, collation: Collation) {
        let mut body = vec![7, 5];
        body.extend_from_slice(&collation.0);
        body.push(0);
        self.token_u16(0xE3, &body);
    }

    pub fn message(&mut self, message: &Message, server_name: &str) {
        let mut body = message.number.to_le_bytes().to_vec();
        body.extend_from_slice(&[message.state, message.class]);
        us_varchar(&mut body, &message.text);
        b_varchar(&mut body, server_name);
        b_varchar(&mut body, &message.procedure);
        body.extend_from_slice(&message.line.to_le_bytes());
        let token = if message.is_error() { 0xAA } else { 0xAB };
        self.token_u16(token, &body);
    }

    /// FEATUREEXTACK with no features acknowledged.
    pub fn feature_ext_ack(&mut self) {
        self.bytes.extend_from_slice(&[0xAE, 0xFF]);
    }

    pub fn col_metadata(&mut self, columns: &[(String, SqlType)], collation: Collation) {
        self.bytes.push(0x81);
        self.bytes
            .extend_from_slice(&(columns.len() as u16).to_le_bytes());
        for (name, ty) in columns {
            self.bytes.extend_from_slice(&0u32.to_le_bytes()); // user type
            self.bytes.extend_from_slice(&0x0001u16.to_le_bytes()); // nullable
            ty.write_type_info(&mut self.bytes, collation);
            b_varchar(&mut self.bytes, name);
        }
    }

    pub fn row(&mut self, types: &[SqlType], values: &[Value], collation: Collation) {
        self.bytes.push(0xD1);
        for (ty, value) in types.iter().zip(values) {
            ty.write_value(&mut self.bytes, value, collation);
        }
    }

    pub fn done(&mut self, kind: DoneKind, status: u16, command: u16, rows: u64) {
        self.bytes.push(kind as u8);
        self.bytes.extend_from_slice(&status.to_le_bytes());
        self.bytes.extend_from_slice(&command.to_le_bytes());
        self.bytes.extend_from_slice(&rows.to_le_bytes());
    }

    pub fn return_status(&mut self, status: i32) {
        self.bytes.push(0x79);
        self.bytes.extend_from_slice(&status.to_le_bytes());
    }

    fn token_u16(&mut self, token: u8, body: &[u8]) {
        self.bytes.push(token);
        self.bytes
            .extend_from_slice(&(body.len() as u16).to_le_bytes());
        self.bytes.extend_from_slice(body);
    }
}
