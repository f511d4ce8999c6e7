//! A small HTTP client for the lab's endpoints: HTTPS for its Azure (TLS that
//! trusts the lab CA only), plain HTTP for its control API; HTTP/1.1, JSON bodies.
//! Each call opens its own connection.

use std::sync::Arc;

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;

pub struct Answer {
    pub status: u16,
    pub headers: http::HeaderMap,
    pub json: serde_json::Value,
}

impl Answer {
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    /// ARM's error code (`error.code`) or Entra's (`error`).
    pub fn error_code(&self) -> &str {
        self.json["error"]["code"]
            .as_str()
            .or_else(|| self.json["error"].as_str())
            .unwrap_or("")
    }
}

pub async fn call(
    ca_pem: &str,
    method: &str,
    url: &str,
    headers: &[(&str, String)],
    body: Option<(&str, Vec<u8>)>,
) -> Answer {
    let uri: http::Uri = url.parse().unwrap();
    let host = uri.host().unwrap().to_string();
    let port = uri.port_u16().unwrap();
    let mut roots = rustls::RootCertStore::empty();
    let (_, pem) = x509_parser::pem::parse_x509_pem(ca_pem.as_bytes()).unwrap();
    roots.add(pem.contents.into()).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let tcp = tokio::net::TcpStream::connect((host.as_str(), port))
        .await
        .unwrap();
    let name = rustls::pki_types::ServerName::try_from(host).unwrap();
    let tls = tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(name, tcp)
        .await
        .unwrap();
    exchange(tls, method, &uri, headers, body).await
}

/// As [`call`], in plain HTTP (the lab's control API, on loopback).
pub async fn call_plain(
    method: &str,
    url: &str,
    headers: &[(&str, String)],
    body: Option<(&str, Vec<u8>)>,
) -> Answer {
    let uri: http::Uri = url.parse().unwrap();
    let tcp = tokio::net::TcpStream::connect((uri.host().unwrap(), uri.port_u16().unwrap()))
        .await
        .unwrap();
    exchange(tcp, method, &uri, headers, body).await
}

/// One HTTP/1.1 request over `stream`, and its answer.
async fn exchange<S>(
    stream: S,
    method: &str,
    uri: &http::Uri,
    headers: &[(&str, String)],
    body: Option<(&str, Vec<u8>)>,
) -> Answer
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(connection);
    let mut request = http::Request::builder()
        .method(method)
        .uri(uri.path_and_query().unwrap().as_str())
        .header("host", uri.authority().unwrap().as_str());
    for (name, value) in headers {
        request = request.header(*name, value);
    }
    let bytes = match body {
        Some((content_type, bytes)) => {
            request = request.header("content-type", content_type);
            bytes
        }
        None => Vec::new(),
    };
    let response = tokio::time::timeout(
        std::time::Duration::from_secs(30),
        sender.send_request(request.body(Full::new(Bytes::from(bytes))).unwrap()),
    )
    .await
    .expect("the lab answers within 30 s")
    .unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    let json = serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null);
    Answer {
        status,
        headers,
        json,
    }
}
