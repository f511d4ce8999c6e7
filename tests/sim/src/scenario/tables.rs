//! User tables a scenario database declares: columns with SQL Server types, a primary
//! key, and how many rows the lab generates when the instance starts. A database's
//! workload writes its transactions into the first table it declares.

use serde::Deserialize;

use crate::tds::types::SqlType;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TableSpec {
    /// `Orders` (schema dbo) or `sales.Orders`.
    pub name: String,
    pub columns: Vec<ColumnSpec>,
    /// Rows generated at start: row n has key n and values derived from n, so the
    /// same scenario always holds the same data.
    #[serde(default)]
    pub rows: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ColumnSpec {
    pub name: String,
    /// A SQL Server type: `int`, `bigint`, `decimal(10,2)`, `nvarchar(50)`,
    /// `datetime2`, `uniqueidentifier`, ...
    #[serde(rename = "type")]
    pub ty: String,
    #[serde(default)]
    pub primary_key: bool,
    #[serde(default)]
    pub nullable: bool,
}

impl TableSpec {
    /// (schema, table).
    pub fn schema_and_name(&self) -> (&str, &str) {
        match self.name.split_once('.') {
            Some((schema, name)) => (schema, name),
            None => ("dbo", self.name.as_str()),
        }
    }

    /// The error names the field: `table 'Orders'.columns[2].type: ...`.
    pub fn validate(&self) -> Result<(), String> {
        let at = format!("table '{}'", self.name);
        let (schema, name) = self.schema_and_name();
        let plain = |s: &str| {
            !s.is_empty()
                && s.chars()
                    .all(|c| c.is_alphanumeric() || c == '_' || c == ' ')
        };
        if !plain(schema) || !plain(name) || schema.eq_ignore_ascii_case("sys") {
            return Err(format!(
                "{at}.name: use `Table` or `schema.Table` with letters, digits, '_' and spaces (not sys)"
            ));
        }
        if self.columns.is_empty() {
            return Err(format!("{at}.columns: a table needs at least one column"));
        }
        let mut seen = std::collections::HashSet::new();
        for (n, column) in self.columns.iter().enumerate() {
            let cat = format!("{at}.columns[{n}]");
            if !plain(&column.name) || column.name.starts_with('$') {
                return Err(format!("{cat}.name: letters, digits, '_' and spaces"));
            }
            if !seen.insert(column.name.to_ascii_lowercase()) {
                return Err(format!("{cat}.name: '{}' is declared twice", column.name));
            }
            if !known_type(&column.ty) {
                return Err(format!(
                    "{cat}.type: '{}' is not a type the lab stores (int, bigint, smallint, tinyint, bit, decimal(p,s), float, nvarchar(n), varchar(n), varbinary(n), datetime2, datetime, date, uniqueidentifier)",
                    column.ty
                ));
            }
            if column.primary_key && column.nullable {
                return Err(format!(
                    "{cat}.nullable: a primary key column cannot allow NULL"
                ));
            }
        }
        if !self.columns.iter().any(|c| c.primary_key) {
            return Err(format!(
                "{at}.columns: mark the primary key column(s) with primary_key = true"
            ));
        }
        Ok(())
    }
}

fn known_type(ty: &str) -> bool {
    !matches!(
        SqlType::parse(ty),
        None | Some(SqlType::SqlVariant | SqlType::DateTimeOffset)
    )
}
