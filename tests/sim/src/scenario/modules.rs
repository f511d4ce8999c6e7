//! Programmability modules (procedures, views, functions, triggers) declared as their
//! `CREATE` text, which is what sys.sql_modules shows. The header says what the module
//! is; the three- and four-part names in the text are what SQL Server records in
//! sys.sql_expression_dependencies as cross-database and cross-server references
//! when it creates the module (names are recorded as written; the referenced object
//! need not exist).
//!
//! Lab simplification: a three-part name is always read as database.schema.object
//! (SQL Server would bind a `schema.table.column` in a select list to a column), and
//! one- and two-part (same-database) references are not recorded.

use sqlparser::dialect::MsSqlDialect;
use sqlparser::tokenizer::{Token, Tokenizer};

/// What `CREATE <kind>` made: sys.objects' type and type_desc.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModuleKind {
    Procedure,
    View,
    ScalarFunction,
    InlineTableFunction,
    TableFunction,
    Trigger,
}

impl ModuleKind {
    /// (type, type_desc) as sys.objects shows them.
    pub fn object_type(self) -> (&'static str, &'static str) {
        match self {
            ModuleKind::Procedure => ("P", "SQL_STORED_PROCEDURE"),
            ModuleKind::View => ("V", "VIEW"),
            ModuleKind::ScalarFunction => ("FN", "SQL_SCALAR_FUNCTION"),
            ModuleKind::InlineTableFunction => ("IF", "SQL_INLINE_TABLE_VALUED_FUNCTION"),
            ModuleKind::TableFunction => ("TF", "SQL_TABLE_VALUED_FUNCTION"),
            ModuleKind::Trigger => ("TR", "SQL_TRIGGER"),
        }
    }
}

/// What the start of a module's definition declares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModuleHeader {
    pub kind: ModuleKind,
    pub schema: String,
    pub name: String,
    /// A trigger's table: (schema, name).
    pub parent: Option<(String, String)>,
    /// WITH ENCRYPTION: sys.sql_modules.definition is NULL.
    pub encrypted: bool,
    /// WITH SCHEMABINDING.
    pub schema_bound: bool,
}

/// A cross-database or cross-server name in a module's text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    pub server: Option<String>,
    pub database: String,
    /// None when written as `database..object`.
    pub schema: Option<String>,
    pub entity: String,
}

/// A significant token: a word (unquoted identifier, keyword, or quoted identifier
/// with its quotes removed) or any other symbol.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Word { value: String, quoted: bool },
    Period,
    Comma,
    Other,
}

fn parts(definition: &str) -> Result<Vec<Part>, String> {
    let tokens = Tokenizer::new(&MsSqlDialect {}, definition)
        .tokenize()
        .map_err(|e| format!("module text does not scan as T-SQL: {e}"))?;
    Ok(tokens
        .into_iter()
        .filter_map(|t| match t {
            Token::Whitespace(_) => None,
            Token::Word(w) => Some(Part::Word {
                value: w.value,
                quoted: w.quote_style.is_some(),
            }),
            Token::Period => Some(Part::Period),
            Token::Comma => Some(Part::Comma),
            _ => Some(Part::Other),
        })
        .collect())
}

fn keyword(part: Option<&Part>, expected: &[&str]) -> bool {
    matches!(part, Some(Part::Word { value, quoted: false })
        if expected.iter().any(|e| value.eq_ignore_ascii_case(e)))
}

/// The dotted name starting at `at` (parts empty where written `a..b`) and the index
/// after it.
fn dotted(parts: &[Part], at: usize) -> (Vec<String>, usize) {
    let mut names = Vec::new();
    let mut i = at;
    let Some(Part::Word { value, .. }) = parts.get(i) else {
        return (names, i);
    };
    names.push(value.clone());
    i += 1;
    while parts.get(i) == Some(&Part::Period) {
        match parts.get(i + 1) {
            Some(Part::Word { value, .. }) => {
                names.push(value.clone());
                i += 2;
            }
            Some(Part::Period) => {
                names.push(String::new());
                i += 1;
            }
            _ => break,
        }
    }
    (names, i)
}

