//! The driver's metrics: how long a tick takes and how many store operations it
//! makes, whether this replica holds the
//! driver's lease and under which epoch, the migrations queued for a seeding slot
//! (admission), and the cutovers waiting at their gates (each gate open or closed, how
//! long the wait has lasted, how many wait for approvers). The gate series exist only
//! while a cutover waits: a cutover that fails over, stops or is no longer evaluated
//! (cancelled, or another replica drives) drops out within [`STALE_AFTER`], as does a
//! queued migration no longer looked at.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use opentelemetry::metrics::{Histogram, ObservableGauge};
use opentelemetry::KeyValue;

use crate::cutover::gates::{Gate, GateName};
use ferry_proto::clock::now_ms;

/// `rows` were found equal on both sides by a cutover's validation gate, before its
/// failover (`ferry.cutover.rows_validated`).
pub fn rows_validated(rows: i64) {
    static ROWS: std::sync::OnceLock<opentelemetry::metrics::Counter<u64>> =
        std::sync::OnceLock::new();
    ROWS.get_or_init(|| {
        opentelemetry::global::meter("ferry-control")
            .u64_counter("ferry.cutover.rows_validated")
            .with_unit("{row}")
            .with_description("Rows a cutover's validation gate found equal on SQL Server and the MI before its failover")
            .build()
    })
    .add(rows.max(0) as u64, &[]);
}

/// A cutover's gates not judged again for this long are no longer shown.
pub const STALE_AFTER: Duration = Duration::from_secs(120);

/// The driver's lease as this replica knows it.
pub struct DriverMetrics {
    pub tick: Histogram<f64>,
    /// Store operations (queries and writes) per tick.
    pub tick_operations: Histogram<u64>,
    held: Arc<AtomicI64>,
    epoch: Arc<AtomicI64>,
    _gauges: [ObservableGauge<i64>; 2],
}

impl DriverMetrics {
    pub fn register() -> Self {
        let meter = opentelemetry::global::meter("ferry-control");
        let held = Arc::new(AtomicI64::new(0));
        let epoch = Arc::new(AtomicI64::new(0));
        let (h, e) = (held.clone(), epoch.clone());
        Self {
            tick: meter
                .f64_histogram("ferry.driver.tick.duration")
                .with_unit("s")
                .with_description("How long one driver tick over the active migrations took")
                .with_boundaries(vec![0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0])
                .build(),
            tick_operations: meter
                .u64_histogram("ferry.driver.tick.store_operations")
                .with_unit("{operation}")
                .with_description("Store operations (queries and writes) one driver tick made")
                .with_boundaries(vec![
                    2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0, 1000.0, 5000.0,
                ])
                .build(),
            held: held.clone(),
            epoch: epoch.clone(),
            _gauges: [
                meter
                    .i64_observable_gauge("ferry.driver.lease.held")
                    .with_description("1 when this replica holds the migration driver's lease")
                    .with_callback(move |o| o.observe(h.load(Ordering::Relaxed), &[]))
                    .build(),
                meter
                    .i64_observable_gauge("ferry.driver.lease.epoch")
                    .with_description(
                        "The driver lease's fencing epoch, on the replica that holds it",
                    )
                    .with_callback(move |o| {
                        let epoch = e.load(Ordering::Relaxed);
                        if epoch > 0 {
                            o.observe(epoch, &[]);
                        }
                    })
                    .build(),
            ],
        }
    }

    /// Held under `epoch`, or (None) not held.
    pub fn lease(&self, epoch: Option<i64>) {
        self.held
            .store(i64::from(epoch.is_some()), Ordering::Relaxed);
        self.epoch.store(epoch.unwrap_or(0), Ordering::Relaxed);
    }
}

struct Posted {
    link: String,
    gates: Vec<(GateName, bool)>,
    /// When the failover step began waiting (queued waits restart it).
    waiting_since_ms: i64,
    at: Instant,
}

/// The cutovers waiting at their gates and the migrations waiting for a seeding slot,
/// as last judged on this replica.
pub struct DriverGauges {
    posted: Arc<Mutex<HashMap<String, Posted>>>,
    queued: Arc<Mutex<HashMap<String, Instant>>>,
    _gauges: [ObservableGauge<i64>; 4],
}

