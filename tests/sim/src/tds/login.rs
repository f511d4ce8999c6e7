//! LOGIN7: the fields the lab uses, read from the offset/length table.
//! https://learn.microsoft.com/openspecs/windows_protocols/ms-tds/773a62b6-ee89-4c02-9e5e-344882630aac

/// The parts of a LOGIN7 record the lab acts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Login {
    pub tds_version: u32,
    pub packet_size: u32,
    pub username: String,
    pub password: String,
    pub app_name: String,
    pub database: String,
    pub integrated_security: bool,
    pub has_feature_ext: bool,
}

const MIN_LEN: usize = 94;

pub fn parse(payload: &[u8]) -> Result<Login, &'static str> {
    if payload.len() < MIN_LEN {
        return Err("LOGIN7 record is shorter than its fixed part");
    }
    let u32_at = |at: usize| {
        u32::from_le_bytes([
            payload[at],
            payload[at + 1],
            payload[at + 2],
            payload[at + 3],
        ])
    };
    let field = |slot: usize| -> Result<Vec<u8>, &'static str> {
        let offset = u16::from_le_bytes([payload[slot], payload[slot + 1]]) as usize;
        let chars = u16::from_le_bytes([payload[slot + 2], payload[slot + 3]]) as usize;
        payload
            .get(offset..offset + chars * 2)
            .map(<[u8]>::to_vec)
            .ok_or("LOGIN7 field points outside the record")
    };
    let text = |bytes: Vec<u8>| {
        let units: Vec<u16> = bytes
            .chunks_exact(2)
            .map(|c| u16::from_le_bytes([c[0], c[1]]))
            .collect();
        String::from_utf16_lossy(&units)
    };
    // The password is obfuscated: each byte had its nibbles swapped, then XOR 0xA5.
    let password: Vec<u8> = field(44)?
        .iter()
        .map(|b| (b ^ 0xA5).rotate_left(4))
        .collect();
    Ok(Login {
        tds_version: u32_at(4),
        packet_size: u32_at(8),
        username: text(field(40)?),
        password: text(password),
        app_name: text(field(48)?),
        database: text(field(68)?),
        integrated_security: payload[25] & 0x80 != 0,
        has_feature_ext: payload[27] & 0x10 != 0,
    })
}

/// The TDS version the server answers with: the client's, capped at 7.4, in LOGINACK's
/// big-endian form. LOGIN7 carries it little-endian (7.4 is 0x04000074 on the wire).
pub fn negotiated_version(client: u32) -> u32 {
    let client = u32::from_be_bytes(client.to_le_bytes());
    let known = [0x7400_0004, 0x730B_0003, 0x730A_0003, 0x7209_0002];
    known
        .into_iter()
        .find(|v| *v <= client)
        .unwrap_or(0x7400_0004)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_version_is_capped_at_7_4() {
        assert_eq!(negotiated_version(0x0400_0074), 0x7400_0004);
        assert_eq!(negotiated_version(0x0300_0B73), 0x730B_0003);
        assert_eq!(negotiated_version(0x0000_0008), 0x7400_0004);
    }

    #[test]
    fn a_short_record_is_refused() {
        assert!(parse(&[0; 20]).is_err());
    }
}
