//! The SKU recommendation for one instance, a pure function of its load windows, the
//! databases that need Business Critical, and the price table.
//!
//! - Each metric's value is the chosen percentile (default 95th, nearest rank) of the
//!   windows' means, as Arc sizes on 10-minute aggregates; CPU is counted in cores used
//!   (percent of the host's CPUs times their number).
//! - The need is that value plus headroom (default 20 %): vCores for CPU, GB for memory
//!   (SQL Server's committed memory) and storage (allocated files, in 32 GB steps).
//! - Tier: Business Critical when a database has memory-optimized objects (In-Memory
//!   OLTP exists only there, MI-INMEMORY-TIER), else General Purpose.
//! - The cheapest SKU of that tier whose vCores, memory and storage cover the need wins;
//!   none fitting is said, with the largest need.
//! - Confidence, as Arc shows it: the share of `history_days` the windows cover, 1 star
//!   per fifth.

use super::prices::{PriceTable, Sku, Tier};
use super::LoadWindow;

const GIB: f64 = 1024.0 * 1024.0 * 1024.0;
const STORAGE_STEP_GB: f64 = 32.0;
/// General Purpose's remote storage: 5-10 ms reads (Microsoft's resource limits).
const GP_LATENCY_MS: f64 = 5.0;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Policy {
    pub percentile: f64,
    pub headroom_percent: f64,
    pub history_days: u32,
}

