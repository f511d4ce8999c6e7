//! Certificate renewal: at two thirds of the certificate's lifetime the agent makes a
//! fresh key pair, asks the control plane (over the existing mTLS identity) to sign it,
//! and swaps the new certificate in. Failures are retried until the certificate expires.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use ferry_proto::agent::v1::agent_service_client::AgentServiceClient;
use ferry_proto::agent::v1::RenewRequest;
use ferry_proto::transport::{self, ChannelOptions, ControlPlaneUrl};
use tokio_util::sync::CancellationToken;

use super::enroll::key_and_csr;
use super::identity::{certificate_validity_ms, Identity, IdentityError};
use ferry_proto::clock::now_ms;

pub type SharedIdentity = Arc<RwLock<Identity>>;

const CALL_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug, thiserror::Error)]
pub enum RenewError {
    #[error(transparent)]
    Connect(#[from] transport::ConnectError),
    #[error("TLS material: {0}")]
    Tls(#[from] transport::TlsMaterialError),
    #[error("the control plane refused renewal: {0}")]
    Refused(String),
    #[error("key generation failed: {0}")]
    Key(#[from] rcgen::Error),
    #[error("the renewed certificate is unusable: {0}")]
    BadCertificate(String),
    #[error(transparent)]
    Identity(#[from] IdentityError),
}

/// When to renew a certificate valid from `not_before` to `not_after`.
pub fn renew_at_ms(not_before_ms: i64, not_after_ms: i64) -> i64 {
    not_before_ms + (not_after_ms - not_before_ms) * 2 / 3
}

pub fn read_identity(identity: &SharedIdentity) -> Identity {
    identity.read().unwrap_or_else(|p| p.into_inner()).clone()
}

/// Renews once and saves the new identity.
pub async fn renew_once(state_dir: &Path, identity: &SharedIdentity) -> Result<(), RenewError> {
    let current = read_identity(identity);
    let url = ControlPlaneUrl::parse(&current.control_plane)?;
    let tls = transport::mtls_client_config(&current.ca_pem, &current.cert_pem, &current.key_pem)?;
    let channel = transport::connect(&url, tls, ChannelOptions::default()).await?;
    let (key_pem, csr_der) = key_and_csr(&current.name)?;
    let request = transport::request(RenewRequest { csr_der }, CALL_TIMEOUT);
    let response = AgentServiceClient::new(channel)
        .renew(request)
        .await
        .map_err(|s| RenewError::Refused(s.message().to_string()))?
        .into_inner();
    certificate_validity_ms(&response.certificate_pem).map_err(RenewError::BadCertificate)?;
    let renewed = Identity {
        cert_pem: response.certificate_pem,
        key_pem,
        ..current
    };
    renewed.save(state_dir)?;
    *identity.write().unwrap_or_else(|p| p.into_inner()) = renewed;
    Ok(())
}

/// Renews whenever due, until cancelled.
pub async fn renewal_loop(state_dir: PathBuf, identity: SharedIdentity, cancel: CancellationToken) {
    let mut retry = Duration::from_secs(5);
    loop {
        let due = match read_identity(&identity).validity_ms() {
            Ok((not_before, not_after)) => renew_at_ms(not_before, not_after),
            Err(e) => {
                tracing::error!(error = %e, "cannot read the agent certificate; renewal disabled");
                return;
            }
        };
        let wait = Duration::from_millis((due - now_ms()).max(0) as u64);
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = cancel.cancelled() => return,
        }
        match renew_once(&state_dir, &identity).await {
            Ok(()) => {
                retry = Duration::from_secs(5);
                tracing::info!("agent certificate renewed");
            }
            Err(e) => {
                let error = transport::error_chain(&e);
                tracing::warn!(%error, retry_in = ?retry, "certificate renewal failed");
                tokio::select! {
                    _ = tokio::time::sleep(retry) => {}
                    _ = cancel.cancelled() => return,
                }
                retry = (retry * 2).min(Duration::from_secs(300));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renews_two_thirds_in() {
        assert_eq!(renew_at_ms(0, 90), 60);
        assert_eq!(renew_at_ms(1_000, 4_000), 3_000);
    }
}
