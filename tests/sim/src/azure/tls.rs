//! The lab's own certificate authority for its Azure endpoints. Entra ID and ARM are
//! HTTPS only (azure_identity refuses an `http://` authority host), so the lab serves
//! them over TLS with a server certificate from this CA; clients trust the CA's PEM,
//! which the lab writes out, and nothing else changes.

use std::sync::Arc;

pub struct LabCa {
    /// The CA certificate, PEM, for clients to trust.
    pub pem: String,
    pub server: Arc<rustls::ServerConfig>,
}

/// A fresh CA and a server certificate for `names` (host names and IP addresses).
pub fn lab_ca(names: &[String]) -> anyhow::Result<LabCa> {
    let ca_key = rcgen::KeyPair::generate()?;
    let mut ca = rcgen::CertificateParams::default();
    ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(rcgen::DnType::CommonName, "ferry-sim lab Azure CA");
    ca.key_usages = vec![
        rcgen::KeyUsagePurpose::KeyCertSign,
        rcgen::KeyUsagePurpose::CrlSign,
    ];
    let ca_cert = ca.self_signed(&ca_key)?;
    let issuer = rcgen::Issuer::new(ca, ca_key);
    let key = rcgen::KeyPair::generate()?;
    let mut leaf = rcgen::CertificateParams::new(names.to_vec())?;
    leaf.distinguished_name
        .push(rcgen::DnType::CommonName, "ferry-sim Azure");
    let leaf_cert = leaf.signed_by(&key, &issuer)?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut server = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(
            vec![leaf_cert.der().clone(), ca_cert.der().clone()],
            rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into()),
        )?;
    server.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(LabCa {
        pem: ca_cert.pem(),
        server: Arc::new(server),
    })
}
