//! Load windows from the wire, validated: names and times present, every figure a
//! finite number not below zero, CPU at most 100 %.

use ferry_proto::agent::v1 as wire;

use super::limits::MAX_WINDOWS;
use super::ApiError;
use crate::sizing::{LoadWindow, Stat, WindowStats};

pub(super) fn windows(report: wire::LoadReport) -> Result<Vec<LoadWindow>, ApiError> {
    if report.windows.len() > MAX_WINDOWS {
        return Err(ApiError::invalid(
            "load.windows",
            format!("more than {MAX_WINDOWS}"),
        ));
    }
    report.windows.into_iter().map(window).collect()
}

fn window(w: wire::LoadWindow) -> Result<LoadWindow, ApiError> {
    let field = "load.windows";
    if w.instance.is_empty() || w.instance.len() > 128 {
        return Err(ApiError::invalid(field, "instance: 1 to 128 characters"));
    }
    if w.start_unix_ms <= 0 || w.end_unix_ms <= w.start_unix_ms {
        return Err(ApiError::invalid(
            field,
            "end_unix_ms must follow start_unix_ms",
        ));
    }
    // A window is minutes long (10 by the agent); a day bounds what the sizing adds up.
    if w.end_unix_ms - w.start_unix_ms > 86_400_000 {
        return Err(ApiError::invalid(
            field,
            "a load window is at most a day (end_unix_ms - start_unix_ms)",
        ));
    }
    if w.samples == 0 || w.cpu_count == 0 || w.host_memory_kb < 0 || w.storage_bytes < 0 {
        return Err(ApiError::invalid(
            field,
            "samples and cpu_count above zero, host_memory_kb and storage_bytes not negative",
        ));
    }
    let stat = |name: &str, s: Option<wire::LoadStat>, ceiling: f64| {
        let s = s.ok_or_else(|| ApiError::invalid(field, format!("{name}: missing")))?;
        let ok = |v: f64| v.is_finite() && (0.0..=ceiling).contains(&v);
        if !ok(s.mean) || !ok(s.max) {
            return Err(ApiError::invalid(
                field,
                format!("{name}: mean and max must be numbers from 0 to {ceiling}"),
            ));
        }
        Ok(Stat {
            mean: s.mean,
            max: s.max,
        })
    };
    let any = f64::MAX;
    Ok(LoadWindow {
        stats: WindowStats {
            cpu_percent: stat("cpu_percent", w.cpu_percent, 100.0)?,
            memory_kb: stat("memory_kb", w.memory_kb, any)?,
            data_iops: stat("data_iops", w.data_iops, any)?,
            log_iops: stat("log_iops", w.log_iops, any)?,
            data_mb_per_sec: stat("data_mb_per_sec", w.data_mb_per_sec, any)?,
            log_mb_per_sec: stat("log_mb_per_sec", w.log_mb_per_sec, any)?,
            io_latency_ms: stat("io_latency_ms", w.io_latency_ms, any)?,
        },
        instance: w.instance,
        start_ms: w.start_unix_ms,
        end_ms: w.end_unix_ms,
        samples: w.samples,
        cpu_count: w.cpu_count,
        host_memory_kb: w.host_memory_kb,
        storage_bytes: w.storage_bytes,
    })
}
