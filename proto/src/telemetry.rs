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

use opentelemetry::propagation::{Extractor, Injector};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry::Context;
use opentelemetry_sdk::metrics::SdkMeterProvider;
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

fn otlp_configured() -> bool {
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
    install_crypto_provider();
    opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_filter));
    let fmt = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(false);
    if !otlp_configured() {
        tracing_subscriber::registry().with(filter).with(fmt).init();
        return Telemetry {
            tracer: None,
            meter: None,
        };
    }
    let resource = match std::env::var("OTEL_SERVICE_NAME") {
        Ok(_) => Resource::builder().build(),
        Err(_) => Resource::builder().with_service_name(service_name).build(),
    };
    let spans = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .build();
    let metrics = opentelemetry_otlp::MetricExporter::builder()
        .with_http()
        .build();
    let (spans, metrics) = match (spans, metrics) {
        (Ok(spans), Ok(metrics)) => (spans, metrics),
        (Err(e), _) | (_, Err(e)) => {
            tracing_subscriber::registry().with(filter).with(fmt).init();
            tracing::error!(error = %e, "OTLP export is configured but cannot start; logging only");
            return Telemetry {
                tracer: None,
                meter: None,
            };
        }
    };
    let tracer_provider = SdkTracerProvider::builder()
        .with_batch_exporter(spans)
        .with_resource(resource.clone())
        .build();
    let meter_provider = SdkMeterProvider::builder()
        .with_periodic_exporter(metrics)
        .with_resource(resource)
        .build();
    opentelemetry::global::set_tracer_provider(tracer_provider.clone());
    opentelemetry::global::set_meter_provider(meter_provider.clone());
    let otel = tracing_opentelemetry::layer().with_tracer(tracer_provider.tracer(service_name));
    tracing_subscriber::registry()
        .with(filter)
        .with(fmt)
        .with(otel)
        .init();
    tracing::info!(
        service = service_name,
        "exporting traces and metrics over OTLP"
    );
    Telemetry {
        tracer: Some(tracer_provider),
        meter: Some(meter_provider),
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
/// caller's trace context.
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

impl<S, B> tower::Service<http::Request<B>> for RpcTrace<S>
where
    S: tower::Service<http::Request<B>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = tracing::instrument::Instrumented<S::Future>;

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
        self.0.call(request).instrument(span)
    }
}
