//! MI-DTC-NON-SQL-PARTNERS: modules that begin distributed transactions with a partner
//! reached over a non-SQL provider (mi-link.md §6.2 MIHeterogeneousMSDTCTransactSQL).
//! A managed instance's linked servers reach only SQL Server and Azure SQL, so these
//! transactions cannot run there.

use super::super::facts::{Facts, Missing};
use super::super::linked_servers::sql_provider;
use super::super::{Check, Hit, Scope, Severity};

pub const CHECK: Check = Check {
    id: "MI-DTC-NON-SQL-PARTNERS",
    scope: Scope::Database,
    severity: Severity::Blocker,
    title: "No distributed transactions with non-SQL partners",
    remedy: "Move the work with the non-SQL system out of the database transaction (into the application or an integration service, with its own retry and compensation) before cutover, or keep this database on SQL Server (for example on an Azure VM).",
    evaluate,
};

fn evaluate(facts: &Facts) -> Result<Vec<Hit>, Missing> {
    super::hits(
        facts,
        "begin distributed transactions with non-SQL partners",
        |d| d.partners.iter().any(|s| !sql_provider(&s.provider)),
    )
}

#[cfg(test)]
mod tests {
    use super::super::super::fixture::found;
    use super::super::facts_with;
    use super::*;

    #[test]
    fn a_distributed_transaction_with_oracle_is_a_blocker() {
        let text = "CREATE PROC dbo.Post AS BEGIN DISTRIBUTED TRAN; EXEC ('UPDATE t SET n = 1') AT [hq]; COMMIT";
        assert_eq!(
            found(&CHECK, &facts_with("OraOLEDB.Oracle", text)),
            ["Sales"]
        );
        assert!(found(&CHECK, &facts_with("SQLNCLI11", text)).is_empty());
    }
}
