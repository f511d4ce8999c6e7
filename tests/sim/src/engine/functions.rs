//! T-SQL built-in functions as SQLite functions. The translator renames calls to these
//! (`CAST(x AS int)` becomes `tsql_cast(x, 'int')`, `a + b` becomes `tsql_add(a, b)`),
//! so conversions, string concatenation and dates follow T-SQL's rules, including its
//! errors. Functions that read the catalog (DB_ID, CERT_ID ...) are subqueries written
//! by the translator instead.
//! https://learn.microsoft.com/sql/t-sql/functions/functions

use std::sync::Arc;

use rusqlite::functions::{Context, FunctionFlags};
use rusqlite::types::{Value as SqliteValue, ValueRef};
use rusqlite::Connection;

use crate::tds::tokens::Message;
use crate::tds::types::{as_text, SqlType, Value};

use super::{datetime_text, errors, InstanceInfo, MANAGED_PRODUCT_VERSION};

/// Carries a SQL Server message out of a SQLite function.
#[derive(Debug)]
pub struct SqlError(pub Message);

impl std::fmt::Display for SqlError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0.text)
    }
}

impl std::error::Error for SqlError {}

fn fail(message: Message) -> rusqlite::Error {
    rusqlite::Error::UserFunctionError(Box::new(SqlError(message)))
}

pub fn from_sqlite(value: ValueRef<'_>) -> Value {
    match value {
        ValueRef::Null => Value::Null,
        ValueRef::Integer(v) => Value::Int(v),
        ValueRef::Real(v) => Value::Float(v),
        ValueRef::Text(t) => Value::Text(String::from_utf8_lossy(t).into_owned()),
        ValueRef::Blob(b) => Value::Bytes(b.to_vec()),
    }
}

pub fn to_sqlite(value: Value) -> SqliteValue {
    match value {
        Value::Null => SqliteValue::Null,
        Value::Int(v) => SqliteValue::Integer(v),
        Value::Float(v) => SqliteValue::Real(v),
        Value::Text(t) => SqliteValue::Text(t),
        Value::Bytes(b) => SqliteValue::Blob(b),
    }
}

fn arg(ctx: &Context<'_>, n: usize) -> Value {
    if n < ctx.len() {
        from_sqlite(ctx.get_raw(n))
    } else {
        Value::Null
    }
}

