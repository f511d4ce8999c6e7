//! The fleet's gauges, read from the store: agents by liveness, the soonest agent
//! certificate's expiry, migrations by state, stalled migrations by cause, and for
//! each unfinished migration (and only those: the series end with the migration)
//! its lag, log send queue and seeding progress. Every replica reports the same
//! values, read from the shared store; a dashboard takes `max` across replicas.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use opentelemetry::metrics::{Counter, ObservableGauge};
use opentelemetry::KeyValue;

use crate::context::Context;
use crate::cutover::window::Now;
use crate::migration::observe::Observation;
use crate::migration::State;
use crate::store::fleet_counts::FleetCounts;
use ferry_proto::clock::now_ms;

/// Scrapes closer together than this share one read of the store.
const FRESH_FOR: Duration = Duration::from_secs(1);
/// How long one refresh may wait for the store.
const REFRESH_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Default)]
struct Snapshot {
    counts: FleetCounts,
    migrations: Vec<MigrationSeries>,
    stalled: Vec<(&'static str, i64)>,
    /// Each wave of the plan, and whether its window is open (a wave without one
    /// always is).
    waves: Vec<(String, bool)>,
}

/// One unfinished migration's figures, as last observed.
struct MigrationSeries {
    /// migration (id), link, wave ('' for none).
    labels: [KeyValue; 3],
    send_lag_seconds: Option<i64>,
    redo_lag_seconds: Option<i64>,
    log_send_queue_bytes: Option<i64>,
    seeding: Option<(i64, i64, i64)>,
    /// Consecutive SQL Server readings in which the MI's hardened LSN was SQL Server's
    /// (0: they differ), when SQL Server's side is known.
    lsn_matched_readings: Option<i64>,
}

/// Writes a gauge's points (value, labels) from the snapshot.
type Observe = Box<dyn Fn(&Snapshot, &mut dyn FnMut(i64, &[KeyValue])) + Send + Sync>;

/// A per-migration gauge: name, unit, description, and its value when known.
type PerMigration = (
    &'static str,
    &'static str,
    &'static str,
    fn(&MigrationSeries) -> Option<i64>,
);

pub struct FleetGauges {
    snapshot: Arc<Mutex<Snapshot>>,
    refreshed: tokio::sync::Mutex<Option<Instant>>,
    errors: Counter<u64>,
    _gauges: Vec<ObservableGauge<i64>>,
}

impl FleetGauges {
    pub fn register() -> Arc<Self> {
        let meter = opentelemetry::global::meter("ferry-control");
        let snapshot = Arc::new(Mutex::new(Snapshot::default()));
        let read = |snapshot: &Arc<Mutex<Snapshot>>| {
            let snapshot = snapshot.clone();
            move |f: &dyn Fn(&Snapshot)| f(&snapshot.lock().unwrap_or_else(|p| p.into_inner()))
        };
        let mut gauges = Vec::new();
        let mut gauge = |name: &'static str,
                         unit: &'static str,
                         description: &'static str,
                         observe: Observe| {
            let read = read(&snapshot);
            gauges.push(
                meter
                    .i64_observable_gauge(name)
                    .with_unit(unit)
                    .with_description(description)
                    .with_callback(move |observer| {
                        read(&|s| observe(s, &mut |v, labels| observer.observe(v, labels)))
                    })
                    .build(),
            );
        };
        gauge(
            "ferry.agents",
            "{agent}",
            "Enrolled agents by liveness (state: online, disconnected, never_connected, revoked)",
            Box::new(|s, observe| {
                for (state, n) in &s.counts.agents {
                    observe(*n, &[KeyValue::new("state", state.clone())]);
                }
            }),
        );
        gauge(
            "ferry.agent.certificate.soonest_expiry",
            "s",
            "Seconds until the soonest certificate of a live agent expires",
            Box::new(|s, observe| {
                if let Some(at) = s.counts.soonest_certificate_expiry_ms {
                    observe((at - now_ms()) / 1000, &[]);
                }
            }),
        );
        gauge(
            "ferry.migrations",
            "{migration}",
            "Migrations by state",
            Box::new(|s, observe| {
                for (state, n) in &s.counts.migrations {
                    observe(*n, &[KeyValue::new("state", state.clone())]);
                }
            }),
        );
        gauge(
            "ferry.assessment.databases",
            "{database}",
            "Databases by readiness for the MI link, in the newest assessment run",
            Box::new(|s, observe| {
                for (readiness, n) in s.counts.assessment.iter().flat_map(|a| &a.databases) {
                    observe(*n, &[KeyValue::new("readiness", readiness.clone())]);
                }
            }),
        );
        gauge(
            "ferry.assessment.databases.by_label",
            "{database}",
            "Databases by readiness in the newest assessment run, per value of each host label key of [observability] label_keys",
            Box::new(|s, observe| {
                for l in s.counts.assessment.iter().flat_map(|a| &a.by_label) {
                    let labels = [
                        KeyValue::new("label_key", l.key.clone()),
                        KeyValue::new("label_value", l.value.clone()),
                        KeyValue::new("readiness", l.readiness.clone()),
                    ];
                    observe(l.databases, &labels);
                }
            }),
        );
        gauge(
            "ferry.assessment.findings",
            "{finding}",
            "Checks that found something (status found) or could not tell (unknown) in the newest assessment run, by check and severity",
            Box::new(|s, observe| {
                for (check, severity, status, n) in
                    s.counts.assessment.iter().flat_map(|a| &a.findings)
                {
                    let labels = [
                        KeyValue::new("check", check.clone()),
                        KeyValue::new("severity", severity.clone()),
                        KeyValue::new("status", status.clone()),
                    ];
                    observe(*n, &labels);
                }
            }),
        );
        gauge(
            "ferry.assessment.hosts",
            "{host}",
            "Hosts of the newest assessment run by progress (reported, waiting, offline_waiting)",
            Box::new(|s, observe| {
                if let Some(a) = &s.counts.assessment {
                    let waiting = a.hosts - a.reported - a.offline_waiting;
                    for (progress, n) in [
                        ("reported", a.reported),
                        ("waiting", waiting),
                        ("offline_waiting", a.offline_waiting),
                    ] {
                        observe(n, &[KeyValue::new("progress", progress)]);
                    }
                }
            }),
        );
        gauge(
            "ferry.assessment.run.duration",
            "s",
            "How long the newest assessment run took (until now while hosts have not reported)",
            Box::new(|s, observe| {
                if let Some(a) = &s.counts.assessment {
                    observe(a.duration_ms / 1000, &[]);
                }
            }),
        );
        gauge(
            "ferry.agents.offline_migrating",
            "{agent}",
            "Agents silent past the liveness threshold while one of their databases migrates",
            Box::new(|s, observe| observe(s.counts.offline_migrating, &[])),
        );
        gauge(
            "ferry.wave.window_open",
            "",
            "1 while the wave's maintenance window is open (a wave without one: always), by wave",
            Box::new(|s, observe| {
                for (wave, open) in &s.waves {
                    observe(i64::from(*open), &[KeyValue::new("wave", wave.clone())]);
                }
            }),
        );
        gauge(
            "ferry.migrations.stalled",
            "{migration}",
            "Stalled migrations by cause (link_disconnected, link_not_healthy, no_progress)",
            Box::new(|s, observe| {
                for (cause, n) in &s.stalled {
                    observe(*n, &[KeyValue::new("cause", *cause)]);
                }
            }),
        );
        let per_migration: [PerMigration; 7] = [
            (
                "ferry.migration.lag.send",
                "s",
                "Seconds of log not yet sent to the MI, as Azure reports it",
                |m| m.send_lag_seconds,
            ),
            (
                "ferry.migration.lag.redo",
                "s",
                "Seconds of log received by the MI and not yet redone, as Azure reports it",
                |m| m.redo_lag_seconds,
            ),
            (
                "ferry.migration.log_send_queue",
                "By",
                "Log waiting on SQL Server to be sent to the MI",
                |m| m.log_send_queue_bytes,
            ),
            (
                "ferry.migration.seeding.transferred",
                "By",
                "Bytes the seeding copy has sent",
                |m| m.seeding.map(|s| s.0),
            ),
            (
                "ferry.migration.seeding.size",
                "By",
                "Bytes the seeding copy sends in all",
                |m| m.seeding.map(|s| s.1),
            ),
            (
                "ferry.migration.seeding.rate",
                "By/s",
                "The seeding copy's rate",
                |m| m.seeding.map(|s| s.2),
            ),
            (
                "ferry.migration.lsn.matched_readings",
                "{reading}",
                "Consecutive readings in which the MI's hardened LSN equalled SQL Server's (0: the MI is behind)",
                |m| m.lsn_matched_readings,
            ),
        ];
        for (name, unit, description, value) in per_migration {
            gauge(
                name,
                unit,
                description,
                Box::new(move |s, observe| {
                    for m in &s.migrations {
                        if let Some(v) = value(m) {
                            observe(v, &m.labels);
                        }
                    }
                }),
            );
        }
        let errors = meter
            .u64_counter("ferry.control.scrape.errors")
            .with_unit("{error}")
            .with_description("Reads of the store for the fleet's gauges that failed or timed out")
            .build();
        errors.add(0, &[]);
        Arc::new(Self {
            snapshot,
            refreshed: tokio::sync::Mutex::new(None),
            errors,
            _gauges: gauges,
        })
    }

