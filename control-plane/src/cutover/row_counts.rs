//! Row counts as the validation gate compares them (`gates::validation`): one side's
//! count of a migration's database, per table, taken for one cutover request. The
//! store keeps them (`store::row_counts`); the agent and the MI count them
//! (`validation`).

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Sql,
    Mi,
}

impl Side {
    pub fn as_str(self) -> &'static str {
        match self {
            Side::Sql => "sql",
            Side::Mi => "mi",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableRows {
    pub schema: String,
    pub name: String,
    pub rows: i64,
}

/// One side's count of a migration's database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowCount {
    pub side: Side,
    /// The cutover request it was taken for (`Intent::requested_at_ms`).
    pub requested_at_ms: i64,
    /// SQL Server's: the agent's CountRows command.
    pub command_id: String,
    pub asked_at_ms: i64,
    /// None while the count runs.
    pub counted_at_ms: Option<i64>,
    /// SQL Server's end of log before and after counting (SQL Server's side only).
    pub lsn_before: String,
    pub lsn_after: String,
    pub tables: Vec<TableRows>,
    /// Why nothing was counted.
    pub error: String,
}
