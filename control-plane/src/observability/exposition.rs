//! Prometheus's text exposition format (0.0.4) of OpenTelemetry metrics, named by
//! OpenTelemetry's Prometheus compatibility rules: dots become underscores, the unit
//! becomes a suffix (`s` → `_seconds`, `By` → `_bytes`; annotations such as
//! `{session}` are dropped), monotonic sums end in `_total`, histograms become
//! `_bucket` (cumulative, with `+Inf`), `_sum` and `_count`.

use std::collections::BTreeMap;
use std::fmt::Write;

use opentelemetry::KeyValue;
use opentelemetry_sdk::metrics::data::{AggregatedMetrics, Metric, MetricData, ResourceMetrics};

/// The Content-Type of what [`render`] writes.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Every metric of `metrics` as Prometheus text; metrics of the same name from several
/// scopes are written under one family.
pub fn render(metrics: &ResourceMetrics) -> String {
    let mut families: BTreeMap<String, Family> = BTreeMap::new();
    for scope in metrics.scope_metrics() {
        for metric in scope.metrics() {
            add(&mut families, metric);
        }
    }
    let mut out = String::new();
    for (name, family) in &families {
        let _ = writeln!(out, "# HELP {name} {}", escape_help(&family.help));
        let _ = writeln!(out, "# TYPE {name} {}", family.kind);
        out.push_str(&family.samples);
    }
    out
}

struct Family {
    help: String,
    kind: &'static str,
    samples: String,
}

fn add(families: &mut BTreeMap<String, Family>, metric: &Metric) {
    let base = base_name(metric.name(), metric.unit());
    let help = metric.description().to_string();
    match metric.data() {
        AggregatedMetrics::F64(data) => add_data(families, &base, help, data, |v| v),
        AggregatedMetrics::U64(data) => add_data(families, &base, help, data, |v| v as f64),
        AggregatedMetrics::I64(data) => add_data(families, &base, help, data, |v| v as f64),
    }
}

fn add_data<T: Copy>(
    families: &mut BTreeMap<String, Family>,
    base: &str,
    help: String,
    data: &MetricData<T>,
    value: impl Fn(T) -> f64,
) {
    match data {
        MetricData::Gauge(gauge) => {
            let family = family(families, base.to_string(), help, "gauge");
            for point in gauge.data_points() {
                sample(
                    &mut family.samples,
                    base,
                    point.attributes(),
                    None,
                    value(point.value()),
                );
            }
        }
        MetricData::Sum(sum) => {
            let (name, kind) = if sum.is_monotonic() {
                (format!("{base}_total"), "counter")
            } else {
                (base.to_string(), "gauge")
            };
            let family = family(families, name.clone(), help, kind);
            for point in sum.data_points() {
                sample(
                    &mut family.samples,
                    &name,
                    point.attributes(),
                    None,
                    value(point.value()),
                );
            }
        }
        MetricData::Histogram(histogram) => {
            let family = family(families, base.to_string(), help, "histogram");
            for point in histogram.data_points() {
                // One count per bound, and one above the last (`+Inf`).
                let bucket = format!("{base}_bucket");
                let bounds = point.bounds().chain(std::iter::once(f64::INFINITY));
                let mut cumulative = 0u64;
                for (bound, count) in bounds.zip(point.bucket_counts()) {
                    cumulative += count;
                    let le = format_value(bound);
                    sample(
                        &mut family.samples,
                        &bucket,
                        point.attributes(),
                        Some(("le", le.as_str())),
                        cumulative as f64,
                    );
                }
                let sum = value(point.sum());
                sample(
                    &mut family.samples,
                    &format!("{base}_sum"),
                    point.attributes(),
                    None,
                    sum,
                );
                let count = point.count() as f64;
                sample(
                    &mut family.samples,
                    &format!("{base}_count"),
                    point.attributes(),
                    None,
                    count,
                );
            }
        }
        // Not produced by Ferry's instruments (no view asks for them).
        MetricData::ExponentialHistogram(_) => {}
    }
}

fn family<'a>(
    families: &'a mut BTreeMap<String, Family>,
    name: String,
    help: String,
    kind: &'static str,
) -> &'a mut Family {
    families.entry(name).or_insert_with(|| Family {
        help,
        kind,
        samples: String::new(),
    })
}

fn sample<'a>(
    out: &mut String,
    name: &str,
    attributes: impl Iterator<Item = &'a KeyValue>,
    extra: Option<(&str, &str)>,
    value: f64,
) {
    let mut labels: Vec<(String, String)> = attributes
        .map(|kv| (sanitize(kv.key.as_str()), kv.value.as_str().into_owned()))
        .collect();
    labels.sort();
    if let Some((key, value)) = extra {
        labels.push((key.to_string(), value.to_string()));
    }
    out.push_str(name);
    if !labels.is_empty() {
        out.push('{');
        for (i, (key, value)) in labels.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            let _ = write!(out, "{key}=\"{}\"", escape_label(value));
        }
        out.push('}');
    }
    let _ = writeln!(out, " {}", format_value(value));
}

/// The Prometheus name of an OpenTelemetry metric with `unit`.
pub fn base_name(name: &str, unit: &str) -> String {
    let mut base = sanitize(name);
    let suffix = match unit {
        "" | "1" => None,
        unit if unit.starts_with('{') => None,
        "s" => Some("seconds"),
        "ms" => Some("milliseconds"),
        "By" => Some("bytes"),
        "By/s" => Some("bytes_per_second"),
        other => Some(other),
    };
    if let Some(suffix) = suffix {
        let suffix = sanitize(suffix);
        if !base.ends_with(&format!("_{suffix}")) {
            base = format!("{base}_{suffix}");
        }
    }
    base
}

/// Letters, digits and underscores (not starting with a digit), runs of others as one
/// underscore.
fn sanitize(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.chars() {
        let c = if c.is_ascii_alphanumeric() || c == '_' || c == ':' {
            c
        } else {
            '_'
        };
        if c == '_' && out.ends_with('_') {
            continue;
        }
        out.push(c);
    }
    if out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, '_');
    }
    out
}

fn escape_label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn escape_help(value: &str) -> String {
    value.replace('\\', "\\\\").replace('\n', "\\n")
}

fn format_value(value: f64) -> String {
    if value.is_nan() {
        "NaN".into()
    } else if value.is_infinite() {
        if value > 0.0 { "+Inf" } else { "-Inf" }.into()
    } else {
        format!("{value}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_compatibility_rules() {
        assert_eq!(
            base_name("ferry.agent.heartbeats", "{heartbeat}"),
            "ferry_agent_heartbeats"
        );
        assert_eq!(
            base_name("rpc.server.call.duration", "s"),
            "rpc_server_call_duration_seconds"
        );
        assert_eq!(
            base_name("ferry.migration.seeded", "By"),
            "ferry_migration_seeded_bytes"
        );
        assert_eq!(base_name("ferry.lag_seconds", "s"), "ferry_lag_seconds");
        assert_eq!(
            base_name("ferry.migration.seeding.rate", "By/s"),
            "ferry_migration_seeding_rate_bytes_per_second"
        );
        assert_eq!(base_name("9lives..x", ""), "_9lives_x");
    }

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escape_label("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
