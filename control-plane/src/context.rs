//! What the control plane's services, its driver and its handlers share: the store,
//! the certificate authority, the configuration, ARM, the live agent sessions. It sits
//! below the API, so the driver and the use cases never reach up into the handlers.
//! A clone is cheap (the parts are shared), so the driver can hold one whose store is
//! fenced by its lease ([`Context::fenced`]).

use std::sync::Arc;

use crate::azure::Arm;
use crate::config::ControlConfig;
use crate::fleet::ca::CertificateAuthority;
use crate::fleet::liveness::HeartbeatBuffer;
use crate::fleet::metrics::FleetMetrics;
use crate::fleet::sessions::SessionRegistry;
use crate::reconcile::metrics::DriverGauges;
use crate::service::rollups::Rollups;
use crate::sizing::prices::PriceTable;
use crate::store::leases::Fence;
use crate::store::Store;

#[derive(Clone)]
pub struct Context {
    pub store: Store,
    /// What the driver takes the time from: the system's, or a test's.
    pub clock: Clock,
    pub ca: Arc<CertificateAuthority>,
    pub config: Arc<ControlConfig>,
    pub prices: Arc<PriceTable>,
    pub arm: Arc<Arm>,
    pub sessions: Arc<SessionRegistry>,
    pub heartbeats: Arc<HeartbeatBuffer>,
    pub metrics: Arc<FleetMetrics>,
    /// The cutovers waiting at their gates and the migrations waiting for a seeding
    /// slot, for their gauges.
    pub driver_gauges: Arc<DriverGauges>,
    /// Assessment runs' whole-run report figures, kept while they hold.
    pub rollups: Arc<Rollups>,
}

impl Context {
    /// The same context, its store's every write refused unless `fence` still holds
    /// its lease (checked in the write's own transaction).
    pub fn fenced(&self, fence: Fence) -> Context {
        Context {
            store: self.store.fenced(fence),
            ..self.clone()
        }
    }
}

/// The control plane's clock, in Unix milliseconds: the system's, or one a test
/// moves by hand ([`Clock::manual`]). Leases take their times from the database's
/// clock, not this one.
#[derive(Clone, Default)]
pub struct Clock(Option<Arc<std::sync::atomic::AtomicI64>>);

impl Clock {
    pub fn system() -> Clock {
        Clock(None)
    }

    /// A clock standing at `now_ms` until [`Clock::advance`] moves it.
    pub fn manual(now_ms: i64) -> Clock {
        Clock(Some(Arc::new(std::sync::atomic::AtomicI64::new(now_ms))))
    }

    pub fn now_ms(&self) -> i64 {
        match &self.0 {
            None => ferry_proto::clock::now_ms(),
            Some(hand) => hand.load(std::sync::atomic::Ordering::SeqCst),
        }
    }

    /// Moves a manual clock on by `ms`; the system's moves by itself and ignores it.
    pub fn advance(&self, ms: i64) {
        if let Some(hand) = &self.0 {
            hand.fetch_add(ms, std::sync::atomic::Ordering::SeqCst);
        }
    }
}

/// The caller's W3C trace context as stored with commands (JSON), so their work joins
/// the operator's trace.
pub fn trace_context() -> String {
    serde_json::to_string(&ferry_proto::telemetry::to_map()).unwrap_or_default()
}
