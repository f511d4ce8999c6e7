//! MI-DTC-SQL-PARTNERS: modules that begin distributed transactions with SQL Server
//! partners (mi-link.md §6.2 MIHomogeneousMSDTCTransactSQL). They run on a managed
//! instance only once DTC for Azure SQL Managed Instance is set up and can reach every
//! partner, or natively between managed instances.

use super::super::facts::{Facts, Missing};
use super::super::linked_servers::sql_provider;
use super::super::{Check, Hit, Scope, Severity};

pub const CHECK: Check = Check {
    id: "MI-DTC-SQL-PARTNERS",
    scope: Scope::Database,
    severity: Severity::Warning,
    title: "No distributed transactions with SQL Server partners",
    remedy: "Before cutover, enable DTC for Azure SQL Managed Instance and open its network path to every partner (port 135 both ways, 14000-15000 inbound, 49152-65535 outbound, and DNS); between managed instances use their native distributed transactions (a server trust group). Test each transaction on the managed instance.",
    evaluate,
};

fn evaluate(facts: &Facts) -> Result<Vec<Hit>, Missing> {
    super::hits(
        facts,
        "begin distributed transactions with SQL Server partners",
        |d| d.partners.iter().all(|s| sql_provider(&s.provider)),
    )
}

#[cfg(test)]
mod tests {
    use super::super::super::fixture::found;
    use super::super::facts_with;
    use super::*;

    #[test]
    fn a_distributed_transaction_with_sql_server_is_flagged() {
        let text = "CREATE PROC dbo.Post AS BEGIN DISTRIBUTED TRANSACTION; UPDATE HQ.Central.dbo.T SET n = 1; COMMIT";
        assert_eq!(found(&CHECK, &facts_with("MSOLEDBSQL", text)), ["Sales"]);
        assert!(found(&CHECK, &facts_with("OraOLEDB.Oracle", text)).is_empty());
        let commented =
            "CREATE PROC dbo.Post AS /* BEGIN DISTRIBUTED TRAN */ PRINT 'BEGIN DISTRIBUTED TRAN'";
        assert!(found(&CHECK, &facts_with("MSOLEDBSQL", commented)).is_empty());
    }
}
