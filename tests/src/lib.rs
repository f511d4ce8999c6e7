//! ferry-tests: end-to-end tests that start Ferry's real binaries, and benchmarks.
//!
//! - [`binaries`]: building and locating `ferry-control`, `ferry` and `ferry-agent`.
//! - [`databases`]: scratch PostgreSQL databases from `FERRY_TEST_DATABASE_URL`.
//! - [`otlp`]: a minimal OTLP/HTTP receiver that records the spans it is sent.
//! - [`processes`]: a control plane and agents as child processes, with their logs.
//! - [`tds`]: a scripted TDS double for the agent's inventory, until the lab exists.
//! - [`wait`]: waiting for a condition with a deadline (never a fixed sleep).
//!
//! The tests are in `tests/e2e/` (one binary, so the slow process start-ups overlap)
//! and `tests/store_conformance.rs`;
//! the heartbeat benchmark is `src/bin/bench-heartbeats.rs`.

pub mod binaries;
pub mod databases;
pub mod otlp;
pub mod processes;
pub mod tds;
pub mod wait;
