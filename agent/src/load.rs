//! Load sampling for sizing the target: every sample interval, one reading of each
//! instance's counters (`sql::load`); the rates between two readings are a sample; every
//! window, the samples' mean and peak per metric go out as one `LoadWindow` in a
//! `LoadReport`. A reading that fails (instance down, permission) is skipped and the
//! next rate starts from the next good reading; counters that went backwards (the
//! instance restarted) start over too.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use ferry_proto::agent::v1::{report, LoadReport, LoadStat, LoadWindow};
use tokio_util::sync::CancellationToken;

use crate::every::Every;
use crate::sql::load::{FileCounters, Reading};
use crate::{sql, Agent};
use ferry_proto::clock::now_ms;

const MIB: f64 = 1024.0 * 1024.0;

/// One instance's rates between two readings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample {
    pub cpu_percent: f64,
    pub memory_kb: f64,
    pub data_iops: f64,
    pub log_iops: f64,
    pub data_mb_per_sec: f64,
    pub log_mb_per_sec: f64,
    pub io_latency_ms: f64,
}

/// The rates from `before` to `after`, `elapsed_ms` apart; None when a counter went
/// backwards (a restart) or no time passed.
pub fn sample(before: &Reading, after: &Reading, elapsed_ms: i64) -> Option<Sample> {
    let delta = |a: &FileCounters, b: &FileCounters| {
        (b.ios - a.ios, b.bytes - a.bytes, b.stall_ms - a.stall_ms)
    };
    let (data, log) = (
        delta(&before.data, &after.data),
        delta(&before.log, &after.log),
    );
    let cpu = after.cpu_ms - before.cpu_ms;
    let backwards = [cpu, data.0, data.1, data.2, log.0, log.1, log.2]
        .iter()
        .any(|d| *d < 0);
    if backwards || elapsed_ms <= 0 {
        return None;
    }
    let secs = elapsed_ms as f64 / 1000.0;
    let ios = (data.0 + log.0) as f64;
    Some(Sample {
        cpu_percent: (cpu as f64 / (elapsed_ms as f64 * f64::from(after.cpu_count.max(1))) * 100.0)
            .min(100.0),
        memory_kb: after.committed_kb as f64,
        data_iops: data.0 as f64 / secs,
        log_iops: log.0 as f64 / secs,
        data_mb_per_sec: data.1 as f64 / MIB / secs,
        log_mb_per_sec: log.1 as f64 / MIB / secs,
        io_latency_ms: if ios > 0.0 {
            (data.2 + log.2) as f64 / ios
        } else {
            0.0
        },
    })
}

/// The samples of one window summarised: mean and peak per metric.
pub fn window(
    instance: &str,
    start_ms: i64,
    end_ms: i64,
    samples: &[Sample],
    last: &Reading,
) -> LoadWindow {
    let stat = |pick: fn(&Sample) -> f64| {
        let n = samples.len().max(1) as f64;
        LoadStat {
            mean: samples.iter().map(pick).sum::<f64>() / n,
            max: samples.iter().map(pick).fold(0.0, f64::max),
        }
    };
    LoadWindow {
        instance: instance.to_string(),
        start_unix_ms: start_ms,
        end_unix_ms: end_ms,
        samples: samples.len() as u32,
        cpu_count: last.cpu_count,
        host_memory_kb: last.host_memory_kb,
        cpu_percent: Some(stat(|s| s.cpu_percent)),
        memory_kb: Some(stat(|s| s.memory_kb)),
        data_iops: Some(stat(|s| s.data_iops)),
        log_iops: Some(stat(|s| s.log_iops)),
        data_mb_per_sec: Some(stat(|s| s.data_mb_per_sec)),
        log_mb_per_sec: Some(stat(|s| s.log_mb_per_sec)),
        io_latency_ms: Some(stat(|s| s.io_latency_ms)),
        storage_bytes: last.data.size_bytes + last.log.size_bytes,
    }
}

/// What the sampler keeps per instance between readings.
#[derive(Default)]
struct Track {
    last: Option<(i64, Reading)>,
    samples: Vec<Sample>,
    window_start_ms: i64,
}

