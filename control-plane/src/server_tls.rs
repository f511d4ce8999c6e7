//! The control plane's TLS: a server certificate that is rotated while running, and the
//! listener's handshakes.
//!
//! - [`ServerCertificate`] resolves every handshake to the current certificate; a task
//!   re-issues it at two thirds of its lifetime, so a control plane that runs for longer
//!   than the lifetime never presents an expired one. Rotation touches only new
//!   handshakes: connections already open (agents' sessions) go on undisturbed.
//! - [`incoming`] accepts TCP connections and runs each TLS handshake in its own task with
//!   a deadline, so a slow or silent client holds up no one else. Client certificates are
//!   optional at the handshake (an enrolling agent has none yet) and, when present, must
//!   chain to Ferry's CA; the handlers decide who may call what.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use rustls::server::{ClientHello, ResolvesServerCert, WebPkiClientVerifier};
use rustls::sign::CertifiedKey;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;
use tokio_stream::wrappers::ReceiverStream;

use crate::fleet::ca::CertificateAuthority;
use ferry_proto::clock::now_ms;

/// Handshakes waiting for the server to take them.
const ACCEPTED_BACKLOG: usize = 256;

/// How long to wait before accepting again after the listener failed (for example out
/// of file descriptors), so a persistent failure does not spin a core.
const ACCEPT_RETRY: Duration = Duration::from_millis(100);

#[derive(Debug, thiserror::Error)]
pub enum ServerTlsError {
    #[error("issuing the server certificate failed: {0}")]
    Issue(#[from] rcgen::Error),
    #[error("the issued server certificate is unusable: {0}")]
    Unusable(String),
    #[error("TLS configuration: {0}")]
    Config(#[from] rustls::Error),
    #[error("the client CA is unusable: {0}")]
    ClientCa(String),
}

/// The certificate presented now, and when it is due to be replaced.
struct Current {
    key: Arc<CertifiedKey>,
    serial: String,
    renew_at_ms: i64,
}

/// The server certificate, issued by Ferry's CA for the configured names and replaced
/// while running.
pub struct ServerCertificate {
    ca: Arc<CertificateAuthority>,
    names: Vec<String>,
    ttl: Duration,
    current: RwLock<Current>,
}

impl std::fmt::Debug for ServerCertificate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerCertificate")
            .field("names", &self.names)
            .field("ttl", &self.ttl)
            .finish_non_exhaustive()
    }
}

impl ServerCertificate {
    /// Issues the first certificate.
    pub fn issue(
        ca: Arc<CertificateAuthority>,
        names: Vec<String>,
        ttl: Duration,
    ) -> Result<Arc<Self>, ServerTlsError> {
        let current = issue(&ca, &names, ttl)?;
        Ok(Arc::new(Self {
            ca,
            names,
            ttl,
            current: RwLock::new(current),
        }))
    }

    fn renew_at_ms(&self) -> i64 {
        self.current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .renew_at_ms
    }

    /// Issues a new certificate and presents it from the next handshake on.
    fn rotate(&self) -> Result<String, ServerTlsError> {
        let next = issue(&self.ca, &self.names, self.ttl)?;
        let serial = next.serial.clone();
        *self.current.write().unwrap_or_else(|p| p.into_inner()) = next;
        Ok(serial)
    }

    /// Rotates the certificate whenever it is due, until `stop` turns true. A failed
    /// rotation is retried (a minute apart, or sooner for short lifetimes) while the
    /// current certificate is still valid.
    pub async fn rotation_loop(self: Arc<Self>, mut stop: tokio::sync::watch::Receiver<bool>) {
        let retry = (self.ttl / 30).clamp(Duration::from_millis(100), Duration::from_secs(60));
        loop {
            let wait = Duration::from_millis((self.renew_at_ms() - now_ms()).max(0) as u64);
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = stop.changed() => return,
            }
            match self.rotate() {
                Ok(serial) => tracing::info!(%serial, "server certificate rotated"),
                Err(error) => {
                    tracing::error!(%error, retry_in = ?retry, "rotating the server certificate failed");
                    tokio::select! {
                        _ = tokio::time::sleep(retry) => {}
                        _ = stop.changed() => return,
                    }
                }
            }
        }
    }
}

impl ResolvesServerCert for ServerCertificate {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(
            self.current
                .read()
                .unwrap_or_else(|p| p.into_inner())
                .key
                .clone(),
        )
    }
}

fn issue(
    ca: &CertificateAuthority,
    names: &[String],
    ttl: Duration,
) -> Result<Current, ServerTlsError> {
    let (issued, key_pem) = ca.issue_server(names, ttl)?;
    let chain = CertificateDer::pem_slice_iter(issued.cert_pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| ServerTlsError::Unusable(e.to_string()))?;
    let key = PrivateKeyDer::from_pem_slice(key_pem.as_bytes())
        .map_err(|e| ServerTlsError::Unusable(e.to_string()))?;
    let signing = rustls::crypto::ring::sign::any_supported_type(&key)?;
    let lifetime = issued.not_after_ms - issued.not_before_ms;
    Ok(Current {
        key: Arc::new(CertifiedKey::new(chain, signing)),
        serial: issued.serial,
        renew_at_ms: issued.not_before_ms + lifetime * 2 / 3,
    })
}

/// The TLS acceptor: the rotating server certificate, client certificates optional and
/// verified against Ferry's CA when given, HTTP/2 only.
pub fn acceptor(
    ca: &CertificateAuthority,
    certificate: Arc<ServerCertificate>,
) -> Result<TlsAcceptor, ServerTlsError> {
    let provider = ferry_proto::transport::crypto_provider();
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(ca.cert_der().clone())
        .map_err(|e| ServerTlsError::ClientCa(e.to_string()))?;
    let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .allow_unauthenticated()
        .build()
        .map_err(|e| ServerTlsError::ClientCa(e.to_string()))?;
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_client_cert_verifier(verifier)
        .with_cert_resolver(certificate);
    config.alpn_protocols = vec![b"h2".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// Accepted connections whose TLS handshake finished within `handshake_timeout`. The
/// accept loop ends when the returned stream is dropped.
pub fn incoming(
    listener: TcpListener,
    acceptor: TlsAcceptor,
    handshake_timeout: Duration,
) -> ReceiverStream<Result<TlsStream<TcpStream>, std::io::Error>> {
    let (tx, rx) = tokio::sync::mpsc::channel(ACCEPTED_BACKLOG);
    tokio::spawn(async move {
        loop {
            let accepted = tokio::select! {
                accepted = listener.accept() => accepted,
                _ = tx.closed() => return,
            };
            let (tcp, peer) = match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    tracing::warn!(%error, "accepting a connection failed");
                    tokio::time::sleep(ACCEPT_RETRY).await;
                    continue;
                }
            };
            let _ = tcp.set_nodelay(true);
            let acceptor = acceptor.clone();
            let tx = tx.clone();
            tokio::spawn(async move {
                match tokio::time::timeout(handshake_timeout, acceptor.accept(tcp)).await {
                    Ok(Ok(tls)) => {
                        let _ = tx.send(Ok(tls)).await;
                    }
                    Ok(Err(error)) => tracing::debug!(%peer, %error, "TLS handshake failed"),
                    Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
                }
            });
        }
    });
    ReceiverStream::new(rx)
}
