//! A database's programmability modules, created from a scenario's `CREATE` texts:
//! each is a row in sys.objects and sys.sql_modules (no definition when created WITH
//! ENCRYPTION), and its three- and four-part names are rows in
//! sys.sql_expression_dependencies, as SQL Server records them at CREATE time: names
//! as written, `referenced_id` NULL (always so across databases and servers).

use rusqlite::{params, Connection};

use super::user_tables::{insert_object, schema_id, Object};
use crate::engine::cached::Cached;
use crate::scenario::modules::{header, references};

/// Module object ids start here, clear of the user tables' ids.
const FIRST_MODULE_ID: i64 = 1_150_000_000;

/// Creates `definition` in database `database_id` (the scenario was validated, so its
/// header and names parse).
pub fn create(
    conn: &Connection,
    database_id: i64,
    definition: &str,
    created: &str,
) -> rusqlite::Result<()> {
    let invalid = |e: String| rusqlite::Error::UserFunctionError(e.into());
    let module = header(definition).map_err(invalid)?;
    let schema_id = schema_id(conn, database_id, &module.schema)?;
    let object_id: i64 = conn.one(
        "SELECT COALESCE(MAX(object_id) + 16, ?2) FROM \"sys.objects\" WHERE \"$database_id\" = ?1 AND object_id >= ?2",
        params![database_id, FIRST_MODULE_ID],
        |r| r.get(0),
    )?;
    let parent_id: i64 = match &module.parent {
        Some((schema, table)) => conn.one(
            "SELECT t.object_id FROM \"sys.tables\" t JOIN \"sys.schemas\" s
               ON s.\"$database_id\" = t.\"$database_id\" AND s.schema_id = t.schema_id
             WHERE t.\"$database_id\" = ?1 AND lower(s.name) = lower(?2) AND lower(t.name) = lower(?3)",
            params![database_id, schema, table],
            |r| r.get(0),
        )?,
        None => 0,
    };
    insert_object(
        conn,
        database_id,
        Object {
            name: &module.name,
            object_id,
            schema_id,
            parent_id,
            kind: module.kind.object_type(),
        },
        created,
    )?;
    conn.run(
        "INSERT INTO \"sys.sql_modules\" (\"$database_id\", object_id, definition, uses_ansi_nulls, uses_quoted_identifier,
            is_schema_bound, uses_database_collation, is_recompiled, null_on_null_input, execute_as_principal_id,
            uses_native_compilation, inline_type, is_inlineable)
         VALUES (?1, ?2, ?3, 1, 1, ?4, ?4, 0, 0, NULL, 0, 0, 0)",
        params![
            database_id,
            object_id,
            (!module.encrypted).then_some(definition),
            module.schema_bound
        ],
    )?;
    for reference in references(definition).map_err(invalid)? {
        conn.run(
            "INSERT INTO \"sys.sql_expression_dependencies\" (\"$database_id\", referencing_id, referencing_minor_id,
                referencing_class, referencing_class_desc, is_schema_bound_reference, referenced_class,
                referenced_class_desc, referenced_server_name, referenced_database_name, referenced_schema_name,
                referenced_entity_name, referenced_id, referenced_minor_id, is_caller_dependent, is_ambiguous)
             VALUES (?1, ?2, 0, 1, 'OBJECT_OR_COLUMN', 0, 1, 'OBJECT_OR_COLUMN', ?3, ?4, ?5, ?6, NULL, 0, 0, 0)",
            params![
                database_id,
                object_id,
                reference.server,
                reference.database,
                reference.schema,
                reference.entity
            ],
        )?;
    }
    Ok(())
}
