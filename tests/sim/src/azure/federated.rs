//! Workload identity federation, as Entra ID does it: an application signs in with a
//! token another issuer gave its workload (a Kubernetes service account token, which
//! azure_identity's `WorkloadIdentityCredential` reads from `AZURE_FEDERATED_TOKEN_FILE`
//! and sends as `client_assertion`). The lab plays that issuer too: it signs service
//! account tokens with a key of its own ([`Issuer::token`]), and the authority checks an
//! assertion the way Entra ID checks a federated identity credential: signature and
//! time range, then issuer, subject and audience against the application's
//! federated credentials, each mismatch with Entra's AADSTS error.
//!
//! Also the JWT helpers both token kinds use (HS256 with a key only the lab holds).

use base64::Engine;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::scenario::azure::{PrincipalSpec, TOKEN_EXCHANGE_AUDIENCE};

/// The assertion type a federated token is sent as.
pub const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// A refused token request: HTTP status, OAuth error, AADSTS code, description.
pub type Refused = (u16, &'static str, u32, String);

/// A JWT of `claims`, signed HS256 with `key`.
pub fn sign(key: &ring::hmac::Key, claims: &impl Serialize) -> String {
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let header = b64.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
    let body = b64.encode(serde_json::to_vec(claims).expect("claims serialise"));
    let signed = format!("{header}.{body}");
    let signature = ring::hmac::sign(key, signed.as_bytes());
    format!("{signed}.{}", b64.encode(signature.as_ref()))
}

/// The claims of a JWT `key` signed; None if it is not one.
pub fn open<T: DeserializeOwned>(key: &ring::hmac::Key, token: &str) -> Option<T> {
    let (signed, signature) = token.trim().rsplit_once('.')?;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let signature = b64.decode(signature).ok()?;
    ring::hmac::verify(key, signed.as_bytes(), &signature).ok()?;
    let body = b64.decode(signed.split('.').nth(1)?).ok()?;
    serde_json::from_slice(&body).ok()
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct ServiceAccountClaims {
    iss: String,
    sub: String,
    aud: Vec<String>,
    iat: i64,
    nbf: i64,
    exp: i64,
}

/// The lab's stand-in for a workload's token issuer.
pub struct Issuer {
    key: ring::hmac::Key,
}

impl Issuer {
    pub fn new() -> anyhow::Result<Issuer> {
        let rng = ring::rand::SystemRandom::new();
        let key = ring::hmac::Key::generate(ring::hmac::HMAC_SHA256, &rng)
            .map_err(|_| anyhow::anyhow!("no randomness for the issuer's key"))?;
        Ok(Issuer { key })
    }

    /// A service account token from `issuer` for `subject`, for Entra ID's token
    /// exchange, valid from `now` (Unix seconds) for `lifetime` seconds.
    pub fn token(&self, issuer: &str, subject: &str, now: i64, lifetime: i64) -> String {
        sign(
            &self.key,
            &ServiceAccountClaims {
                iss: issuer.to_string(),
                sub: subject.to_string(),
                aud: vec![TOKEN_EXCHANGE_AUDIENCE.to_string()],
                iat: now,
                nbf: now,
                exp: now + lifetime,
            },
        )
    }

    /// Checks `assertion` (of `assertion_type`) as `principal`'s credential at `now`.
    pub fn check(
        &self,
        (assertion, assertion_type): (&str, Option<&str>),
        principal: &PrincipalSpec,
        now: i64,
    ) -> Result<(), Refused> {
        if assertion_type != Some(ASSERTION_TYPE) {
            return Err((400, "invalid_request", 900144, format!("AADSTS900144: The request body must contain the following parameter: 'client_assertion_type' = '{ASSERTION_TYPE}'.")));
        }
        let claims: ServiceAccountClaims = open(&self.key, assertion).ok_or_else(|| {
            (
                401,
                "invalid_client",
                50027,
                "AADSTS50027: JWT token is invalid or malformed.".to_string(),
            )
        })?;
        if now < claims.nbf || now >= claims.exp {
            return Err((401, "invalid_client", 700024, format!("AADSTS700024: Client assertion is not within its valid time range. Current time: {now}, assertion valid from {}, expiry time of assertion {}.", claims.nbf, claims.exp)));
        }
        let issued = |f: &&crate::scenario::azure::FederatedSpec| f.issuer == claims.iss;
        if !principal.federated.iter().any(|f| issued(&f)) {
            return Err((400, "invalid_request", 700211, format!("AADSTS700211: No matching federated identity record found for presented assertion issuer '{}'.", claims.iss)));
        }
        if !principal
            .federated
            .iter()
            .filter(issued)
            .any(|f| f.subject == claims.sub)
        {
            return Err((400, "invalid_request", 700213, format!("AADSTS700213: No matching federated identity record found for presented assertion subject '{}'.", claims.sub)));
        }
        if !claims.aud.iter().any(|a| a == TOKEN_EXCHANGE_AUDIENCE) {
            return Err((400, "invalid_request", 700212, format!("AADSTS700212: No matching federated identity record found for presented assertion audience '{}'.", claims.aud.join(", "))));
        }
        Ok(())
    }
}
