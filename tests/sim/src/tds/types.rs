//! SQL Server data types as the lab declares them (`nvarchar(128)`, `bigint`, ...) and
//! their TDS 7.4 encodings: the TYPE_INFO in COLMETADATA and the value in a ROW.
//! Values come from the catalog engine as SQLite values; each is converted to the
//! declared type here, the way SQL Server would return it.
//! https://learn.microsoft.com/openspecs/windows_protocols/ms-tds/cbe9c510-eae6-4b1f-9893-a098944d430a

use super::tokens::{utf16, Collation};

/// A value as the engine holds it.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Int(i64),
    Float(f64),
    Text(String),
    Bytes(Vec<u8>),
}

/// A declared column type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SqlType {
    Bit,
    TinyInt,
    SmallInt,
    Int,
    BigInt,
    Decimal {
        precision: u8,
        scale: u8,
    },
    Float,
    /// nvarchar(n) / nchar(n), length in characters; None is nvarchar(max).
    NVarChar(Option<u16>),
    /// varchar(n) / char(n), length in bytes; None is varchar(max).
    VarChar(Option<u16>),
    VarBinary(Option<u16>),
    DateTime,
    DateTime2,
    DateTimeOffset,
    Date,
    UniqueIdentifier,
    SqlVariant,
}

impl SqlType {
    /// Parses a declared type as written in T-SQL (`nvarchar(128)`, `sysname`,
    /// `decimal(18, 2)`, `varbinary(max)`). Unknown names give None.
    pub fn parse(declared: &str) -> Option<SqlType> {
        let lower = declared.trim().to_ascii_lowercase();
        let (name, args) = match lower.split_once('(') {
            Some((name, rest)) => (name.trim(), rest.trim_end_matches(')').trim()),
            None => (lower.as_str(), ""),
        };
        let length = |default: u16| -> Option<u16> {
            match args {
                "" => Some(default),
                "max" => None,
                // The catalog spells (max) as a length SQLite accepts.
                n => match n.parse::<u32>() {
                    Ok(n) if n > 8000 => None,
                    Ok(n) => Some(n as u16),
                    Err(_) => Some(default),
                },
            }
        };
        Some(match name {
            "bit" => SqlType::Bit,
            "tinyint" => SqlType::TinyInt,
            "smallint" => SqlType::SmallInt,
            "int" | "integer" => SqlType::Int,
            "bigint" => SqlType::BigInt,
            "float" | "real" => SqlType::Float,
            "decimal" | "numeric" | "money" => {
                let mut parts = args.split(',').map(|p| p.trim().parse::<u8>().ok());
                let precision = parts.next().flatten().unwrap_or(18).clamp(1, 38);
                let scale = parts.next().flatten().unwrap_or(0).min(precision);
                SqlType::Decimal { precision, scale }
            }
            "nvarchar" | "nchar" | "ntext" => SqlType::NVarChar(length(1)),
            "sysname" => SqlType::NVarChar(Some(128)),
            "varchar" | "char" | "text" => SqlType::VarChar(length(1)),
            "varbinary" | "binary" | "image" => SqlType::VarBinary(length(1)),
            "datetime" | "smalldatetime" => SqlType::DateTime,
            "datetime2" => SqlType::DateTime2,
            "datetimeoffset" => SqlType::DateTimeOffset,
            "date" => SqlType::Date,
            "uniqueidentifier" => SqlType::UniqueIdentifier,
            "sql_variant" => SqlType::SqlVariant,
            _ => return None,
        })
    }

    /// The type SQL Server would give a value of unknown declaration.
    pub fn of_value(value: &Value) -> SqlType {
        match value {
            Value::Null => SqlType::Int,
            Value::Int(v) if i32::try_from(*v).is_ok() => SqlType::Int,
            Value::Int(_) => SqlType::BigInt,
            Value::Float(_) => SqlType::Float,
            Value::Text(t) if t.chars().count() > 4000 => SqlType::NVarChar(None),
            Value::Text(_) => SqlType::NVarChar(Some(4000)),
            Value::Bytes(_) => SqlType::VarBinary(None),
        }
    }

