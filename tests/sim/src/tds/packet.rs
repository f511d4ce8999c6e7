//! TDS packet framing: an 8-byte header (type, status, big-endian length, SPID, packet
//! id, window) in front of each packet; a message is the packets up to the one marked
//! end-of-message.
//! https://learn.microsoft.com/openspecs/windows_protocols/ms-tds/7af53667-1b72-4703-8258-7984e838f746

use std::io;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

pub const SQL_BATCH: u8 = 0x01;
pub const RPC: u8 = 0x03;
pub const TABULAR_RESULT: u8 = 0x04;
pub const ATTENTION: u8 = 0x06;
pub const LOGIN7: u8 = 0x10;
pub const PRELOGIN: u8 = 0x12;

pub const STATUS_EOM: u8 = 0x01;
pub const HEADER_LEN: usize = 8;
pub const DEFAULT_PACKET_SIZE: usize = 4096;
/// The largest request message the lab accepts (far above any catalog query).
const MAX_MESSAGE: usize = 64 << 20;

/// One reassembled client message.
#[derive(Debug)]
pub struct ClientMessage {
    pub kind: u8,
    pub payload: Vec<u8>,
}

/// Reads one message, or None when the client closed the connection between messages.
pub async fn read_message<R: AsyncRead + Unpin>(
    reader: &mut R,
) -> io::Result<Option<ClientMessage>> {
    let mut payload = Vec::new();
    let mut first = true;
    loop {
        let mut header = [0u8; HEADER_LEN];
        match reader.read_exact(&mut header).await {
            Ok(_) => {}
            Err(e) if first && e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
            Err(e) => return Err(e),
        }
        first = false;
        let length = u16::from_be_bytes([header[2], header[3]]) as usize;
        if length < HEADER_LEN {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "TDS packet shorter than its header",
            ));
        }
        let start = payload.len();
        payload.resize(start + length - HEADER_LEN, 0);
        reader.read_exact(&mut payload[start..]).await?;
        if payload.len() > MAX_MESSAGE {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "TDS message too large",
            ));
        }
        if header[1] & STATUS_EOM != 0 {
            return Ok(Some(ClientMessage {
                kind: header[0],
                payload,
            }));
        }
    }
}

/// Frames a payload into packets of at most `packet_size` bytes.
pub fn frame(kind: u8, payload: &[u8], packet_size: usize, spid: u16) -> Vec<u8> {
    let chunk = packet_size.max(512) - HEADER_LEN;
    let mut out = Vec::with_capacity(payload.len() + HEADER_LEN * (payload.len() / chunk + 1));
    let mut chunks = payload.chunks(chunk).peekable();
    let mut id: u8 = 1;
    if payload.is_empty() {
        out.extend_from_slice(&header(kind, STATUS_EOM, HEADER_LEN, spid, id));
    }
    while let Some(part) = chunks.next() {
        let status = if chunks.peek().is_none() {
            STATUS_EOM
        } else {
            0
        };
        out.extend_from_slice(&header(kind, status, part.len() + HEADER_LEN, spid, id));
        out.extend_from_slice(part);
        id = id.wrapping_add(1);
    }
    out
}

pub fn header(kind: u8, status: u8, length: usize, spid: u16, id: u8) -> [u8; HEADER_LEN] {
    let l = (length as u16).to_be_bytes();
    let s = spid.to_be_bytes();
    [kind, status, l[0], l[1], s[0], s[1], id, 0]
}

pub async fn write_message<W: AsyncWrite + Unpin>(
    writer: &mut W,
    payload: &[u8],
    packet_size: usize,
    spid: u16,
) -> io::Result<()> {
    writer
        .write_all(&frame(TABULAR_RESULT, payload, packet_size, spid))
        .await?;
    writer.flush().await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn long_messages_are_split_and_reassembled() {
        let payload: Vec<u8> = (0..10_000u32).map(|i| i as u8).collect();
        let framed = frame(SQL_BATCH, &payload, 4096, 0);
        assert_eq!(framed.len(), payload.len() + 3 * HEADER_LEN);
        let message = read_message(&mut framed.as_slice()).await.unwrap().unwrap();
        assert_eq!(message.kind, SQL_BATCH);
        assert_eq!(message.payload, payload);
    }

    #[tokio::test]
    async fn a_packet_shorter_than_its_header_is_refused() {
        let bad = header(SQL_BATCH, STATUS_EOM, 4, 0, 1);
        assert!(read_message(&mut bad.as_slice()).await.is_err());
    }
}
