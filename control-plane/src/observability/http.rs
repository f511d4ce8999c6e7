//! The plain-HTTP listener for whatever watches the control plane, off the mTLS port:
//! `GET /metrics` (Prometheus text), `/healthz` (the process lives and serves) and
//! `/readyz` (the store answers and the migration driver's lease state is known; the
//! CA is loaded before this listener opens). Nothing here changes state or shows a
//! secret; every connection is bounded in time.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use http::{Method, Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;

use super::Observability;
use crate::context::Context;

/// How long a client has to send its request's headers.
const HEADER_TIMEOUT: Duration = Duration::from_secs(5);
/// How long one probe of the store may take before `/readyz` says no.
const PROBE_TIMEOUT: Duration = Duration::from_secs(3);
/// A connection is closed after this long, whatever it does.
const CONNECTION_DEADLINE: Duration = Duration::from_secs(30);

/// Serves until `stop` turns true.
pub async fn serve(
    listener: TcpListener,
    shared: Arc<Context>,
    observability: Arc<Observability>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = stop.changed() => return,
        };
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(e) => {
                // Out of descriptors and the like: wait a moment rather than spin.
                tracing::warn!(error = %e, "accepting a metrics connection failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let (shared, observability) = (shared.clone(), observability.clone());
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |request| {
                let (shared, observability) = (shared.clone(), observability.clone());
                async move { Ok::<_, Infallible>(respond(&shared, &observability, request).await) }
            });
            let connection = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_TIMEOUT)
                .keep_alive(true)
                .serve_connection(TokioIo::new(stream), service);
            match tokio::time::timeout(CONNECTION_DEADLINE, connection).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => tracing::debug!(%peer, error = %e, "metrics connection ended"),
                Err(_) => tracing::debug!(%peer, "metrics connection closed at its deadline"),
            }
        });
    }
}

async fn respond(
    shared: &Context,
    observability: &Observability,
    request: Request<Incoming>,
) -> Response<Full<Bytes>> {
    if request.method() != Method::GET && request.method() != Method::HEAD {
        return text(
            StatusCode::METHOD_NOT_ALLOWED,
            "only GET and HEAD are served\n",
        );
    }
    match request.uri().path() {
        "/metrics" => {
            let body = observability.scrape(shared).await;
            let mut response = Response::new(Full::new(Bytes::from(body)));
            response.headers_mut().insert(
                http::header::CONTENT_TYPE,
                http::HeaderValue::from_static(super::exposition::CONTENT_TYPE),
            );
            response
        }
        "/healthz" => text(StatusCode::OK, "ok\n"),
        "/readyz" => match ready(shared).await {
            Ok(detail) => text(StatusCode::OK, &format!("ready: {detail}\n")),
            Err(why) => text(
                StatusCode::SERVICE_UNAVAILABLE,
                &format!("not ready: {why}\n"),
            ),
        },
        _ => text(
            StatusCode::NOT_FOUND,
            "not found: this listener serves /metrics, /healthz and /readyz\n",
        ),
    }
}

/// Ready when the store answers within the probe's time and says who holds the
/// migration driver's lease (nobody is an answer too).
async fn ready(shared: &Context) -> Result<String, String> {
    let lease = crate::reconcile::driver::LEASE;
    match tokio::time::timeout(PROBE_TIMEOUT, shared.store.lease(lease)).await {
        Err(_) => Err(format!("the store did not answer within {PROBE_TIMEOUT:?}")),
        Ok(Err(e)) => Err(format!("the store failed: {e}")),
        Ok(Ok(None)) => Ok("store answers; nobody holds the migration driver's lease yet".into()),
        Ok(Ok(Some(held))) => Ok(format!(
            "store answers; the migration driver's lease is at epoch {}",
            held.epoch
        )),
    }
}

fn text(status: StatusCode, body: &str) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body.to_string())));
    *response.status_mut() = status;
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}
