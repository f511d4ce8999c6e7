//! ferry-sim, the lab: simulated SQL Server instances that speak real TDS 7.4 and run
//! T-SQL over a catalog modelled on Microsoft's documentation. It behaves like SQL
//! Server as documented, never like Ferry expects (see DESIGN.md §6).
//!
//! - `scenario`: what a lab runs (TOML files, or a seeded generator).
//! - `engine`: one instance's catalog in SQLite, and the T-SQL it runs.
//! - `tds`: the protocol: packets, PRELOGIN and TLS, LOGIN7, batches, RPC, tokens.
//! - `azure/`: managed instances, the ARM surface and the token authority.
//! - `lab`: a running lab, one listener per instance.
//! - `measure`: figures the lab's benchmarks print (RSS, percentiles).
//! - `faults`: faults a test injects (network, stopped instances, ARM, certificates);
//!   `control`: the calls (and HTTP API) that inject them; `port`: a listener they
//!   can close and open again.
//! - `network`: the runtime the managed instances' link endpoints run on.

pub mod azure;
pub mod control;
pub mod engine;
pub mod faults;
pub mod lab;
pub mod measure;
pub mod network;
pub mod port;
pub mod scenario;
pub mod tds;

pub use lab::{Endpoint, Lab};
pub use scenario::Scenario;
