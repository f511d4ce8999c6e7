//! Telemetry shared by Ferry's binaries.
//!
//! - Logs: `tracing` to stderr, filtered by `RUST_LOG` (default: the binary's own).
//! - Traces and metrics: exported over OTLP (HTTP/protobuf) when the standard
//!   `OTEL_EXPORTER_OTLP_ENDPOINT` (or `..._TRACES_ENDPOINT` / `..._METRICS_ENDPOINT`)
//!   is set, e.g. `http://localhost:4318` for a local collector; `OTEL_SERVICE_NAME` and
//!   `OTEL_RESOURCE_ATTRIBUTES` are honoured. The exporter uses a blocking HTTP client
//!   because the SDK's batch processors export from their own threads, where a
//!   Tokio-based client has no reactor.
//! - Propagation: W3C trace context, in gRPC metadata for calls ([`inject`],
//!   [`extract`]) and in a string map inside stream messages ([`to_map`], [`from_map`]),
//!   so that one operation is one trace across the CLI, the control plane and the agent.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use opentelemetry::propagation::{Extractor, Injector};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry::Context;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::metrics::data::ResourceMetrics;
use opentelemetry_sdk::metrics::reader::MetricReader;
use opentelemetry_sdk::metrics::{
    InstrumentKind, ManualReader, Pipeline, SdkMeterProvider, Temporality,
};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use opentelemetry_sdk::Resource;
use tonic::metadata::{KeyAndValueRef, MetadataKey, MetadataMap, MetadataValue};
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::EnvFilter;

/// Flushes and shuts the exporters down when dropped; keep it alive in `main`.
pub struct Telemetry {
    tracer: Option<SdkTracerProvider>,
    meter: Option<SdkMeterProvider>,
}

/// Whether OTLP export is configured (by the standard `OTEL_EXPORTER_OTLP_*` variables).
pub fn otlp_configured() -> bool {
    [
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
        "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
    ]
    .iter()
    .any(|var| std::env::var(var).is_ok_and(|v| !v.trim().is_empty()))
}