/// Samples every instance every interval and queues a window report per window, until
/// `cancel`.
pub async fn sampling_loop(agent: Arc<Agent>, cancel: CancellationToken) {
    let config = &agent.config;
    if config.load_sample_interval_secs == 0 || config.instances.is_empty() {
        return;
    }
    let window_ms = (config.load_window_secs * 1000) as i64;
    let mut every = Every::new(
        Duration::from_secs(config.load_sample_interval_secs),
        cancel,
    );
    let mut tracks: HashMap<String, Track> = HashMap::new();
    while every.tick().await {
        let mut windows = Vec::new();
        for instance in &config.instances {
            let timeout = Duration::from_secs(instance.query_timeout_secs);
            let reading = match sql::connect(instance).await {
                Ok(mut conn) => sql::load::read(&mut conn, timeout).await,
                Err(e) => Err(e),
            };
            let now = now_ms();
            let track = tracks.entry(instance.name.clone()).or_default();
            let reading = match reading {
                Ok(reading) => reading,
                Err(e) => {
                    tracing::debug!(instance = %instance.name, error = %e, "load sample skipped");
                    track.last = None;
                    continue;
                }
            };
            if let Some((at, before)) = &track.last {
                if let Some(s) = sample(before, &reading, now - at) {
                    if track.samples.is_empty() {
                        track.window_start_ms = *at;
                    }
                    track.samples.push(s);
                }
            }
            track.last = Some((now, reading));
            if !track.samples.is_empty() && now - track.window_start_ms >= window_ms {
                windows.push(window(
                    &instance.name,
                    track.window_start_ms,
                    now,
                    &track.samples,
                    &reading,
                ));
                track.samples.clear();
            }
        }
        if !windows.is_empty() {
            if let Err(e) = agent
                .outbox
                .append(report::Body::Load(LoadReport { windows }))
                .await
            {
                tracing::error!(error = %e, "cannot queue the load report");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reading(cpu_ms: i64, data_ios: i64, log_bytes: i64, stall_ms: i64) -> Reading {
        Reading {
            cpu_ms,
            cpu_count: 4,
            host_memory_kb: 16 << 20,
            committed_kb: 12 << 20,
            data: FileCounters {
                ios: data_ios,
                bytes: data_ios * 8192,
                stall_ms,
                size_bytes: 10 << 30,
            },
            log: FileCounters {
                ios: 0,
                bytes: log_bytes,
                stall_ms: 0,
                size_bytes: 1 << 30,
            },
        }
    }

    #[test]
    fn rates_come_from_two_readings() {
        // 10 s apart: 20 CPU-seconds on 4 CPUs is 50 %; 1,000 reads, 10 MiB of log.
        let s = sample(
            &reading(1_000, 5_000, 0, 0),
            &reading(21_000, 6_000, 10 << 20, 2_000),
            10_000,
        )
        .unwrap();
        assert_eq!(s.cpu_percent, 50.0);
        assert_eq!(s.data_iops, 100.0);
        assert_eq!(s.log_mb_per_sec, 1.0);
        assert_eq!(s.io_latency_ms, 2.0);
        assert_eq!(s.memory_kb, (12 << 20) as f64);
    }

    #[test]
    fn a_restart_or_no_time_gives_no_sample() {
        assert!(sample(&reading(5_000, 0, 0, 0), &reading(10, 0, 0, 0), 1_000).is_none());
        assert!(sample(&reading(0, 0, 0, 0), &reading(0, 0, 0, 0), 0).is_none());
    }

    #[test]
    fn a_window_has_the_mean_and_the_peak() {
        let at = |cpu| Sample {
            cpu_percent: cpu,
            memory_kb: 1.0,
            data_iops: 0.0,
            log_iops: 0.0,
            data_mb_per_sec: 0.0,
            log_mb_per_sec: 0.0,
            io_latency_ms: 0.0,
        };
        let w = window("i", 0, 600_000, &[at(10.0), at(30.0)], &reading(0, 0, 0, 0));
        let cpu = w.cpu_percent.unwrap();
        assert_eq!((cpu.mean, cpu.max), (20.0, 30.0));
        assert_eq!(w.samples, 2);
        assert_eq!(w.storage_bytes, (10 << 30) + (1 << 30));
    }
}
