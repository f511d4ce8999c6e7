//! The names the link's objects get, as Microsoft's docs and scripts name them
//! (mi-link.md §2.1, §8): shared by the agent (T-SQL, where names are always quoted)
//! and the control plane (ARM), which must agree on them.

/// `Cert_<server>_endpoint`; the docs say it must not contain `\`, which a named
/// instance's @@SERVERNAME (`HOST\INSTANCE`) has: it becomes `_`.
pub fn endpoint_certificate(server_name: &str) -> String {
    format!("Cert_{}_endpoint", server_name.replace('\\', "_"))
}

/// `AG_<db>`: the availability group on SQL Server that carries the database.
pub fn availability_group(database: &str) -> String {
    format!("AG_{database}")
}

/// `AG_<db>_MI`: the availability group the MI creates for the link.
pub fn mi_availability_group(database: &str) -> String {
    format!("AG_{database}_MI")
}

/// `DAG_<db>`: the distributed availability group, the link's default name.
pub fn default_link(database: &str) -> String {
    format!("DAG_{database}")
}

/// Longest ARM resource name Ferry sends (ARM's and SQL Server's `sysname` limit).
pub const MAX_RESOURCE_NAME: usize = 128;

/// Whether `name` can be one ARM resource name, sent as one URL path segment: 1 to 128
/// ASCII letters, digits, `_`, `-` and `.`, starting with a letter, digit or `_` and not
/// ending with `.`. A name a URL parser would rewrite (`.`, `..`: dot segments that
/// climb to the managed instance itself) or that ARM would not keep is refused, never
/// escaped. The error says what a name may be.
pub fn check_resource_name(name: &str) -> Result<(), String> {
    let chars_ok = name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
    let ends_ok = !name.starts_with(['.', '-']) && !name.ends_with('.');
    if !name.is_empty() && name.len() <= MAX_RESOURCE_NAME && chars_ok && ends_ok {
        return Ok(());
    }
    Err(format!(
        "{name:?} cannot be an ARM resource name: 1 to {MAX_RESOURCE_NAME} letters, digits, '_', '-' and '.', starting with a letter, digit or '_' and not ending with '.'"
    ))
}

/// The endpoint Ferry creates when the instance has none.
pub const ENDPOINT: &str = "database_mirroring_endpoint";

#[cfg(test)]
mod tests {
    use super::check_resource_name;

    #[test]
    fn resource_names_a_url_would_rewrite_are_refused() {
        for bad in [
            "", ".", "..", "...", ".hidden", "name.", "-x", "a/b", "a\\b", "a%2e", "a?b", "a#b",
            "a b", "é",
        ] {
            assert!(check_resource_name(bad).is_err(), "{bad:?} was accepted");
        }
        assert!(check_resource_name(&"a".repeat(129)).is_err());
        for good in [
            "DAG_Sales",
            "_x",
            "a.b",
            "a..b",
            "Cert_SQL01_SALES_endpoint",
            "9",
        ] {
            assert!(check_resource_name(good).is_ok(), "{good:?} was refused");
        }
        assert!(check_resource_name(&"a".repeat(128)).is_ok());
    }

    #[test]
    fn named_instances_lose_their_backslash() {
        assert_eq!(
            super::endpoint_certificate("SQL01\\SALES"),
            "Cert_SQL01_SALES_endpoint"
        );
    }
}
