//! The token authority: Entra ID's client-credentials grant as azure_identity's
//! `ClientSecretCredential` uses it (POST `/{tenant}/oauth2/v2.0/token`, form-encoded
//! `client_id`, `client_secret`, `grant_type`, `scope`), answering with a bearer token
//! or with Entra's error body (`error`, `error_description` with its AADSTS code).
//!
//! A client may sign in with a federated token instead (`client_assertion`, workload
//! identity; see `federated`).
//!
//! Tokens are JWTs with Entra's claims (aud, iss, tid, appid, iat, nbf, exp), signed
//! with a key only this lab holds (HS256; Entra signs RS256, which clients do not
//! check). The ARM stand-in verifies them here; times follow the lab clock, so a test
//! can let a token expire by moving the clock.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::federated::{Issuer, Refused};
use super::http::{Handler, Request, Response};
use crate::engine::LabClock;
use crate::scenario::azure::{AzureSpec, Role};

/// Resources the authority issues tokens for (ARM, under both its names).
const RESOURCES: [&str; 2] = [
    "https://management.azure.com/",
    "https://management.core.windows.net/",
];

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    pub aud: String,
    pub iss: String,
    pub tid: String,
    pub appid: String,
    pub oid: String,
    pub iat: i64,
    pub nbf: i64,
    pub exp: i64,
}

pub struct Authority {
    pub spec: AzureSpec,
    key: ring::hmac::Key,
    /// The workloads' token issuer the lab also plays (`federated`).
    issuer: Issuer,
    clock: Arc<LabClock>,
    started: time::OffsetDateTime,
}

/// Why a bearer token is refused, as ARM words it.
pub enum Refusal {
    Missing,
    Invalid,
    Expired { expired: i64, now: i64 },
    Audience(String),
    Tenant(String),
}

impl Authority {
    pub fn new(spec: AzureSpec, clock: Arc<LabClock>) -> anyhow::Result<Authority> {
        let rng = ring::rand::SystemRandom::new();
        let key = ring::hmac::Key::generate(ring::hmac::HMAC_SHA256, &rng)
            .map_err(|_| anyhow::anyhow!("no randomness for the token key"))?;
        Ok(Authority {
            spec,
            key,
            issuer: Issuer::new()?,
            clock,
            started: time::OffsetDateTime::now_utc(),
        })
    }

    /// The lab's time, Unix seconds.
    /// The lab's wall-clock time at a point of the lab clock.
    pub fn time_at(&self, at: std::time::Duration) -> time::OffsetDateTime {
        self.started + at
    }

    pub fn now(&self) -> i64 {
        (self.started + self.clock.elapsed()).unix_timestamp()
    }

    /// A service account token for `subject` from `issuer`, as a workload's cluster
    /// would project it into its pod: valid an hour from now on the lab clock.
    pub fn service_account_token(&self, issuer: &str, subject: &str) -> String {
        self.issuer.token(issuer, subject, self.now(), 3600)
    }

    pub fn role_of(&self, claims: &Claims) -> Option<Role> {
        self.spec.principal(&claims.appid).map(|p| p.role)
    }

    fn issue(&self, client_id: &str, audience: &str) -> (String, u64) {
        let now = self.now();
        let lifetime = self.spec.token_lifetime_secs;
        let claims = Claims {
            aud: audience.to_string(),
            iss: format!("https://sts.windows.net/{}/", self.spec.tenant),
            tid: self.spec.tenant.clone(),
            appid: client_id.to_string(),
            oid: object_id(client_id),
            iat: now,
            nbf: now - 300,
            exp: now + lifetime as i64,
        };
        (super::federated::sign(&self.key, &claims), lifetime)
    }

    /// Checks an `Authorization` header value: a bearer token this authority issued,
    /// unexpired, for ARM, from the lab's tenant.
    pub fn verify(&self, authorization: Option<&str>) -> Result<Claims, Refusal> {
        let token = authorization
            .and_then(|h| {
                h.strip_prefix("Bearer ")
                    .or_else(|| h.strip_prefix("bearer "))
            })
            .ok_or(Refusal::Missing)?
            .trim();
        let claims: Claims = super::federated::open(&self.key, token).ok_or(Refusal::Invalid)?;
        let now = self.now();
        if claims.exp <= now {
            return Err(Refusal::Expired {
                expired: claims.exp,
                now,
            });
        }
        if !allowed_audience(&claims.aud) {
            return Err(Refusal::Audience(claims.aud));
        }
        if !claims.tid.eq_ignore_ascii_case(&self.spec.tenant) {
            return Err(Refusal::Tenant(claims.iss));
        }
        Ok(claims)
    }

