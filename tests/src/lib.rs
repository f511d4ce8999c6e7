//! ferry-tests: end-to-end tests that start Ferry's real binaries, and benchmarks.
//!
//! - [`binaries`]: building and locating `ferry-control`, `ferry` and `ferry-agent`.
//! - [`fleet`]: a whole fleet in one process (lab, control plane, agents), for
//!   `ferry-lab` and the benchmarks.
//! - [`lab_migrations`]: `ferry-lab`'s migrations of Ready databases to the lab's MI.
//! - [`lab_cutover`]: `ferry-lab`'s cutover of those migrations, every row verified.
//! - [`databases`]: scratch PostgreSQL databases from `FERRY_TEST_DATABASE_URL`.
//! - [`fuzz`]: mutation fuzzing on the stable toolchain (the `fuzz` binary's engine).
//! - [`http_get`]: a plain-HTTP GET (metrics, health, Prometheus's API).
//! - [`otlp`]: a minimal OTLP/HTTP receiver that records the spans it is sent.
//! - [`processes`]: a control plane and agents as child processes, with their logs.
//! - [`prometheus`]: a real Prometheus scraping control planes, and reading samples.
//! - [`wait`]: waiting for a condition with a deadline (never a fixed sleep).
//!
//! The tests are in `tests/e2e/` (one binary, so the slow process start-ups overlap)
//! and `tests/store_conformance/` (migrations in their own file);
//! the benchmarks are `src/bin/bench-*.rs` (heartbeats, lab, assess, agent, migrations,
//! history); `src/bin/fuzz.rs` fuzzes what crosses the trust boundaries;
//! `src/bin/ferry-lab.rs` is the README's first command.

pub mod binaries;
pub mod databases;
pub mod fleet;
pub mod fuzz;
pub mod http_get;
pub mod lab_cutover;
pub mod lab_migrations;
pub mod otlp;
pub mod processes;
pub mod prometheus;
pub mod wait;
