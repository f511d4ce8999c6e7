//! User tables: each is a SQLite table named `database.schema.table` with the declared
//! SQL Server types (text columns compare without case, as the default collations
//! do), registered in `$user_tables` and shown in the database's sys.tables,
//! sys.objects, sys.schemas and sys.partitions. Rows are generated from their key, so a scenario
//! always holds the same data; INSERT, UPDATE and DELETE write the log like the
//! workload does (see `written`).

use rusqlite::{params, Connection, OptionalExtension};

use crate::engine::cached::Cached;
use crate::scenario::TableSpec;
use crate::tds::types::SqlType;

use super::log::{self, Activity};
use super::row_log;

/// Log written per changed row on top of the row itself: the log record's header, and
/// the begin and commit records of its transaction shared out.
const LOG_BYTES_PER_ROW: i64 = 124;
/// The first object id the lab gives a user table.
const FIRST_OBJECT_ID: i64 = 581_577_110;

/// The schemas every database has (sys.schemas): name, schema_id, principal_id.
const FIXED_SCHEMAS: [(&str, i64, i64); 4] = [
    ("dbo", 1, 1),
    ("guest", 2, 2),
    ("INFORMATION_SCHEMA", 3, 3),
    ("sys", 4, 4),
];

/// A new database's sys.schemas rows.
pub fn create_schemas(conn: &Connection, database_id: i64) -> rusqlite::Result<()> {
    let mut insert = conn.prepare_cached(
        "INSERT INTO \"sys.schemas\" (\"$database_id\", name, schema_id, principal_id) VALUES (?1, ?2, ?3, ?4)",
    )?;
    for (name, id, principal) in FIXED_SCHEMAS {
        insert.execute(params![database_id, name, id, principal])?;
    }
    Ok(())
}

/// The SQLite table that holds `database.schema.table`.
fn sqlite_name(database: &str, schema: &str, table: &str) -> String {
    format!("{database}.{schema}.{table}")
}

/// Creates a declared table, registers it, and generates its rows.
pub fn create(
    conn: &Connection,
    database: (i64, &str),
    spec: &TableSpec,
    created: &str,
) -> rusqlite::Result<()> {
    let (database_id, database_name) = database;
    let (schema, name) = spec.schema_and_name();
    let table = sqlite_name(database_name, schema, name);
    let mut columns = Vec::new();
    let mut names = Vec::new();
    let mut values = Vec::new();
    let mut row_bytes = 0;
    for c in &spec.columns {
        let null = if c.nullable { "" } else { " NOT NULL" };
        columns.push(format!(
            "\"{}\" {}{null}",
            c.name,
            super::sqlite_type(&c.ty)
        ));
        let ty = SqlType::parse(&c.ty);
        row_bytes += ty.map_or(8, stored_bytes);
        names.push(format!("\"{}\"", c.name));
        values.push(generated_value(ty, c.primary_key));
    }
    // Rows ?1 to ?2, each with values derived from its key n.
    let insert = format!(
        "INSERT INTO \"{table}\" ({}) SELECT {} FROM (WITH RECURSIVE k(n) AS (SELECT ?1 UNION ALL SELECT n + 1 FROM k WHERE n < ?2) SELECT n FROM k)",
        names.join(", "),
        values.join(", ")
    );
    let key: Vec<String> = spec
        .columns
        .iter()
        .filter(|c| c.primary_key)
        .map(|c| format!("\"{}\"", c.name))
        .collect();
    conn.execute_batch(&format!(
        "CREATE TABLE \"{table}\" ({}, PRIMARY KEY ({}))",
        columns.join(", "),
        key.join(", ")
    ))?;
    let shape = TableImage {
        sqlite_table: table.clone(),
        schema: schema.to_string(),
        name: name.to_string(),
        ddl: String::new(),
        row_bytes,
        insert_rows: insert,
        next_key: 1,
        columns: spec.columns.len(),
        rows: Vec::new(),
    };
    register(conn, database_id, &shape, created)?;
    generate(conn, &table, spec.rows)?;
    row_log::track(conn, &table)
}

/// A user table as a copy of its database carries it: its definition and its rows.
#[derive(Debug, Clone)]
pub struct TableImage {
    pub sqlite_table: String,
    pub schema: String,
    pub name: String,
    /// SQLite's CREATE TABLE statement for it.
    pub ddl: String,
    pub row_bytes: i64,
    pub insert_rows: String,
    pub next_key: i64,
    pub columns: usize,
    /// Each row: its rowid, then its columns.
    pub rows: Vec<Vec<rusqlite::types::Value>>,
}

