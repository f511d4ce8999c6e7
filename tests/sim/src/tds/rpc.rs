//! RPC requests: the procedure (by id or name) and its typed parameters.
//! https://learn.microsoft.com/openspecs/windows_protocols/ms-tds/619c43b6-9495-4a58-9e49-a4950db245b3

use super::types::Value;

/// ProcID 10 is sp_executesql.
pub const SP_EXECUTESQL: u16 = 10;

#[derive(Debug, Clone, PartialEq)]
pub enum Procedure {
    Id(u16),
    Name(String),
}

impl Procedure {
    pub fn is_executesql(&self) -> bool {
        match self {
            Procedure::Id(id) => *id == SP_EXECUTESQL,
            Procedure::Name(name) => {
                let name = name.to_ascii_lowercase();
                name == "sp_executesql" || name.ends_with(".sp_executesql")
            }
        }
    }

    pub fn display_name(&self) -> String {
        match self {
            Procedure::Id(id) => format!("procedure id {id}"),
            Procedure::Name(name) => name.clone(),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct RpcCall {
    pub procedure: Procedure,
    pub params: Vec<(String, Value)>,
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

type Parsed<T> = Result<T, String>;

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Parsed<&'a [u8]> {
        let out = self
            .bytes
            .get(self.at..self.at + n)
            .ok_or("RPC request is truncated")?;
        self.at += n;
        Ok(out)
    }
    fn u8(&mut self) -> Parsed<u8> {
        Ok(self.take(1)?[0])
    }
    fn u16(&mut self) -> Parsed<u16> {
        let b = self.take(2)?;
        Ok(u16::from_le_bytes([b[0], b[1]]))
    }
    fn u32(&mut self) -> Parsed<u32> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn utf16(&mut self, chars: usize) -> Parsed<String> {
        let b = self.take(chars * 2)?;
        Ok(decode_utf16(b))
    }
    /// PLP: u64 total (all ones = NULL), then u32-length chunks up to a zero chunk.
    fn plp(&mut self) -> Parsed<Option<Vec<u8>>> {
        let total = u64::from_le_bytes(self.take(8)?.try_into().map_err(|_| "bad PLP length")?);
        if total == u64::MAX {
            return Ok(None);
        }
        let mut out = Vec::new();
        loop {
            let chunk = self.u32()? as usize;
            if chunk == 0 {
                return Ok(Some(out));
            }
            out.extend_from_slice(self.take(chunk)?);
        }
    }
}

pub fn decode_utf16(bytes: &[u8]) -> String {
    let units: Vec<u16> = bytes
        .chunks_exact(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
        .collect();
    String::from_utf16_lossy(&units)
}

/// Skips ALL_HEADERS (present in SQLBatch and RPC requests since TDS 7.2).
pub fn skip_all_headers(payload: &[u8]) -> &[u8] {
    let total = payload
        .get(..4)
        .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize)
        .unwrap_or(0);
    if total >= 4 && total <= payload.len() {
        &payload[total..]
    } else {
        payload
    }
}

pub fn parse(payload: &[u8]) -> Result<RpcCall, String> {
    let mut r = Reader {
        bytes: skip_all_headers(payload),
        at: 0,
    };
    let switch = r.u16()?;
    let procedure = if switch == 0xFFFF {
        Procedure::Id(r.u16()?)
    } else {
        Procedure::Name(r.utf16(switch as usize)?)
    };
    let _options = r.u16()?;
    let mut params = Vec::new();
    while r.at < r.bytes.len() {
        if matches!(r.bytes[r.at], 0x80 | 0xFF | 0xFE) {
            break; // batch separator: the lab runs one procedure per request
        }
        let name_len = r.u8()? as usize;
        let name = r.utf16(name_len)?;
        let _status = r.u8()?;
        params.push((name, value(&mut r)?));
    }
    Ok(RpcCall { procedure, params })
}

fn fixed_len(ty: u8) -> Option<usize> {
    Some(match ty {
        0x1F => 0,
        0x30 | 0x32 => 1,
        0x34 => 2,
        0x38 | 0x3B | 0x3A | 0x7A => 4,
        0x7F | 0x3E | 0x3D | 0x3C => 8,
        _ => return None,
    })
}

/// A parameter's TYPE_INFO followed by its value.
fn value(r: &mut Reader) -> Parsed<Value> {
    let ty = r.u8()?;
    if let Some(len) = fixed_len(ty) {
        let bytes = r.take(len)?.to_vec();
        return Ok(scalar(ty, &bytes, 0));
    }
    match ty {
        // Byte-length types; DATEN has no length in TYPE_INFO.
        0x24 | 0x26 | 0x68 | 0x6D | 0x6E | 0x6F | 0x28 | 0x29 | 0x2A | 0x2B | 0x6A | 0x6C => {
            let mut scale = 0;
            if ty != 0x28 && ty != 0x29 && ty != 0x2A && ty != 0x2B {
                let _max = r.u8()?;
            }
            if ty == 0x6A || ty == 0x6C {
                let _precision = r.u8()?;
                scale = r.u8()?;
            }
            if matches!(ty, 0x29..=0x2B) {
                scale = r.u8()?;
            }
            let len = r.u8()? as usize;
            if len == 0 {
                return Ok(Value::Null);
            }
            let bytes = r.take(len)?.to_vec();
            Ok(scalar(ty, &bytes, scale))
        }
        0xA5 | 0xA7 | 0xAD | 0xAF | 0xE7 | 0xEF => {
            let max = r.u16()?;
            if matches!(ty, 0xA7 | 0xAF | 0xE7 | 0xEF) {
                r.take(5)?; // collation
            }
            let bytes = if max == 0xFFFF {
                r.plp()?
            } else {
                match r.u16()? {
                    0xFFFF => None,
                    len => Some(r.take(len as usize)?.to_vec()),
                }
            };
            Ok(match bytes {
                None => Value::Null,
                Some(b) if matches!(ty, 0xE7 | 0xEF) => Value::Text(decode_utf16(&b)),
                Some(b) if matches!(ty, 0xA7 | 0xAF) => {
                    Value::Text(b.iter().map(|&c| char::from(c)).collect())
                }
                Some(b) => Value::Bytes(b),
            })
        }
        other => Err(format!(
            "RPC parameter of TDS type 0x{other:02X} is not supported by the lab"
        )),
    }
}

fn le_int(bytes: &[u8]) -> i64 {
    let mut buf = [0u8; 8];
    buf[..bytes.len().min(8)].copy_from_slice(&bytes[..bytes.len().min(8)]);
    let v = i64::from_le_bytes(buf);
    let bits = bytes.len().min(8) * 8;
    if bits == 64 || bits == 0 || bytes.len() == 1 {
        v
    } else {
        (v << (64 - bits)) >> (64 - bits)
    }
}

fn scalar(ty: u8, bytes: &[u8], scale: u8) -> Value {
    match ty {
        0x1F => Value::Null,
        0x30 | 0x32 | 0x34 | 0x38 | 0x7F | 0x26 | 0x68 => Value::Int(le_int(bytes)),
        0x3B => Value::Float(f64::from(f32::from_le_bytes(
            bytes.try_into().unwrap_or([0; 4]),
        ))),
        0x3E => Value::Float(f64::from_le_bytes(bytes.try_into().unwrap_or([0; 8]))),
        0x6D if bytes.len() == 4 => Value::Float(f64::from(f32::from_le_bytes(
            bytes.try_into().unwrap_or([0; 4]),
        ))),
        0x6D => Value::Float(f64::from_le_bytes(bytes.try_into().unwrap_or([0; 8]))),
        0x6A | 0x6C => {
            let mut buf = [0u8; 16];
            let digits = &bytes[1..];
            buf[..digits.len().min(16)].copy_from_slice(&digits[..digits.len().min(16)]);
            let magnitude = u128::from_le_bytes(buf);
            let sign = if bytes[0] == 0 { "-" } else { "" };
            // A scale past decimal's 38 digits is not a decimal a client sends.
            let Some(divisor) = 10u128.checked_pow(u32::from(scale)) else {
                return Value::Bytes(bytes.to_vec());
            };
            let text = if scale == 0 {
                format!("{sign}{magnitude}")
            } else {
                format!(
                    "{sign}{}.{:0width$}",
                    magnitude / divisor,
                    magnitude % divisor,
                    width = scale as usize
                )
            };
            Value::Text(text)
        }
        0x24 => Value::Text(guid_text(bytes)),
        0x28 => Value::Text(date_text(bytes)),
        0x29..=0x2B => Value::Text(datetime2_text(ty, bytes, scale)),
        0x3D | 0x6F if bytes.len() == 8 => {
            let days = i32::from_le_bytes(bytes[..4].try_into().unwrap_or([0; 4]));
            let ticks = u32::from_le_bytes(bytes[4..].try_into().unwrap_or([0; 4]));
            let base =
                time::Date::from_calendar_date(1900, time::Month::January, 1).expect("valid date");
            // Out of datetime's range (a garbled value): kept as bytes, never a panic.
            let Some(date) = base.checked_add(time::Duration::days(i64::from(days))) else {
                return Value::Bytes(bytes.to_vec());
            };
            let millis = u64::from(ticks) * 10 / 3;
            Value::Text(format!(
                "{date} {:02}:{:02}:{:02}.{:03}",
                millis / 3_600_000,
                millis / 60_000 % 60,
                millis / 1000 % 60,
                millis % 1000
            ))
        }
        _ => Value::Bytes(bytes.to_vec()),
    }
}

fn guid_text(b: &[u8]) -> String {
    if b.len() != 16 {
        return String::new();
    }
    format!(
        "{:02X}{:02X}{:02X}{:02X}-{:02X}{:02X}-{:02X}{:02X}-{:02X}{:02X}-{:02X}{:02X}{:02X}{:02X}{:02X}{:02X}",
        b[3], b[2], b[1], b[0], b[5], b[4], b[7], b[6], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]
    )
}

/// Days since 0001-01-01; empty when out of the calendar's range.
fn date_text(b: &[u8]) -> String {
    let days = u32::from_le_bytes([
        b.first().copied().unwrap_or(0),
        b.get(1).copied().unwrap_or(0),
        b.get(2).copied().unwrap_or(0),
        0,
    ]);
    let base = time::Date::from_calendar_date(1, time::Month::January, 1).expect("valid date");
    base.checked_add(time::Duration::days(i64::from(days)))
        .map(|date| date.to_string())
        .unwrap_or_default()
}

/// TIMEN / DATETIME2N / DATETIMEOFFSETN: time in 10^-scale seconds, then date, then offset.
fn datetime2_text(ty: u8, b: &[u8], scale: u8) -> String {
    let time_len = match scale {
        0..=2 => 3,
        3..=4 => 4,
        _ => 5,
    };
    let mut buf = [0u8; 8];
    buf[..time_len.min(b.len())].copy_from_slice(&b[..time_len.min(b.len())]);
    let units = u64::from_le_bytes(buf);
    let nanos = units.saturating_mul(10u64.pow(9 - u32::from(scale.min(9))));
    let clock = format!(
        "{:02}:{:02}:{:02}.{:07}",
        nanos / 3_600_000_000_000,
        nanos / 60_000_000_000 % 60,
        nanos / 1_000_000_000 % 60,
        nanos % 1_000_000_000 / 100
    );
    if ty == 0x29 {
        return clock;
    }
    let date = date_text(b.get(time_len..).unwrap_or_default());
    if ty == 0x2B && b.len() >= time_len + 5 {
        let offset = i16::from_le_bytes([b[time_len + 3], b[time_len + 4]]);
        return format!(
            "{date} {clock} {}{:02}:{:02}",
            if offset < 0 { '-' } else { '+' },
            offset.abs() / 60,
            offset.abs() % 60
        );
    }
    format!("{date} {clock}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sp_executesql_by_id_with_an_nvarchar_and_an_int() {
        let mut p = vec![0xFF, 0xFF, 10, 0, 0, 0];
        p.extend_from_slice(&[0, 0]); // unnamed @stmt
        p.extend_from_slice(&[0xE7, 0x40, 0x1F, 9, 4, 0xD0, 0, 0x34]);
        let stmt = crate::tds::tokens::utf16("SELECT @P1");
        p.extend_from_slice(&(stmt.len() as u16).to_le_bytes());
        p.extend(stmt);
        p.push(3);
        p.extend(crate::tds::tokens::utf16("@P1"));
        p.push(0);
        p.extend_from_slice(&[0x26, 4, 4, 0xFE, 0xFF, 0xFF, 0xFF]);
        let call = parse(&p).unwrap();
        assert!(call.procedure.is_executesql());
        assert_eq!(call.params[0].1, Value::Text("SELECT @P1".into()));
        assert_eq!(call.params[1], ("@P1".to_string(), Value::Int(-2)));
    }
}

#[cfg(test)]
mod fuzzed {
    /// Inputs the `fuzz` binary found to panic the decoder: each is refused instead.
    #[test]
    fn fuzzed_requests_are_refused_not_panicked_on() {
        let inputs = [
            "16000000120000000200000000000000000001000000ffff0a0000000000e7401f0904d000346c00530045004c0045004300540020006e0061006d0065002000460052004f004d0020007300790073002e006400610074006100620061007300650073002000570048004500520045002000640061007400610062006100730065005f0069006400205f0069006e0066006f000000003d0020004000700031000000e7401f0904d000340e00400070003100200069006e007400034000700031000026040405000000",
            "160000001200000002000000000000000000010000000e00730070005f007300650020006e0061006d0065002000460052004f004d0020007300790073002e006400610074006100620061007300650073002000570048004500520045002000640061007400610062006100730065005f006900640020003d0020004000700031000000e7401f0904d000340e00400070003100200069006e0074000340007000310000260404050000000072007600650072005f0069006e0066006f000000",
        ];
        for hex in inputs {
            let bytes: Vec<u8> = (0..hex.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
                .collect();
            let _ = super::parse(&bytes);
        }
    }
}
