//! The names the link's objects get, as Microsoft's docs and scripts name them
//! (mi-link.md §2.1, §8). Names are quoted (`sql::quote_name`) wherever they are used.

/// `Cert_<server>_endpoint`; the docs say it must not contain `\`, which a named
/// instance's @@SERVERNAME (`HOST\INSTANCE`) has: it becomes `_`.
pub fn endpoint_certificate(server_name: &str) -> String {
    format!("Cert_{}_endpoint", server_name.replace('\\', "_"))
}

/// The endpoint Ferry creates when the instance has none.
pub const ENDPOINT: &str = "database_mirroring_endpoint";

#[cfg(test)]
mod tests {
    #[test]
    fn named_instances_lose_their_backslash() {
        assert_eq!(
            super::endpoint_certificate("SQL01\\SALES"),
            "Cert_SQL01_SALES_endpoint"
        );
    }
}
