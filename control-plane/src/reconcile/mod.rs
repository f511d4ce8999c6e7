//! The reconciler: what the control plane does about its migrations, driven by one
//! replica under a fenced lease. It gathers a snapshot of each migration, asks the
//! pure planner (`migration::planner`) and the gates (`cutover::gates`) what to do,
//! and does it: agent commands, ARM calls, checks on the MI, the application hook.
//!
//! - [`driver`]: the loop, its lease and fencing, one tick over the active migrations.
//! - [`observe`]: the links of every migration due for a reading, read and judged in
//!   one pass (one ARM LIST per MI, a few queries).
//! - [`arm_steps`]: the link's ARM steps (trust certificate, link, failover, deletion).
//! - [`cutover_steps`]: the cutover's steps of the control plane's own, and the gates'
//!   check before the failover.
//! - [`validation`]: the row counts the validation gate compares, asked of both sides.
//! - [`mi_sql`]: the control plane's read-only TDS checks on the MI.
//! - [`hook`]: a cutover group's application hook, run once.
//! - [`metrics`]: the driver's tick and lease, and the cutovers waiting at their gates.

pub mod arm_steps;
pub mod cutover_steps;
pub mod driver;
pub mod hook;
pub mod metrics;
pub mod mi_sql;
pub mod observe;
pub mod validation;