pub fn register(conn: &Connection, info: Arc<InstanceInfo>) -> rusqlite::Result<()> {
    let pure = FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC;
    let volatile = FunctionFlags::SQLITE_UTF8;
    conn.create_scalar_function("serverproperty", 1, pure, move |ctx| {
        Ok(to_sqlite(server_property(&info, &as_text(&arg(ctx, 0)))))
    })?;
    conn.create_scalar_function("tsql_cast", 2, pure, |ctx| {
        let ty = as_text(&arg(ctx, 1));
        cast(arg(ctx, 0), &ty).map(to_sqlite).map_err(fail)
    })?;
    conn.create_scalar_function("tsql_add", 2, pure, |ctx| {
        add(arg(ctx, 0), arg(ctx, 1)).map(to_sqlite).map_err(fail)
    })?;
    conn.create_scalar_function("tsql_divide", 2, pure, |ctx| {
        divide(arg(ctx, 0), arg(ctx, 1))
            .map(to_sqlite)
            .map_err(fail)
    })?;
    for name in ["getdate", "sysdatetime", "current_timestamp"] {
        conn.create_scalar_function(name, 0, volatile, |_| Ok(now_text(false)))?;
    }
    for name in ["getutcdate", "sysutcdatetime"] {
        conn.create_scalar_function(name, 0, volatile, |_| Ok(now_text(true)))?;
    }
    conn.create_scalar_function("sysdatetimeoffset", 0, volatile, |_| {
        Ok(format!("{} +00:00", now_text(true)))
    })?;
    conn.create_scalar_function("newid", 0, volatile, |_| Ok(super::new_guid()))?;
    conn.create_scalar_function("len", 1, pure, |ctx| {
        Ok(match arg(ctx, 0) {
            Value::Null => SqliteValue::Null,
            v => SqliteValue::Integer(as_text(&v).trim_end_matches(' ').chars().count() as i64),
        })
    })?;
    conn.create_scalar_function("datalength", 1, pure, |ctx| {
        Ok(match arg(ctx, 0) {
            Value::Null => SqliteValue::Null,
            Value::Bytes(b) => SqliteValue::Integer(b.len() as i64),
            Value::Int(_) | Value::Float(_) => SqliteValue::Integer(8),
            v => SqliteValue::Integer(as_text(&v).encode_utf16().count() as i64 * 2),
        })
    })?;
    for arity in [2, 3] {
        conn.create_scalar_function("charindex", arity, pure, |ctx| {
            let needle = as_text(&arg(ctx, 0)).to_lowercase();
            let hay: Vec<char> = as_text(&arg(ctx, 1)).to_lowercase().chars().collect();
            let start = match arg(ctx, 2) {
                Value::Int(s) if s > 1 => s as usize - 1,
                _ => 0,
            };
            let hay: String = hay.iter().skip(start).collect();
            Ok(hay
                .find(&needle)
                .map_or(0, |at| hay[..at].chars().count() + start + 1) as i64)
        })?;
    }
    conn.create_scalar_function("replicate", 2, pure, |ctx| {
        let count = crate::tds::types::as_int(&arg(ctx, 1))
            .unwrap_or(0)
            .clamp(0, 1 << 20) as usize;
        Ok(match arg(ctx, 0) {
            Value::Null => SqliteValue::Null,
            v => SqliteValue::Text(as_text(&v).repeat(count)),
        })
    })?;
    conn.create_scalar_function("isnumeric", 1, pure, |ctx| {
        Ok(match arg(ctx, 0) {
            Value::Int(_) | Value::Float(_) => 1,
            Value::Text(t) => i64::from(t.trim().parse::<f64>().is_ok()),
            _ => 0,
        })
    })?;
    conn.create_scalar_function("datediff", 3, pure, |ctx| {
        let part = as_text(&arg(ctx, 0));
        match (parse_time(&arg(ctx, 1)), parse_time(&arg(ctx, 2))) {
            (Some(a), Some(b)) => date_diff(&part, a, b)
                .map(SqliteValue::Integer)
                .map_err(fail),
            _ => Ok(SqliteValue::Null),
        }
    })?;
    conn.create_scalar_function("dateadd", 3, pure, |ctx| {
        let part = as_text(&arg(ctx, 0));
        let amount = crate::tds::types::as_int(&arg(ctx, 1)).unwrap_or(0);
        match parse_time(&arg(ctx, 2)) {
            Some(t) => date_add(&part, amount, t)
                .map(|t| SqliteValue::Text(datetime_text(t)))
                .map_err(fail),
            None => Ok(SqliteValue::Null),
        }
    })?;
    Ok(())
}

/// The lab's instances run in UTC, so local and UTC time are the same.
fn now_text(_utc: bool) -> String {
    datetime_text(time::OffsetDateTime::now_utc())
}

