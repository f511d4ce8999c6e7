//! T-SQL to SQLite, on sqlparser's AST: object names resolved against the catalog
//! (`sys.databases`, `master.sys.databases`, `msdb.dbo.backupset`, per-database views in
//! the session's database), TOP to LIMIT, N'' literals, @@ globals, and T-SQL functions
//! to their SQLite forms or to subqueries over the catalog. Also works out each result
//! column's name and, where the query says, its type.

use std::ops::ControlFlow;

use sqlparser::ast::{
    BinaryOperator, Expr, FromTable, FunctionArg, FunctionArgExpr, FunctionArguments, Ident, Join,
    JoinConstraint, JoinOperator, LimitClause, ObjectName, Query, Select, SelectItem, SetExpr,
    Statement, TableAlias, TableFactor, TableObject, TopQuantity, Value as AstValue, VisitMut,
    VisitorMut,
};
use sqlparser::dialect::MsSqlDialect;
use sqlparser::parser::Parser;

use crate::tds::tokens::Message;
use crate::tds::types::SqlType;

use super::session::SessionLogin;
use super::{errors, Catalog, InstanceInfo, TableShape};

/// What a statement runs in.
pub struct Scope<'a> {
    pub catalog: &'a Catalog,
    pub info: &'a InstanceInfo,
    pub database: &'a str,
    pub database_id: i64,
    pub login: &'a SessionLogin,
    pub spid: u16,
}

/// A result column as the query names and, where it says, types it.
pub type ColumnHint = (String, Option<SqlType>);

pub struct Translated {
    pub sql: String,
    /// Per result column, when the select list has no `*`.
    pub columns: Option<Vec<ColumnHint>>,
    /// The user table an INSERT, UPDATE or DELETE writes (its SQLite name).
    pub writes: Option<String>,
}

pub fn translate(mut statement: Statement, scope: &Scope) -> Result<Translated, Message> {
    match &statement {
        Statement::Query(_) => {}
        Statement::Insert(_) | Statement::Update(_) | Statement::Delete(_) => {}
        other => return Err(errors::not_modelled(&first_words(&other.to_string()))),
    }
    // A write's target is a user table: the system views are read-only.
    let writes = match write_target(&statement) {
        Some(name) => {
            let target = resolve(scope, name)?;
            if target.system {
                return Err(errors::ad_hoc_catalog_update());
            }
            Some(target.table)
        }
        None => None,
    };
    // The visitor rewrites table factors; an INSERT names its table outside one.
    if let (Statement::Insert(insert), Some(table)) = (&mut statement, &writes) {
        insert.table =
            TableObject::TableName(ObjectName::from(vec![Ident::with_quote('"', table)]));
    }
    let mut rewriter = Rewriter { scope };
    if let ControlFlow::Break(message) = statement.visit(&mut rewriter) {
        return Err(message);
    }
    let columns = match &statement {
        Statement::Query(query) => column_hints(query, scope.catalog),
        _ => None,
    };
    Ok(Translated {
        sql: statement.to_string(),
        columns,
        writes,
    })
}

/// The table an INSERT, UPDATE or DELETE changes.
fn write_target(statement: &Statement) -> Option<&ObjectName> {
    let factor = match statement {
        Statement::Insert(insert) => {
            return match &insert.table {
                TableObject::TableName(name) => Some(name),
                _ => None,
            }
        }
        Statement::Update(update) => &update.table.relation,
        Statement::Delete(delete) => match &delete.from {
            FromTable::WithFromKeyword(tables) | FromTable::WithoutKeyword(tables) => {
                &tables.first()?.relation
            }
        },
        _ => return None,
    };
    match factor {
        TableFactor::Table { name, .. } => Some(name),
        _ => None,
    }
}

pub fn first_words(sql: &str) -> String {
    sql.split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
        .to_uppercase()
}

