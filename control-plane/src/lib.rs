//! ferry-control: the control plane, and the `ferry` operator CLI.
//!
//! - [`config`]: layered configuration (defaults, TOML file, `FERRY_*` env, flags).
//! - [`fleet`]: the certificate authority, enrollment, peer identities, liveness and the
//!   registry of live agent sessions.
//! - [`assess`]: readiness from check results, and fleet assessment runs.
//! - [`sizing`]: load windows, the price table and the SKU recommendation.
//! - [`azure`]: azure_identity sign-in and ARM's API for managed instances.
//! - [`connection_test`]: connection tests toward a target and their verdict per instance.
//! - [`migration`]: migrations: pre-flight, the journaled link set-up, the link watched.
//! - [`cutover`]: a linked database moved to its MI: the gates, the failover, the
//!   checks on the MI after it.
//! - [`context`]: what the services, the driver and the handlers share.
//! - [`rfc3339`]: times as RFC 3339 text and Unix milliseconds.
//! - [`store`]: the one `Store` (sqlx; SQLite by default, PostgreSQL for HA).
//! - [`retention`]: how long history is kept, and the sweep that forgets the rest.
//! - [`reconcile`]: the driver: snapshots, the planner's actions performed, the lease.
//! - [`service`]: use cases (start an assessment run, a migration), with their own
//!   error; called by the API and the schedules.
//! - [`api`]: thin gRPC handlers: authenticate the peer, convert, call, map errors.
//! - [`server_tls`]: the server certificate, rotated while running, and the handshakes.
//! - [`server`]: assembles TLS and the services and serves a listener until shutdown.
//! - [`cli`]: the `ferry` operator CLI.

pub mod api;
pub mod assess;
pub mod azure;
pub mod cli;
pub mod config;
pub mod connection_test;
pub mod context;
pub mod cutover;
pub mod fleet;
pub mod migration;
pub mod observability;
pub mod reconcile;
pub mod retention;
pub mod rfc3339;
pub mod server;
pub mod server_tls;
pub mod service;
pub mod sizing;
pub mod store;

pub use config::ControlConfig;
pub use server::{run, ServeError};