/// Every user table of database `database_id`, with its rows.
pub fn export(conn: &Connection, database_id: i64) -> rusqlite::Result<Vec<TableImage>> {
    let mut tables: Vec<TableImage> = conn
        .prepare_cached(
            "SELECT u.sqlite_table, u.schema_name, u.name, m.sql, u.row_bytes, u.insert_rows, u.next_key
             FROM \"$user_tables\" u JOIN sqlite_master m ON m.type = 'table' AND m.name = u.sqlite_table
             WHERE u.database_id = ?1 ORDER BY u.object_id",
        )?
        .query_map([database_id], |r| {
            Ok(TableImage {
                sqlite_table: r.get(0)?,
                schema: r.get(1)?,
                name: r.get(2)?,
                ddl: r.get(3)?,
                row_bytes: r.get(4)?,
                insert_rows: r.get(5)?,
                next_key: r.get(6)?,
                columns: 0,
                rows: Vec::new(),
            })
        })?
        .collect::<Result<_, _>>()?;
    for table in &mut tables {
        let mut select =
            conn.prepare_cached(&format!("SELECT rowid, * FROM \"{}\"", table.sqlite_table))?;
        let width = select.column_count();
        table.columns = width - 1;
        table.rows = select
            .query_map([], |r| {
                (0..width)
                    .map(|n| r.get::<_, rusqlite::types::Value>(n))
                    .collect()
            })?
            .collect::<Result<_, _>>()?;
    }
    Ok(tables)
}

/// Creates a copied table in database `database_id` and fills it. Its changes are
/// not journaled: a copy's rows come from its source's log (see `row_log`).
pub fn import(
    conn: &Connection,
    database_id: i64,
    table: &TableImage,
    created: &str,
) -> rusqlite::Result<()> {
    conn.execute_batch(&table.ddl)?;
    register(conn, database_id, table, created)?;
    replace_rows(conn, table)
}

/// Replaces a copied table's rows with the image's, each under its source rowid
/// (the row log names rows by it).
pub fn replace_rows(conn: &Connection, table: &TableImage) -> rusqlite::Result<()> {
    let name = &table.sqlite_table;
    conn.run(&format!("DELETE FROM \"{name}\""), [])?;
    let names = row_log::quoted_columns(conn, name)?;
    let marks = vec!["?"; table.columns + 1].join(", ");
    let mut insert = conn.prepare_cached(&format!(
        "INSERT INTO \"{name}\" (rowid, {}) VALUES ({marks})",
        names.join(", ")
    ))?;
    for row in &table.rows {
        insert.execute(rusqlite::params_from_iter(row.iter()))?;
    }
    conn.run(
        "UPDATE \"$user_tables\" SET next_key = ?2 WHERE sqlite_table = ?1",
        params![name, table.next_key],
    )?;
    recount(conn, name)
}

/// Registers a table that exists in SQLite: `$user_tables`, sys.tables, sys.objects,
/// sys.partitions, and its schema in sys.schemas when it is new.
fn register(
    conn: &Connection,
    database_id: i64,
    t: &TableImage,
    created: &str,
) -> rusqlite::Result<()> {
    let (table, schema, name) = (&t.sqlite_table, &t.schema, &t.name);
    let (row_bytes, insert) = (t.row_bytes, &t.insert_rows);
    let schema_id = schema_id(conn, database_id, schema)?;
    let object_id: i64 = conn.one(
        "SELECT COALESCE(MAX(object_id) + 16, ?1) FROM \"$user_tables\"",
        [FIRST_OBJECT_ID],
        |r| r.get(0),
    )?;
    conn.run(
        "INSERT INTO \"$user_tables\" (sqlite_table, database_id, schema_name, name, object_id, next_key, row_bytes, insert_rows)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        params![table, database_id, schema, name, object_id, t.next_key, row_bytes, insert],
    )?;
    conn.run(
        "INSERT INTO \"sys.tables\" (\"$database_id\", name, object_id, principal_id, schema_id, parent_object_id, type, type_desc,
            create_date, modify_date, is_ms_shipped, is_published, is_schema_published, max_column_id_used, uses_ansi_nulls,
            is_replicated, lock_escalation, lock_escalation_desc, is_filetable, is_memory_optimized, durability,
            durability_desc, temporal_type, temporal_type_desc, is_external)
         VALUES (?1, ?2, ?3, NULL, ?4, 0, 'U', 'USER_TABLE', ?5, ?5, 0, 0, 0, ?6, 1, 0, 0, 'TABLE', 0, 0, 0,
            'SCHEMA_AND_DATA', 0, 'NON_TEMPORAL_TABLE', 0)",
        params![database_id, name, object_id, schema_id, created, t.columns],
    )?;
    insert_object(
        conn,
        database_id,
        Object {
            name,
            object_id,
            schema_id,
            parent_id: 0,
            kind: ("U", "USER_TABLE"),
        },
        created,
    )?;
    conn.run(
        "INSERT INTO \"sys.partitions\" (\"$database_id\", partition_id, object_id, index_id, partition_number, hobt_id, rows,
            filestream_filegroup_id, data_compression, data_compression_desc)
         VALUES (?1, ?2, ?3, 1, 1, ?2, 0, 0, 0, 'NONE')",
        params![database_id, 72_057_594_043_000_000_i64 + object_id, object_id],
    )?;
    Ok(())
}