/// SERVERPROPERTY: the documented properties; unknown names give NULL, as SQL Server does.
/// https://learn.microsoft.com/sql/t-sql/functions/serverproperty-transact-sql
pub fn server_property(info: &InstanceInfo, name: &str) -> Value {
    let text = |s: &str| Value::Text(s.to_string());
    let name = name.to_ascii_lowercase();
    if info.managed {
        if let Some(value) = managed_property(&name) {
            return value;
        }
    }
    match name.as_str() {
        "productversion" => text(&info.build.product_version()),
        "productlevel" => text(&info.build.level),
        "productupdatelevel" => info.build.update_level.as_deref().map_or(Value::Null, text),
        "productupdatetype" => text("CU"),
        "productmajorversion" => text(&info.build.major().to_string()),
        "productminorversion" => text(&info.build.parts[1].to_string()),
        "productbuild" => text(&info.build.parts[2].to_string()),
        "edition" => text(info.edition.display()),
        "engineedition" => Value::Int(info.edition.engine_edition()),
        "ishadrenabled" => Value::Int(i64::from(info.hadr)),
        "hadrmanagerstatus" => Value::Int(if info.hadr { 1 } else { 0 }),
        "isclustered" => Value::Int(i64::from(info.clustered)),
        "machinename" | "servername" | "computernamephysicalnetbios" => text(&info.name),
        "instancename" => Value::Null,
        "collation" => text(&info.collation),
        "isintegratedsecurityonly" => Value::Int(0),
        "isfulltextinstalled" => Value::Int(0),
        "isxtpsupported" => Value::Int(1),
        "processid" => Value::Int(i64::from(std::process::id())),
        "resourceversion" => text(&info.build.product_version()),
        _ => Value::Null,
    }
}

/// The properties in which a managed instance differs from SQL Server: EngineEdition
/// 8, edition "SQL Azure", version 12.0.2000.8, continuous updates.
fn managed_property(name: &str) -> Option<Value> {
    let text = |s: &str| Some(Value::Text(s.to_string()));
    match name {
        "productversion" | "resourceversion" => text(MANAGED_PRODUCT_VERSION),
        "productmajorversion" => text("12"),
        "productminorversion" => text("0"),
        "productbuild" => text("2000"),
        "productlevel" => text("RTM"),
        "productupdatelevel" => Some(Value::Null),
        "productupdatetype" => text("Continuous"),
        "edition" => text("SQL Azure"),
        "engineedition" => Some(Value::Int(8)),
        _ => None,
    }
}

fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Int(_) => "int",
        Value::Float(_) => "float",
        Value::Bytes(_) => "varbinary",
        _ => "nvarchar",
    }
}

