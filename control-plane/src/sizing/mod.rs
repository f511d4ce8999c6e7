//! Sizing the target: the load windows agents report, the price table, and the SKU
//! recommendation per instance.
//!
//! - [`prices`]: the price table file (`deploy/mi-prices.toml` is the shipped example).
//! - [`recommend`]: the pure rule from load, the databases' needs and the price table to
//!   a tier, hardware, vCores, storage and a monthly cost, with the reasons.

pub mod prices;
pub mod recommend;

use serde::{Deserialize, Serialize};

/// Mean and peak of one metric over a window.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Stat {
    pub mean: f64,
    pub max: f64,
}

/// The per-metric statistics of one window (stored as JSON).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct WindowStats {
    pub cpu_percent: Stat,
    pub memory_kb: Stat,
    pub data_iops: Stat,
    pub log_iops: Stat,
    pub data_mb_per_sec: Stat,
    pub log_mb_per_sec: Stat,
    pub io_latency_ms: Stat,
}

/// One instance's load over one window, as its agent reported it.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadWindow {
    pub instance: String,
    pub start_ms: i64,
    pub end_ms: i64,
    pub samples: u32,
    pub cpu_count: u32,
    pub host_memory_kb: i64,
    pub storage_bytes: i64,
    pub stats: WindowStats,
}
