//! ARM's REST API for managed instances: bearer tokens from the configured credential,
//! an api-version on every call, and ARM's error bodies (`{"error": {"code",
//! "message"}}`) turned into errors that keep Azure's code and words.

use std::sync::Arc;

use azure_core::credentials::TokenCredential;
use serde_json::Value;

use super::pace::{self, Pace};
use super::ManagedInstanceId;

/// The GA api-version Ferry uses for `Microsoft.Sql/managedInstances`.
pub const API_VERSION: &str = "2023-08-01";

#[derive(Debug, thiserror::Error)]
pub enum ArmError {
    #[error("the control plane has no Azure credential: set [azure] credential (client_secret, managed_identity, workload_identity or developer) in its config")]
    NotConfigured,
    #[error("signing in to Entra ID failed: {0}")]
    Credential(String),
    #[error("ARM did not answer: {0}")]
    Transport(String),
    #[error("ARM answered {status} {code}: {message}")]
    Azure {
        status: u16,
        code: String,
        message: String,
    },
    #[error("ARM's answer is not what the API documents: {0}")]
    Decode(String),
    /// Not called: ARM asked (Retry-After) to be left alone this much longer.
    #[error("ARM asked Ferry to wait (Retry-After); {seconds} s left before the next call")]
    Paced { seconds: u64 },
}

/// A managed instance as ARM describes it (Managed Instances - Get).
#[derive(Debug, Clone, PartialEq)]
pub struct ManagedInstance {
    pub id: ManagedInstanceId,
    pub location: String,
    /// `GeneralPurpose` or `BusinessCritical`.
    pub tier: String,
    /// The hardware family, e.g. `Gen5`.
    pub family: String,
    pub vcores: i64,
    pub storage_gb: i64,
    pub fqdn: String,
    pub collation: String,
    /// `databaseFormat`: `SQLServer2022`, `SQLServer2025` or `AlwaysUpToDate`.
    pub update_policy: String,
    /// `state` (e.g. `Ready`) and `provisioningState` (e.g. `Succeeded`).
    pub state: String,
    pub provisioning_state: String,
}

impl ManagedInstance {
    /// Why the link cannot target it now, if it cannot.
    pub fn unusable(&self) -> Option<String> {
        if !self.provisioning_state.eq_ignore_ascii_case("Succeeded") {
            return Some(format!(
                "its provisioning state is {} (wait until it is Succeeded)",
                self.provisioning_state
            ));
        }
        if !self.state.eq_ignore_ascii_case("Ready") {
            return Some(format!("it is {} (start it first)", self.state));
        }
        if self.fqdn.is_empty() {
            return Some("ARM reports no fully qualified domain name".into());
        }
        None
    }
}

pub struct Arm {
    endpoint: String,
    scope: String,
    credential: Option<Arc<dyn TokenCredential>>,
    http: reqwest::Client,
    pub(crate) pace: Pace,
}

impl Arm {
    pub fn new(
        endpoint: &str,
        audience: &str,
        credential: Option<Arc<dyn TokenCredential>>,
        http: reqwest::Client,
    ) -> Arm {
        Arm {
            endpoint: endpoint.trim_end_matches('/').to_string(),
            scope: format!("{}/.default", audience.trim_end_matches('/')),
            credential,
            http,
            pace: Pace::default(),
        }
    }

    /// How long calls for managed instance `mi` are held by ARM's Retry-After, if they
    /// are (its subscription was throttled).
    pub fn held_for(&self, mi: &ManagedInstanceId) -> Option<std::time::Duration> {
        self.pace.left(&pace::subscription_key(&mi.to_string()))
    }

    pub async fn managed_instance(
        &self,
        id: &ManagedInstanceId,
    ) -> Result<ManagedInstance, ArmError> {
        let body = self.get(&id.to_string()).await?;
        decode_instance(&body)
    }

    async fn get(&self, path: &str) -> Result<Value, ArmError> {
        let url = format!("{}{path}?api-version={API_VERSION}", self.endpoint);
        Ok(self.call(reqwest::Method::GET, &url, None).await?.body)
    }

