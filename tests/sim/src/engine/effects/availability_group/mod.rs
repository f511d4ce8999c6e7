//! CREATE / ALTER / DROP AVAILABILITY GROUP, plain and distributed, as SQL Server
//! documents them, shown in sys.availability_groups, sys.availability_replicas,
//! sys.availability_databases_cluster, sys.dm_hadr_availability_replica_states,
//! sys.dm_hadr_database_replica_states and sys.databases.replica_id.
//! https://learn.microsoft.com/sql/t-sql/statements/create-availability-group-transact-sql
//! https://learn.microsoft.com/sql/t-sql/statements/alter-availability-group-transact-sql
//!
//! - `spec`: what a statement says (groups, replicas, distributed members, options).
//! - `parse`: the grammar.
//! - `apply`: SQL Server's checks and error numbers, and what each statement changes.
//! - `rows`: the rows of the views, written from a group's spec.
//! - `link`: the rows the MI link writes on each side (the MI's groups, what each
//!   side sees of the other, failover roles).
//! - `seeding`: automatic seeding's two views.
//!
//! This instance is always the one that runs CREATE, so its replica starts as the
//! primary; remote replicas stay DISCONNECTED unless something answers for them: the
//! lab's managed instances answer for their member of a distributed group through
//! `link`, written from `crate::azure`. FAILOVER of a distributed group from SQL
//! Server (2022 CU13+) and FORCE_FAILOVER_ALLOW_DATA_LOSS on a secondary member are
//! refused as not modelled; the link's failover runs through ARM.

mod apply;
pub mod link;
mod parse;
mod rows;
pub mod seeding;
mod spec;

pub use apply::{alter, create, drop, parse_endpoint_url};
pub use parse::{parse_alter, parse_create, parse_drop};
pub use spec::{GroupChange, GroupSpec};