/// Parses a snippet the rewriter builds (its names are already SQLite's).
fn snippet_expr(sql: &str) -> Result<Expr, Message> {
    Parser::new(&MsSqlDialect {})
        .try_with_sql(sql)
        .and_then(|mut p| p.parse_expr())
        .map_err(|e| errors::internal(&format!("rewriting '{sql}': {e}")))
}

fn snippet_query(sql: &str) -> Result<Box<Query>, Message> {
    Parser::new(&MsSqlDialect {})
        .try_with_sql(sql)
        .and_then(|mut p| p.parse_query())
        .map_err(|e| errors::internal(&format!("rewriting '{sql}': {e}")))
}

fn quote_literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// A resolved object name.
struct Resolved {
    table: String,
    visible: Vec<String>,
    /// Filter a per-database view to this database.
    database_id: Option<i64>,
    hidden: bool,
    system: bool,
}

fn resolve(scope: &Scope, name: &ObjectName) -> Result<Resolved, Message> {
    let parts: Vec<String> = name
        .0
        .iter()
        .map(|p| p.as_ident().map(|i| i.value.clone()).unwrap_or_default())
        .collect();
    let written = parts.join(".");
    let (database, schema, object) = match parts.as_slice() {
        [object] => (None, None, object),
        [schema, object] => (None, Some(schema), object),
        [database, schema, object] => (
            Some(database),
            Some(schema).filter(|s| !s.is_empty()),
            object,
        ),
        _ => return Err(errors::not_modelled(&format!("four-part name {written}"))),
    };
    let database_name = match database {
        Some(db) => scope
            .catalog
            .database_name(db)
            .ok_or_else(|| errors::invalid_object(&written))?,
        None => scope.database.to_string(),
    };
    let schema = schema.map_or("dbo", String::as_str);
    let key = if schema.eq_ignore_ascii_case("sys") {
        format!("sys.{object}")
    } else if database_name.eq_ignore_ascii_case("msdb")
        && schema.eq_ignore_ascii_case("dbo")
        && scope.catalog.shape(&format!("msdb.dbo.{object}")).is_some()
    {
        format!("msdb.dbo.{object}")
    } else {
        format!("{database_name}.{schema}.{object}")
    };
    let shape = scope
        .catalog
        .shape(&key)
        .ok_or_else(|| errors::invalid_object(&written))?;
    if shape.system
        && object.to_ascii_lowercase().starts_with("dm_")
        && !scope.login.may_view_server_state()
    {
        return Err(errors::view_server_state_denied());
    }
    let database_id = if shape.per_database {
        Some(if database.is_some() {
            scope.catalog.database_id(&database_name).unwrap_or(0)
        } else {
            scope.database_id
        })
    } else {
        None
    };
    Ok(Resolved {
        table: shape.table.clone(),
        visible: shape.visible.clone(),
        database_id,
        hidden: shape.hidden,
        system: shape.system,
    })
}

/// OBJECT_ID of system procedures: negative, as SQL Server's system objects are.
const SYSTEM_OBJECT_ISSUER: i64 = -1_073_624_911;
const SYSTEM_OBJECT_EXECUTESQL: i64 = -1_073_624_914;

struct Rewriter<'a, 'b> {
    scope: &'a Scope<'b>,
}

impl VisitorMut for Rewriter<'_, '_> {
    type Break = Message;

