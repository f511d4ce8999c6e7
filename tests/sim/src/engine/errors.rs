//! SQL Server's messages, by number, with the state and severity SQL Server uses and
//! its text (sys.messages). Every error the lab raises is built here.

use crate::tds::tokens::Message;

pub fn syntax_near(near: &str) -> Message {
    Message::new(102, 1, 15, format!("Incorrect syntax near '{near}'."))
}

pub fn invalid_object(name: &str) -> Message {
    Message::new(208, 1, 16, format!("Invalid object name '{name}'."))
}

pub fn invalid_column(name: &str) -> Message {
    Message::new(207, 1, 16, format!("Invalid column name '{name}'."))
}

pub fn undeclared_variable(name: &str) -> Message {
    Message::new(
        137,
        2,
        15,
        format!("Must declare the scalar variable \"{name}\"."),
    )
}

pub fn variable_redeclared(name: &str) -> Message {
    Message::new(134, 1, 15, format!("The variable name '{name}' has already been declared. Variable names must be unique within a query batch or stored procedure."))
}

pub fn unknown_function(name: &str) -> Message {
    Message::new(
        195,
        10,
        15,
        format!("'{name}' is not a recognized built-in function name."),
    )
}

pub fn no_procedure(name: &str) -> Message {
    Message::new(
        2812,
        62,
        16,
        format!("Could not find stored procedure '{name}'."),
    )
}

pub fn no_database(name: &str) -> Message {
    Message::new(
        911,
        1,
        16,
        format!("Database '{name}' does not exist. Make sure that the name is entered correctly."),
    )
}

pub fn cannot_open_database(name: &str) -> Message {
    Message::new(
        4060,
        1,
        11,
        format!("Cannot open database \"{name}\" requested by the login. The login failed."),
    )
}

pub fn in_restore(name: &str) -> Message {
    Message::new(
        927,
        2,
        14,
        format!("Database '{name}' cannot be opened. It is in the middle of a restore."),
    )
}

pub fn read_only_database(name: &str) -> Message {
    Message::new(
        3906,
        1,
        16,
        format!("Failed to update database \"{name}\" because the database is read-only."),
    )
}

pub fn login_failed(user: &str) -> Message {
    Message::new(18456, 1, 14, format!("Login failed for user '{user}'."))
}

pub fn alter_database_denied(name: &str) -> Message {
    Message::new(5011, 9, 14, format!("User does not have permission to alter database '{name}', the database does not exist, or the database is not in a state that allows access checks."))
}

pub fn ad_hoc_catalog_update() -> Message {
    Message::new(
        259,
        1,
        16,
        "Ad hoc updates to system catalogs are not allowed.",
    )
}

pub fn no_permission() -> Message {
    Message::new(
        15247,
        1,
        16,
        "User does not have permission to perform this action.",
    )
}

pub fn view_server_state_denied() -> Message {
    Message::new(
        300,
        1,
        14,
        "VIEW SERVER STATE permission was denied on object 'server', database 'master'.",
    )
}

pub fn dbcc_denied(login: &str, command: &str) -> Message {
    Message::new(
        2571,
        3,
        14,
        format!("User '{login}' does not have permission to run DBCC {command}."),
    )
}

pub fn backup_denied(statement: &str, database: &str) -> Message {
    Message::new(
        262,
        1,
        14,
        format!("{statement} permission denied in database '{database}'."),
    )
}

pub fn backup_terminating(statement: &str) -> Message {
    Message::new(
        3013,
        1,
        16,
        format!("{statement} is terminating abnormally."),
    )
}

pub fn log_backup_in_simple() -> Message {
    Message::new(4208, 1, 16, "The statement BACKUP LOG is not allowed while the recovery model is SIMPLE. Use BACKUP DATABASE or change the recovery model using ALTER DATABASE.")
}

pub fn log_backup_without_full() -> Message {
    Message::new(
        4214,
        1,
        16,
        "BACKUP LOG cannot be performed because there is no current database backup.",
    )
}

pub fn master_key_exists() -> Message {
    Message::new(15578, 1, 16, "There is already a master key in the database. Please drop it before performing this statement.")
}

pub fn master_key_missing() -> Message {
    Message::new(15581, 1, 16, "Please create a master key in the database or open the master key in the session before performing this operation.")
}

pub fn cannot_drop(kind: &str, name: &str) -> Message {
    Message::new(15151, 1, 16, format!("Cannot drop the {kind} '{name}', because it does not exist or you do not have permission."))
}

pub fn master_key_in_use(certificate: &str) -> Message {
    Message::new(
        15580,
        1,
        16,
        format!("Cannot drop master key because certificate '{certificate}' is encrypted by it."),
    )
}

pub fn certificate_exists(name: &str) -> Message {
    Message::new(15232, 1, 16, format!("A certificate with name '{name}' already exists or this certificate already has been added to the database."))
}

pub fn certificate_bad_binary() -> Message {
    Message::new(
        15468,
        1,
        16,
        "An error occurred during the generation of the certificate.",
    )
}

pub fn conversion_failed(value: &str, from: &str, to: &str) -> Message {
    Message::new(
        245,
        1,
        16,
        format!("Conversion failed when converting the {from} value '{value}' to data type {to}."),
    )
}

pub fn divide_by_zero() -> Message {
    Message::new(8134, 1, 16, "Divide by zero error encountered.")
}

pub fn invalid_trace_flag(flag: i64) -> Message {
    Message::new(2505, 1, 16, format!("The trace flag {flag} is not valid."))
}

/// A statement SQL Server has but the lab does not model: refused, never ignored.
pub fn not_modelled(statement: &str) -> Message {
    Message::new(40517, 1, 16, format!("Keyword or statement option '{statement}' is not supported in this version of SQL Server. (The ferry-sim lab does not model this statement.)"))
}

/// An engine failure the lab has no SQL Server equivalent for.
pub fn internal(detail: &str) -> Message {
    Message::new(
        50000,
        1,
        16,
        format!("ferry-sim could not run the statement: {detail}"),
    )
}