/// Makes ring the process's rustls crypto provider, if none is yet: reqwest (the OTLP
/// exporter's client, ARM's, webhooks') is built with rustls and no provider of its
/// own, and panics building a client without one.
pub fn install_crypto_provider() {
    // An error means one is installed already.
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// Installs logging, and OTLP export when configured. Call once, first thing in `main`.
pub fn init(service_name: &'static str, default_filter: &str) -> Telemetry {
    init_with(service_name, default_filter, false)
}

/// As [`init`], and metrics kept for reading on demand ([`collect_metrics`]: the
/// control plane's `/metrics`), whether or not OTLP is configured.
pub fn init_scrapeable(service_name: &'static str, default_filter: &str) -> Telemetry {
    init_with(service_name, default_filter, true)
}

/// The reader [`collect_metrics`] reads, once [`init_scrapeable`] installed it.
static SCRAPE: OnceLock<Arc<ManualReader>> = OnceLock::new();

/// Every metric of the process now (cumulative), or None when [`init_scrapeable`] was
/// not called.
pub fn collect_metrics() -> Option<ResourceMetrics> {
    let reader = SCRAPE.get()?;
    let mut metrics = ResourceMetrics::default();
    match reader.collect(&mut metrics) {
        Ok(()) => Some(metrics),
        Err(e) => {
            tracing::warn!(error = %e, "collecting metrics failed");
            None
        }
    }
}

/// The meter provider's handle on the shared [`ManualReader`] (the provider owns its
/// readers; [`collect_metrics`] needs one too).
#[derive(Debug)]
struct SharedReader(Arc<ManualReader>);

impl MetricReader for SharedReader {
    fn register_pipeline(&self, pipeline: std::sync::Weak<Pipeline>) {
        self.0.register_pipeline(pipeline)
    }
    fn collect(&self, metrics: &mut ResourceMetrics) -> OTelSdkResult {
        self.0.collect(metrics)
    }
    fn force_flush(&self) -> OTelSdkResult {
        self.0.force_flush()
    }
    fn shutdown_with_timeout(&self, timeout: std::time::Duration) -> OTelSdkResult {
        self.0.shutdown_with_timeout(timeout)
    }
    fn temporality(&self, kind: InstrumentKind) -> Temporality {
        self.0.temporality(kind)
    }
}

/// Only metrics kept for [`collect_metrics`], for a process that sets up its own
/// logging and serves a control plane in process (`ferry-lab`).
pub fn init_scrape_only(service_name: &'static str) -> Telemetry {
    let resource = Resource::builder().with_service_name(service_name).build();
    Telemetry {
        tracer: None,
        meter: Some(install_meter(resource, true, None)),
    }
}

/// Builds the global meter provider: read on demand when `scrape`, exported over OTLP
/// when `otlp` is given.
fn install_meter(
    resource: Resource,
    scrape: bool,
    otlp: Option<opentelemetry_otlp::MetricExporter>,
) -> SdkMeterProvider {
    let mut builder = SdkMeterProvider::builder().with_resource(resource);
    if scrape {
        let reader = SCRAPE.get_or_init(|| Arc::new(ManualReader::builder().build()));
        builder = builder.with_reader(SharedReader(reader.clone()));
    }
    if let Some(otlp) = otlp {
        builder = builder.with_periodic_exporter(otlp);
    }
    let provider = builder.build();
    opentelemetry::global::set_meter_provider(provider.clone());
    provider
}

/// The OTLP exporters when OTLP is configured.
fn otlp_exporters() -> Result<
    Option<(
        opentelemetry_otlp::SpanExporter,
        opentelemetry_otlp::MetricExporter,
    )>,
    opentelemetry_otlp::ExporterBuildError,
> {
    if !otlp_configured() {
        return Ok(None);
    }
    let spans = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .build()?;
    let metrics = opentelemetry_otlp::MetricExporter::builder()
        .with_http()
        .build()?;
    Ok(Some((spans, metrics)))
}

fn init_with(service_name: &'static str, default_filter: &str, scrape: bool) -> Telemetry {
    install_crypto_provider();
    opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_filter));
    let fmt = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(false);
    let resource = match std::env::var("OTEL_SERVICE_NAME") {
        Ok(_) => Resource::builder().build(),
        Err(_) => Resource::builder().with_service_name(service_name).build(),
    };
    let (exporters, failed) = match otlp_exporters() {
        Ok(exporters) => (exporters, None),
        Err(e) => (None, Some(e)),
    };
    let (spans, metrics) = exporters.unzip();
    let meter_provider =
        (scrape || metrics.is_some()).then(|| install_meter(resource.clone(), scrape, metrics));
    let tracer_provider = spans.map(|spans| {
        let provider = SdkTracerProvider::builder()
            .with_batch_exporter(spans)
            .with_resource(resource)
            .build();
        opentelemetry::global::set_tracer_provider(provider.clone());
        provider
    });
    let otel = tracer_provider
        .as_ref()
        .map(|provider| tracing_opentelemetry::layer().with_tracer(provider.tracer(service_name)));
    tracing_subscriber::registry()
        .with(filter)
        .with(fmt)
        .with(otel)
        .init();
    if let Some(e) = failed {
        tracing::error!(error = %e, "OTLP export is configured but cannot start; logging only");
    } else if tracer_provider.is_some() {
        tracing::info!(
            service = service_name,
            "exporting traces and metrics over OTLP"
        );
    }
    Telemetry {
        tracer: tracer_provider,
        meter: meter_provider,
    }
}

impl Drop for Telemetry {
    fn drop(&mut self) {
        if let Some(tracer) = self.tracer.take() {
            let _ = tracer.shutdown();
        }
        if let Some(meter) = self.meter.take() {
            let _ = meter.shutdown();
        }
    }
}

struct MetadataInjector<'a>(&'a mut MetadataMap);

impl Injector for MetadataInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        if let (Ok(key), Ok(value)) = (
            MetadataKey::from_bytes(key.as_bytes()),
            MetadataValue::try_from(value.as_str()),
        ) {
            self.0.insert(key, value);
        }
    }
}

struct MetadataExtractor<'a>(&'a MetadataMap);

impl Extractor for MetadataExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0
            .iter()
            .filter_map(|entry| match entry {
                KeyAndValueRef::Ascii(key, _) => Some(key.as_str()),
                KeyAndValueRef::Binary(..) => None,
            })
            .collect()
    }
}