    fn post_visit_table_factor(&mut self, factor: &mut TableFactor) -> ControlFlow<Message> {
        let TableFactor::Table {
            name,
            alias,
            args,
            with_hints,
            ..
        } = factor
        else {
            return ControlFlow::Continue(());
        };
        let resolved = match resolve(self.scope, name) {
            Ok(r) => r,
            Err(e) => return ControlFlow::Break(e),
        };
        with_hints.clear();
        let new_alias = alias.take().unwrap_or_else(|| named_alias(name));
        let mut filters = Vec::new();
        if let Some(id) = resolved.database_id {
            filters.push(format!("\"$database_id\" = {id}"));
        }
        // Table-valued DMVs: sys.dm_io_virtual_file_stats(database_id, file_id), where
        // NULL means all, and sys.dm_db_log_stats(database_id), where NULL or DEFAULT
        // means the current database.
        if let Some(call) = args.take() {
            let function = TableFunction::of(&resolved.table);
            for (column, arg) in function.keys.iter().zip(call.args.iter()) {
                let text = arg.to_string();
                let omitted =
                    text.eq_ignore_ascii_case("null") || text.eq_ignore_ascii_case("default");
                if !omitted {
                    filters.push(format!("{column} = {text}"));
                } else if function.omitted_is_current_database {
                    filters.push(format!("{column} = {}", self.scope.database_id));
                }
            }
        }
        if resolved.hidden || !filters.is_empty() {
            let columns: Vec<String> = resolved
                .visible
                .iter()
                .map(|c| format!("\"{c}\""))
                .collect();
            let mut sql = format!("SELECT {} FROM \"{}\"", columns.join(", "), resolved.table);
            if !filters.is_empty() {
                sql.push_str(&format!(" WHERE {}", filters.join(" AND ")));
            }
            match snippet_query(&sql) {
                Ok(subquery) => {
                    *factor = TableFactor::Derived {
                        lateral: false,
                        subquery,
                        alias: Some(new_alias),
                        sample: None,
                    }
                }
                Err(e) => return ControlFlow::Break(e),
            }
        } else {
            *name = ObjectName::from(vec![Ident::with_quote('"', resolved.table)]);
            *alias = Some(new_alias);
        }
        ControlFlow::Continue(())
    }

    fn pre_visit_query(&mut self, query: &mut Query) -> ControlFlow<Message> {
        if let SetExpr::Select(select) = query.body.as_mut() {
            for join in select.from.iter_mut().flat_map(|f| f.joins.iter_mut()) {
                if let Err(e) = apply_as_join(join) {
                    return ControlFlow::Break(e);
                }
            }
        }
        ControlFlow::Continue(())
    }

    fn post_visit_query(&mut self, query: &mut Query) -> ControlFlow<Message> {
        if let SetExpr::Select(select) = query.body.as_mut() {
            if let Some(top) = select.top.take() {
                if top.percent || top.with_ties {
                    return ControlFlow::Break(errors::not_modelled("TOP PERCENT / WITH TIES"));
                }
                let limit = match top.quantity {
                    Some(TopQuantity::Constant(n)) => {
                        Expr::value(AstValue::Number(n.to_string(), false))
                    }
                    Some(TopQuantity::Expr(e)) => e,
                    None => return ControlFlow::Continue(()),
                };
                query.limit_clause = Some(LimitClause::LimitOffset {
                    limit: Some(limit),
                    offset: None,
                    limit_by: Vec::new(),
                });
            }
            if select.into.is_some() {
                return ControlFlow::Break(errors::not_modelled("SELECT INTO"));
            }
        }
        ControlFlow::Continue(())
    }

    fn post_visit_expr(&mut self, expr: &mut Expr) -> ControlFlow<Message> {
        match self.rewrite_expr(expr) {
            Ok(Some(new)) => *expr = new,
            Ok(None) => {}
            Err(e) => return ControlFlow::Break(e),
        }
        ControlFlow::Continue(())
    }
}

/// A table-valued DMV: the columns its arguments select rows by, in order, and what
/// an omitted (NULL or DEFAULT) argument means.
struct TableFunction {
    keys: &'static [&'static str],
    /// sys.dm_db_log_stats: the current database; otherwise every row.
    omitted_is_current_database: bool,
}

impl TableFunction {
    fn of(table: &str) -> TableFunction {
        if table.to_ascii_lowercase().ends_with("dm_db_log_stats") {
            TableFunction {
                keys: &["database_id"],
                omitted_is_current_database: true,
            }
        } else {
            TableFunction {
                keys: &["database_id", "file_id"],
                omitted_is_current_database: false,
            }
        }
    }
}

