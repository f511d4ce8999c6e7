//! Enrollment: generate a key pair here (it never leaves this host), send a CSR naming
//! this agent with the one-time token over TLS pinned to the token's CA fingerprint, and
//! store the certificate that comes back.

use std::path::Path;
use std::time::Duration;

use ferry_proto::agent::v1::enrollment_client::EnrollmentClient;
use ferry_proto::agent::v1::EnrollRequest;
use ferry_proto::token::EnrollmentToken;
use ferry_proto::transport::{self, ChannelOptions, ControlPlaneUrl};
use rcgen::{CertificateParams, DistinguishedName, DnType, KeyPair};
use rustls_pki_types::pem::PemObject;

use super::identity::Identity;
use super::pinning::{enrollment_client_config, fingerprint};

const CALL_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug, thiserror::Error)]
pub enum EnrollError {
    #[error(transparent)]
    Token(#[from] ferry_proto::token::TokenFormatError),
    #[error(transparent)]
    Connect(#[from] transport::ConnectError),
    #[error("the control plane refused enrollment: {0}")]
    Refused(String),
    #[error("the control plane answered with a CA that does not match the token's fingerprint")]
    CaMismatch,
    #[error("generating the key pair or CSR failed: {0}")]
    Key(#[from] rcgen::Error),
    #[error("TLS set-up failed: {0}")]
    Tls(#[from] rustls::Error),
    #[error(transparent)]
    Identity(#[from] super::identity::IdentityError),
}

/// A fresh key pair and a CSR whose only content is the agent's name. Returns
/// (key PEM, CSR DER).
pub fn key_and_csr(agent_name: &str) -> Result<(String, Vec<u8>), rcgen::Error> {
    let key = KeyPair::generate()?;
    let mut params = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, agent_name);
    params.distinguished_name = dn;
    let csr = params.serialize_request(&key)?;
    Ok((key.serialize_pem(), csr.der().to_vec()))
}

/// Enrolls and saves the identity under `state_dir`.
pub async fn enroll(
    state_dir: &Path,
    control_plane: &str,
    token: &str,
    agent_name: &str,
) -> Result<Identity, EnrollError> {
    let token = EnrollmentToken::parse(token)?;
    let url = ControlPlaneUrl::parse(control_plane)?;
    let tls = enrollment_client_config(&token.ca_fingerprint)?;
    let channel = transport::connect(&url, tls, ChannelOptions::default()).await?;
    let (key_pem, csr_der) = key_and_csr(agent_name)?;
    let request = transport::request(
        EnrollRequest {
            token: token.encode(),
            csr_der,
            agent_name: agent_name.to_string(),
            agent_version: env!("CARGO_PKG_VERSION").to_string(),
        },
        CALL_TIMEOUT,
    );
    let response = EnrollmentClient::new(channel)
        .enroll(request)
        .await
        .map_err(|status| EnrollError::Refused(status.message().to_string()))?
        .into_inner();
    let ca_der =
        rustls_pki_types::CertificateDer::from_pem_slice(response.ca_certificate_pem.as_bytes())
            .map_err(|_| EnrollError::CaMismatch)?;
    if fingerprint(&ca_der) != token.ca_fingerprint {
        return Err(EnrollError::CaMismatch);
    }
    let identity = Identity {
        agent_id: response.agent_id,
        name: agent_name.to_string(),
        control_plane: url.to_string(),
        ca_pem: response.ca_certificate_pem,
        cert_pem: response.certificate_pem,
        key_pem,
    };
    identity.save(state_dir)?;
    Ok(identity)
}
