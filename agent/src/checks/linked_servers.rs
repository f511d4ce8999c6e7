//! MI-LINKED-SERVER-PROVIDER: linked servers over providers other than SQL Server's
//! (mi-link.md §6.2 LinkedServerWithNonSQLProvider).

use super::facts::{got, Facts, Missing};
use super::{listed, Check, Hit, Scope, Severity};

pub const CHECK: Check = Check {
    id: "MI-LINKED-SERVER-PROVIDER",
    scope: Scope::Instance,
    severity: Severity::Warning,
    title: "Linked servers use SQL Server providers",
    remedy: "A managed instance reaches only SQL Server and Azure SQL through linked servers; move queries over other providers (Oracle, Excel, ...) to an integration service, or keep them on a SQL Server VM.",
    evaluate,
};

/// OLE DB providers a managed instance's linked servers support.
const SQL_PROVIDERS: [&str; 6] = [
    "SQLNCLI",
    "SQLNCLI10",
    "SQLNCLI11",
    "SQLOLEDB",
    "MSOLEDBSQL",
    "MSOLEDBSQL19",
];

/// Whether a linked server over `provider` works on a managed instance.
pub(super) fn sql_provider(provider: &str) -> bool {
    SQL_PROVIDERS
        .iter()
        .any(|p| p.eq_ignore_ascii_case(provider))
}

fn evaluate(facts: &Facts) -> Result<Vec<Hit>, Missing> {
    let other: Vec<_> = got(&facts.linked_servers)?
        .iter()
        .filter(|s| !sql_provider(&s.provider))
        .collect();
    if other.is_empty() {
        return Ok(Vec::new());
    }
    let names: Vec<String> = other
        .iter()
        .map(|s| format!("{} ({})", s.name, s.provider))
        .collect();
    Ok(vec![Hit::instance(format!(
        "linked servers over non-SQL providers: {}",
        listed(&names, 5)
    ))
    .objects(
        other.iter().map(|s| format!("linked server {}", s.name)),
    )])
}

#[cfg(test)]
mod tests {
    use super::super::facts::LinkedServer;
    use super::super::fixture::{found, ready};
    use super::*;

    #[test]
    fn an_excel_linked_server_is_flagged() {
        let mut facts = ready();
        let server = |provider: &str| LinkedServer {
            name: "X".into(),
            provider: provider.into(),
            product: String::new(),
        };
        facts.linked_servers = Ok(vec![server("SQLNCLI11")]);
        assert!(found(&CHECK, &facts).is_empty());
        facts.linked_servers = Ok(vec![server("Microsoft.ACE.OLEDB.12.0")]);
        assert_eq!(found(&CHECK, &facts), ["instance"]);
    }
}