/// `schema.name` or `name` (schema dbo).
fn schema_and_name(names: &[String], what: &str) -> Result<(String, String), String> {
    match names {
        [name] if !name.is_empty() => Ok(("dbo".into(), name.clone())),
        [schema, name] if !schema.is_empty() && !name.is_empty() => {
            Ok((schema.clone(), name.clone()))
        }
        _ => Err(format!(
            "the {what} name must be `Name` or `schema.Name`, not {:?}",
            names.join(".")
        )),
    }
}

/// Reads `CREATE [OR ALTER] PROC|PROCEDURE|VIEW|FUNCTION|TRIGGER name ...`.
pub fn header(definition: &str) -> Result<ModuleHeader, String> {
    let parts = parts(definition)?;
    let mut i = 0;
    if !keyword(parts.first(), &["CREATE"]) {
        return Err("a module's definition starts with CREATE".into());
    }
    i += 1;
    if keyword(parts.get(i), &["OR"]) && keyword(parts.get(i + 1), &["ALTER"]) {
        i += 2;
    }
    let word = match parts.get(i) {
        Some(Part::Word { value, .. }) => value.to_ascii_uppercase(),
        _ => String::new(),
    };
    let (names, after) = dotted(&parts, i + 1);
    let (schema, name) = schema_and_name(&names, "module")?;
    let options = options_list(&parts);
    let with = |option: &str| options.iter().any(|o| o.eq_ignore_ascii_case(option));
    let kind = match word.as_str() {
        "PROC" | "PROCEDURE" => ModuleKind::Procedure,
        "VIEW" => ModuleKind::View,
        "TRIGGER" => ModuleKind::Trigger,
        "FUNCTION" => {
            let returns = parts[after..].iter().position(|p| keyword(Some(p), &["RETURNS"]));
            match returns.map(|r| after + r + 1) {
                Some(r) if keyword(parts.get(r), &["TABLE"]) => ModuleKind::InlineTableFunction,
                Some(r)
                    if matches!(parts.get(r), Some(Part::Word { value, .. }) if value.starts_with('@')) =>
                {
                    ModuleKind::TableFunction
                }
                Some(_) => ModuleKind::ScalarFunction,
                None => return Err("a function's definition says what it RETURNS".into()),
            }
        }
        _ => {
            return Err(
                "a module is CREATE PROCEDURE, VIEW, FUNCTION or TRIGGER (tables are declared as [[instance.database.table]])"
                    .into(),
            )
        }
    };
    let parent = if kind == ModuleKind::Trigger {
        if !keyword(parts.get(after), &["ON"]) {
            return Err(
                "a trigger's definition names its table: CREATE TRIGGER name ON table".into(),
            );
        }
        if keyword(parts.get(after + 1), &["DATABASE", "ALL"]) {
            return Err("DDL triggers are not modelled; declare DML triggers ON a table".into());
        }
        Some(schema_and_name(
            &dotted(&parts, after + 1).0,
            "trigger's table",
        )?)
    } else {
        None
    };
    Ok(ModuleHeader {
        kind,
        schema,
        name,
        parent,
        encrypted: with("ENCRYPTION"),
        schema_bound: with("SCHEMABINDING"),
    })
}

/// The options of every `WITH a, b, c` list (`EXECUTE AS x` counts as EXECUTE).
fn options_list(parts: &[Part]) -> Vec<String> {
    let mut options = Vec::new();
    for (i, part) in parts.iter().enumerate() {
        if !keyword(Some(part), &["WITH"]) {
            continue;
        }
        let mut j = i + 1;
        while let Some(Part::Word {
            value,
            quoted: false,
        }) = parts.get(j)
        {
            options.push(value.clone());
            j += 1;
            if value.eq_ignore_ascii_case("EXECUTE") && keyword(parts.get(j), &["AS"]) {
                j += 2;
            }
            if parts.get(j) != Some(&Part::Comma) {
                break;
            }
            j += 1;
        }
    }
    options
}