/// The schema's id in the database, adding a user schema the first time it is named.
/// A user object's row in sys.objects.
pub(super) struct Object<'a> {
    pub name: &'a str,
    pub object_id: i64,
    pub schema_id: i64,
    /// A trigger's table; 0 for none.
    pub parent_id: i64,
    /// (type, type_desc).
    pub kind: (&'a str, &'a str),
}

pub(super) fn insert_object(
    conn: &Connection,
    database_id: i64,
    object: Object,
    created: &str,
) -> rusqlite::Result<()> {
    conn.run(
        "INSERT INTO \"sys.objects\" (\"$database_id\", name, object_id, principal_id, schema_id, parent_object_id,
            type, type_desc, create_date, modify_date, is_ms_shipped, is_published, is_schema_published)
         VALUES (?1, ?2, ?3, NULL, ?4, ?5, ?6, ?7, ?8, ?8, 0, 0, 0)",
        params![
            database_id,
            object.name,
            object.object_id,
            object.schema_id,
            object.parent_id,
            object.kind.0,
            object.kind.1,
            created
        ],
    )?;
    Ok(())
}

pub(super) fn schema_id(
    conn: &Connection,
    database_id: i64,
    schema: &str,
) -> rusqlite::Result<i64> {
    let found: Option<i64> = conn
        .one(
            "SELECT schema_id FROM \"sys.schemas\" WHERE \"$database_id\" = ?1 AND name = ?2",
            params![database_id, schema],
            |r| r.get(0),
        )
        .optional()?;
    if let Some(id) = found {
        return Ok(id);
    }
    let id: i64 = conn.one(
        "SELECT MAX(MAX(schema_id) + 1, 5) FROM \"sys.schemas\" WHERE \"$database_id\" = ?1 AND schema_id < 16384",
        [database_id],
        |r| r.get(0),
    )?;
    conn.run(
        "INSERT INTO \"sys.schemas\" (\"$database_id\", name, schema_id, principal_id) VALUES (?1, ?2, ?3, 1)",
        params![database_id, schema, id],
    )?;
    Ok(id)
}

/// About how many bytes a value of the type takes in a row.
fn stored_bytes(ty: SqlType) -> i64 {
    match ty {
        SqlType::Bit | SqlType::TinyInt => 1,
        SqlType::SmallInt => 2,
        SqlType::Int | SqlType::Date => 4,
        SqlType::BigInt | SqlType::Float | SqlType::DateTime | SqlType::DateTime2 => 8,
        SqlType::Decimal { precision, .. } => 5 + 4 * i64::from(precision / 10),
        SqlType::NVarChar(n) => 2 * i64::from(n.unwrap_or(50).min(50)),
        SqlType::VarChar(n) | SqlType::VarBinary(n) => i64::from(n.unwrap_or(50).min(50)),
        SqlType::UniqueIdentifier | SqlType::DateTimeOffset => 16,
        SqlType::SqlVariant => 24,
    }
}