/// The alias a table factor gets when the query gives none: its own last name.
fn named_alias(name: &ObjectName) -> TableAlias {
    TableAlias {
        at: None,
        explicit: true,
        name: Ident::with_quote('"', last_name(name)),
        columns: Vec::new(),
    }
}

/// `CROSS APPLY sys.dm_db_log_stats(d.database_id)`: a table-valued DMV's arguments
/// select its rows by key, so applying one is joining it on those keys (OUTER APPLY,
/// a left join). NULL arguments select every row.
fn apply_as_join(join: &mut Join) -> Result<(), Message> {
    let outer = match join.join_operator {
        JoinOperator::CrossApply => false,
        JoinOperator::OuterApply => true,
        _ => return Ok(()),
    };
    let TableFactor::Table {
        name, alias, args, ..
    } = &mut join.relation
    else {
        return Err(errors::not_modelled(
            "APPLY of anything but a table-valued DMV",
        ));
    };
    let Some(call) = args.take() else {
        return Err(errors::not_modelled(
            "APPLY of anything but a table-valued DMV",
        ));
    };
    let keys = TableFunction::of(&last_name(name)).keys;
    let qualifier = alias.get_or_insert_with(|| named_alias(name)).name.clone();
    let mut on: Option<Expr> = None;
    for (column, arg) in keys.iter().zip(call.args) {
        let FunctionArg::Unnamed(FunctionArgExpr::Expr(value)) = arg else {
            continue;
        };
        if matches!(&value, Expr::Value(v) if v.value == AstValue::Null) {
            continue;
        }
        let equal = Expr::BinaryOp {
            left: Box::new(Expr::CompoundIdentifier(vec![
                qualifier.clone(),
                Ident::new(*column),
            ])),
            op: BinaryOperator::Eq,
            right: Box::new(value),
        };
        on = Some(match on {
            Some(before) => Expr::BinaryOp {
                left: Box::new(before),
                op: BinaryOperator::And,
                right: Box::new(equal),
            },
            None => equal,
        });
    }
    let constraint = on.map_or(JoinConstraint::None, JoinConstraint::On);
    join.join_operator = if outer {
        JoinOperator::LeftOuter(constraint)
    } else {
        JoinOperator::Inner(constraint)
    };
    Ok(())
}

fn function_args(args: &FunctionArguments) -> Vec<String> {
    match args {
        FunctionArguments::List(list) => list
            .args
            .iter()
            .map(|a| match a {
                FunctionArg::Unnamed(FunctionArgExpr::Expr(e)) => e.to_string(),
                other => other.to_string(),
            })
            .collect(),
        _ => Vec::new(),
    }
}

