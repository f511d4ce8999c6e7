//! One connection's view of the instance: who is logged in, the database in use, the
//! batch's variables, and the statements run in order. Each statement takes the catalog
//! lock for itself only, so a WAITFOR or a long batch on one session never holds up
//! another. Errors end the statement, not the batch (syntax errors stop the whole
//! batch before it runs, as in SQL Server).

use std::collections::HashMap;
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use sqlparser::ast::{Expr, Statement};
use sqlparser::dialect::MsSqlDialect;
use sqlparser::parser::Parser;

use crate::tds::tokens::Message;
use crate::tds::types::{SqlType, Value};

use super::batch::{parse_batch, Line, Stmt};
use super::effects::{self, Target};
use super::functions::{from_sqlite, to_sqlite, SqlError};
use super::translate::{translate, Scope};
use super::{errors, user_tables, Catalog, Instance};

#[derive(Debug, Clone)]
pub struct SessionLogin {
    pub name: String,
    pub principal_id: i64,
    pub sysadmin: bool,
    pub permissions: Vec<String>,
}

impl SessionLogin {
    /// sysadmin, or granted any of these server permissions.
    pub fn holds_any(&self, permissions: &[&str]) -> bool {
        self.sysadmin
            || self
                .permissions
                .iter()
                .any(|p| permissions.contains(&p.as_str()))
    }

    pub fn may_view_server_state(&self) -> bool {
        self.holds_any(&["VIEW SERVER STATE"])
    }
}

pub fn login_for(catalog: &Catalog, principal_id: i64) -> rusqlite::Result<SessionLogin> {
    let name: String = catalog.conn.query_row(
        "SELECT name FROM \"sys.server_principals\" WHERE principal_id = ?1",
        [principal_id],
        |r| r.get(0),
    )?;
    let sysadmin: bool = catalog.conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM \"sys.server_role_members\" WHERE role_principal_id = 3 AND member_principal_id = ?1)",
        [principal_id],
        |r| r.get(0),
    )?;
    let mut stmt = catalog.conn.prepare("SELECT permission_name FROM \"sys.server_permissions\" WHERE grantee_principal_id = ?1 AND state IN ('G', 'W')")?;
    let permissions = stmt
        .query_map([principal_id], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    Ok(SessionLogin {
        name,
        principal_id,
        sysadmin,
        permissions,
    })
}

/// What a statement produced, in order.
#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    Rows {
        columns: Vec<(String, SqlType)>,
        rows: Vec<Vec<Value>>,
    },
    Message(Message),
    DatabaseChanged {
        new: String,
        old: String,
    },
    /// End of a statement: rows affected (None when not counted), whether it failed.
    Done {
        rows: Option<u64>,
        error: bool,
    },
}

/// A request to stop the running batch (TDS Attention).
#[derive(Clone, Default)]
pub struct Cancel(Arc<(Mutex<bool>, Condvar)>);

impl Cancel {
    pub fn cancel(&self) {
        let (flag, wake) = &*self.0;
        *flag.lock().unwrap_or_else(|p| p.into_inner()) = true;
        wake.notify_all();
    }

