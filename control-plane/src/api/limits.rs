//! The bounds on what agents and operators send, in one place: the handlers and
//! conversions refuse a value over its bound, naming the field. Documented, with the
//! field each applies to, in `docs/reference/limits.md`; a test keeps the two equal.

/// Longest text accepted from an agent in one field.
pub const MAX_TEXT: usize = 4096;
/// Longest report id (and at least 1).
pub const MAX_REPORT_ID: usize = 64;
/// Instances in one inventory, assessment or load report.
pub const MAX_INSTANCES: usize = 256;
/// Databases of one instance (SQL Server's own maximum); findings of one check.
pub const MAX_DATABASES: usize = 32_767;
/// Check results of one instance.
pub const MAX_CHECKS: usize = 1024;
/// Evidence items, and affected objects, of one finding.
pub const MAX_ITEMS: usize = 256;
/// Load windows in one report: a day of ten-minute windows per instance.
pub const MAX_WINDOWS: usize = MAX_INSTANCES * 144;
/// A certificate's DER (SQL Server's are a few KB).
pub const MAX_CERTIFICATE: usize = 64 * 1024;
/// Tables in one row count.
pub const MAX_TABLES: usize = 100_000;
/// What an agent says of itself at hello, clipped to this many characters.
pub const MAX_HELLO_TEXT: usize = 128;
/// The agent version given at enrollment, clipped to this many characters.
pub const MAX_VERSION_TEXT: usize = 64;
/// How far ahead of this control plane's clock a report's production time may be.
pub const MAX_CLOCK_AHEAD_MS: i64 = 300_000;

/// The largest page of a list RPC.
pub const MAX_PAGE_SIZE: u32 = 1000;
/// An enrollment token's description; a host revocation's reason.
pub const MAX_DESCRIPTION: usize = 200;
/// An operator revocation's reason.
pub const MAX_REVOKE_REASON: usize = 200;
/// A forced cutover's reason.
pub const MAX_FORCE_REASON: usize = 1000;
/// Hosts named in one assessment request (the service enforces it).
pub use crate::service::assessment::MAX_HOSTS;

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = include_str!("../../../docs/reference/limits.md");

    /// The value column of the documented row for `name`, digits only.
    fn documented(name: &str) -> String {
        let row = DOC
            .lines()
            .find(|line| line.starts_with(&format!("| `{name}` |")))
            .unwrap_or_else(|| panic!("docs/reference/limits.md has no row for {name}"));
        let value = row.split('|').nth(2).unwrap_or_default();
        value
            .split_whitespace()
            .next()
            .unwrap_or_default()
            .chars()
            .filter(char::is_ascii_digit)
            .collect()
    }

    #[test]
    fn the_documented_limits_are_the_enforced_ones() {
        let limits: [(&str, i64); 17] = [
            ("MAX_TEXT", MAX_TEXT as i64),
            ("MAX_REPORT_ID", MAX_REPORT_ID as i64),
            ("MAX_INSTANCES", MAX_INSTANCES as i64),
            ("MAX_DATABASES", MAX_DATABASES as i64),
            ("MAX_CHECKS", MAX_CHECKS as i64),
            ("MAX_ITEMS", MAX_ITEMS as i64),
            ("MAX_WINDOWS", MAX_WINDOWS as i64),
            ("MAX_CERTIFICATE", MAX_CERTIFICATE as i64),
            ("MAX_TABLES", MAX_TABLES as i64),
            ("MAX_HELLO_TEXT", MAX_HELLO_TEXT as i64),
            ("MAX_VERSION_TEXT", MAX_VERSION_TEXT as i64),
            ("MAX_CLOCK_AHEAD_MS", MAX_CLOCK_AHEAD_MS),
            ("MAX_PAGE_SIZE", i64::from(MAX_PAGE_SIZE)),
            ("MAX_DESCRIPTION", MAX_DESCRIPTION as i64),
            ("MAX_REVOKE_REASON", MAX_REVOKE_REASON as i64),
            ("MAX_FORCE_REASON", MAX_FORCE_REASON as i64),
            ("MAX_HOSTS", MAX_HOSTS as i64),
        ];
        for (name, value) in limits {
            assert_eq!(documented(name), value.to_string(), "{name}");
        }
        let messages = [
            (
                "MAX_AGENT_MESSAGE",
                ferry_proto::transport::MAX_AGENT_MESSAGE,
            ),
            (
                "MAX_OPERATOR_MESSAGE",
                ferry_proto::transport::MAX_OPERATOR_MESSAGE,
            ),
        ];
        for (name, bytes) in messages {
            assert_eq!(documented(name), (bytes >> 20).to_string(), "{name} in MiB");
        }
    }
}
