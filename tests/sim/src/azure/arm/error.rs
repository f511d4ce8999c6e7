//! ARM's error responses: `{"error": {"code", "message"}}` with the HTTP status and,
//! for authentication failures, a `WWW-Authenticate` challenge.

use http::StatusCode;

use super::super::http::Response;
use super::super::token::Refusal;

#[derive(Debug)]
pub struct ArmError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    /// Seconds for the client to wait before it retries (throttling, 503).
    pub retry_after: Option<u64>,
    /// Held back this long before it is answered.
    pub held: Option<std::time::Duration>,
}

pub type ArmResult<T> = Result<T, ArmError>;

impl ArmError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ArmError {
        ArmError {
            status,
            code,
            message: message.into(),
            retry_after: None,
            held: None,
        }
    }

    pub fn retry_after(self, secs: u64) -> ArmError {
        ArmError {
            retry_after: Some(secs),
            ..self
        }
    }

    pub fn held(self, delay: std::time::Duration) -> ArmError {
        ArmError {
            held: Some(delay),
            ..self
        }
    }

    pub fn bad_request(code: &'static str, message: impl Into<String>) -> ArmError {
        ArmError::new(StatusCode::BAD_REQUEST, code, message)
    }

    pub fn not_found(kind: &str, name: &str, resource_group: &str) -> ArmError {
        ArmError::new(
            StatusCode::NOT_FOUND,
            "ResourceNotFound",
            format!("The Resource '{kind}/{name}' under resource group '{resource_group}' was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix"),
        )
    }

    /// A property of the request body that is missing or wrong.
    pub fn invalid_parameter(name: &str, why: &str) -> ArmError {
        ArmError::bad_request(
            "InvalidParameterValue",
            format!(
                "Invalid value given for parameter {name}: {why}. Specify a valid parameter value."
            ),
        )
    }

    pub fn unauthenticated(refusal: Refusal, tenant: &str) -> ArmError {
        let (code, message) = match refusal {
            Refusal::Missing => (
                "AuthenticationFailed",
                "Authentication failed. The 'Authorization' header is missing.".to_string(),
            ),
            Refusal::Invalid => (
                "InvalidAuthenticationToken",
                "The access token is invalid.".to_string(),
            ),
            Refusal::Expired { expired, now } => (
                "ExpiredAuthenticationToken",
                format!(
                    "The access token expiry UTC time '{}' is earlier than current UTC time '{}'.",
                    utc(expired),
                    utc(now)
                ),
            ),
            Refusal::Audience(aud) => (
                "InvalidAuthenticationTokenAudience",
                format!("The access token has been obtained for wrong audience or resource '{aud}'. It should exactly match with one of the allowed audiences 'https://management.core.windows.net/','https://management.core.windows.net','https://management.azure.com/','https://management.azure.com'."),
            ),
            Refusal::Tenant(issuer) => (
                "InvalidAuthenticationTokenTenant",
                format!("The access token is from the wrong issuer '{issuer}'. It must match the tenant 'https://sts.windows.net/{tenant}/' associated with this subscription. Please use the authority (URL) 'https://login.windows.net/{tenant}' to get the token."),
            ),
        };
        ArmError::new(StatusCode::UNAUTHORIZED, code, message)
    }

    pub fn response(&self) -> Response {
        let body = serde_json::json!({"error": {"code": self.code, "message": self.message}});
        let mut response = Response::json(self.status, &body);
        response.delay = self.held;
        if let Some(secs) = self.retry_after {
            response = response.with_header("retry-after", secs.to_string());
        }
        if self.status == StatusCode::UNAUTHORIZED {
            response
                .with_header("x-ms-failure-cause", "gateway".into())
                .with_header(
                "www-authenticate",
                format!("Bearer authorization_uri=\"https://login.windows.net/\", error=\"invalid_token\", error_description=\"{}\"", self.code),
            )
        } else {
            response
        }
    }
}

fn utc(unix: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(unix)
        .map(|t| {
            format!(
                "{}/{}/{} {}:{:02}:{:02} {}",
                u8::from(t.month()),
                t.day(),
                t.year(),
                (t.hour() + 11) % 12 + 1,
                t.minute(),
                t.second(),
                if t.hour() < 12 { "AM" } else { "PM" }
            )
        })
        .unwrap_or_default()
}