    pub fn is_cancelled(&self) -> bool {
        *self.0 .0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Waits for the delay or a cancel; true when cancelled.
    pub(crate) fn wait(&self, delay: Duration) -> bool {
        let (flag, wake) = &*self.0;
        let guard = flag.lock().unwrap_or_else(|p| p.into_inner());
        let (guard, _) = wake
            .wait_timeout_while(guard, delay, |cancelled| !*cancelled)
            .unwrap_or_else(|p| p.into_inner());
        *guard
    }
}

pub struct Session {
    instance: Arc<Instance>,
    pub spid: u16,
    pub login: SessionLogin,
    pub database: String,
    database_id: i64,
    nocount: bool,
    variables: HashMap<String, Value>,
}

impl Session {
    /// A session in `database` (the login's default, master, when empty).
    pub fn open(
        instance: Arc<Instance>,
        login: SessionLogin,
        database: &str,
    ) -> Result<Session, Message> {
        let requested = if database.is_empty() {
            "master"
        } else {
            database
        };
        let (name, id) = {
            let catalog = instance.catalog();
            if catalog.restoring(requested) {
                return Err(errors::in_restore(requested));
            }
            match (
                catalog.database_name(requested),
                catalog.database_id(requested),
            ) {
                (Some(name), Some(id)) => (name, id),
                _ => return Err(errors::cannot_open_database(requested)),
            }
        };
        let spid = instance.allocate_spid();
        {
            let catalog = instance.catalog();
            let now = super::datetime_text(time::OffsetDateTime::now_utc());
            let _ = catalog.conn.execute(
                "INSERT OR REPLACE INTO \"sys.dm_exec_sessions\" (session_id, login_time, host_name, program_name, login_name, status, is_user_process, database_id, open_transaction_count, transaction_isolation_level, row_count)
                 VALUES (?1, ?2, 'client', '', ?3, 'sleeping', 1, ?4, 0, 2, 0)",
                rusqlite::params![spid, now, login.name, id],
            );
        }
        Ok(Session {
            instance,
            spid,
            login,
            database: name,
            database_id: id,
            nocount: false,
            variables: HashMap::new(),
        })
    }

    pub fn server_name(&self) -> String {
        self.instance.info.name.clone()
    }

    pub fn collation(&self) -> crate::tds::tokens::Collation {
        self.instance.info.collation_bytes
    }

    /// Runs a batch; `params` are sp_executesql's parameters, already declared.
    pub fn execute(
        &mut self,
        sql: &str,
        params: Vec<(String, Value)>,
        cancel: &Cancel,
    ) -> Vec<Output> {
        self.variables = params
            .into_iter()
            .map(|(name, value)| (name.to_ascii_lowercase(), value))
            .collect();
        let lines = match parse_batch(sql) {
            Ok(lines) => lines,
            Err(message) => {
                return vec![
                    Output::Message(message),
                    Output::Done {
                        rows: None,
                        error: true,
                    },
                ]
            }
        };
        let mut out = Vec::new();
        for line in &lines {
            if cancel.is_cancelled() {
                break;
            }
            self.run(line, cancel, &mut out);
        }
        self.instance.held_replies.after(sql, cancel);
        out
    }

    fn run(&mut self, line: &Line, cancel: &Cancel, out: &mut Vec<Output>) {
        // What the link does is brought up to now before the statement reads, and
        // again after a statement that may change what the link sees (an endpoint
        // started, a group altered), so the link reacts at once.
        self.instance.catch_up();
        let result = self.run_statement(&line.stmt, cancel, out);
        if !matches!(line.stmt, Stmt::Query(_)) {
            self.instance.catch_up();
        }
        match result {
            Ok(Some(rows)) => out.push(Output::Done {
                rows: (!self.nocount).then_some(rows),
                error: false,
            }),
            Ok(None) => {}
            Err(mut message) => {
                if message.line <= 1 {
                    message.line = line.line;
                }
                out.push(Output::Message(message));
                out.push(Output::Done {
                    rows: None,
                    error: true,
                });
            }
        }
    }

