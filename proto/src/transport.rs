//! The client side of Ferry's transport: gRPC (tonic) over TLS (tokio-rustls) with a
//! rustls configuration chosen by the caller, so that the agent can pin a CA during
//! enrollment and present its client certificate afterwards, and the CLI can present
//! an operator certificate.

/// The largest message an agent and the control plane exchange, either way: a report
/// of a host with many databases runs to megabytes; larger is refused, not truncated.
pub const MAX_AGENT_MESSAGE: usize = 16 << 20;

/// The largest operator API message (a fleet's assessment report, its audit page).
pub const MAX_OPERATOR_MESSAGE: usize = 64 << 20;
use std::sync::Arc;
use std::time::Duration;

use hyper_util::rt::TokioIo;
use rustls_pki_types::ServerName;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tonic::transport::{Channel, Endpoint, Uri};

/// Why a channel to the control plane could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error("control-plane URL {url:?} is not valid: {reason} (expected https://HOST:PORT)")]
    InvalidUrl { url: String, reason: String },
    #[error("could not reach the control plane at {url}: {source}")]
    Unreachable {
        url: String,
        #[source]
        source: tonic::transport::Error,
    },
}

/// A validated control-plane address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ControlPlaneUrl {
    host: String,
    port: u16,
}

impl ControlPlaneUrl {
    pub fn parse(url: &str) -> Result<Self, ConnectError> {
        let invalid = |reason: &str| ConnectError::InvalidUrl {
            url: url.to_string(),
            reason: reason.to_string(),
        };
        let uri: Uri = url.parse().map_err(|_| invalid("not a URL"))?;
        if uri.scheme_str() != Some("https") {
            return Err(invalid("the scheme must be https"));
        }
        let host = uri.host().ok_or_else(|| invalid("no host"))?;
        let host = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string();
        let port = uri.port_u16().unwrap_or(443);
        Ok(Self { host, port })
    }

    pub fn host(&self) -> &str {
        &self.host
    }

    pub fn port(&self) -> u16 {
        self.port
    }
}

impl std::fmt::Display for ControlPlaneUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.host.contains(':') {
            write!(f, "https://[{}]:{}", self.host, self.port)
        } else {
            write!(f, "https://{}:{}", self.host, self.port)
        }
    }
}

/// Timeouts and keep-alives for a channel. Every network call has a deadline: the
/// connect timeout bounds dialling and the TLS handshake; keep-alives detect a dead peer
/// on long-lived streams; unary calls set their own per-request timeout.
#[derive(Debug, Clone, Copy)]
pub struct ChannelOptions {
    pub connect_timeout: Duration,
    pub keep_alive_interval: Duration,
    pub keep_alive_timeout: Duration,
}

impl Default for ChannelOptions {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(10),
            keep_alive_interval: Duration::from_secs(20),
            keep_alive_timeout: Duration::from_secs(10),
        }
    }
}

/// Opens a gRPC channel to `url` over TLS with `tls` (whose ALPN is set to h2 here).
pub async fn connect(
    url: &ControlPlaneUrl,
    mut tls: rustls::ClientConfig,
    options: ChannelOptions,
) -> Result<Channel, ConnectError> {
    tls.alpn_protocols = vec![b"h2".to_vec()];
    let connector = TlsConnector::from(Arc::new(tls));
    let server_name =
        ServerName::try_from(url.host().to_string()).map_err(|_| ConnectError::InvalidUrl {
            url: url.to_string(),
            reason: "the host is not a valid DNS name or IP address".to_string(),
        })?;
    let (host, port, timeout) = (url.host().to_string(), url.port(), options.connect_timeout);
    let dial = tower::service_fn(move |_: Uri| {
        let (connector, server_name, host) = (connector.clone(), server_name.clone(), host.clone());
        async move {
            let io = tokio::time::timeout(timeout, async {
                let tcp = TcpStream::connect((host.as_str(), port)).await?;
                tcp.set_nodelay(true)?;
                connector.connect(server_name, tcp).await
            })
            .await
            .map_err(|_| {
                std::io::Error::new(std::io::ErrorKind::TimedOut, "connect timed out")
            })??;
            Ok::<_, std::io::Error>(TokioIo::new(io))
        }
    });
    // TLS is done by the connector above, so tonic sees a plain http URI.
    let endpoint = Endpoint::from_shared(format!("http://{}:{}", bracket(url.host()), port))
        .map_err(|e| ConnectError::InvalidUrl {
            url: url.to_string(),
            reason: e.to_string(),
        })?
        .connect_timeout(options.connect_timeout)
        .http2_keep_alive_interval(options.keep_alive_interval)
        .keep_alive_timeout(options.keep_alive_timeout)
        .keep_alive_while_idle(true);
    endpoint
        .connect_with_connector(dial)
        .await
        .map_err(|source| ConnectError::Unreachable {
            url: url.to_string(),
            source,
        })
}