impl Rewriter<'_, '_> {
    fn rewrite_expr(&self, expr: &Expr) -> Result<Option<Expr>, Message> {
        let scope = self.scope;
        Ok(Some(match expr {
            Expr::Value(v) => match &v.value {
                AstValue::NationalStringLiteral(s) => {
                    Expr::value(AstValue::SingleQuotedString(s.clone()))
                }
                _ => return Ok(None),
            },
            Expr::Identifier(ident)
                if ident.quote_style.is_none() && ident.value.starts_with("@@") =>
            {
                self.global(&ident.value)?
            }
            Expr::Cast {
                expr, data_type, ..
            } => snippet_expr(&format!(
                "tsql_cast({expr}, {})",
                quote_literal(&data_type.to_string())
            ))?,
            Expr::Convert {
                expr,
                data_type: Some(data_type),
                ..
            } => snippet_expr(&format!(
                "tsql_cast({expr}, {})",
                quote_literal(&data_type.to_string())
            ))?,
            Expr::BinaryOp {
                left,
                op: sqlparser::ast::BinaryOperator::Plus,
                right,
            } => snippet_expr(&format!("tsql_add({left}, {right})"))?,
            Expr::BinaryOp {
                left,
                op: sqlparser::ast::BinaryOperator::Divide,
                right,
            } => snippet_expr(&format!("tsql_divide({left}, {right})"))?,
            Expr::Function(f) => {
                let name = f
                    .name
                    .0
                    .last()
                    .and_then(|p| p.as_ident())
                    .map(|i| i.value.to_ascii_lowercase())
                    .unwrap_or_default();
                let args = function_args(&f.args);
                let arg = |n: usize| args.get(n).cloned().unwrap_or_else(|| "NULL".into());
                let login = quote_literal(&scope.login.name);
                let sql = match name.as_str() {
                    "db_id" if args.is_empty() => scope.database_id.to_string(),
                    "db_id" => format!("(SELECT database_id FROM \"sys.databases\" WHERE name = {})", arg(0)),
                    "db_name" if args.is_empty() => quote_literal(scope.database),
                    "db_name" => format!("(SELECT name FROM \"sys.databases\" WHERE database_id = {})", arg(0)),
                    "suser_sname" | "suser_name" | "original_login" | "user_name" if args.is_empty() => login,
                    "is_srvrolemember" => {
                        let member = if args.len() > 1 { arg(1) } else { login };
                        format!(
                            "(CASE WHEN NOT EXISTS (SELECT 1 FROM \"sys.server_principals\" WHERE type = 'R' AND name = {role}) THEN NULL \
                              WHEN lower({role}) = 'public' OR EXISTS (SELECT 1 FROM \"sys.server_role_members\" rm \
                                JOIN \"sys.server_principals\" r ON r.principal_id = rm.role_principal_id \
                                JOIN \"sys.server_principals\" m ON m.principal_id = rm.member_principal_id \
                                WHERE r.name = {role} AND m.name = {member}) THEN 1 ELSE 0 END)",
                            role = arg(0)
                        )
                    }
                    "has_perms_by_name" => format!(
                        "(CASE WHEN {sysadmin} = 1 THEN 1 WHEN upper(COALESCE({class}, 'OBJECT')) = 'SERVER' AND EXISTS (SELECT 1 FROM \"sys.server_permissions\" \
                           WHERE grantee_principal_id = {pid} AND permission_name = upper({permission}) AND state IN ('G', 'W')) THEN 1 ELSE 0 END)",
                        sysadmin = i64::from(scope.login.sysadmin),
                        class = arg(1),
                        pid = scope.login.principal_id,
                        permission = arg(2)
                    ),
                    // System procedures the lab models (sp_certificate_add_issuer only on
                    // builds with the servicing update) and user tables of the current
                    // database, by `name`, `schema.name` or `[schema].[name]`.
                    "object_id" => {
                        let issuer = if scope.info.build.has_certificate_issuer_procedure() {
                            SYSTEM_OBJECT_ISSUER.to_string()
                        } else {
                            "NULL".into()
                        };
                        format!(
                            "(SELECT CASE lower(replace(replace({name}, '[', ''), ']', '')) \
                               WHEN 'sys.sp_certificate_add_issuer' THEN {issuer} \
                               WHEN 'sp_certificate_add_issuer' THEN {issuer} \
                               WHEN 'sys.sp_executesql' THEN {SYSTEM_OBJECT_EXECUTESQL} \
                               WHEN 'sp_executesql' THEN {SYSTEM_OBJECT_EXECUTESQL} \
                               ELSE (SELECT t.object_id FROM \"sys.tables\" t JOIN \"sys.schemas\" s \
                                       ON s.\"$database_id\" = t.\"$database_id\" AND s.schema_id = t.schema_id \
                                     WHERE t.\"$database_id\" = {db} AND (lower(replace(replace({name}, '[', ''), ']', '')) = lower(t.name) \
                                       OR lower(replace(replace({name}, '[', ''), ']', '')) = lower(s.name || '.' || t.name))) END)",
                            name = arg(0),
                            db = scope.database_id,
                        )
                    }
                    "cert_id" => format!(
                        "(SELECT certificate_id FROM \"sys.certificates\" WHERE \"$database_id\" = {} AND name = {})",
                        scope.database_id,
                        arg(0)
                    ),
                    "certencoded" => format!(
                        "(SELECT \"$der\" FROM \"sys.certificates\" WHERE \"$database_id\" = {} AND certificate_id = {})",
                        scope.database_id,
                        arg(0)
                    ),
                    "databasepropertyex" => format!(
                        "(SELECT CASE upper({property}) WHEN 'RECOVERY' THEN recovery_model_desc WHEN 'STATUS' THEN state_desc \
                           WHEN 'COLLATION' THEN collation_name WHEN 'USERACCESS' THEN user_access_desc \
                           WHEN 'UPDATEABILITY' THEN CASE is_read_only WHEN 1 THEN 'READ_ONLY' ELSE 'READ_WRITE' END END \
                           FROM \"sys.databases\" WHERE name = {database})",
                        database = arg(0),
                        property = arg(1)
                    ),
                    "isnull" => format!("ifnull({}, {})", arg(0), arg(1)),
                    "count_big" => format!(
                        "tsql_cast(count({}), 'bigint')",
                        args.first().map_or("*", String::as_str)
                    ),
                    "substring" => format!("substr({}, {}, {})", arg(0), arg(1), arg(2)),
                    "left" => format!("substr({}, 1, {})", arg(0), arg(1)),
                    "right" => format!("substr({}, -({}))", arg(0), arg(1)),
                    _ => return Ok(None),
                };
                snippet_expr(&sql)?
            }
            _ => return Ok(None),
        }))
    }

