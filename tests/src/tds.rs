//! A scripted TDS double, for testing the agent's inventory until the lab (`ferry-sim`)
//! exists. It speaks just enough TDS 7.4 for tiberius without encryption: PRELOGIN
//! (encryption not supported), LOGIN7 (the password is checked; a wrong one gets error
//! 18456 as SQL Server sends it), and SQL batches, answering the agent's three
//! inventory queries with the column types those queries ask for. Anything else is
//! answered with error 2812. It is a test double, not a lab: it does not run SQL.

use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// What the double says about itself.
#[derive(Debug, Clone)]
pub struct Script {
    pub username: String,
    pub password: String,
    pub server_name: String,
    pub product_version: String,
    pub major_version: i32,
    pub product_level: String,
    /// None is returned as NULL, as RTM builds do.
    pub product_update_level: Option<String>,
    pub edition: String,
    pub engine_edition: i32,
    pub collation: String,
    pub hadr_enabled: bool,
    pub host_platform: String,
    pub host_distribution: String,
    pub databases: Vec<ScriptedDatabase>,
}

#[derive(Debug, Clone)]
pub struct ScriptedDatabase {
    pub name: String,
    pub database_id: i32,
    pub state: String,
    pub recovery_model: String,
    pub compatibility_level: i32,
    pub size_bytes: i64,
    pub data_files: i32,
    pub log_files: i32,
}

/// Starts the double on a loopback port; returns the port.
pub async fn start(script: Script) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let script = Arc::new(script);
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let script = script.clone();
            tokio::spawn(async move {
                let _ = serve(stream, &script).await;
            });
        }
    });
    port
}

const PRELOGIN: u8 = 0x12;
const LOGIN7: u8 = 0x10;
const SQL_BATCH: u8 = 0x01;
const TABULAR_RESULT: u8 = 0x04;

async fn serve(mut stream: TcpStream, script: &Script) -> std::io::Result<()> {
    loop {
        let Some((kind, payload)) = read_message(&mut stream).await? else {
            return Ok(());
        };
        let reply = match kind {
            PRELOGIN => prelogin_reply(),
            LOGIN7 => login_reply(&payload, script),
            SQL_BATCH => batch_reply(&payload, script),
            _ => return Ok(()),
        };
        write_message(&mut stream, &reply).await?;
    }
}

/// Reads one message (packets until end-of-message).
async fn read_message(stream: &mut TcpStream) -> std::io::Result<Option<(u8, Vec<u8>)>> {
    let mut payload = Vec::new();
    loop {
        let mut header = [0u8; 8];
        if stream.read_exact(&mut header).await.is_err() {
            return Ok(None);
        }
        let length = u16::from_be_bytes([header[2], header[3]]) as usize;
        let mut body = vec![0u8; length.saturating_sub(8)];
        stream.read_exact(&mut body).await?;
        payload.extend_from_slice(&body);
        if header[1] & 0x01 == 0x01 {
            return Ok(Some((header[0], payload)));
        }
    }
}

async fn write_message(stream: &mut TcpStream, payload: &[u8]) -> std::io::Result<()> {
    let chunks: Vec<&[u8]> = payload.chunks(4088).collect();
    for (n, chunk) in chunks.iter().enumerate() {
        let last = n + 1 == chunks.len();
        let mut packet = vec![TABULAR_RESULT, u8::from(last)];
        packet.extend_from_slice(&((chunk.len() + 8) as u16).to_be_bytes());
        packet.extend_from_slice(&[0, 0, (n + 1) as u8, 0]);
        packet.extend_from_slice(chunk);
        stream.write_all(&packet).await?;
    }
    Ok(())
}

fn prelogin_reply() -> Vec<u8> {
    // VERSION (6 bytes at 11), ENCRYPTION (1 byte at 17: not supported), terminator.
    let mut out = vec![0x00, 0, 11, 0, 6, 0x01, 0, 17, 0, 1, 0xFF];
    out.extend_from_slice(&[16, 0, 0x10, 0x1D, 0, 0]);
    out.push(0x02);
    out
}

fn utf16(text: &str) -> Vec<u8> {
    text.encode_utf16().flat_map(u16::to_le_bytes).collect()
}

fn b_varchar(text: &str) -> Vec<u8> {
    let mut out = vec![text.encode_utf16().count() as u8];
    out.extend(utf16(text));
    out
}

/// A field of LOGIN7 given by its (offset, length in characters) slot.
fn login_field(payload: &[u8], slot: usize) -> Vec<u8> {
    let read = |at: usize| u16::from_le_bytes([payload[at], payload[at + 1]]) as usize;
    let (offset, chars) = (read(slot), read(slot + 2));
    payload
        .get(offset..offset + chars * 2)
        .unwrap_or_default()
        .to_vec()
}

fn login_reply(payload: &[u8], script: &Script) -> Vec<u8> {
    if payload.len() < 94 {
        return error(
            4002,
            1,
            16,
            "The incoming tabular data stream (TDS) protocol stream is incorrect.",
        );
    }
    let username = String::from_utf16_lossy(
        &login_field(payload, 40)
            .chunks(2)
            .map(|c| u16::from_le_bytes([c[0], c[1]]))
            .collect::<Vec<_>>(),
    );
    // LOGIN7 obfuscates the password: each byte had its nibbles swapped, then XOR 0xA5.
    let password: Vec<u8> = login_field(payload, 44)
        .iter()
        .map(|b| (b ^ 0xA5).rotate_left(4))
        .collect();
    if username != script.username || password != utf16(&script.password) {
        return error(
            18456,
            1,
            14,
            &format!("Login failed for user '{username}'."),
        );
    }
    let mut ack = vec![1];
    ack.extend_from_slice(&0x7400_0004u32.to_be_bytes());
    ack.extend(b_varchar("Microsoft SQL Server"));
    ack.extend_from_slice(&[16, 0, 0x10, 0x1D]);
    let mut out = vec![0xAD];
    out.extend_from_slice(&(ack.len() as u16).to_le_bytes());
    out.extend(ack);
    out.extend(done(0x0000, 0, 0));
    out
}

