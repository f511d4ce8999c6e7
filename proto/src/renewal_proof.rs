//! The proof an agent gives when its certificate has expired (the control plane was
//! unreachable for longer than the certificate's lifetime) and it renews without mTLS:
//! a signature, by the key its expired certificate names, over the agent's id, the
//! signing time and the CSR of its new key. The control plane checks the certificate is
//! one it issued, the signature, and that the signing time is recent; the agent keeps
//! its id, so its migrations stay its own.
//!
//! Ferry's agent keys are ECDSA P-256 (rcgen's default); the signature is ASN.1 DER,
//! SHA-256, as TLS 1.3 signs with such keys.

use rustls::SignatureScheme;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::PrivateKeyDer;

/// What the signature covers; a context string first, so a signature made for anything
/// else can never pass for this one.
pub fn message(agent_id: &str, signed_at_unix_ms: i64, csr_der: &[u8]) -> Vec<u8> {
    let mut message =
        format!("ferry renew-expired v1\n{agent_id}\n{signed_at_unix_ms}\n").into_bytes();
    message.extend_from_slice(csr_der);
    message
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ProofError {
    #[error("the agent key is not a PEM private key")]
    Key,
    #[error("the agent key is not ECDSA P-256")]
    Algorithm,
    #[error("signing failed")]
    Sign,
    #[error("the signature does not verify with the certificate's public key")]
    Signature,
}

/// Signs `message` with the agent's private key (PKCS#8 PEM).
pub fn sign(key_pem: &str, message: &[u8]) -> Result<Vec<u8>, ProofError> {
    let key = PrivateKeyDer::from_pem_slice(key_pem.as_bytes()).map_err(|_| ProofError::Key)?;
    let key = rustls::crypto::ring::sign::any_ecdsa_type(&key).map_err(|_| ProofError::Key)?;
    let signer = key
        .choose_scheme(&[SignatureScheme::ECDSA_NISTP256_SHA256])
        .ok_or(ProofError::Algorithm)?;
    signer.sign(message).map_err(|_| ProofError::Sign)
}

/// Verifies `signature` over `message` with `public_key`: the certificate's
/// subjectPublicKey bits (an uncompressed P-256 point).
pub fn verify(public_key: &[u8], message: &[u8], signature: &[u8]) -> Result<(), ProofError> {
    ring::signature::UnparsedPublicKey::new(&ring::signature::ECDSA_P256_SHA256_ASN1, public_key)
        .verify(message, signature)
        .map_err(|_| ProofError::Signature)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A key as the agent makes one (rcgen), and its public key bits.
    fn key_pair() -> (String, Vec<u8>) {
        let key = rcgen::KeyPair::generate().unwrap();
        (key.serialize_pem(), key.public_key_raw().to_vec())
    }

    #[test]
    fn a_signature_verifies_only_for_its_message_and_key() {
        let (key, public) = key_pair();
        let (_, other_public) = key_pair();
        let message = message("agent-1", 1_000, b"csr");
        let signature = sign(&key, &message).unwrap();
        assert_eq!(verify(&public, &message, &signature), Ok(()));
        let later = super::message("agent-1", 1_001, b"csr");
        assert_eq!(
            verify(&public, &later, &signature),
            Err(ProofError::Signature)
        );
        let other_agent = super::message("agent-2", 1_000, b"csr");
        assert_eq!(
            verify(&public, &other_agent, &signature),
            Err(ProofError::Signature)
        );
        assert_eq!(
            verify(&other_public, &message, &signature),
            Err(ProofError::Signature)
        );
    }

    #[test]
    fn a_key_that_is_not_pem_is_refused() {
        assert_eq!(sign("not a key", b"m"), Err(ProofError::Key));
    }
}