    /// Ok(Some(rows)) for statements that end with a DONE of their own.
    fn run_statement(
        &mut self,
        stmt: &Stmt,
        cancel: &Cancel,
        out: &mut Vec<Output>,
    ) -> Result<Option<u64>, Message> {
        match stmt {
            Stmt::Query(statement) => {
                let (outputs, count) = self.query((**statement).clone())?;
                out.extend(outputs);
                Ok(Some(count))
            }
            Stmt::Use(name) => {
                let catalog = self.instance.catalog();
                let (Some(new), Some(id)) =
                    (catalog.database_name(name), catalog.database_id(name))
                else {
                    return Err(errors::no_database(name));
                };
                if catalog.restoring(name) {
                    return Err(errors::in_restore(&new));
                }
                drop(catalog);
                let old = std::mem::replace(&mut self.database, new.clone());
                self.database_id = id;
                out.push(Output::DatabaseChanged {
                    new: new.clone(),
                    old,
                });
                out.push(Output::Message(Message::new(
                    5701,
                    1,
                    0,
                    format!("Changed database context to '{new}'."),
                )));
                Ok(Some(0))
            }
            Stmt::Declare(vars) => {
                for (name, ty, value) in vars {
                    let key = name.to_ascii_lowercase();
                    if self.variables.contains_key(&key) {
                        return Err(errors::variable_redeclared(name));
                    }
                    let value = match value {
                        Some(expr) => self.cast_value(self.scalar(expr)?, ty)?,
                        None => Value::Null,
                    };
                    self.variables.insert(key, value);
                }
                Ok(None)
            }
            Stmt::SetVariable(name, expr) => {
                let key = name.to_ascii_lowercase();
                if !self.variables.contains_key(&key) {
                    return Err(errors::undeclared_variable(name));
                }
                let value = self.scalar(expr)?;
                self.variables.insert(key, value);
                Ok(None)
            }
            Stmt::SetOption { option, on } => {
                if option == "NOCOUNT" {
                    self.nocount = *on;
                }
                Ok(None)
            }
            Stmt::If {
                condition,
                then,
                otherwise,
            } => {
                let test = Expr::Case {
                    case_token: sqlparser::ast::helpers::attached_token::AttachedToken::empty(),
                    end_token: sqlparser::ast::helpers::attached_token::AttachedToken::empty(),
                    operand: None,
                    conditions: vec![sqlparser::ast::CaseWhen {
                        condition: condition.clone(),
                        result: number(1),
                    }],
                    else_result: Some(Box::new(number(0))),
                };
                let branch = if self.scalar(&test)? == Value::Int(1) {
                    Some(then)
                } else {
                    otherwise.as_ref()
                };
                if let Some(branch) = branch {
                    self.run(branch, cancel, out);
                }
                Ok(None)
            }
            Stmt::Block(lines) => {
                for line in lines {
                    if cancel.is_cancelled() {
                        break;
                    }
                    self.run(line, cancel, out);
                }
                Ok(None)
            }
            Stmt::WaitFor(delay) => {
                cancel.wait(*delay);
                Ok(None)
            }
            Stmt::Print(expr) => {
                let text = crate::tds::types::as_text(&self.scalar(expr)?);
                out.push(Output::Message(Message::new(0, 1, 0, text)));
                Ok(None)
            }
            Stmt::Transaction => Ok(None),
            Stmt::Exec { procedure, args } => {
                let values = args
                    .iter()
                    .map(|(_, e)| self.scalar(e))
                    .collect::<Result<Vec<_>, _>>()?;
                let name = procedure
                    .rsplit('.')
                    .next()
                    .unwrap_or(procedure)
                    .trim_matches(['[', ']'])
                    .to_ascii_lowercase();
                let outputs = match name.as_str() {
                    "sp_certificate_add_issuer" => {
                        self.with_target(|t| effects::add_certificate_issuer(t, &values))?
                    }
                    "sp_executesql" => {
                        return Err(errors::not_modelled("EXEC sp_executesql inside a batch"))
                    }
                    _ => return Err(errors::no_procedure(procedure)),
                };
                out.extend(outputs);
                Ok(Some(0))
            }
            Stmt::Effect(effect) => {
                let outputs = self.with_target(|t| effects::apply(effect, t))?;
                let failed = outputs
                    .iter()
                    .any(|o| matches!(o, Output::Message(m) if m.is_error()));
                out.extend(outputs);
                if failed {
                    out.push(Output::Done {
                        rows: None,
                        error: true,
                    });
                    return Ok(None);
                }
                Ok(Some(0))
            }
        }
    }