/// What the instance used, at the percentile.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Observed {
    pub windows: u32,
    pub cpu_count: u32,
    pub cpu_cores: f64,
    pub memory_gb: f64,
    pub data_iops: f64,
    pub log_mb_per_sec: f64,
    pub io_latency_ms: f64,
    pub storage_gb: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Choice {
    pub tier: Tier,
    pub hardware: String,
    pub vcores: u32,
    pub memory_gb: f64,
    pub storage_gb: u32,
    pub monthly_cost: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Recommendation {
    pub tier: Tier,
    /// None when no load was reported yet, or nothing in the price table fits.
    pub choice: Option<Choice>,
    pub observed: Observed,
    /// vCores, memory GB and storage GB the choice must cover.
    pub need: (f64, f64, u32),
    pub reasons: Vec<String>,
    /// 0 without load data, else 1 to 5.
    pub confidence: u8,
}

pub fn recommend(
    windows: &[LoadWindow],
    in_memory_databases: &[String],
    policy: Policy,
    prices: &PriceTable,
) -> Recommendation {
    let mut reasons = Vec::new();
    let tier = if in_memory_databases.is_empty() {
        Tier::GeneralPurpose
    } else {
        reasons.push(format!(
            "Business Critical: {} has memory-optimized objects, which only Business Critical supports (MI-INMEMORY-TIER)",
            in_memory_databases.join(", ")
        ));
        Tier::BusinessCritical
    };
    let Some(last) = windows.iter().max_by_key(|w| w.end_ms) else {
        reasons.push("no load reported yet: the agent sends its first window after load_window_secs (10 min by default)".into());
        return Recommendation {
            tier,
            choice: None,
            observed: Observed::default(),
            need: (0.0, 0.0, 0),
            reasons,
            confidence: 0,
        };
    };
    let at = |value: fn(&LoadWindow) -> f64| {
        percentile(windows.iter().map(value).collect(), policy.percentile)
    };
    let observed = Observed {
        windows: windows.len() as u32,
        cpu_count: last.cpu_count,
        cpu_cores: at(|w| w.stats.cpu_percent.mean / 100.0 * f64::from(w.cpu_count)),
        memory_gb: at(|w| w.stats.memory_kb.mean * 1024.0 / GIB),
        data_iops: at(|w| w.stats.data_iops.mean),
        log_mb_per_sec: at(|w| w.stats.log_mb_per_sec.mean),
        io_latency_ms: at(|w| w.stats.io_latency_ms.mean),
        storage_gb: last.storage_bytes as f64 / GIB,
    };
    let grow = 1.0 + policy.headroom_percent / 100.0;
    let need_vcores = observed.cpu_cores * grow;
    let need_memory = observed.memory_gb * grow;
    let need_storage = ((observed.storage_gb * grow / STORAGE_STEP_GB).ceil() * STORAGE_STEP_GB)
        .max(STORAGE_STEP_GB) as u32;
    reasons.push(format!(
        "p{} over {} windows: {:.1} cores of {} used, {:.1} GB memory, {:.0} data IOPS, {:.1} MB/s log; {:.0} GB allocated; +{}% headroom",
        policy.percentile, observed.windows, observed.cpu_cores, observed.cpu_count, observed.memory_gb,
        observed.data_iops, observed.log_mb_per_sec, observed.storage_gb, policy.headroom_percent
    ));
    if tier == Tier::GeneralPurpose
        && observed.io_latency_ms > 0.0
        && observed.io_latency_ms < GP_LATENCY_MS
    {
        reasons.push(format!(
            "I/O latency today is {:.1} ms; General Purpose storage is 5-10 ms: price Business Critical (1-2 ms) if the workload is latency-sensitive",
            observed.io_latency_ms
        ));
    }
    let choice = prices
        .skus
        .iter()
        .filter(|sku| sku.tier == tier)
        .filter_map(|sku| {
            fit(
                sku,
                need_vcores,
                need_memory,
                need_storage,
                prices.hours_per_month,
            )
        })
        .min_by(|a, b| a.monthly_cost.total_cmp(&b.monthly_cost));
    match &choice {
        Some(c) => reasons.push(format!(
            "{} {} vCores ({:.0} GB memory) and {} GB storage is the cheapest {} SKU that covers {:.1} vCores, {:.0} GB memory, {} GB storage",
            c.hardware, c.vcores, c.memory_gb, c.storage_gb, tier.as_str(), need_vcores, need_memory, need_storage
        )),
        None => reasons.push(format!(
            "no {} SKU in the price table covers {:.1} vCores, {:.0} GB memory and {} GB storage: split the instance, or consider another target",
            tier.as_str(), need_vcores, need_memory, need_storage
        )),
    }
    let covered_ms: i64 = windows.iter().map(|w| w.end_ms - w.start_ms).sum();
    let share = covered_ms as f64 / (f64::from(policy.history_days.max(1)) * 86_400_000.0);
    Recommendation {
        tier,
        choice,
        observed,
        need: (need_vcores, need_memory, need_storage),
        reasons,
        confidence: ((share * 5.0).ceil() as u8).clamp(1, 5),
    }
}

/// The smallest size of `sku` that covers the need, priced.
fn fit(sku: &Sku, vcores: f64, memory_gb: f64, storage_gb: u32, hours: f64) -> Option<Choice> {
    if storage_gb > sku.max_storage_gb {
        return None;
    }
    let size = sku
        .vcores
        .iter()
        .copied()
        .filter(|v| f64::from(*v) >= vcores && f64::from(*v) * sku.memory_gb_per_vcore >= memory_gb)
        .min()?;
    let billed_storage = storage_gb.saturating_sub(sku.included_storage_gb);
    Some(Choice {
        tier: sku.tier,
        hardware: sku.hardware.clone(),
        vcores: size,
        memory_gb: f64::from(size) * sku.memory_gb_per_vcore,
        storage_gb,
        monthly_cost: f64::from(size) * sku.price_per_vcore_hour * hours
            + f64::from(billed_storage) * sku.price_per_gb_month,
    })
}

/// Nearest-rank percentile; 0 for no values.
fn percentile(mut values: Vec<f64>, p: f64) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    values.sort_by(f64::total_cmp);
    let rank = ((p / 100.0) * values.len() as f64).ceil() as usize;
    values[rank.clamp(1, values.len()) - 1]
}

#[cfg(test)]
mod tests {
    use super::super::prices::{PriceTable, EXAMPLE};
    use super::super::{Stat, WindowStats};
    use super::*;

    const POLICY: Policy = Policy {
        percentile: 95.0,
        headroom_percent: 20.0,
        history_days: 30,
    };