    /// @@VERSION, @@SERVERNAME, @@SPID ...
    fn global(&self, name: &str) -> Result<Expr, Message> {
        let info = self.scope.info;
        let text = |s: &str| Expr::value(AstValue::SingleQuotedString(s.to_string()));
        let number = |n: i64| Expr::value(AstValue::Number(n.to_string(), false));
        Ok(match name.to_ascii_uppercase().as_str() {
            "@@VERSION" => text(&info.version_text()),
            "@@SERVERNAME" => text(&info.name),
            "@@SERVICENAME" => text("MSSQLSERVER"),
            "@@SPID" => number(i64::from(self.scope.spid)),
            "@@LANGUAGE" => text("us_english"),
            "@@TRANCOUNT" => number(0),
            "@@MICROSOFTVERSION" => {
                let [major, minor, build, _] = info.build.parts;
                number(i64::from(major) << 24 | i64::from(minor) << 16 | i64::from(build))
            }
            other => return Err(errors::not_modelled(other)),
        })
    }
}

/// Result column names and types the select list states: aliases, column names,
/// CASTs. None when the list has `*` (the engine's own names and types are used).
fn column_hints(query: &Query, catalog: &Catalog) -> Option<Vec<ColumnHint>> {
    let SetExpr::Select(select) = query.body.as_ref() else {
        return None;
    };
    let sources = Sources::of(select, catalog);
    select
        .projection
        .iter()
        .map(|item| match item {
            SelectItem::UnnamedExpr(e) => Some((expr_name(e), expr_type(e, &sources))),
            SelectItem::ExprWithAlias { expr, alias } => {
                Some((alias.value.clone(), expr_type(expr, &sources)))
            }
            _ => None,
        })
        .collect()
}

/// The catalog tables a rewritten SELECT reads, by the names its columns use, so
/// that an aggregate's type can follow its argument's declared type.
struct Sources<'a> {
    tables: Vec<(String, &'a TableShape)>,
    /// For a scalar subquery's own sources.
    catalog: &'a Catalog,
}