    fn token(&self, request: &Request) -> Result<serde_json::Value, Refused> {
        let tenant = request
            .path
            .trim_start_matches('/')
            .split('/')
            .next()
            .unwrap_or("");
        if !tenant.eq_ignore_ascii_case(&self.spec.tenant) {
            return Err((400, "invalid_request", 90002, format!("AADSTS90002: Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud.")));
        }
        let form: Vec<(String, String)> =
            form_urlencoded::parse(&request.body).into_owned().collect();
        let field = |name: &str| {
            form.iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.as_str())
        };
        match field("grant_type") {
            Some("client_credentials") => {}
            Some(other) => return Err((400, "unsupported_grant_type", 70003, format!("AADSTS70003: The app requested an unsupported grant type '{other}'."))),
            None => return Err((400, "invalid_request", 900144, "AADSTS900144: The request body must contain the following parameter: 'grant_type'.".into())),
        }
        let client_id = field("client_id").ok_or_else(|| {
            (
                400,
                "invalid_request",
                900144,
                "AADSTS900144: The request body must contain the following parameter: 'client_id'."
                    .to_string(),
            )
        })?;
        let scope = field("scope").ok_or_else(|| {
            (
                400,
                "invalid_request",
                900144,
                "AADSTS900144: The request body must contain the following parameter: 'scope'."
                    .to_string(),
            )
        })?;
        let principal = self.spec.principal(client_id).ok_or_else(|| (400, "unauthorized_client", 700016, format!("AADSTS700016: Application with identifier '{client_id}' was not found in the directory '{}'.", self.spec.tenant)))?;
        if let Some(assertion) = field("client_assertion") {
            let kind = field("client_assertion_type");
            self.issuer
                .check((assertion, kind), principal, self.now())?;
        } else {
            let secret = field("client_secret").ok_or_else(|| (401, "invalid_client", 7000218, "AADSTS7000218: The request body must contain the following parameter: 'client_assertion' or 'client_secret'.".to_string()))?;
            // Digests compared, so the time taken says nothing about the secret.
            let digest = |s: &str| ring::digest::digest(&ring::digest::SHA256, s.as_bytes());
            if principal.client_secret.is_empty()
                || digest(secret).as_ref() != digest(&principal.client_secret).as_ref()
            {
                return Err((401, "invalid_client", 7000215, format!("AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '{client_id}'.")));
            }
        }
        let resource = scope.strip_suffix(".default").ok_or_else(|| (400, "invalid_scope", 1002012, format!("AADSTS1002012: The provided value for scope {scope} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).")))?;
        if !RESOURCES.iter().any(|r| r.eq_ignore_ascii_case(resource)) {
            return Err((400, "invalid_resource", 500011, format!("AADSTS500011: The resource principal named {resource} was not found in the tenant named {}.", self.spec.tenant)));
        }
        let (access_token, lifetime) = self.issue(&principal.client_id, resource);
        Ok(serde_json::json!({
            "token_type": "Bearer",
            "expires_in": lifetime,
            "ext_expires_in": lifetime,
            "access_token": access_token,
        }))
    }
}

impl Handler for Authority {
    fn handle(&self, request: Request) -> Response {
        let path_ok = request
            .path
            .to_ascii_lowercase()
            .ends_with("/oauth2/v2.0/token");
        if request.method != http::Method::POST || !path_ok {
            return Response::json(
                http::StatusCode::NOT_FOUND,
                &serde_json::json!({"error": "not_found", "error_description": format!("ferry-sim: the token authority serves POST /{{tenant}}/oauth2/v2.0/token only, not {} {}", request.method, request.path)}),
            );
        }
        match self.token(&request) {
            Ok(body) => Response::json(http::StatusCode::OK, &body),
            Err((status, error, code, description)) => {
                tracing::debug!(error, code, "token request refused");
                Response::json(
                    http::StatusCode::from_u16(status).unwrap_or(http::StatusCode::BAD_REQUEST),
                    &serde_json::json!({
                        "error": error,
                        "error_description": description,
                        "error_codes": [code],
                        "timestamp": crate::engine::datetime_text(time::OffsetDateTime::now_utc()),
                        "trace_id": crate::engine::new_guid().to_lowercase(),
                        "correlation_id": crate::engine::new_guid().to_lowercase(),
                    }),
                )
            }
        }
    }
}

fn allowed_audience(aud: &str) -> bool {
    RESOURCES
        .iter()
        .any(|r| r.eq_ignore_ascii_case(aud) || r.trim_end_matches('/').eq_ignore_ascii_case(aud))
}

/// A stable object id for an application (the service principal's id in the tenant).
pub fn object_id(client_id: &str) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, client_id.as_bytes());
    uuid::Builder::from_random_bytes(digest.as_ref()[..16].try_into().expect("16 bytes"))
        .into_uuid()
        .to_string()
}
