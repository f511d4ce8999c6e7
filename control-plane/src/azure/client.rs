//! The one HTTPS client for Entra ID and ARM: rustls with ring (no second TLS stack),
//! the platform's trusted roots plus the CA certificates of `[azure] ca_file` (a
//! TLS-inspecting proxy's, or the lab's), and a timeout on every request.

use std::sync::Arc;
use std::time::Duration;

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::CertificateDer;

/// Builds the client; `extra_roots_pem` is PEM text with one or more certificates.
pub fn https_client(
    extra_roots_pem: Option<&str>,
    timeout: Duration,
) -> Result<reqwest::Client, String> {
    let extra: Vec<CertificateDer<'static>> = match extra_roots_pem {
        Some(pem) => CertificateDer::pem_slice_iter(pem.as_bytes())
            .collect::<Result<_, _>>()
            .map_err(|e| format!("azure.ca_file: not PEM certificates: {e}"))?,
        None => Vec::new(),
    };
    if extra_roots_pem.is_some() && extra.is_empty() {
        return Err("azure.ca_file: holds no certificate".into());
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier =
        rustls_platform_verifier::Verifier::new_with_extra_roots(extra, provider.clone())
            .map_err(|e| format!("cannot load the trusted roots: {e}"))?;
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth();
    reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .connect_timeout(timeout)
        .timeout(timeout)
        .build()
        .map_err(|e| format!("cannot build the HTTPS client: {e}"))
}
