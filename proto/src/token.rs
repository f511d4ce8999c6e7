//! The enrollment token format, shared by the control plane (which mints tokens) and the
//! agent (which reads the CA fingerprint out of one to pin the control plane's CA, as
//! kubeadm's discovery hash does).
//!
//! Format: `ferry1.<id>.<secret>.<ca-sha256-hex>`. The id is a lookup key; only a hash
//! of the secret is stored; the fingerprint is not secret.

use std::fmt;

const PREFIX: &str = "ferry1";

#[derive(Clone, PartialEq, Eq)]
pub struct EnrollmentToken {
    pub id: String,
    pub secret: String,
    /// Lower-case hex SHA-256 of the CA certificate's DER encoding.
    pub ca_fingerprint: String,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error(
    "the enrollment token is malformed: {0} (copy the whole token printed by `ferry token create`)"
)]
pub struct TokenFormatError(&'static str);

impl EnrollmentToken {
    pub fn parse(text: &str) -> Result<Self, TokenFormatError> {
        let mut parts = text.trim().split('.');
        let (Some(prefix), Some(id), Some(secret), Some(fp), None) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return Err(TokenFormatError("expected four dot-separated parts"));
        };
        if prefix != PREFIX {
            return Err(TokenFormatError("unknown token version"));
        }
        let word = |s: &str| {
            !s.is_empty()
                && s.len() <= 64
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        };
        if !word(id) || !word(secret) {
            return Err(TokenFormatError("id or secret has invalid characters"));
        }
        if fp.len() != 64 || !fp.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(TokenFormatError("the CA fingerprint must be 64 hex digits"));
        }
        Ok(Self {
            id: id.to_string(),
            secret: secret.to_string(),
            ca_fingerprint: fp.to_ascii_lowercase(),
        })
    }

    pub fn encode(&self) -> String {
        format!(
            "{PREFIX}.{}.{}.{}",
            self.id, self.secret, self.ca_fingerprint
        )
    }
}

/// Never prints the secret.
impl fmt::Debug for EnrollmentToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EnrollmentToken")
            .field("id", &self.id)
            .field("ca_fingerprint", &self.ca_fingerprint)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_rejects_garbage() {
        let token = EnrollmentToken {
            id: "abc123".into(),
            secret: "s3cr3t-_X".into(),
            ca_fingerprint: "a".repeat(64),
        };
        assert_eq!(EnrollmentToken::parse(&token.encode()), Ok(token.clone()));
        assert!(!format!("{token:?}").contains("s3cr3t"));
        for bad in [
            "",
            "ferry1.a.b",
            "ferry2.a.b.".to_string().as_str(),
            "ferry1.a.b.zz",
            "ferry1.a b.c.0000",
        ] {
            assert!(EnrollmentToken::parse(bad).is_err(), "{bad}");
        }
    }
}