    fn with_target<T>(&self, f: impl FnOnce(&Target) -> Result<T, Message>) -> Result<T, Message> {
        let catalog = self.instance.catalog();
        let target = Target {
            catalog: &catalog,
            info: &self.instance.info,
            database_id: self.database_id,
            login: &self.login,
        };
        f(&target)
    }

    fn cast_value(&self, value: Value, ty: &str) -> Result<Value, Message> {
        super::functions::cast(value, ty)
    }

    /// The value of one expression, evaluated as `SELECT <expr>`.
    fn scalar(&self, expr: &Expr) -> Result<Value, Message> {
        let sql = format!("SELECT {expr}");
        let statement = Parser::new(&MsSqlDialect {})
            .try_with_sql(&sql)
            .and_then(|mut p| p.parse_statement())
            .map_err(|e| super::batch::syntax(&e, 1))?;
        let (outputs, _) = self.query(statement)?;
        Ok(outputs
            .into_iter()
            .find_map(|o| match o {
                Output::Rows { rows, .. } => {
                    rows.into_iter().next().and_then(|r| r.into_iter().next())
                }
                _ => None,
            })
            .unwrap_or(Value::Null))
    }

    /// Runs a query or DML statement in SQLite; returns its outputs and row count.
    fn query(&self, statement: Statement) -> Result<(Vec<Output>, u64), Message> {
        let catalog = self.instance.catalog();
        let scope = Scope {
            catalog: &catalog,
            info: &self.instance.info,
            database: &self.database,
            database_id: self.database_id,
            login: &self.login,
            spid: self.spid,
        };
        let translated = translate(statement, &scope)?;
        let mut prepared = catalog
            .conn
            .prepare(&translated.sql)
            .map_err(|e| sqlite_error(e, &translated.sql))?;
        for index in 1..=prepared.parameter_count() {
            let name = prepared
                .parameter_name(index)
                .unwrap_or_default()
                .to_string();
            let value = self
                .variables
                .get(&name.to_ascii_lowercase())
                .ok_or_else(|| errors::undeclared_variable(&name))?;
            prepared
                .raw_bind_parameter(index, to_sqlite(value.clone()))
                .map_err(|e| sqlite_error(e, &translated.sql))?;
        }
        let width = prepared.column_count();
        if let Some(table) = &translated.writes {
            writable(&catalog.conn, table)?;
        }
        if width == 0 {
            let changed = prepared
                .raw_execute()
                .map_err(|e| sqlite_error(e, &translated.sql))?;
            if let (Some(table), true) = (&translated.writes, changed > 0) {
                user_tables::written(
                    &catalog.conn,
                    table,
                    changed as u64,
                    &self.instance.now_text(),
                )
                .map_err(|e| sqlite_error(e, &translated.sql))?;
            }
            return Ok((Vec::new(), changed as u64));
        }
        let declared: Vec<Option<SqlType>> = prepared
            .columns()
            .iter()
            .map(|c| c.decl_type().and_then(SqlType::parse))
            .collect();
        let engine_names: Vec<String> = prepared
            .column_names()
            .iter()
            .map(|n| n.to_string())
            .collect();
        let mut rows = Vec::new();
        let mut cursor = prepared.raw_query();
        while let Some(row) = cursor
            .next()
            .map_err(|e| sqlite_error(e, &translated.sql))?
        {
            rows.push(
                (0..width)
                    .map(|i| row.get_ref(i).map(from_sqlite).unwrap_or(Value::Null))
                    .collect::<Vec<_>>(),
            );
        }
        let columns = (0..width)
            .map(|i| {
                let hint = translated.columns.as_ref().and_then(|h| h.get(i));
                let name = hint.map_or_else(|| engine_names[i].clone(), |h| h.0.clone());
                let ty = hint.and_then(|h| h.1).or(declared[i]).unwrap_or_else(|| {
                    SqlType::of_value(
                        rows.iter()
                            .map(|r: &Vec<Value>| &r[i])
                            .find(|v| **v != Value::Null)
                            .unwrap_or(&Value::Null),
                    )
                });
                (name, ty)
            })
            .collect();
        let count = rows.len() as u64;
        Ok((vec![Output::Rows { columns, rows }], count))
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        let catalog = self.instance.catalog();
        let _ = catalog.conn.execute(
            "DELETE FROM \"sys.dm_exec_sessions\" WHERE session_id = ?1",
            [self.spid],
        );
    }
}

/// A write to a user table needs its database ONLINE and not a secondary replica
/// (of a distributed group: the MI link's secondary side, or SQL Server after a
/// failover to the MI).
fn writable(conn: &rusqlite::Connection, table: &str) -> Result<(), Message> {
    let found = conn
        .query_row(
            "SELECT d.name, d.state_desc,
                    EXISTS (SELECT 1 FROM \"sys.dm_hadr_database_replica_states\" s
                            WHERE s.database_id = d.database_id AND s.is_local = 1 AND s.is_primary_replica = 0)
             FROM \"$user_tables\" u JOIN \"sys.databases\" d ON d.database_id = u.database_id
             WHERE u.sqlite_table = ?1",
            [table],
            |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, bool>(2)?)),
        )
        .map(Some)
        .or_else(|e| match e {
            rusqlite::Error::QueryReturnedNoRows => Ok(None),
            e => Err(sqlite_error(e, table)),
        })?;
    match found {
        Some((name, state, _)) if state == "RESTORING" => Err(errors::in_restore(&name)),
        Some((name, _, true)) => Err(errors::read_only_database(&name)),
        _ => Ok(()),
    }
}

