//! HTTPS serving for the lab's Azure endpoints (and plain HTTP for its control API):
//! TLS from the lab CA, HTTP/1.1 by hyper, bounded in time and size, and a
//! synchronous handler per request (the state it reads is in memory).

use std::sync::Arc;
use std::time::Duration;

use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;

/// Requests larger than this are refused (ARM's own limit is 4 MiB).
const MAX_BODY: usize = 4 * 1024 * 1024;
/// A client has this long for its TLS handshake, its headers and its body.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(30);

pub struct Request {
    pub method: http::Method,
    pub path: String,
    pub query: Vec<(String, String)>,
    pub headers: http::HeaderMap,
    pub body: Bytes,
}

impl Request {
    pub fn query(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

pub struct Response {
    pub status: http::StatusCode,
    pub headers: Vec<(&'static str, String)>,
    pub body: Bytes,
    /// Held back this long before it is sent (a server that does not answer in time).
    pub delay: Option<Duration>,
}

impl Response {
    pub fn json(status: http::StatusCode, value: &serde_json::Value) -> Response {
        Response {
            status,
            headers: vec![("content-type", "application/json; charset=utf-8".into())],
            body: Bytes::from(value.to_string()),
            delay: None,
        }
    }

    pub fn empty(status: http::StatusCode) -> Response {
        Response {
            status,
            headers: Vec::new(),
            body: Bytes::new(),
            delay: None,
        }
    }

    pub fn with_header(mut self, name: &'static str, value: String) -> Response {
        self.headers.push((name, value));
        self
    }
}

pub trait Handler: Send + Sync + 'static {
    fn handle(&self, request: Request) -> Response;
}

/// Accepts connections on `listener` until the task is aborted.
pub async fn serve(
    listener: TcpListener,
    tls: Arc<rustls::ServerConfig>,
    handler: Arc<dyn Handler>,
) {
    let acceptor = tokio_rustls::TlsAcceptor::from(tls);
    while let Ok((stream, peer)) = listener.accept().await {
        let acceptor = acceptor.clone();
        let handler = handler.clone();
        tokio::spawn(async move {
            let stream = match tokio::time::timeout(CLIENT_TIMEOUT, acceptor.accept(stream)).await {
                Ok(Ok(stream)) => stream,
                Ok(Err(e)) => {
                    tracing::debug!(%peer, error = %e, "TLS handshake failed");
                    return;
                }
                Err(_) => return,
            };
            connection(stream, peer, handler).await;
        });
    }
}

/// As [`serve`], in plain HTTP: for the lab's control API, on loopback only.
pub async fn serve_plain(listener: TcpListener, handler: Arc<dyn Handler>) {
    while let Ok((stream, peer)) = listener.accept().await {
        tokio::spawn(connection(stream, peer, handler.clone()));
    }
}

async fn connection<S>(stream: S, peer: std::net::SocketAddr, handler: Arc<dyn Handler>)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let service = hyper::service::service_fn(move |request| {
        let handler = handler.clone();
        async move { Ok::<_, std::convert::Infallible>(answer(request, handler).await) }
    });
    let served = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(CLIENT_TIMEOUT)
        .serve_connection(TokioIo::new(stream), service)
        .await;
    if let Err(e) = served {
        tracing::debug!(%peer, error = %e, "HTTP connection ended");
    }
}

async fn answer(
    request: http::Request<Incoming>,
    handler: Arc<dyn Handler>,
) -> http::Response<Full<Bytes>> {
    let (parts, body) = request.into_parts();
    let body =
        match tokio::time::timeout(CLIENT_TIMEOUT, Limited::new(body, MAX_BODY).collect()).await {
            Ok(Ok(collected)) => collected.to_bytes(),
            Ok(Err(_)) => {
                return plain(
                    http::StatusCode::PAYLOAD_TOO_LARGE,
                    "request body too large",
                )
            }
            Err(_) => return plain(http::StatusCode::REQUEST_TIMEOUT, "request body too slow"),
        };
    let query = parts
        .uri
        .query()
        .map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect())
        .unwrap_or_default();
    let request = Request {
        method: parts.method,
        path: parts.uri.path().to_string(),
        query,
        headers: parts.headers,
        body,
    };
    let response = handler.handle(request);
    if let Some(delay) = response.delay {
        tokio::time::sleep(delay).await;
    }
    let mut out = http::Response::new(Full::new(response.body));
    *out.status_mut() = response.status;
    for (name, value) in response.headers {
        if let Ok(value) = http::HeaderValue::from_str(&value) {
            out.headers_mut().insert(name, value);
        }
    }
    out
}

fn plain(status: http::StatusCode, text: &'static str) -> http::Response<Full<Bytes>> {
    let mut out = http::Response::new(Full::new(Bytes::from_static(text.as_bytes())));
    *out.status_mut() = status;
    out
}
