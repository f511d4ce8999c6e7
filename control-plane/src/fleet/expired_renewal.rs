//! Renewal of an agent certificate that expired while the control plane was out of
//! reach: the checks on the expired certificate and on the proof of its key
//! (`ferry_proto::renewal_proof`). The store's checks (the agent exists, is not revoked,
//! and the certificate is its current or previous one) come after, in the handler.

use std::time::Duration;

use rustls::server::WebPkiClientVerifier;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, UnixTime};
use x509_parser::prelude::FromDer;

use super::ca::CertificateAuthority;
use super::identity::{AgentId, Peer};

/// How far the proof's signing time may be from the control plane's clock, either way.
pub const MAX_PROOF_SKEW_MS: i64 = 5 * 60 * 1000;

/// An agent certificate this CA issued, read after its chain was verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PresentedCertificate {
    pub agent: AgentId,
    pub serial: String,
    pub not_after_ms: i64,
    /// The subjectPublicKey bits, which the proof must verify with.
    pub public_key: Vec<u8>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RenewalRefusal {
    #[error("certificate_pem is not a PEM certificate")]
    NotPem,
    #[error("certificate_pem was not issued by this control plane's CA: {0}")]
    NotIssuedHere(String),
    #[error("certificate_pem names no agent: {0}")]
    NotAnAgent(String),
    #[error("the certificate expired {expired_ago_secs} s ago, beyond the grace of {grace_secs} s (certificates.expired_renewal_grace_secs): enroll this host again")]
    BeyondGrace {
        expired_ago_secs: i64,
        grace_secs: u64,
    },
    #[error("signed_at_unix_ms is {skew_secs} s away from the control plane's clock (at most {} s allowed): check this host's clock", MAX_PROOF_SKEW_MS / 1000)]
    Stale { skew_secs: i64 },
    #[error("signature: {0}")]
    Proof(#[from] ferry_proto::renewal_proof::ProofError),
}

/// Reads `certificate_pem`, which must chain to `ca` (checked as of a moment inside its
/// validity: it is expected to have expired) and name an agent.
pub fn read_certificate(
    ca: &CertificateAuthority,
    certificate_pem: &str,
) -> Result<PresentedCertificate, RenewalRefusal> {
    let der = CertificateDer::from_pem_slice(certificate_pem.as_bytes())
        .map_err(|_| RenewalRefusal::NotPem)?;
    let (_, cert) = x509_parser::certificate::X509Certificate::from_der(&der)
        .map_err(|_| RenewalRefusal::NotPem)?;
    let not_before = cert.validity().not_before.timestamp();
    let not_after_ms = cert.validity().not_after.timestamp().saturating_mul(1000);
    let public_key = cert.public_key().subject_public_key.data.to_vec();

    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(ca.cert_der().clone())
        .map_err(|e| RenewalRefusal::NotIssuedHere(e.to_string()))?;
    let verifier = WebPkiClientVerifier::builder_with_provider(
        roots.into(),
        ferry_proto::transport::crypto_provider(),
    )
    .build()
    .map_err(|e| RenewalRefusal::NotIssuedHere(e.to_string()))?;
    let inside_validity = UnixTime::since_unix_epoch(Duration::from_secs(
        u64::try_from(not_before.saturating_add(1)).unwrap_or(0),
    ));
    verifier
        .verify_client_cert(&der, &[], inside_validity)
        .map_err(|e| RenewalRefusal::NotIssuedHere(e.to_string()))?;

    let agent = match Peer::from_certificate(&der) {
        Ok(Peer::Agent(agent)) => agent,
        Ok(Peer::Operator { name, .. }) => {
            return Err(RenewalRefusal::NotAnAgent(format!(
                "it is operator {name:?}'s"
            )))
        }
        Err(e) => return Err(RenewalRefusal::NotAnAgent(e.to_string())),
    };
    let serial = Peer::certificate_serial(&der).map_err(|_| RenewalRefusal::NotPem)?;
    Ok(PresentedCertificate {
        agent,
        serial,
        not_after_ms,
        public_key,
    })
}

/// The proof that goes with a renewal request.
#[derive(Debug, Clone, Copy)]
pub struct Proof<'a> {
    pub csr_der: &'a [u8],
    pub signed_at_ms: i64,
    pub signature: &'a [u8],
}

