//! Enrollment tokens (one-time, short-lived, stored hashed) and the rules for the name an
//! agent enrolls under. The flow itself is in `api::enrollment`; the atomic "consume the
//! token and register the agent" is one store transaction.

use base64::Engine;
use ferry_proto::token::EnrollmentToken;
use sha2::{Digest, Sha256};

/// A fresh token for the CA with `ca_fingerprint`.
pub fn mint(ca_fingerprint: &str) -> EnrollmentToken {
    let id: [u8; 6] = rand::random();
    let secret: [u8; 24] = rand::random();
    EnrollmentToken {
        id: hex::encode(id),
        secret: base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(secret),
        ca_fingerprint: ca_fingerprint.to_string(),
    }
}

/// What the store keeps instead of the secret.
pub fn secret_hash(token: &EnrollmentToken) -> String {
    hex::encode(Sha256::digest(token.secret.as_bytes()))
}

/// Agent names appear in certificates, logs and tables: 1-63 characters of letters,
/// digits, `.`, `-` and `_`, starting with a letter or digit (a host name fits).
pub fn validate_agent_name(name: &str) -> Result<(), String> {
    let ok_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_');
    if name.is_empty() || name.len() > 63 {
        return Err("must be 1 to 63 characters long".into());
    }
    if !name.starts_with(|c: char| c.is_ascii_alphanumeric()) || !name.chars().all(ok_char) {
        return Err(
            "may hold only letters, digits, '.', '-' and '_', starting with a letter or digit"
                .into(),
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minted_tokens_parse_and_hash_stably() {
        let token = mint(&"ab".repeat(32));
        let parsed = EnrollmentToken::parse(&token.encode()).unwrap();
        assert_eq!(parsed, token);
        assert_eq!(secret_hash(&parsed), secret_hash(&token));
        assert_ne!(secret_hash(&mint(&"ab".repeat(32))), secret_hash(&token));
    }

    #[test]
    fn agent_names() {
        assert!(validate_agent_name("sql-host01.corp").is_ok());
        for bad in ["", "-x", "a b", "x]; DROP", &"a".repeat(64)] {
            assert!(validate_agent_name(bad).is_err(), "{bad}");
        }
    }
}