impl Default for DriverGauges {
    fn default() -> Self {
        Self::register()
    }
}

impl DriverGauges {
    pub fn register() -> Self {
        let meter = opentelemetry::global::meter("ferry-control");
        let posted: Arc<Mutex<HashMap<String, Posted>>> = Arc::default();
        let read = |posted: &Arc<Mutex<HashMap<String, Posted>>>| {
            let posted = posted.clone();
            move |f: &mut dyn FnMut(&str, &Posted)| {
                let mut posted = posted.lock().unwrap_or_else(|p| p.into_inner());
                posted.retain(|_, p| p.at.elapsed() < STALE_AFTER);
                for (migration, p) in posted.iter() {
                    f(migration, p);
                }
            }
        };
        let (open, waiting, approvals) = (read(&posted), read(&posted), read(&posted));
        let queued: Arc<Mutex<HashMap<String, Instant>>> = Arc::default();
        let in_queue = queued.clone();
        let labels = |migration: &str, p: &Posted| {
            vec![
                KeyValue::new("migration", migration.to_string()),
                KeyValue::new("link", p.link.clone()),
            ]
        };
        Self {
            posted,
            queued,
            _gauges: [
                meter
                    .i64_observable_gauge("ferry.migrations.admission_queue")
                    .with_unit("{migration}")
                    .with_description("Migrations ready to create their link and waiting for a seeding slot ([migrations] seeding limits)")
                    .with_callback(move |o| {
                        let mut queued = in_queue.lock().unwrap_or_else(|p| p.into_inner());
                        queued.retain(|_, at| at.elapsed() < STALE_AFTER);
                        o.observe(queued.len() as i64, &[]);
                    })
                    .build(),
                meter
                    .i64_observable_gauge("ferry.cutover.gate.open")
                    .with_description("1 when the gate is open, 0 when closed, for each cutover waiting at its gates")
                    .with_callback(move |o| {
                        open(&mut |migration, p| {
                            for (gate, is_open) in &p.gates {
                                let mut l = labels(migration, p);
                                l.push(KeyValue::new("gate", gate.as_str()));
                                o.observe(i64::from(*is_open), &l);
                            }
                        })
                    })
                    .build(),
                meter
                    .i64_observable_gauge("ferry.cutover.waiting")
                    .with_unit("s")
                    .with_description("How long each cutover has waited at closed gates (a queue's wait restarts it)")
                    .with_callback(move |o| {
                        let now = now_ms();
                        waiting(&mut |migration, p| {
                            o.observe((now - p.waiting_since_ms) / 1000, &labels(migration, p))
                        })
                    })
                    .build(),
                meter
                    .i64_observable_gauge("ferry.cutovers.awaiting_approval")
                    .with_unit("{cutover}")
                    .with_description("Cutovers whose approval gate is closed: approvers are needed")
                    .with_callback(move |o| {
                        let mut n = 0;
                        approvals(&mut |_, p| {
                            n += i64::from(p.gates.iter().any(|(g, open)| *g == GateName::Approval && !open));
                        });
                        o.observe(n, &[]);
                    })
                    .build(),
            ],
        }
    }

    /// The gates of `migration`'s cutover as just judged, still waiting.
    pub fn waiting(&self, migration: &str, link: &str, gates: &[Gate], waiting_since_ms: i64) {
        let posted = Posted {
            link: link.to_string(),
            gates: gates.iter().map(|g| (g.name, g.open)).collect(),
            waiting_since_ms,
            at: Instant::now(),
        };
        self.lock().insert(migration.to_string(), posted);
    }

    /// Whether `migration` waits for a seeding slot (false: admitted).
    pub fn admission(&self, migration: &str, waits: bool) {
        let mut queued = self.queued.lock().unwrap_or_else(|p| p.into_inner());
        if waits {
            queued.insert(migration.to_string(), Instant::now());
        } else {
            queued.remove(migration);
        }
    }

    /// `migration`'s cutover no longer waits (it fails over, or stopped).
    pub fn done(&self, migration: &str) {
        self.lock().remove(migration);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Posted>> {
        self.posted.lock().unwrap_or_else(|p| p.into_inner())
    }
}