/// Whether `proof` renews `presented` at `now_ms`: within `grace` after its expiry,
/// signed recently, by its key. A certificate not yet expired passes too (the agent's
/// clock may run ahead of the control plane's).
pub fn check_proof(
    presented: &PresentedCertificate,
    proof: &Proof<'_>,
    now_ms: i64,
    grace: Duration,
) -> Result<(), RenewalRefusal> {
    let expired_ago_ms = now_ms.saturating_sub(presented.not_after_ms);
    let grace_ms = i64::try_from(grace.as_millis()).unwrap_or(i64::MAX);
    if expired_ago_ms > grace_ms {
        return Err(RenewalRefusal::BeyondGrace {
            expired_ago_secs: expired_ago_ms / 1000,
            grace_secs: grace.as_secs(),
        });
    }
    let skew_ms = now_ms.saturating_sub(proof.signed_at_ms);
    if skew_ms.saturating_abs() > MAX_PROOF_SKEW_MS {
        return Err(RenewalRefusal::Stale {
            skew_secs: skew_ms / 1000,
        });
    }
    let message = ferry_proto::renewal_proof::message(
        &presented.agent.to_string(),
        proof.signed_at_ms,
        proof.csr_der,
    );
    ferry_proto::renewal_proof::verify(&presented.public_key, &message, proof.signature)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fleet::identity::Role;

    const DAY: Duration = Duration::from_secs(86400);

    fn new_ca() -> (tempfile::TempDir, CertificateAuthority) {
        let dir = tempfile::tempdir().unwrap();
        let ca = CertificateAuthority::load_or_create(dir.path(), None).unwrap();
        (dir, ca)
    }

    /// An agent certificate from `ca` and the agent's key, as the agent makes them.
    fn agent_certificate(ca: &CertificateAuthority) -> (AgentId, String, String) {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::default();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "sql-1");
        let csr = params.serialize_request(&key).unwrap();
        let agent = AgentId(uuid::Uuid::new_v4());
        let issued = ca
            .issue_agent(csr.der(), "sql-1", agent, Duration::from_secs(60))
            .unwrap();
        (agent, issued.cert_pem, key.serialize_pem())
    }

    fn proof_for(agent: AgentId, key_pem: &str, signed_at_ms: i64) -> (Vec<u8>, Vec<u8>) {
        let csr = b"new csr".to_vec();
        let message = ferry_proto::renewal_proof::message(&agent.to_string(), signed_at_ms, &csr);
        let signature = ferry_proto::renewal_proof::sign(key_pem, &message).unwrap();
        (csr, signature)
    }

    #[test]
    fn an_expired_certificate_renews_with_a_fresh_proof_within_grace() {
        let (_dir, ca) = new_ca();
        let (agent, cert, key) = agent_certificate(&ca);
        let presented = read_certificate(&ca, &cert).unwrap();
        assert_eq!(presented.agent, agent);
        let now = presented.not_after_ms + DAY.as_millis() as i64;
        let (csr, signature) = proof_for(agent, &key, now - 1000);
        let proof = Proof {
            csr_der: &csr,
            signed_at_ms: now - 1000,
            signature: &signature,
        };
        assert_eq!(check_proof(&presented, &proof, now, 30 * DAY), Ok(()));
        assert!(matches!(
            check_proof(&presented, &proof, now, DAY / 2),
            Err(RenewalRefusal::BeyondGrace { .. })
        ));
        let later = now + MAX_PROOF_SKEW_MS + 1;
        assert!(matches!(
            check_proof(&presented, &proof, later, 30 * DAY),
            Err(RenewalRefusal::Stale { .. })
        ));
        let other_csr = Proof {
            csr_der: b"another csr",
            ..proof
        };
        assert!(matches!(
            check_proof(&presented, &other_csr, now, 30 * DAY),
            Err(RenewalRefusal::Proof(_))
        ));
    }

    #[test]
    fn a_proof_by_another_key_is_refused() {
        let (_dir, ca) = new_ca();
        let (agent, cert, _key) = agent_certificate(&ca);
        let presented = read_certificate(&ca, &cert).unwrap();
        let thief = rcgen::KeyPair::generate().unwrap().serialize_pem();
        let now = presented.not_after_ms + 1000;
        let (csr, signature) = proof_for(agent, &thief, now);
        let proof = Proof {
            csr_der: &csr,
            signed_at_ms: now,
            signature: &signature,
        };
        assert!(matches!(
            check_proof(&presented, &proof, now, 30 * DAY),
            Err(RenewalRefusal::Proof(_))
        ));
    }

    #[test]
    fn certificates_from_another_ca_or_for_operators_are_refused() {
        let (_dir, ca) = new_ca();
        let (_other_dir, other) = new_ca();
        let (_, foreign, _) = agent_certificate(&other);
        assert!(matches!(
            read_certificate(&ca, &foreign),
            Err(RenewalRefusal::NotIssuedHere(_))
        ));
        let (operator, _) = ca.issue_operator("alice", Role::Admin, DAY).unwrap();
        assert!(matches!(
            read_certificate(&ca, &operator.cert_pem),
            Err(RenewalRefusal::NotAnAgent(_))
        ));
        assert_eq!(
            read_certificate(&ca, "not a certificate"),
            Err(RenewalRefusal::NotPem)
        );
    }
}
