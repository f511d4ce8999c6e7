//! Certificate renewal: at two thirds of the certificate's lifetime the agent makes a
//! fresh key pair, asks the control plane (over the existing mTLS identity) to sign it,
//! and swaps the new certificate in. Failures are retried; once the certificate has
//! expired (the control plane was out of reach for that long), the agent renews without
//! mTLS by signing a proof with its current key (`ferry_proto::renewal_proof`), which
//! the control plane accepts within its grace period: the agent keeps its id.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use ferry_proto::agent::v1::agent_service_client::AgentServiceClient;
use ferry_proto::agent::v1::enrollment_client::EnrollmentClient;
use ferry_proto::agent::v1::{RenewExpiredRequest, RenewRequest, RenewResponse};
use ferry_proto::transport::{self, ChannelOptions, ControlPlaneUrl};
use tokio_util::sync::CancellationToken;

use super::backoff::Backoff;
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
    #[error("signing the renewal proof failed: {0}")]
    Proof(#[from] ferry_proto::renewal_proof::ProofError),
}

/// When to renew a certificate valid from `not_before` to `not_after`.
pub fn renew_at_ms(not_before_ms: i64, not_after_ms: i64) -> i64 {
    not_before_ms + (not_after_ms - not_before_ms) * 2 / 3
}

pub fn read_identity(identity: &SharedIdentity) -> Identity {
    identity.read().unwrap_or_else(|p| p.into_inner()).clone()
}

/// Renews once and saves the new identity: over mTLS while the certificate is valid,
/// by proof once it has expired.
pub async fn renew_once(state_dir: &Path, identity: &SharedIdentity) -> Result<(), RenewError> {
    let current = read_identity(identity);
    let url = ControlPlaneUrl::parse(&current.control_plane)?;
    let (_, not_after) = current.validity_ms().map_err(RenewError::BadCertificate)?;
    let (key_pem, csr_der) = key_and_csr(&current.name)?;
    let response = if now_ms() < not_after {
        let tls =
            transport::mtls_client_config(&current.ca_pem, &current.cert_pem, &current.key_pem)?;
        let channel = transport::connect(&url, tls, ChannelOptions::default()).await?;
        let request = transport::request(RenewRequest { csr_der }, CALL_TIMEOUT);
        AgentServiceClient::new(channel).renew(request).await
    } else {
        tracing::warn!("the agent certificate has expired; renewing it by proof of its key");
        let tls = transport::server_auth_client_config(&current.ca_pem)?;
        let channel = transport::connect(&url, tls, ChannelOptions::default()).await?;
        let signed_at_unix_ms = now_ms();
        let message =
            ferry_proto::renewal_proof::message(&current.agent_id, signed_at_unix_ms, &csr_der);
        let request = RenewExpiredRequest {
            certificate_pem: current.cert_pem.clone(),
            signature: ferry_proto::renewal_proof::sign(&current.key_pem, &message)?,
            csr_der,
            signed_at_unix_ms,
        };
        let request = transport::request(request, CALL_TIMEOUT);
        EnrollmentClient::new(channel).renew_expired(request).await
    };
    let response: RenewResponse = response
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

/// Renews whenever due, until cancelled. Failures are retried with the jittered
/// backoff reconnects use (up to `max_backoff`), so a fleet whose control plane comes
/// back renews promptly but not in lockstep.
pub async fn renewal_loop(
    state_dir: PathBuf,
    identity: SharedIdentity,
    max_backoff: Duration,
    cancel: CancellationToken,
) {
    let mut backoff = Backoff::new(Duration::from_secs(1), max_backoff);
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
                backoff.reset();
                tracing::info!("agent certificate renewed");
            }
            Err(e) => {
                let error = transport::error_chain(&e);
                let retry = backoff.next_delay();
                tracing::warn!(%error, retry_in = ?retry, "certificate renewal failed");
                tokio::select! {
                    _ = tokio::time::sleep(retry) => {}
                    _ = cancel.cancelled() => return,
                }
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
