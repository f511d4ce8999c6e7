//! What the control plane shows whatever watches it.
//!
//! - `exposition`: OpenTelemetry metrics as Prometheus text.
//! - `http`: the plain-HTTP listener (`/metrics`, `/healthz`, `/readyz`), off the mTLS
//!   port and off unless configured (`[observability] listen`).
//! - `fleet_gauges`: the fleet's gauges (agents, migrations by state, each unfinished
//!   migration's lag and seeding), read from the store at each scrape and, for OTLP,
//!   every export; a handful of grouped queries whatever the fleet's size.
//!
//! The instruments updated as things happen live beside what they count: the fleet's
//! in `fleet::metrics`, the driver's in `reconcile::driver`, ARM's in `azure::client`,
//! RPC latency in `ferry_proto::telemetry::RpcTraceLayer`. Label cardinality is bounded
//! and written down in `docs/reference/metrics.md`.

pub mod exposition;
pub mod fleet_gauges;
pub mod http;

use std::sync::Arc;
use std::time::Duration;

use opentelemetry::metrics::ObservableGauge;

use crate::config::ControlConfig;
use crate::context::Context;
use fleet_gauges::FleetGauges;

pub struct Observability {
    gauges: Arc<FleetGauges>,
    _settings: ObservableGauge<u64>,
}

impl Observability {
    /// Registers the fleet's gauges, and the settings alert rules compare with, on the
    /// global meter.
    pub fn new(config: &ControlConfig) -> Self {
        let gate_timeout = config.cutover.gate_timeout_secs;
        let settings = opentelemetry::global::meter("ferry-control")
            .u64_observable_gauge("ferry.cutover.gate_timeout")
            .with_unit("s")
            .with_description(
                "How long a cutover may wait at closed gates ([cutover] gate_timeout_secs)",
            )
            .with_callback(move |observer| observer.observe(gate_timeout, &[]))
            .build();
        Self {
            gauges: FleetGauges::register(),
            _settings: settings,
        }
    }

    /// Reads the fleet's gauges every `period` until `stop` (for OTLP export, which
    /// reads them on its own schedule).
    pub async fn refresh_every(
        self: Arc<Self>,
        shared: Arc<Context>,
        period: Duration,
        mut stop: tokio::sync::watch::Receiver<bool>,
    ) {
        let mut tick = tokio::time::interval(period);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = tick.tick() => self.gauges.refresh(&shared).await,
                _ = stop.changed() => return,
            }
        }
    }

    /// Refreshes the fleet's gauges from the store, then renders every metric of the
    /// process. A store that does not answer leaves the gauges as last read, and
    /// `ferry_control_scrape_errors_total` says so.
    pub async fn scrape(&self, shared: &Context) -> String {
        self.gauges.refresh(shared).await;
        match ferry_proto::telemetry::collect_metrics() {
            Some(metrics) => exposition::render(&metrics),
            None => String::new(),
        }
    }
}