/// CAST/CONVERT to a declared type, by T-SQL's rules.
/// https://learn.microsoft.com/sql/t-sql/functions/cast-and-convert-transact-sql
pub fn cast(value: Value, target: &str) -> Result<Value, Message> {
    if matches!(value, Value::Null) {
        return Ok(Value::Null);
    }
    let ty = SqlType::parse(target).ok_or_else(|| {
        Message::new(
            243,
            2,
            16,
            format!("Type {target} is not a defined system type."),
        )
    })?;
    let overflow = || {
        Message::new(
            8115,
            2,
            16,
            format!(
                "Arithmetic overflow error converting expression to data type {}.",
                target.to_ascii_lowercase()
            ),
        )
    };
    let integer = |min: i64, max: i64| -> Result<Value, Message> {
        let v = match &value {
            Value::Int(v) => *v,
            Value::Float(f) => f.trunc() as i64,
            Value::Text(t) => t
                .trim()
                .parse::<i64>()
                .map_err(|_| errors::conversion_failed(t, "nvarchar", target))?,
            Value::Bytes(b) => b
                .iter()
                .fold(0i64, |acc, byte| (acc << 8) | i64::from(*byte)),
            Value::Null => unreachable!("NULL returned above"),
        };
        if v < min || v > max {
            return Err(overflow());
        }
        Ok(Value::Int(v))
    };
    match ty {
        SqlType::Bit => match &value {
            Value::Text(t) if t.eq_ignore_ascii_case("true") => Ok(Value::Int(1)),
            Value::Text(t) if t.eq_ignore_ascii_case("false") => Ok(Value::Int(0)),
            _ => integer(i64::MIN, i64::MAX).map(|v| Value::Int(i64::from(v != Value::Int(0)))),
        },
        SqlType::TinyInt => integer(0, 255),
        SqlType::SmallInt => integer(i64::from(i16::MIN), i64::from(i16::MAX)),
        SqlType::Int => integer(i64::from(i32::MIN), i64::from(i32::MAX)),
        SqlType::BigInt => integer(i64::MIN, i64::MAX),
        SqlType::Float | SqlType::Decimal { .. } => {
            let f = match &value {
                Value::Int(v) => return Ok(Value::Int(*v)),
                Value::Float(f) => *f,
                Value::Text(t) => t.trim().parse::<f64>().map_err(|_| {
                    let to = if matches!(ty, SqlType::Float) {
                        "float"
                    } else {
                        "numeric"
                    };
                    Message::new(
                        8114,
                        5,
                        16,
                        format!("Error converting data type nvarchar to {to}."),
                    )
                })?,
                other => {
                    return Err(errors::conversion_failed(
                        &as_text(other),
                        type_name(other),
                        target,
                    ))
                }
            };
            match ty {
                SqlType::Decimal { scale, .. } => {
                    let factor = 10f64.powi(i32::from(scale));
                    Ok(Value::Float((f * factor).round() / factor))
                }
                _ => Ok(Value::Float(f)),
            }
        }
        SqlType::NVarChar(n) | SqlType::VarChar(n) => {
            let text = match &value {
                Value::Bytes(b) => crate::tds::rpc::decode_utf16(b),
                other => as_text(other),
            };
            Ok(Value::Text(match n {
                Some(n) => text.chars().take(n as usize).collect(),
                None => text,
            }))
        }
        SqlType::VarBinary(_) => Ok(Value::Bytes(match &value {
            Value::Bytes(b) => b.clone(),
            Value::Int(v) => (*v as i32).to_be_bytes().to_vec(),
            other => crate::tds::tokens::utf16(&as_text(other)),
        })),
        SqlType::DateTime | SqlType::DateTime2 | SqlType::Date | SqlType::DateTimeOffset => {
            match parse_time(&value) {
                Some(t) if ty == SqlType::Date => Ok(Value::Text(t.date().to_string())),
                Some(t) if ty == SqlType::DateTime => Ok(Value::Text(datetime_text(t))),
                Some(t) => Ok(Value::Text(format!(
                    "{} {}.{:07}",
                    t.date(),
                    &datetime_text(t)[11..19],
                    t.nanosecond() / 100
                ))),
                None => Err(Message::new(
                    241,
                    1,
                    16,
                    "Conversion failed when converting date and/or time from character string.",
                )),
            }
        }
        SqlType::UniqueIdentifier => {
            let text = as_text(&value);
            if uuid::Uuid::parse_str(text.trim()).is_ok() {
                Ok(Value::Text(text.trim().to_uppercase()))
            } else {
                Err(Message::new(8169, 2, 16, "Conversion failed when converting from a character string to uniqueidentifier."))
            }
        }
        SqlType::SqlVariant => Ok(value),
    }
}

/// `+`: concatenation when both sides are strings; otherwise arithmetic, converting a
/// string operand to a number as T-SQL's type precedence does.
fn add(a: Value, b: Value) -> Result<Value, Message> {
    match (&a, &b) {
        (Value::Null, _) | (_, Value::Null) => Ok(Value::Null),
        (Value::Text(x), Value::Text(y)) => Ok(Value::Text(format!("{x}{y}"))),
        (Value::Bytes(x), Value::Bytes(y)) => {
            Ok(Value::Bytes([x.as_slice(), y.as_slice()].concat()))
        }
        (Value::Int(x), Value::Int(y)) => x.checked_add(*y).map(Value::Int).ok_or_else(|| {
            Message::new(
                8115,
                2,
                16,
                "Arithmetic overflow error converting expression to data type int.",
            )
        }),
        _ => {
            let number = |v: &Value| -> Result<f64, Message> {
                match v {
                    Value::Int(i) => Ok(*i as f64),
                    Value::Float(f) => Ok(*f),
                    other => {
                        let t = as_text(other);
                        t.trim()
                            .parse()
                            .map_err(|_| errors::conversion_failed(&t, "varchar", "int"))
                    }
                }
            };
            let sum = number(&a)? + number(&b)?;
            Ok(
                if sum.fract() == 0.0
                    && !matches!((&a, &b), (Value::Float(_), _) | (_, Value::Float(_)))
                {
                    Value::Int(sum as i64)
                } else {
                    Value::Float(sum)
                },
            )
        }
    }
}