/// The distinct three- and four-part names in `definition`, in order of appearance.
pub fn references(definition: &str) -> Result<Vec<Reference>, String> {
    let parts = parts(definition)?;
    let mut found: Vec<Reference> = Vec::new();
    let mut i = 0;
    while i < parts.len() {
        let starts =
            matches!(parts[i], Part::Word { .. }) && (i == 0 || parts[i - 1] != Part::Period);
        if !starts {
            i += 1;
            continue;
        }
        let (names, after) = dotted(&parts, i);
        i = after.max(i + 1);
        if names[0].starts_with('@') || names[0].starts_with('#') {
            continue;
        }
        let reference = match names.as_slice() {
            [database, schema, entity] => (None, database, schema, entity),
            [server, database, schema, entity] => (Some(server), database, schema, entity),
            _ => continue,
        };
        let (server, database, schema, entity) = reference;
        if database.is_empty() || entity.is_empty() || server.is_some_and(|s| s.is_empty()) {
            continue;
        }
        let reference = Reference {
            server: server.cloned(),
            database: database.clone(),
            schema: Some(schema.clone()).filter(|s| !s.is_empty()),
            entity: entity.clone(),
        };
        let same = |a: &Reference| {
            let eq = |x: &Option<String>, y: &Option<String>| match (x, y) {
                (Some(x), Some(y)) => x.eq_ignore_ascii_case(y),
                (None, None) => true,
                _ => false,
            };
            eq(&a.server, &reference.server)
                && a.database.eq_ignore_ascii_case(&reference.database)
                && eq(&a.schema, &reference.schema)
                && a.entity.eq_ignore_ascii_case(&reference.entity)
        };
        if !found.iter().any(same) {
            found.push(reference);
        }
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_say_what_the_module_is() {
        let h = header("CREATE PROCEDURE [ops].[Move Stock] @n int AS SELECT 1").unwrap();
        assert_eq!(
            (h.kind, h.schema.as_str(), h.name.as_str(), h.encrypted),
            (ModuleKind::Procedure, "ops", "Move Stock", false)
        );
        let h = header("create or alter view v WITH ENCRYPTION, SCHEMABINDING as select 1 as x")
            .unwrap();
        assert!(
            header("CREATE PROC p WITH EXECUTE AS OWNER, ENCRYPTION AS SELECT 1")
                .unwrap()
                .encrypted
        );
        assert_eq!((h.kind, h.schema.as_str()), (ModuleKind::View, "dbo"));
        assert!(h.encrypted && h.schema_bound);
        let f = |text: &str| header(text).unwrap().kind;
        assert_eq!(
            f("CREATE FUNCTION dbo.f() RETURNS int AS BEGIN RETURN 1 END"),
            ModuleKind::ScalarFunction
        );
        assert_eq!(
            f("CREATE FUNCTION dbo.f() RETURNS TABLE AS RETURN SELECT 1 AS x"),
            ModuleKind::InlineTableFunction
        );
        assert_eq!(
            f("CREATE FUNCTION dbo.f() RETURNS @t TABLE (x int) AS BEGIN RETURN END"),
            ModuleKind::TableFunction
        );
        let t = header("CREATE TRIGGER dbo.tr ON dbo.Orders AFTER INSERT AS SELECT 1").unwrap();
        assert_eq!(t.parent, Some(("dbo".into(), "Orders".into())));
        assert!(header("CREATE TABLE t (x int)")
            .unwrap_err()
            .contains("PROCEDURE, VIEW"));
        assert!(header("CREATE TRIGGER tr ON DATABASE FOR CREATE_TABLE AS SELECT 1").is_err());
        assert!(header("SELECT 1").is_err());
    }

    #[test]
    fn three_and_four_part_names_are_references() {
        let found = references(
            "CREATE PROCEDURE dbo.p AS
             -- Old.dbo.Ignored is in a comment
             SELECT s.Qty FROM Inventory.dbo.Stock AS s JOIN dbo.Local AS l ON l.Id = s.Id;
             UPDATE [HQ SERVER].Central..Totals SET n = 1;
             SELECT 'Quoted.dbo.Text', @a.b.c FROM inventory.DBO.stock;",
        )
        .unwrap();
        assert_eq!(
            found,
            [
                Reference {
                    server: None,
                    database: "Inventory".into(),
                    schema: Some("dbo".into()),
                    entity: "Stock".into(),
                },
                Reference {
                    server: Some("HQ SERVER".into()),
                    database: "Central".into(),
                    schema: None,
                    entity: "Totals".into(),
                },
            ]
        );
    }
}