fn number(n: i64) -> Expr {
    Expr::value(sqlparser::ast::Value::Number(n.to_string(), false))
}

/// SQLite's errors in SQL Server's words.
fn sqlite_error(error: rusqlite::Error, sql: &str) -> Message {
    if let rusqlite::Error::UserFunctionError(inner) = &error {
        if let Some(SqlError(message)) = inner.downcast_ref::<SqlError>() {
            return message.clone();
        }
    }
    let text = match &error {
        rusqlite::Error::SqliteFailure(_, Some(text)) => text.clone(),
        other => other.to_string(),
    };
    if let Some(name) = text.strip_prefix("no such column: ") {
        return errors::invalid_column(name.rsplit('.').next().unwrap_or(name));
    }
    if let Some(name) = text.strip_prefix("no such table: ") {
        return errors::invalid_object(name);
    }
    if let Some(name) = text.strip_prefix("no such function: ") {
        return errors::not_modelled(&format!("function {}", name.to_uppercase()));
    }
    // Constraint failures name the SQLite table `database.schema.table` and column.
    if let Some(target) = text.strip_prefix("UNIQUE constraint failed: ") {
        let object = target.split(", ").next().unwrap_or(target);
        let (table, _column) = object.rsplit_once('.').unwrap_or((object, ""));
        let short = table.split_once('.').map_or(table, |(_, rest)| rest);
        let name = short.rsplit('.').next().unwrap_or(short);
        return Message::new(2627, 1, 14, format!("Violation of PRIMARY KEY constraint 'PK_{name}'. Cannot insert duplicate key in object '{short}'."));
    }
    if let Some(target) = text.strip_prefix("NOT NULL constraint failed: ") {
        let (table, column) = target.rsplit_once('.').unwrap_or((target, ""));
        let verb = sql
            .split_whitespace()
            .next()
            .unwrap_or("INSERT")
            .to_uppercase();
        return Message::new(515, 2, 16, format!("Cannot insert the value NULL into column '{column}', table '{table}'; column does not allow nulls. {verb} fails."));
    }
    if let Some(name) = text.strip_prefix("ambiguous column name: ") {
        return Message::new(
            209,
            1,
            16,
            format!(
                "Ambiguous column name '{}'.",
                name.rsplit('.').next().unwrap_or(name)
            ),
        );
    }
    errors::internal(&format!("{text} (in: {sql})"))
}