    fn window(n: i64, cpu_percent: f64, memory_gb: f64) -> LoadWindow {
        let stat = |mean: f64| Stat { mean, max: mean };
        LoadWindow {
            instance: "MSSQLSERVER".into(),
            start_ms: n * 600_000,
            end_ms: (n + 1) * 600_000,
            samples: 20,
            cpu_count: 16,
            host_memory_kb: 64 << 20,
            storage_bytes: 100 << 30,
            stats: WindowStats {
                cpu_percent: stat(cpu_percent),
                memory_kb: stat(memory_gb * 1024.0 * 1024.0),
                io_latency_ms: stat(8.0),
                ..WindowStats::default()
            },
        }
    }

    #[test]
    fn percentiles_are_nearest_rank() {
        let values: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(values.clone(), 95.0), 95.0);
        assert_eq!(percentile(values, 100.0), 100.0);
        assert_eq!(percentile(vec![3.0, 1.0, 2.0], 50.0), 2.0);
        assert_eq!(percentile(Vec::new(), 95.0), 0.0);
    }

    #[test]
    fn cpu_memory_and_storage_pick_the_cheapest_fitting_sku() {
        let prices = PriceTable::parse(EXAMPLE).unwrap();
        // 100 windows; the 95th is 50 % of 16 CPUs = 8 cores, +20 % = 9.6 vCores -> 16
        // standard-series vCores (81.6 GB covers 12 GB * 1.2).
        let windows: Vec<LoadWindow> = (0..100)
            .map(|n| window(n, if n < 95 { 50.0 } else { 90.0 }, 12.0))
            .collect();
        let r = recommend(&windows, &[], POLICY, &prices);
        let c = r.choice.unwrap();
        assert_eq!(
            (r.tier, c.hardware.as_str(), c.vcores),
            (Tier::GeneralPurpose, "Standard-series (Gen5)", 16)
        );
        assert!((r.observed.cpu_cores - 8.0).abs() < 1e-9);
        // 100 GB * 1.2 = 120 GB -> 128 GB in 32 GB steps; 96 GB billed above the 32.
        assert_eq!(c.storage_gb, 128);
        assert!((c.monthly_cost - (16.0 * 0.50 * 730.0 + 96.0 * 0.12)).abs() < 1e-6);
        // 100 windows of 10 minutes of 30 days: the first fifth, one star.
        assert_eq!(r.confidence, 1);
    }

    #[test]
    fn memory_steers_to_memory_optimized_hardware_when_cheaper() {
        let prices = PriceTable::parse(EXAMPLE).unwrap();
        // Little CPU, 100 GB of memory: 120 GB needs 24 standard-series vCores (12.00 an
        // hour), 24 premium-series (13.20) or 16 memory-optimized (11.20).
        let windows = vec![window(0, 5.0, 100.0)];
        let c = recommend(&windows, &[], POLICY, &prices).choice.unwrap();
        assert_eq!(
            (c.hardware.as_str(), c.vcores),
            ("Premium-series memory optimized", 16)
        );
    }

    #[test]
    fn memory_optimized_objects_need_business_critical() {
        let prices = PriceTable::parse(EXAMPLE).unwrap();
        let r = recommend(&[window(0, 10.0, 8.0)], &["orders".into()], POLICY, &prices);
        assert_eq!(r.tier, Tier::BusinessCritical);
        assert_eq!(r.choice.unwrap().tier, Tier::BusinessCritical);
        assert!(r.reasons[0].contains("orders"));
    }

    #[test]
    fn no_load_no_choice_and_too_big_is_said() {
        let prices = PriceTable::parse(EXAMPLE).unwrap();
        let r = recommend(&[], &[], POLICY, &prices);
        assert!(r.choice.is_none() && r.confidence == 0);
        let mut huge = window(0, 100.0, 8.0);
        huge.cpu_count = 256;
        let r = recommend(&[huge], &[], POLICY, &prices);
        assert!(r.choice.is_none());
        assert!(r.reasons.last().unwrap().contains("no GeneralPurpose SKU"));
    }
}
