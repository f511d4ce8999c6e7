//! A minimal OTLP/HTTP receiver for tests: it accepts `POST /v1/traces` and
//! `/v1/metrics`, decodes the protobuf export requests and records every span with its
//! trace id and the service that sent it, and the name of every metric with its
//! service.

use std::sync::{Arc, Mutex};

use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::resource::v1::Resource;
use prost::Message;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedSpan {
    pub service: String,
    pub name: String,
    pub trace_id: String,
    pub attributes: Vec<(String, String)>,
}

#[derive(Clone, Default)]
pub struct Receiver {
    received: Arc<Mutex<Received>>,
}

#[derive(Default)]
struct Received {
    spans: Vec<ReceivedSpan>,
    /// (service, metric name) of every metric exported.
    metrics: Vec<(String, String)>,
}

impl Receiver {
    /// Starts listening on a loopback port; returns the receiver and its base URL.
    pub async fn start() -> (Self, String) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let receiver = Receiver::default();
        let received = receiver.received.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(serve(stream, received.clone()));
            }
        });
        (receiver, url)
    }

    pub fn spans(&self) -> Vec<ReceivedSpan> {
        self.received.lock().unwrap().spans.clone()
    }

    /// Whether `service` has exported a metric named `name`.
    pub fn has_metric(&self, service: &str, name: &str) -> bool {
        let received = self.received.lock().unwrap();
        received
            .metrics
            .iter()
            .any(|(s, n)| s == service && n == name)
    }
}

/// HTTP/1.1 with keep-alive and Content-Length bodies, as the OTLP exporter sends.
async fn serve(stream: tokio::net::TcpStream, received: Arc<Mutex<Received>>) {
    let mut reader = BufReader::new(stream);
    loop {
        let mut request_line = String::new();
        if reader.read_line(&mut request_line).await.unwrap_or(0) == 0 {
            return;
        }
        let mut length = 0usize;
        loop {
            let mut header = String::new();
            if reader.read_line(&mut header).await.unwrap_or(0) == 0 {
                return;
            }
            let header = header.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':') {
                if name.eq_ignore_ascii_case("content-length") {
                    length = value.trim().parse().unwrap_or(0);
                }
            }
        }
        let mut body = vec![0; length];
        if reader.read_exact(&mut body).await.is_err() {
            return;
        }
        if request_line.contains("/v1/traces") {
            if let Ok(export) = ExportTraceServiceRequest::decode(body.as_slice()) {
                received.lock().unwrap().spans.extend(decode(export));
            }
        }
        if request_line.contains("/v1/metrics") {
            if let Ok(export) = ExportMetricsServiceRequest::decode(body.as_slice()) {
                let mut received = received.lock().unwrap();
                for resource in export.resource_metrics {
                    let service = service(&resource.resource);
                    for scope in resource.scope_metrics {
                        for metric in scope.metrics {
                            received.metrics.push((service.clone(), metric.name));
                        }
                    }
                }
            }
        }
        let response =
            b"HTTP/1.1 200 OK\r\ncontent-type: application/x-protobuf\r\ncontent-length: 0\r\n\r\n";
        if reader.get_mut().write_all(response).await.is_err() {
            return;
        }
    }
}

fn text(value: &Option<opentelemetry_proto::tonic::common::v1::AnyValue>) -> String {
    match value.as_ref().and_then(|v| v.value.as_ref()) {
        Some(Value::StringValue(s)) => s.clone(),
        Some(other) => format!("{other:?}"),
        None => String::new(),
    }
}

/// The `service.name` of an export's resource.
fn service(resource: &Option<Resource>) -> String {
    resource
        .iter()
        .flat_map(|r| r.attributes.iter())
        .find(|kv| kv.key == "service.name")
        .map(|kv| text(&kv.value))
        .unwrap_or_default()
}

fn decode(export: ExportTraceServiceRequest) -> Vec<ReceivedSpan> {
    let mut out = Vec::new();
    for resource_spans in export.resource_spans {
        let service = service(&resource_spans.resource);
        for scope in resource_spans.scope_spans {
            for span in scope.spans {
                out.push(ReceivedSpan {
                    service: service.clone(),
                    name: span.name.clone(),
                    trace_id: span.trace_id.iter().map(|b| format!("{b:02x}")).collect(),
                    attributes: span
                        .attributes
                        .iter()
                        .map(|kv| (kv.key.clone(), text(&kv.value)))
                        .collect(),
                });
            }
        }
    }
    out
}