    /// TYPE_INFO for COLMETADATA.
    pub fn write_type_info(self, out: &mut Vec<u8>, collation: Collation) {
        match self {
            SqlType::Bit => out.extend_from_slice(&[0x68, 1]),
            SqlType::TinyInt => out.extend_from_slice(&[0x26, 1]),
            SqlType::SmallInt => out.extend_from_slice(&[0x26, 2]),
            SqlType::Int => out.extend_from_slice(&[0x26, 4]),
            SqlType::BigInt => out.extend_from_slice(&[0x26, 8]),
            SqlType::Float => out.extend_from_slice(&[0x6D, 8]),
            SqlType::Decimal { precision, scale } => {
                out.extend_from_slice(&[0x6A, decimal_len(precision), precision, scale])
            }
            SqlType::NVarChar(n) => {
                out.push(0xE7);
                let bytes = n.map_or(0xFFFF, |n| n.saturating_mul(2).min(8000));
                out.extend_from_slice(&bytes.to_le_bytes());
                out.extend_from_slice(&collation.0);
            }
            SqlType::VarChar(n) => {
                out.push(0xA7);
                out.extend_from_slice(&n.map_or(0xFFFF, |n| n.min(8000)).to_le_bytes());
                out.extend_from_slice(&collation.0);
            }
            SqlType::VarBinary(n) => {
                out.push(0xA5);
                out.extend_from_slice(&n.map_or(0xFFFF, |n| n.min(8000)).to_le_bytes());
            }
            SqlType::DateTime => out.extend_from_slice(&[0x6F, 8]),
            SqlType::DateTime2 => out.extend_from_slice(&[0x2A, 7]),
            SqlType::DateTimeOffset => out.extend_from_slice(&[0x2B, 7]),
            SqlType::Date => out.push(0x28),
            SqlType::UniqueIdentifier => out.extend_from_slice(&[0x24, 16]),
            SqlType::SqlVariant => {
                out.push(0x62);
                out.extend_from_slice(&8009u32.to_le_bytes());
            }
        }
    }

    /// One value of this type in a ROW. A value that cannot be converted is sent as NULL
    /// (the engine has already applied T-SQL's conversions where the query asked).
    pub fn write_value(self, out: &mut Vec<u8>, value: &Value, collation: Collation) {
        if matches!(value, Value::Null) {
            return self.write_null(out);
        }
        match self {
            SqlType::Bit => fixed(out, as_int(value).map(|v| vec![u8::from(v != 0)])),
            SqlType::TinyInt => fixed(out, as_int(value).map(|v| vec![v as u8])),
            SqlType::SmallInt => fixed(
                out,
                as_int(value).map(|v| (v as i16).to_le_bytes().to_vec()),
            ),
            SqlType::Int => fixed(
                out,
                as_int(value).map(|v| (v as i32).to_le_bytes().to_vec()),
            ),
            SqlType::BigInt => fixed(out, as_int(value).map(|v| v.to_le_bytes().to_vec())),
            SqlType::Float => fixed(out, as_float(value).map(|v| v.to_le_bytes().to_vec())),
            SqlType::Decimal { precision, scale } => {
                fixed(out, as_decimal(value, precision, scale))
            }
            SqlType::NVarChar(n) => text(out, utf16(&as_text(value)), n.is_none()),
            SqlType::VarChar(n) => text(out, latin1(&as_text(value)), n.is_none()),
            SqlType::VarBinary(n) => {
                let bytes = match value {
                    Value::Bytes(b) => b.clone(),
                    other => as_text(other).into_bytes(),
                };
                text(out, bytes, n.is_none())
            }
            SqlType::DateTime => fixed(out, as_datetime(value).map(datetime_bytes)),
            SqlType::DateTime2 => fixed(out, as_datetime(value).map(|t| datetime2_bytes(t, false))),
            SqlType::DateTimeOffset => {
                fixed(out, as_datetime(value).map(|t| datetime2_bytes(t, true)))
            }
            SqlType::Date => fixed(
                out,
                as_datetime(value).map(|t| date_bytes(t.date()).to_vec()),
            ),
            SqlType::UniqueIdentifier => fixed(out, as_guid(value)),
            SqlType::SqlVariant => variant(out, value, collation),
        }
    }

    fn write_null(self, out: &mut Vec<u8>) {
        match self {
            SqlType::NVarChar(None) | SqlType::VarChar(None) | SqlType::VarBinary(None) => {
                out.extend_from_slice(&u64::MAX.to_le_bytes())
            }
            SqlType::NVarChar(_) | SqlType::VarChar(_) | SqlType::VarBinary(_) => {
                out.extend_from_slice(&0xFFFFu16.to_le_bytes())
            }
            SqlType::SqlVariant => out.extend_from_slice(&0u32.to_le_bytes()),
            _ => out.push(0),
        }
    }
}

/// Bytes a DECIMALN value takes for a precision (sign byte included).
fn decimal_len(precision: u8) -> u8 {
    match precision {
        1..=9 => 5,
        10..=19 => 9,
        20..=28 => 13,
        _ => 17,
    }
}

fn fixed(out: &mut Vec<u8>, bytes: Option<Vec<u8>>) {
    match bytes {
        Some(bytes) => {
            out.push(bytes.len() as u8);
            out.extend(bytes);
        }
        None => out.push(0),
    }
}

