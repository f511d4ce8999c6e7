//! Figures the benchmarks print (`bench-lab`, `bench-links`, and ferry-tests' own):
//! a process's resident memory and CPU time, and latency percentiles.

use std::time::Duration;

/// This process's resident set (VmRSS), MiB; 0 where /proc is not there.
pub fn rss_mib() -> f64 {
    memory_mib("self").0
}

/// A process's resident set now and at its peak (VmRSS, VmHWM), MiB; `process` is a
/// pid or `self`. Zeros where /proc is not there.
pub fn memory_mib(process: &str) -> (f64, f64) {
    let status = std::fs::read_to_string(format!("/proc/{process}/status")).unwrap_or_default();
    let field = |name: &str| -> f64 {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0.0)
            / 1024.0
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// CPU seconds a process has used, user and system (utime and stime of
/// /proc/PID/stat, in USER_HZ ticks of 1/100 s); `process` is a pid or `self`. 0 where
/// /proc is not there.
pub fn cpu_secs(process: &str) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{process}/stat")).unwrap_or_default();
    // The command name (field 2) may hold spaces; the fields after it close with ')',
    // and utime and stime (fields 14 and 15) are the 12th and 13th after it.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    let ticks = |n: usize| {
        fields
            .get(n)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (ticks(11) + ticks(12)) / 100.0
}

/// The `p` quantile (0..=1, nearest rank) of `sorted`, in milliseconds; 0 if empty.
pub fn percentile_ms(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1].as_secs_f64() * 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_nearest_rank() {
        let ms: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        assert_eq!(percentile_ms(&ms, 0.5), 50.0);
        assert_eq!(percentile_ms(&ms, 0.99), 99.0);
        assert_eq!(percentile_ms(&ms, 1.0), 100.0);
        assert_eq!(percentile_ms(&[], 0.5), 0.0);
    }
}
