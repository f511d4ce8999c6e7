//! T-SQL text built from names and values: every name that reaches a statement is
//! quoted as an identifier, every value as a literal (DESIGN.md §3), by the agent and
//! by the control plane alike.

/// A name as a quoted T-SQL identifier: `[name]`, with `]` doubled.
pub fn quote_name(name: &str) -> String {
    format!("[{}]", name.replace(']', "]]"))
}

/// A Unicode string literal: `N'text'`, with `'` doubled.
pub fn literal(text: &str) -> String {
    format!("N'{}'", text.replace('\'', "''"))
}

/// A non-Unicode string literal, `'text'` with `'` doubled, for statement options the
/// docs write that way (passwords, certificate subjects).
pub fn plain_literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}