/// `/`: integer division for integers, as T-SQL does, and error 8134 for zero.
fn divide(a: Value, b: Value) -> Result<Value, Message> {
    match (a, b) {
        (Value::Null, _) | (_, Value::Null) => Ok(Value::Null),
        (_, Value::Int(0)) => Err(errors::divide_by_zero()),
        (_, Value::Float(0.0)) => Err(errors::divide_by_zero()),
        (Value::Int(x), Value::Int(y)) => Ok(Value::Int(x / y)),
        (x, y) => {
            let f = |v: &Value| match v {
                Value::Int(i) => *i as f64,
                Value::Float(f) => *f,
                other => as_text(other).trim().parse().unwrap_or(0.0),
            };
            let d = f(&y);
            if d == 0.0 {
                return Err(errors::divide_by_zero());
            }
            Ok(Value::Float(f(&x) / d))
        }
    }
}

fn parse_time(value: &Value) -> Option<time::OffsetDateTime> {
    let text = as_text(value);
    // The unseparated form SQL Server accepts in any language setting: '20301231',
    // '20301231 10:00:00' (the CREATE CERTIFICATE docs' EXPIRY_DATE example).
    let text = match text.trim().split_at_checked(8) {
        Some((day, rest))
            if day.bytes().all(|b| b.is_ascii_digit())
                && (rest.is_empty() || rest.starts_with(' ')) =>
        {
            format!("{}-{}-{}{rest}", &day[..4], &day[4..6], &day[6..])
        }
        _ => text,
    };
    let mut out = Vec::new();
    SqlType::DateTime2.write_value(
        &mut out,
        &Value::Text(text),
        crate::tds::tokens::Collation([0; 5]),
    );
    if out.first().copied().unwrap_or(0) == 0 {
        return None;
    }
    // Decode what the encoder understood: 5 bytes of 100 ns ticks, 3 bytes of days.
    let mut ticks = [0u8; 8];
    ticks[..5].copy_from_slice(&out[1..6]);
    let days = u32::from_le_bytes([out[6], out[7], out[8], 0]);
    let base = time::Date::from_calendar_date(1, time::Month::January, 1).ok()?;
    let date = base + time::Duration::days(i64::from(days));
    let nanos = u64::from_le_bytes(ticks) * 100;
    Some(date.midnight().assume_utc() + time::Duration::nanoseconds(nanos as i64))
}

fn date_part(part: &str) -> Result<&'static str, Message> {
    Ok(match part.to_ascii_lowercase().as_str() {
        "year" | "yy" | "yyyy" => "year",
        "month" | "mm" | "m" => "month",
        "day" | "dd" | "d" | "dayofyear" | "dy" | "y" => "day",
        "week" | "wk" | "ww" => "week",
        "hour" | "hh" => "hour",
        "minute" | "mi" | "n" => "minute",
        "second" | "ss" | "s" => "second",
        "millisecond" | "ms" => "millisecond",
        other => {
            return Err(Message::new(
                155,
                1,
                15,
                format!("'{other}' is not a recognized datediff option."),
            ))
        }
    })
}

