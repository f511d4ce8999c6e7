//! Statements the lab runs over and over (each look at a link, each workload step)
//! are prepared once per connection and kept: SQLite's parser was a fifth of a busy
//! lab's time. `run` and `one` are `execute` and `query_row` through that cache.
//! Text built for one table of a database being removed (`format!` in a loop over
//! the catalog) keeps using `execute`, so that it does not push the repeated
//! statements out of the cache.

use rusqlite::{Connection, Params, Result, Row};

/// Statements kept per connection; the link and workload paths use a few dozen.
pub const CAPACITY: usize = 96;

pub trait Cached {
    fn run<P: Params>(&self, sql: &str, params: P) -> Result<usize>;
    fn one<T, P: Params>(
        &self,
        sql: &str,
        params: P,
        f: impl FnOnce(&Row<'_>) -> Result<T>,
    ) -> Result<T>;
}

impl Cached for Connection {
    fn run<P: Params>(&self, sql: &str, params: P) -> Result<usize> {
        self.prepare_cached(sql)?.execute(params)
    }

    fn one<T, P: Params>(
        &self,
        sql: &str,
        params: P,
        f: impl FnOnce(&Row<'_>) -> Result<T>,
    ) -> Result<T> {
        self.prepare_cached(sql)?.query_row(params, f)
    }
}