/// A variable-length value: u16 length, or PLP chunks for the (max) types.
fn text(out: &mut Vec<u8>, bytes: Vec<u8>, plp: bool) {
    if plp {
        out.extend_from_slice(&(bytes.len() as u64).to_le_bytes());
        if !bytes.is_empty() {
            out.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
            out.extend(bytes);
        }
        out.extend_from_slice(&0u32.to_le_bytes());
    } else {
        let bytes = &bytes[..bytes.len().min(8000)];
        out.extend_from_slice(&(bytes.len() as u16).to_le_bytes());
        out.extend_from_slice(bytes);
    }
}

fn variant(out: &mut Vec<u8>, value: &Value, collation: Collation) {
    let mut body = Vec::new();
    match value {
        Value::Int(v) if i32::try_from(*v).is_ok() => {
            body.extend_from_slice(&[0x38, 0]);
            body.extend_from_slice(&(*v as i32).to_le_bytes());
        }
        Value::Int(v) => {
            body.extend_from_slice(&[0x7F, 0]);
            body.extend_from_slice(&v.to_le_bytes());
        }
        Value::Float(v) => {
            body.extend_from_slice(&[0x3E, 0]);
            body.extend_from_slice(&v.to_le_bytes());
        }
        Value::Bytes(b) => {
            body.extend_from_slice(&[0xA5, 2]);
            body.extend_from_slice(&8000u16.to_le_bytes());
            body.extend_from_slice(b);
        }
        other => {
            let chars = utf16(&as_text(other));
            body.extend_from_slice(&[0xE7, 7]);
            body.extend_from_slice(&collation.0);
            body.extend_from_slice(&8000u16.to_le_bytes());
            body.extend(chars);
        }
    }
    out.extend_from_slice(&(body.len() as u32).to_le_bytes());
    out.extend(body);
}

pub fn as_int(value: &Value) -> Option<i64> {
    match value {
        Value::Int(v) => Some(*v),
        Value::Float(v) => Some(*v as i64),
        Value::Text(t) => t.trim().parse().ok(),
        _ => None,
    }
}

fn as_float(value: &Value) -> Option<f64> {
    match value {
        Value::Int(v) => Some(*v as f64),
        Value::Float(v) => Some(*v),
        Value::Text(t) => t.trim().parse().ok(),
        _ => None,
    }
}

pub fn as_text(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::Int(v) => v.to_string(),
        Value::Float(v) => v.to_string(),
        Value::Text(t) => t.clone(),
        Value::Bytes(b) => String::from_utf8_lossy(b).into_owned(),
    }
}

fn as_decimal(value: &Value, precision: u8, scale: u8) -> Option<Vec<u8>> {
    let text = match value {
        Value::Float(v) => format!("{v:.*}", scale as usize),
        other => as_text(other),
    };
    let text = text.trim();
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
    let mut fraction: String = fraction.chars().take(scale as usize).collect();
    while fraction.len() < scale as usize {
        fraction.push('0');
    }
    let scaled: u128 = format!("{whole}{fraction}").parse().ok()?;
    let len = decimal_len(precision) as usize;
    let mut bytes = vec![u8::from(!negative)];
    bytes.extend_from_slice(&scaled.to_le_bytes()[..len - 1]);
    Some(bytes)
}

fn latin1(text: &str) -> Vec<u8> {
    text.chars()
        .map(|c| u8::try_from(u32::from(c)).unwrap_or(b'?'))
        .collect()
}

fn as_datetime(value: &Value) -> Option<time::OffsetDateTime> {
    let text = as_text(value);
    let text = text.trim().replace('T', " ");
    let (main, offset) = match text.rfind(['+', '-']) {
        Some(at) if at > 10 => (text[..at].trim().to_string(), Some(text[at..].to_string())),
        _ => (text.clone(), None),
    };
    let (date, clock) = main.split_once(' ').unwrap_or((main.as_str(), "00:00:00"));
    let mut d = date.split('-').map(|p| p.parse::<i32>().ok());
    let (year, month, day) = (d.next()??, d.next()??, d.next()??);
    let (hms, fraction) = clock.split_once('.').unwrap_or((clock, "0"));
    let mut t = hms.split(':').map(|p| p.parse::<u8>().ok());
    let (hour, minute, second) = (
        t.next()??,
        t.next()?.unwrap_or(0),
        t.next().flatten().unwrap_or(0),
    );
    let nanos: u32 = format!("{:0<9}", &fraction[..fraction.len().min(9)])
        .parse()
        .ok()?;
    let date =
        time::Date::from_calendar_date(year, time::Month::try_from(month as u8).ok()?, day as u8)
            .ok()?;
    let clock = time::Time::from_hms_nano(hour, minute, second, nanos).ok()?;
    let offset = match offset {
        Some(o) => {
            let sign = if o.starts_with('-') { -1 } else { 1 };
            let (h, m) = o[1..].split_once(':').unwrap_or((&o[1..], "0"));
            let minutes = sign * (h.parse::<i32>().ok()? * 60 + m.parse::<i32>().ok()?);
            time::UtcOffset::from_whole_seconds(minutes * 60).ok()?
        }
        None => time::UtcOffset::UTC,
    };
    Some(time::PrimitiveDateTime::new(date, clock).assume_offset(offset))
}