fn date_diff(part: &str, a: time::OffsetDateTime, b: time::OffsetDateTime) -> Result<i64, Message> {
    let months =
        |t: time::OffsetDateTime| i64::from(t.year()) * 12 + i64::from(u8::from(t.month()));
    Ok(match date_part(part)? {
        "year" => i64::from(b.year() - a.year()),
        "month" => months(b) - months(a),
        "day" => (b.date() - a.date()).whole_days(),
        "week" => (b.date() - a.date()).whole_weeks(),
        "hour" => (b - a).whole_hours(),
        "minute" => (b - a).whole_minutes(),
        "second" => (b - a).whole_seconds(),
        _ => (b - a).whole_milliseconds() as i64,
    })
}

fn date_add(part: &str, n: i64, t: time::OffsetDateTime) -> Result<time::OffsetDateTime, Message> {
    Ok(match date_part(part)? {
        "year" => t.replace_year(t.year() + n as i32).unwrap_or(t),
        "month" => {
            let total = i64::from(t.year()) * 12 + i64::from(u8::from(t.month())) - 1 + n;
            let month = time::Month::try_from((total.rem_euclid(12) + 1) as u8)
                .unwrap_or(time::Month::January);
            let year = total.div_euclid(12) as i32;
            // The day is clamped to the month's length, as SQL Server does (Jan 31 + 1 month = Feb 29).
            let day = t.day().min(month.length(year));
            t.replace_day(1)
                .and_then(|t| t.replace_year(year))
                .and_then(|t| t.replace_month(month))
                .and_then(|t| t.replace_day(day))
                .unwrap_or(t)
        }
        "day" => t + time::Duration::days(n),
        "week" => t + time::Duration::weeks(n),
        "hour" => t + time::Duration::hours(n),
        "minute" => t + time::Duration::minutes(n),
        "second" => t + time::Duration::seconds(n),
        _ => t + time::Duration::milliseconds(n),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn casts_follow_t_sql() {
        assert_eq!(cast(Value::Text(" 42 ".into()), "int"), Ok(Value::Int(42)));
        assert_eq!(
            cast(Value::Text("abc".into()), "int").unwrap_err().number,
            245
        );
        assert_eq!(cast(Value::Int(300), "tinyint").unwrap_err().number, 8115);
        assert_eq!(
            cast(Value::Text("abcdef".into()), "nvarchar(3)"),
            Ok(Value::Text("abc".into()))
        );
        assert_eq!(cast(Value::Int(5), "bit"), Ok(Value::Int(1)));
        assert_eq!(
            cast(Value::Text("2024-02-30".into()), "datetime")
                .unwrap_err()
                .number,
            241
        );
        assert_eq!(
            cast(Value::Text("20301231".into()), "date"),
            Ok(Value::Text("2030-12-31".into()))
        );
        assert_eq!(
            cast(Value::Text("20301231".into()), "date"),
            cast(Value::Text("2030-12-31".into()), "date")
        );
        assert_eq!(
            cast(Value::Text("20301331".into()), "date")
                .unwrap_err()
                .number,
            241
        );
    }

    #[test]
    fn plus_concatenates_strings_and_adds_numbers() {
        assert_eq!(
            add(Value::Text("a".into()), Value::Text("b".into())),
            Ok(Value::Text("ab".into()))
        );
        assert_eq!(
            add(Value::Text("1".into()), Value::Int(1)),
            Ok(Value::Int(2))
        );
        assert_eq!(
            add(Value::Text("x".into()), Value::Int(1))
                .unwrap_err()
                .number,
            245
        );
        assert_eq!(divide(Value::Int(7), Value::Int(2)), Ok(Value::Int(3)));
        assert_eq!(
            divide(Value::Int(7), Value::Int(0)).unwrap_err().number,
            8134
        );
    }

    #[test]
    fn dates_add_and_differ() {
        let a = parse_time(&Value::Text("2024-01-31 10:00:00".into())).unwrap();
        let b = date_add("month", 1, a).unwrap();
        assert_eq!(datetime_text(b), "2024-02-29 10:00:00.000");
        assert_eq!(date_diff("day", a, b), Ok(29));
    }
}