fn error(number: i32, state: u8, class: u8, message: &str) -> Vec<u8> {
    let mut body = number.to_le_bytes().to_vec();
    body.extend_from_slice(&[state, class]);
    body.extend_from_slice(&(message.encode_utf16().count() as u16).to_le_bytes());
    body.extend(utf16(message));
    body.extend(b_varchar("scripted-double"));
    body.extend(b_varchar(""));
    body.extend_from_slice(&1i32.to_le_bytes());
    let mut out = vec![0xAA];
    out.extend_from_slice(&(body.len() as u16).to_le_bytes());
    out.extend(body);
    out.extend(done(0x0002, 0, 0));
    out
}

fn done(status: u16, command: u16, rows: u64) -> Vec<u8> {
    let mut out = vec![0xFD];
    out.extend_from_slice(&status.to_le_bytes());
    out.extend_from_slice(&command.to_le_bytes());
    out.extend_from_slice(&rows.to_le_bytes());
    out
}

#[derive(Clone)]
enum Cell {
    Text(Option<String>),
    Int(i32),
    BigInt(i64),
}

fn result_set(columns: &[&str], rows: &[Vec<Cell>]) -> Vec<u8> {
    let mut out = vec![0x81];
    out.extend_from_slice(&(columns.len() as u16).to_le_bytes());
    for (n, name) in columns.iter().enumerate() {
        out.extend_from_slice(&0u32.to_le_bytes());
        out.extend_from_slice(&0x0001u16.to_le_bytes()); // nullable
        match rows.first().map(|r| &r[n]) {
            Some(Cell::Int(_)) => out.extend_from_slice(&[0x26, 4]),
            Some(Cell::BigInt(_)) => out.extend_from_slice(&[0x26, 8]),
            // nvarchar(256), Latin1_General_CI_AS
            Some(Cell::Text(_)) | None => {
                out.extend_from_slice(&[0xE7, 0x00, 0x02, 0x09, 0x04, 0xD0, 0x00, 0x34])
            }
        }
        out.extend(b_varchar(name));
    }
    for row in rows {
        out.push(0xD1);
        for cell in row {
            match cell {
                Cell::Text(Some(text)) => {
                    let bytes = utf16(text);
                    out.extend_from_slice(&(bytes.len() as u16).to_le_bytes());
                    out.extend(bytes);
                }
                Cell::Text(None) => out.extend_from_slice(&0xFFFFu16.to_le_bytes()),
                Cell::Int(v) => {
                    out.push(4);
                    out.extend_from_slice(&v.to_le_bytes());
                }
                Cell::BigInt(v) => {
                    out.push(8);
                    out.extend_from_slice(&v.to_le_bytes());
                }
            }
        }
    }
    out.extend(done(0x0010, 0xC1, rows.len() as u64));
    out
}

fn batch_reply(payload: &[u8], script: &Script) -> Vec<u8> {
    let headers = payload
        .get(..4)
        .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize)
        .unwrap_or(0);
    let text: Vec<u16> = payload
        .get(headers..)
        .unwrap_or_default()
        .chunks(2)
        .filter(|c| c.len() == 2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
        .collect();
    let sql = String::from_utf16_lossy(&text);
    let s = |v: &str| Cell::Text(Some(v.to_string()));
    if sql.contains("SERVERPROPERTY") {
        let columns = [
            "server_name",
            "product_version",
            "major_version",
            "product_level",
            "product_update_level",
            "edition",
            "engine_edition",
            "collation",
            "hadr_enabled",
        ];
        let row = vec![
            s(&script.server_name),
            s(&script.product_version),
            Cell::Int(script.major_version),
            s(&script.product_level),
            Cell::Text(script.product_update_level.clone()),
            s(&script.edition),
            Cell::Int(script.engine_edition),
            s(&script.collation),
            Cell::Int(i32::from(script.hadr_enabled)),
        ];
        result_set(&columns, &[row])
    } else if sql.contains("sys.dm_os_host_info") {
        result_set(
            &["host_platform", "host_distribution"],
            &[vec![s(&script.host_platform), s(&script.host_distribution)]],
        )
    } else if sql.contains("sys.databases") {
        let columns = [
            "name",
            "database_id",
            "state_desc",
            "recovery_model_desc",
            "compatibility_level",
            "size_bytes",
            "data_file_count",
            "log_file_count",
        ];
        let rows: Vec<Vec<Cell>> = script
            .databases
            .iter()
            .map(|d| {
                vec![
                    s(&d.name),
                    Cell::Int(d.database_id),
                    s(&d.state),
                    s(&d.recovery_model),
                    Cell::Int(d.compatibility_level),
                    Cell::BigInt(d.size_bytes),
                    Cell::Int(d.data_files),
                    Cell::Int(d.log_files),
                ]
            })
            .collect();
        result_set(&columns, &rows)
    } else {
        error(2812, 62, 16, "Could not find stored procedure.")
    }
}