    /// One ARM request to `url` (which carries its api-version) with a bearer token;
    /// an answer other than 2xx is ARM's error. Only URLs on the configured endpoint
    /// are called, so a polling URL cannot send the token elsewhere.
    pub(crate) async fn call(
        &self,
        method: reqwest::Method,
        url: &str,
        body: Option<&Value>,
    ) -> Result<Answer, ArmError> {
        let path = url
            .strip_prefix(&self.endpoint)
            .unwrap_or(url)
            .split('?')
            .next()
            .unwrap_or_default();
        let span = tracing::info_span!(
            "arm.request",
            http.method = %method,
            arm.path = %path,
            http.status = tracing::field::Empty,
            otel.kind = "client"
        );
        let answered =
            tracing::Instrument::instrument(self.call_in_span(method, url, body), span.clone())
                .await;
        let status = match &answered {
            Ok(answer) => answer.status,
            Err(ArmError::Azure { status, .. }) => *status,
            Err(_) => 0,
        };
        span.record("http.status", status);
        answered
    }

    async fn call_in_span(
        &self,
        method: reqwest::Method,
        url: &str,
        body: Option<&Value>,
    ) -> Result<Answer, ArmError> {
        if !url.starts_with(&format!("{}/", self.endpoint)) {
            return Err(ArmError::Decode(format!(
                "{url} is not on the ARM endpoint {}",
                self.endpoint
            )));
        }
        let paced = pace::subscription_key(url);
        if let Some(left) = self.pace.left(&paced) {
            return Err(ArmError::Paced {
                seconds: left.as_secs().max(1),
            });
        }
        let credential = self.credential.as_ref().ok_or(ArmError::NotConfigured)?;
        let token = credential
            .get_token(&[&self.scope], None)
            .await
            .map_err(|e| ArmError::Credential(e.to_string()))?;
        let mut request = self
            .http
            .request(method, url)
            .bearer_auth(token.token.secret());
        if let Some(body) = body {
            request = request
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body.to_string());
        }
        let answer = request
            .send()
            .await
            .map_err(|e| ArmError::Transport(e.to_string()))?;
        let status = answer.status();
        let header = |name: &str| {
            answer
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_string()
        };
        let (async_operation, location, retry_after) = (
            header("azure-asyncoperation"),
            header("location"),
            header("retry-after").parse().ok(),
        );
        let text = answer
            .text()
            .await
            .map_err(|e| ArmError::Transport(e.to_string()))?;
        let body: Value = if text.trim().is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).map_err(|e| ArmError::Decode(format!("{status}: {e}")))?
        };
        if let (429 | 503, Some(seconds)) = (status.as_u16(), retry_after) {
            self.pace.hold(paced, seconds);
        }
        if !status.is_success() {
            let field = |name: &str| body["error"][name].as_str().unwrap_or_default().to_string();
            return Err(ArmError::Azure {
                status: status.as_u16(),
                code: field("code"),
                message: field("message"),
            });
        }
        Ok(Answer {
            status: status.as_u16(),
            body,
            async_operation,
            location,
            retry_after,
        })
    }

    /// `https://<endpoint><path>?api-version=<version>`.
    pub(crate) fn url(&self, path: &str, api_version: &str) -> String {
        format!("{}{path}?api-version={api_version}", self.endpoint)
    }
}

/// A successful ARM answer: its body (Null when empty) and, for a long-running
/// operation, where to poll it.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub body: Value,
    pub async_operation: String,
    pub location: String,
    pub retry_after: Option<u64>,
}

fn decode_instance(body: &Value) -> Result<ManagedInstance, ArmError> {
    let text = |value: &Value, name: &str| -> Result<String, ArmError> {
        value[name]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| ArmError::Decode(format!("no {name}")))
    };
    let properties = &body["properties"];
    let id = ManagedInstanceId::parse(&text(body, "id")?).map_err(ArmError::Decode)?;
    Ok(ManagedInstance {
        id,
        location: text(body, "location")?,
        tier: text(&body["sku"], "tier")?,
        family: body["sku"]["family"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
        vcores: properties["vCores"].as_i64().unwrap_or_default(),
        storage_gb: properties["storageSizeInGB"].as_i64().unwrap_or_default(),
        fqdn: properties["fullyQualifiedDomainName"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
        collation: text(properties, "collation")?,
        // Instances created before the update policy existed have SQL Server 2022's.
        update_policy: properties["databaseFormat"]
            .as_str()
            .unwrap_or("SQLServer2022")
            .to_string(),
        state: text(properties, "state")?,
        provisioning_state: text(properties, "provisioningState")?,
    })
}
