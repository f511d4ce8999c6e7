//! Times as RFC 3339 text, the form Ferry shows and reads them in, and Unix
//! milliseconds, the form it keeps them in.

use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// A Unix time in milliseconds as RFC 3339 (UTC), "--" when unknown.
pub fn format(unix_ms: i64) -> String {
    if unix_ms <= 0 {
        return "--".into();
    }
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(unix_ms) * 1_000_000)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_else(|| unix_ms.to_string())
}

/// An RFC 3339 time (with its offset) as Unix milliseconds.
pub fn parse_ms(text: &str) -> Result<i64, time::error::Parse> {
    OffsetDateTime::parse(text, &Rfc3339).map(|t| (t.unix_timestamp_nanos() / 1_000_000) as i64)
}