    /// Reads the store again unless it was read within the last second.
    pub async fn refresh(&self, shared: &Context) {
        let mut refreshed = self.refreshed.lock().await;
        if refreshed.is_some_and(|at| at.elapsed() < FRESH_FOR) {
            return;
        }
        match tokio::time::timeout(REFRESH_TIMEOUT, read(shared)).await {
            Ok(Ok(snapshot)) => {
                *self.snapshot.lock().unwrap_or_else(|p| p.into_inner()) = snapshot;
                *refreshed = Some(Instant::now());
            }
            Ok(Err(e)) => {
                self.errors.add(1, &[]);
                tracing::warn!(error = %e, "reading the fleet's gauges failed; they show the last read");
            }
            Err(_) => {
                self.errors.add(1, &[]);
                tracing::warn!(timeout = ?REFRESH_TIMEOUT, "reading the fleet's gauges timed out; they show the last read");
            }
        }
    }
}

async fn read(shared: &Context) -> Result<Snapshot, crate::store::StoreError> {
    let now = now_ms();
    let silence_ms = shared.config.liveness.disconnected_after_secs as i64 * 1000;
    let label_keys = &shared.config.observability.label_keys;
    let counts = shared
        .store
        .fleet_counts((now, silence_ms), label_keys)
        .await?;
    let active = shared.store.active_migrations().await?;
    let mut stalled: Vec<(&'static str, i64)> = STALL_CAUSES.map(|c| (c, 0)).to_vec();
    let mut migrations = Vec::with_capacity(active.len());
    for m in &active {
        let observation: Option<Observation> = m.observation().ok().flatten();
        if m.state == State::Stalled {
            let cause = stall_cause(observation.as_ref());
            if let Some((_, n)) = stalled.iter_mut().find(|(c, _)| *c == cause) {
                *n += 1;
            }
        }
        let Some(o) = observation else { continue };
        let sql = o.sql.as_ref();
        let known = |v: i64| (v >= 0).then_some(v);
        migrations.push(MigrationSeries {
            labels: [
                KeyValue::new("migration", m.id.clone()),
                KeyValue::new("link", m.link_name.clone()),
                KeyValue::new("wave", m.wave.clone()),
            ],
            send_lag_seconds: o.send_lag_seconds,
            redo_lag_seconds: o.redo_lag_seconds,
            log_send_queue_bytes: sql
                .and_then(|s| known(s.log_send_queue_kb))
                .map(|kb| kb * 1024),
            seeding: sql.filter(|s| s.seeding).map(|s| {
                (
                    s.seeding_transferred_bytes,
                    s.seeding_size_bytes,
                    s.seeding_rate_bytes_per_second,
                )
            }),
            lsn_matched_readings: sql.map(|_| i64::from(o.steady.equal_readings)),
        });
    }
    let waves = shared
        .store
        .waves()
        .await?
        .into_iter()
        .map(|w| {
            let open = match &w.wave.window {
                None => true,
                Some(window) => matches!(window.now(now), Ok(Now::Open(_))),
            };
            (w.wave.name, open)
        })
        .collect();
    Ok(Snapshot {
        counts,
        migrations,
        stalled,
        waves,
    })
}

const STALL_CAUSES: [&str; 3] = ["link_disconnected", "link_not_healthy", "no_progress"];

/// Why a stalled migration is stalled, in a bounded set of words: the link is down, it
/// is up but unhealthy, or it is up and healthy and nothing moves.
fn stall_cause(observation: Option<&Observation>) -> &'static str {
    match observation {
        Some(o) if o.connected_state.eq_ignore_ascii_case("DISCONNECTED") => STALL_CAUSES[0],
        Some(o) if o.synchronization_health.eq_ignore_ascii_case("NOT_HEALTHY") => STALL_CAUSES[1],
        _ => STALL_CAUSES[2],
    }
}