/// Writes the current span's trace context into outgoing call metadata.
pub fn inject(metadata: &mut MetadataMap) {
    let context = tracing::Span::current().context();
    opentelemetry::global::get_text_map_propagator(|p| {
        p.inject_context(&context, &mut MetadataInjector(metadata))
    });
}

/// The trace context carried by incoming call metadata.
pub fn extract(metadata: &MetadataMap) -> Context {
    opentelemetry::global::get_text_map_propagator(|p| p.extract(&MetadataExtractor(metadata)))
}

/// The current span's trace context as a string map, for stream messages.
pub fn to_map() -> HashMap<String, String> {
    let context = tracing::Span::current().context();
    let mut map = HashMap::new();
    opentelemetry::global::get_text_map_propagator(|p| p.inject_context(&context, &mut map));
    map
}

/// The trace context carried in a stream message.
pub fn from_map(map: &HashMap<String, String>) -> Context {
    opentelemetry::global::get_text_map_propagator(|p| p.extract(map))
}

/// A span for handling something that arrived with trace context `parent`.
pub fn child_span(span: tracing::Span, parent: Context) -> tracing::Span {
    let _ = span.set_parent(parent);
    span
}

struct HeaderExtractor<'a>(&'a http::HeaderMap);

impl Extractor for HeaderExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(|k| k.as_str()).collect()
    }
}

/// A server layer that runs every RPC in a span named by its method, parented to the
/// caller's trace context, and records its duration in `rpc.server.call.duration`
/// (seconds; for a stream, until its response opened) by service, method and gRPC
/// status. A path no service serves (status 12) is counted as method `unknown`, so
/// callers cannot grow the label set.
#[derive(Debug, Clone, Copy, Default)]
pub struct RpcTraceLayer;

impl<S> tower::Layer<S> for RpcTraceLayer {
    type Service = RpcTrace<S>;
    fn layer(&self, inner: S) -> RpcTrace<S> {
        RpcTrace(inner)
    }
}

#[derive(Debug, Clone)]
pub struct RpcTrace<S>(S);

type RpcFuture<R, E> = std::pin::Pin<Box<dyn std::future::Future<Output = Result<R, E>> + Send>>;

impl<S, B, R> tower::Service<http::Request<B>> for RpcTrace<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<R>>,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = RpcFuture<S::Response, S::Error>;

    fn poll_ready(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        self.0.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        use tracing::Instrument;
        let parent = opentelemetry::global::get_text_map_propagator(|p| {
            p.extract(&HeaderExtractor(request.headers()))
        });
        let span =
            tracing::info_span!("rpc", rpc.method = %request.uri().path(), otel.kind = "server");
        let _ = span.set_parent(parent);
        let path = request.uri().path().to_string();
        let started = std::time::Instant::now();
        let answered = self.0.call(request).instrument(span);
        Box::pin(async move {
            let result = answered.await;
            let status = match &result {
                Ok(response) => response
                    .headers()
                    .get("grpc-status")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.parse::<i64>().ok())
                    .unwrap_or(0),
                // The transport failed the call: UNKNOWN.
                Err(_) => 2,
            };
            rpc_duration(&path, status, started.elapsed());
            result
        })
    }
}

fn rpc_duration(path: &str, status: i64, took: std::time::Duration) {
    static DURATION: OnceLock<opentelemetry::metrics::Histogram<f64>> = OnceLock::new();
    let histogram = DURATION.get_or_init(|| {
        opentelemetry::global::meter("ferry")
            .f64_histogram("rpc.server.call.duration")
            .with_unit("s")
            .with_description("How long RPCs took to answer (streams: to open), by service, method and gRPC status")
            .with_boundaries(vec![
                0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
            ])
            .build()
    });
    let (service, method) = match (status, path.trim_start_matches('/').split_once('/')) {
        (12, _) | (_, None) => ("unknown", "unknown"),
        (_, Some((service, method))) => (service, method),
    };
    histogram.record(
        took.as_secs_f64(),
        &[
            opentelemetry::KeyValue::new("rpc.system", "grpc"),
            opentelemetry::KeyValue::new("rpc.service", service.to_string()),
            opentelemetry::KeyValue::new("rpc.method", method.to_string()),
            opentelemetry::KeyValue::new("rpc.grpc.status_code", status),
        ],
    );
}