impl<'a> Sources<'a> {
    fn of(select: &Select, catalog: &'a Catalog) -> Sources<'a> {
        let factors = select
            .from
            .iter()
            .flat_map(|f| std::iter::once(&f.relation).chain(f.joins.iter().map(|j| &j.relation)));
        let tables = factors
            .filter_map(|factor| {
                let (table, alias) = match factor {
                    TableFactor::Table { name, alias, .. } => (last_name(name), alias),
                    TableFactor::Derived {
                        subquery, alias, ..
                    } => match subquery.body.as_ref() {
                        SetExpr::Select(inner) => match &inner.from.first()?.relation {
                            TableFactor::Table { name, .. } => (last_name(name), alias),
                            _ => return None,
                        },
                        _ => return None,
                    },
                    _ => return None,
                };
                let shape = catalog.shape(&table)?;
                let named = alias.as_ref().map_or(table, |a| a.name.value.clone());
                Some((named.to_ascii_lowercase(), shape))
            })
            .collect();
        Sources { tables, catalog }
    }

    /// The declared type of a column reference (`size`, `f.size`).
    fn column_type(&self, e: &Expr) -> Option<SqlType> {
        let (qualifier, column) = match e {
            Expr::Identifier(i) => (None, i.value.to_ascii_lowercase()),
            Expr::CompoundIdentifier(parts) if parts.len() == 2 => (
                Some(parts[0].value.to_ascii_lowercase()),
                parts[1].value.to_ascii_lowercase(),
            ),
            Expr::Nested(inner) => return self.column_type(inner),
            _ => return None,
        };
        self.tables
            .iter()
            .filter(|(name, _)| qualifier.as_ref().is_none_or(|q| q == name))
            .find_map(|(_, shape)| shape.types.get(&column).copied())
    }
}

fn last_name(name: &ObjectName) -> String {
    name.0
        .last()
        .and_then(|p| p.as_ident())
        .map(|i| i.value.clone())
        .unwrap_or_default()
}

fn expr_name(e: &Expr) -> String {
    match e {
        Expr::Identifier(i) => i.value.clone(),
        Expr::CompoundIdentifier(parts) => {
            parts.last().map(|i| i.value.clone()).unwrap_or_default()
        }
        _ => String::new(),
    }
}

fn expr_type(e: &Expr, sources: &Sources) -> Option<SqlType> {
    match e {
        Expr::Nested(inner) => expr_type(inner, sources),
        Expr::Function(f) => {
            let name = f.name.to_string().to_ascii_lowercase();
            let args = function_args(&f.args);
            let argument = || match &f.args {
                FunctionArguments::List(list) => match list.args.as_slice() {
                    [FunctionArg::Unnamed(FunctionArgExpr::Expr(e))] => {
                        expr_type(e, sources).or_else(|| sources.column_type(e))
                    }
                    _ => None,
                },
                _ => None,
            };
            match name.as_str() {
                "tsql_cast" => SqlType::parse(args.get(1)?.trim_matches('\'')),
                "serverproperty" => Some(SqlType::SqlVariant),
                "count" => Some(SqlType::Int),
                "min" | "max" => argument(),
                // SUM: int for the small integers, otherwise the argument's type, with
                // decimals widened to 38 digits.
                "sum" => match argument()? {
                    SqlType::Bit | SqlType::TinyInt | SqlType::SmallInt | SqlType::Int => {
                        Some(SqlType::Int)
                    }
                    SqlType::Decimal { scale, .. } => Some(SqlType::Decimal {
                        precision: 38,
                        scale,
                    }),
                    other => Some(other),
                },
                _ => None,
            }
        }
        // A scalar subquery has the type of its one column (NULL when it finds no row,
        // still of that type).
        Expr::Subquery(query) => match query.body.as_ref() {
            SetExpr::Select(inner) => {
                let inner_sources = Sources::of(inner, sources.catalog);
                match inner.projection.as_slice() {
                    [SelectItem::UnnamedExpr(e) | SelectItem::ExprWithAlias { expr: e, .. }] => {
                        expr_type(e, &inner_sources).or_else(|| inner_sources.column_type(e))
                    }
                    _ => None,
                }
            }
            _ => None,
        },
        Expr::Value(v) => match &v.value {
            AstValue::SingleQuotedString(s) => {
                Some(SqlType::NVarChar(Some(s.chars().count().max(1) as u16)))
            }
            _ => None,
        },
        _ => None,
    }
}
