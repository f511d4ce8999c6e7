//! The store's latency, by named operation: `db.client.operation.duration` (seconds,
//! OpenTelemetry's database convention), labelled with the `Store` method's name
//! (`db.operation.name`, a fixed set) and the database (`db.system.name`: sqlite,
//! postgresql). It spans the whole operation: waiting for a connection and for
//! SQLite's write lock included, as a caller sees it. [`counted`] counts the
//! operations a piece of work made (the driver's queries per tick).

use std::sync::OnceLock;
use std::time::Instant;

use opentelemetry::metrics::Histogram;
use opentelemetry::KeyValue;

use super::Dialect;

tokio::task_local! {
    /// The operations started by the work [`counted`] runs.
    static COUNT: std::sync::Arc<std::sync::atomic::AtomicU64>;
}

/// Runs `work` and says how many store operations it started (those of the tasks it
/// spawns not included): the driver's queries per tick.
pub async fn counted<F: std::future::Future>(work: F) -> (F::Output, u64) {
    let count = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let output = COUNT.scope(count.clone(), work).await;
    (output, count.load(std::sync::atomic::Ordering::Relaxed))
}

/// Records one operation's duration when dropped (finished, failed or cancelled).
pub(super) struct Timed {
    operation: &'static str,
    dialect: Dialect,
    started: Instant,
}

impl Timed {
    pub(super) fn start(operation: &'static str, dialect: Dialect) -> Self {
        let _ = COUNT.try_with(|count| count.fetch_add(1, std::sync::atomic::Ordering::Relaxed));
        Self {
            operation,
            dialect,
            started: Instant::now(),
        }
    }
}

impl Drop for Timed {
    fn drop(&mut self) {
        static DURATION: OnceLock<Histogram<f64>> = OnceLock::new();
        let histogram = DURATION.get_or_init(|| {
            opentelemetry::global::meter("ferry-control")
                .f64_histogram("db.client.operation.duration")
                .with_unit("s")
                .with_description("How long the store's operations took, by operation")
                .with_boundaries(vec![
                    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
                ])
                .build()
        });
        let system = match self.dialect {
            Dialect::Sqlite => "sqlite",
            Dialect::Postgres => "postgresql",
        };
        histogram.record(
            self.started.elapsed().as_secs_f64(),
            &[
                KeyValue::new("db.system.name", system),
                KeyValue::new("db.operation.name", self.operation),
            ],
        );
    }
}

#[cfg(test)]
mod tests {
    /// Every operation of the store is timed under its own name: a copied line that
    /// kept another method's name would merge two operations' latencies.
    #[test]
    fn every_operation_is_timed_under_its_name() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/store");
        let mut timed = 0;
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let source = std::fs::read_to_string(&path).unwrap();
            let mut lines = source.lines();
            while let Some(line) = lines.next() {
                let Some(rest) = line.strip_prefix("    pub async fn ") else {
                    continue;
                };
                let name: String = rest
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                let mut signature = line.to_string();
                while !signature.trim_end().ends_with('{') {
                    signature.push_str(lines.next().unwrap());
                }
                if !signature.contains("&self") || name == "close" {
                    continue;
                }
                let first = lines.next().unwrap_or_default().trim();
                assert_eq!(
                    first,
                    format!("let _timed = self.timed(\"{name}\");"),
                    "{}: {name}",
                    path.display()
                );
                timed += 1;
            }
        }
        assert!(timed > 100, "found {timed} operations");
    }
}