/// The SQLite expression for row `n`'s value of a column.
fn generated_value(ty: Option<SqlType>, key: bool) -> String {
    match ty {
        Some(SqlType::Bit) => "n % 2".into(),
        Some(SqlType::TinyInt) if !key => "n % 256".into(),
        Some(SqlType::SmallInt) if !key => "n % 32768".into(),
        Some(SqlType::Int | SqlType::BigInt) if !key => "(n * 7919) % 100000".into(),
        Some(SqlType::TinyInt | SqlType::SmallInt | SqlType::Int | SqlType::BigInt) => "n".into(),
        Some(SqlType::Decimal { precision, scale }) => {
            let whole = 10_i64.pow(u32::from(precision.saturating_sub(scale)).min(15));
            if key {
                format!("n % {whole}")
            } else {
                format!("ROUND((n % {whole}) * 0.75, {scale})")
            }
        }
        Some(SqlType::Float) => "(n % 100000) * 0.5".into(),
        Some(SqlType::NVarChar(len) | SqlType::VarChar(len)) => {
            let text = if key { "'K' || n" } else { "'row ' || n" };
            match len {
                Some(len) => format!("substr({text}, 1, {len})"),
                None => text.to_string(),
            }
        }
        Some(SqlType::VarBinary(_)) => "CAST(printf('%08X', n) AS BLOB)".into(),
        Some(SqlType::Date) => "date('2024-01-01', '+' || (n % 3650) || ' days')".into(),
        Some(SqlType::DateTime | SqlType::DateTime2 | SqlType::DateTimeOffset) => {
            "strftime('%Y-%m-%d %H:%M:%f', '2024-01-01', '+' || n || ' minutes')".into()
        }
        Some(SqlType::UniqueIdentifier) => "printf('%08X-0000-4000-8000-%012X', n, n)".into(),
        Some(SqlType::SqlVariant) | None => "n".into(),
    }
}

/// Appends `count` generated rows to a user table; returns how many it added.
pub fn generate(conn: &Connection, table: &str, count: u64) -> rusqlite::Result<u64> {
    if count == 0 {
        return Ok(0);
    }
    let (first, insert): (i64, String) = conn
        .prepare_cached(
            "SELECT next_key, insert_rows FROM \"$user_tables\" WHERE sqlite_table = ?1",
        )?
        .query_row([table], |r| Ok((r.get(0)?, r.get(1)?)))?;
    let last = first + count as i64 - 1;
    let added = conn
        .prepare_cached(&insert)?
        .execute(params![first, last])?;
    conn.prepare_cached("UPDATE \"$user_tables\" SET next_key = ?2 WHERE sqlite_table = ?1")?
        .execute(params![table, last + 1])?;
    conn.prepare_cached(
        "UPDATE \"sys.partitions\" SET rows = rows + ?2
         WHERE object_id = (SELECT object_id FROM \"$user_tables\" WHERE sqlite_table = ?1) AND index_id = 1",
    )?
    .execute(params![table, added as i64])?;
    Ok(added as u64)
}

/// sys.partitions.rows after a change.
pub(super) fn recount(conn: &Connection, table: &str) -> rusqlite::Result<()> {
    let rows: i64 = conn.one(&format!("SELECT COUNT(*) FROM \"{table}\""), [], |r| {
        r.get(0)
    })?;
    conn.run(
        "UPDATE \"sys.partitions\" SET rows = ?2
         WHERE object_id = (SELECT object_id FROM \"$user_tables\" WHERE sqlite_table = ?1) AND index_id = 1",
        params![table, rows],
    )?;
    Ok(())
}

/// After INSERT, UPDATE or DELETE changed `rows` rows of a user table in one
/// committed transaction: the database's log moves by the rows' size and a log record
/// each, and sys.partitions counts the rows.
pub fn written(conn: &Connection, table: &str, rows: u64, now: &str) -> rusqlite::Result<()> {
    let found: Option<(i64, i64)> = conn
        .one(
            "SELECT database_id, row_bytes FROM \"$user_tables\" WHERE sqlite_table = ?1",
            [table],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    let Some((database_id, row_bytes)) = found else {
        return Ok(());
    };
    let bytes = rows as f64 * (row_bytes + LOG_BYTES_PER_ROW) as f64;
    let (from, to) = log::append(
        conn,
        database_id,
        Activity {
            bytes,
            transactions: 1.0,
            keep_per_sec: 0.0,
            ..Activity::default()
        },
        now,
    )?;
    row_log::stamp(conn, table, (from, to), false)?;
    recount(conn, table)?;
    log::refresh(conn, database_id)
}