fn date_bytes(date: time::Date) -> [u8; 3] {
    let base = time::Date::from_calendar_date(1, time::Month::January, 1).expect("valid date");
    let days = (date - base).whole_days() as u32;
    let b = days.to_le_bytes();
    [b[0], b[1], b[2]]
}

fn datetime_bytes(t: time::OffsetDateTime) -> Vec<u8> {
    let base = time::Date::from_calendar_date(1900, time::Month::January, 1).expect("valid date");
    let days = (t.date() - base).whole_days() as i32;
    let nanos = t.time().nanosecond() as u64;
    let seconds = u64::from(t.hour()) * 3600 + u64::from(t.minute()) * 60 + u64::from(t.second());
    let ticks = (seconds * 300 + (nanos * 300 + 500_000_000) / 1_000_000_000) as u32;
    let mut out = days.to_le_bytes().to_vec();
    out.extend_from_slice(&ticks.to_le_bytes());
    out
}

/// datetime2(7) (and datetimeoffset(7), in UTC plus the offset).
fn datetime2_bytes(t: time::OffsetDateTime, with_offset: bool) -> Vec<u8> {
    let offset_minutes = t.offset().whole_minutes();
    let t = if with_offset {
        t.to_offset(time::UtcOffset::UTC)
    } else {
        t
    };
    let seconds = u64::from(t.hour()) * 3600 + u64::from(t.minute()) * 60 + u64::from(t.second());
    let ticks = seconds * 10_000_000 + u64::from(t.nanosecond()) / 100;
    let mut out = ticks.to_le_bytes()[..5].to_vec();
    out.extend_from_slice(&date_bytes(t.date()));
    if with_offset {
        out.extend_from_slice(&offset_minutes.to_le_bytes());
    }
    out
}

/// A GUID in SQL Server's byte order (the first three groups little-endian).
fn as_guid(value: &Value) -> Option<Vec<u8>> {
    let hex: String = as_text(value)
        .chars()
        .filter(|c| c.is_ascii_hexdigit())
        .collect();
    if hex.len() != 32 {
        return None;
    }
    let raw: Vec<u8> = (0..16)
        .map(|i| u8::from_str_radix(&hex[i * 2..i * 2 + 2], 16))
        .collect::<Result<_, _>>()
        .ok()?;
    let mut out = Vec::with_capacity(16);
    out.extend(raw[0..4].iter().rev());
    out.extend(raw[4..6].iter().rev());
    out.extend(raw[6..8].iter().rev());
    out.extend_from_slice(&raw[8..16]);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn declared_types_parse_as_sql_server_names_them() {
        assert_eq!(
            SqlType::parse("sysname"),
            Some(SqlType::NVarChar(Some(128)))
        );
        assert_eq!(
            SqlType::parse("NVARCHAR(MAX)"),
            Some(SqlType::NVarChar(None))
        );
        assert_eq!(
            SqlType::parse("decimal(18, 2)"),
            Some(SqlType::Decimal {
                precision: 18,
                scale: 2
            })
        );
        assert_eq!(SqlType::parse("geography"), None);
    }

    #[test]
    fn decimals_are_scaled_integers_with_a_sign_byte() {
        let bytes = as_decimal(&Value::Text("-12.5".into()), 5, 2).unwrap();
        assert_eq!(bytes, vec![0, 0xE2, 0x04, 0, 0]); // 1250, negative
    }

    #[test]
    fn guids_use_sql_servers_mixed_byte_order() {
        let bytes = as_guid(&Value::Text("00112233-4455-6677-8899-aabbccddeeff".into())).unwrap();
        assert_eq!(
            &bytes[..8],
            &[0x33, 0x22, 0x11, 0x00, 0x55, 0x44, 0x77, 0x66]
        );
    }

    #[test]
    fn datetimes_count_days_from_1900_and_ticks_of_a_300th() {
        let t = as_datetime(&Value::Text("1900-01-02 00:00:01".into())).unwrap();
        assert_eq!(datetime_bytes(t), vec![1, 0, 0, 0, 44, 1, 0, 0]);
    }
}
