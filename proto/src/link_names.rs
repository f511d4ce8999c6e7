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
