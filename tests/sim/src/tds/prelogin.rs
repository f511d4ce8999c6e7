//! PRELOGIN: the client's options, the server's answer, and the encryption they agree.
//! https://learn.microsoft.com/openspecs/windows_protocols/ms-tds/60f56408-0188-4cd5-8b90-25c6f2423868

/// The ENCRYPTION option values.
pub const ENCRYPT_OFF: u8 = 0x00;
pub const ENCRYPT_ON: u8 = 0x01;
pub const ENCRYPT_NOT_SUP: u8 = 0x02;
pub const ENCRYPT_REQ: u8 = 0x03;

/// What the connection does after PRELOGIN.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encryption {
    /// Nothing is encrypted.
    None,
    /// TLS protects LOGIN7 only; the rest of the connection is plain.
    LoginOnly,
    /// TLS protects the whole connection.
    Full,
}

/// The server's decision, or a refusal (the client cannot encrypt but the server forces it).
pub fn negotiate(client: u8, force_encryption: bool) -> Option<(u8, Encryption)> {
    match (client, force_encryption) {
        (ENCRYPT_NOT_SUP, true) => None,
        (ENCRYPT_NOT_SUP, false) => Some((ENCRYPT_NOT_SUP, Encryption::None)),
        (ENCRYPT_OFF, false) => Some((ENCRYPT_OFF, Encryption::LoginOnly)),
        _ => Some((ENCRYPT_ON, Encryption::Full)),
    }
}

/// The ENCRYPTION option of a client PRELOGIN (OFF when absent, as the spec says).
pub fn client_encryption(payload: &[u8]) -> Result<u8, &'static str> {
    let mut at = 0;
    loop {
        let token = *payload
            .get(at)
            .ok_or("PRELOGIN option list is not terminated")?;
        if token == 0xFF {
            return Ok(ENCRYPT_OFF);
        }
        let field = payload
            .get(at + 1..at + 5)
            .ok_or("PRELOGIN option header is truncated")?;
        let offset = u16::from_be_bytes([field[0], field[1]]) as usize;
        let length = u16::from_be_bytes([field[2], field[3]]) as usize;
        if token == 0x01 {
            if length < 1 {
                return Err("PRELOGIN ENCRYPTION option is empty");
            }
            return payload
                .get(offset)
                .copied()
                .ok_or("PRELOGIN ENCRYPTION option is out of range");
        }
        at += 5;
    }
}

/// The server's PRELOGIN answer: VERSION, ENCRYPTION, INSTOPT, THREADID, MARS.
pub fn response(version: [u8; 4], encryption: u8) -> Vec<u8> {
    let options: [(u8, Vec<u8>); 5] = [
        (
            0x00,
            vec![version[0], version[1], version[2], version[3], 0, 0],
        ),
        (0x01, vec![encryption]),
        (0x02, vec![0]),
        (0x03, vec![]),
        (0x04, vec![0]),
    ];
    let mut offset = options.len() * 5 + 1;
    let mut head = Vec::new();
    let mut data = Vec::new();
    for (token, value) in &options {
        head.push(*token);
        head.extend_from_slice(&(offset as u16).to_be_bytes());
        head.extend_from_slice(&(value.len() as u16).to_be_bytes());
        offset += value.len();
        data.extend_from_slice(value);
    }
    head.push(0xFF);
    head.extend(data);
    head
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_encryption_matrix_follows_ms_tds() {
        assert_eq!(
            negotiate(ENCRYPT_NOT_SUP, false),
            Some((ENCRYPT_NOT_SUP, Encryption::None))
        );
        assert_eq!(
            negotiate(ENCRYPT_OFF, false),
            Some((ENCRYPT_OFF, Encryption::LoginOnly))
        );
        assert_eq!(
            negotiate(ENCRYPT_ON, false),
            Some((ENCRYPT_ON, Encryption::Full))
        );
        assert_eq!(
            negotiate(ENCRYPT_REQ, false),
            Some((ENCRYPT_ON, Encryption::Full))
        );
        assert_eq!(
            negotiate(ENCRYPT_OFF, true),
            Some((ENCRYPT_ON, Encryption::Full))
        );
        assert_eq!(negotiate(ENCRYPT_NOT_SUP, true), None);
    }

    #[test]
    fn the_answer_round_trips_through_the_option_reader() {
        let answer = response([16, 0, 0x10, 0x1D], ENCRYPT_ON);
        assert_eq!(client_encryption(&answer), Ok(ENCRYPT_ON));
        assert!(client_encryption(&[0x01, 0, 9]).is_err());
    }
}