fn bracket(host: &str) -> String {
    if host.contains(':') {
        format!("[{host}]")
    } else {
        host.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_https_urls_and_rejects_others() {
        let url = ControlPlaneUrl::parse("https://cp.example:7443").unwrap();
        assert_eq!((url.host(), url.port()), ("cp.example", 7443));
        let v6 = ControlPlaneUrl::parse("https://[::1]:7443").unwrap();
        assert_eq!(v6.host(), "::1");
        assert_eq!(v6.to_string(), "https://[::1]:7443");
        assert!(ControlPlaneUrl::parse("http://cp:1").is_err());
        assert!(ControlPlaneUrl::parse("cp:1").is_err());
    }
}

/// A unary request with a deadline, carrying the current trace context.
pub fn request<T>(message: T, timeout: Duration) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    request.set_timeout(timeout);
    crate::telemetry::inject(request.metadata_mut());
    request
}

/// An error and its causes on one line.
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

/// Why TLS material could not be used.
#[derive(Debug, thiserror::Error)]
pub enum TlsMaterialError {
    #[error("{what} is not valid PEM: {reason}")]
    Pem { what: &'static str, reason: String },
    #[error("TLS configuration rejected: {0}")]
    Rustls(#[from] rustls::Error),
}

/// The crypto provider every Ferry TLS config uses (ring), named explicitly so no
/// process-wide default is needed.
pub fn crypto_provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn pem_error(what: &'static str) -> impl Fn(rustls_pki_types::pem::Error) -> TlsMaterialError {
    move |e| TlsMaterialError::Pem {
        what,
        reason: e.to_string(),
    }
}

/// The roots in `ca_pem`, the only ones a Ferry client trusts.
fn roots(ca_pem: &str) -> Result<rustls::RootCertStore, TlsMaterialError> {
    use rustls_pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    for ca in rustls_pki_types::CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
        roots.add(ca.map_err(pem_error("the CA certificate"))?)?;
    }
    Ok(roots)
}

/// A client config that trusts only `ca_pem` and presents `cert_pem`/`key_pem`.
pub fn mtls_client_config(
    ca_pem: &str,
    cert_pem: &str,
    key_pem: &str,
) -> Result<rustls::ClientConfig, TlsMaterialError> {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::{CertificateDer, PrivateKeyDer};
    let chain = CertificateDer::pem_slice_iter(cert_pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(pem_error("the client certificate"))?;
    let key =
        PrivateKeyDer::from_pem_slice(key_pem.as_bytes()).map_err(pem_error("the private key"))?;
    Ok(
        rustls::ClientConfig::builder_with_provider(crypto_provider())
            .with_safe_default_protocol_versions()?
            .with_root_certificates(roots(ca_pem)?)
            .with_client_auth_cert(chain, key)?,
    )
}

/// A client config that trusts only `ca_pem` and presents no certificate (an agent
/// whose certificate expired, renewing it by proof).
pub fn server_auth_client_config(ca_pem: &str) -> Result<rustls::ClientConfig, TlsMaterialError> {
    Ok(
        rustls::ClientConfig::builder_with_provider(crypto_provider())
            .with_safe_default_protocol_versions()?
            .with_root_certificates(roots(ca_pem)?)
            .with_no_client_auth(),
    )
}
