//! ARM's REST API for managed instances: bearer tokens from the configured credential,
//! an api-version on every call, and ARM's error bodies (`{"error": {"code",
//! "message"}}`) turned into errors that keep Azure's code and words.

use std::sync::Arc;
use std::time::Duration;

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
    /// Not sent: a name or URL that could address another resource than the one meant.
    #[error("not sent to ARM: {0}")]
    Unsafe(String),
    /// Not sent: the work calling it holds a lease that would end before ARM's answer
    /// could come ([`within_lease`]).
    #[error("not sent to ARM: the driver's lease ends in {left_ms} ms, too soon for an answer; next tick")]
    LeaseEnding { left_ms: u64 },
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

tokio::task_local! {
    /// When the lease the calling work holds ends, moved on by its renewals (the
    /// migration driver's).
    static LEASE_ENDS: tokio::sync::watch::Receiver<tokio::time::Instant>;
}

/// The least time an ARM call needs: closer than this to the lease's end, none is sent.
const LEAST_CALL: Duration = Duration::from_millis(200);

/// Runs `work` with every ARM call in it bound to the lease its caller holds: none
/// starts with less than 200 ms of the lease left, and one still out when the lease
/// ends (its renewals stopped moving `lease_ends` on) is given up. So a driver that
/// lost its lease has no request still out when another takes over, while a slow
/// answer under a lease that is being renewed is waited for.
pub async fn within_lease<F: std::future::Future>(
    lease_ends: tokio::sync::watch::Receiver<tokio::time::Instant>,
    work: F,
) -> F::Output {
    LEASE_ENDS.scope(lease_ends, work).await
}

/// Completes when the lease's end passes without a renewal having moved it on.
async fn lease_lost(mut lease_ends: tokio::sync::watch::Receiver<tokio::time::Instant>) {
    loop {
        let ends = *lease_ends.borrow_and_update();
        tokio::select! {
            () = tokio::time::sleep_until(ends) => return,
            moved = lease_ends.changed() => {
                if moved.is_err() {
                    // No renewals any more: the end as it stands is the end.
                    let ends = *lease_ends.borrow();
                    tokio::time::sleep_until(ends).await;
                    return;
                }
            }
        }
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
        let started = std::time::Instant::now();
        let answered = tracing::Instrument::instrument(
            self.call_in_span(method.clone(), url, body),
            span.clone(),
        )
        .await;
        let (status, code) = match &answered {
            Ok(answer) => (answer.status, ""),
            Err(ArmError::Azure { status, code, .. }) => (*status, code.as_str()),
            // Sent, and no (readable) answer came.
            Err(ArmError::Transport(_) | ArmError::Decode(_)) => (0, ""),
            Err(ArmError::Paced { .. }) => {
                super::metrics::paced();
                return answered;
            }
            // Never sent.
            Err(_) => return answered,
        };
        span.record("http.status", status);
        super::metrics::request(method.as_str(), status, code, started.elapsed());
        answered
    }

    async fn call_in_span(
        &self,
        method: reqwest::Method,
        url: &str,
        body: Option<&Value>,
    ) -> Result<Answer, ArmError> {
        let checked = self.checked_url(url)?;
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
            .request(method, checked)
            .bearer_auth(token.token.secret());
        let lease = LEASE_ENDS.try_with(Clone::clone).ok();
        if let Some(lease) = &lease {
            let left = lease
                .borrow()
                .saturating_duration_since(tokio::time::Instant::now());
            if left < LEAST_CALL {
                return Err(ArmError::LeaseEnding {
                    left_ms: left.as_millis() as u64,
                });
            }
        }
        if let Some(body) = body {
            request = request
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body.to_string());
        }
        let exchange = exchange(request);
        let (status, (async_operation, location, retry_after), text) = match lease {
            None => exchange.await?,
            Some(lease) => tokio::select! {
                answered = exchange => answered?,
                () = lease_lost(lease) => return Err(ArmError::LeaseEnding { left_ms: 0 }),
            },
        };
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

    /// A resource under managed instance `mi`: its URL with `segments` appended one by
    /// one, each percent-encoded as one path segment (never spliced into the text).
    pub(crate) fn resource_url(
        &self,
        mi: &ManagedInstanceId,
        segments: &[&str],
        api_version: &str,
    ) -> Result<String, ArmError> {
        let base = self.url(&mi.to_string(), api_version);
        let mut url = reqwest::Url::parse(&base)
            .map_err(|e| ArmError::Unsafe(format!("{base} is not a URL: {e}")))?;
        url.path_segments_mut()
            .map_err(|()| ArmError::Unsafe(format!("{base} cannot have a path")))?
            .extend(segments);
        Ok(url.into())
    }

    /// The URL to send to `url`, refused unless it is on the configured endpoint and
    /// its path is exactly what was asked for: a URL parser removes dot segments
    /// (`/x/..`), so a path it would rewrite could address another resource (the
    /// managed instance itself) than the one named after the prefix check.
    fn checked_url(&self, url: &str) -> Result<reqwest::Url, ArmError> {
        checked_url(&self.endpoint, url)
    }
}

/// One request sent and its answer read: the status, the long-running operation's
/// headers (`Azure-AsyncOperation`, `Location`, `Retry-After`) and the body's text.
async fn exchange(
    request: reqwest::RequestBuilder,
) -> Result<(reqwest::StatusCode, (String, String, Option<u64>), String), ArmError> {
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
    let operation = (
        header("azure-asyncoperation"),
        header("location"),
        header("retry-after").parse().ok(),
    );
    let text = answer
        .text()
        .await
        .map_err(|e| ArmError::Transport(e.to_string()))?;
    Ok((status, operation, text))
}

/// See [`Arm::checked_url`]: `endpoint` without its trailing `/`.
fn checked_url(endpoint_text: &str, url: &str) -> Result<reqwest::Url, ArmError> {
    let refused = |why: &str| ArmError::Unsafe(format!("{url}: {why}"));
    let Some(rest) = url.strip_prefix(&format!("{endpoint_text}/")) else {
        return Err(refused(&format!("not on the ARM endpoint {endpoint_text}")));
    };
    let parsed = reqwest::Url::parse(url).map_err(|e| refused(&e.to_string()))?;
    let endpoint = reqwest::Url::parse(endpoint_text).map_err(|e| refused(&e.to_string()))?;
    let asked = format!(
        "{}/{}",
        endpoint.path().trim_end_matches('/'),
        rest.split(['?', '#']).next().unwrap_or_default()
    );
    // Compared decoded: a parser percent-encodes what it must (a Unicode resource
    // group) without changing which resource is meant.
    let decoded = |path: &str| percent_encoding::percent_decode_str(path).collect::<Vec<u8>>();
    let same_origin = parsed.origin() == endpoint.origin();
    if !same_origin || decoded(parsed.path()) != decoded(&asked) {
        return Err(refused("a URL parser would rewrite its path"));
    }
    Ok(parsed)
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

#[cfg(test)]
mod tests {
    use super::checked_url;

    const MI: &str = "/subscriptions/0b1f6471-1bf0-4dda-aec3-cb9272f09590/resourceGroups/rg/providers/Microsoft.Sql/managedInstances/mi";

    #[test]
    fn only_urls_whose_path_a_parser_keeps_are_sent() {
        let endpoint = "https://management.azure.com";
        let ok = format!("{endpoint}{MI}/distributedAvailabilityGroups/DAG_x?api-version=1");
        assert_eq!(checked_url(endpoint, &ok).unwrap().as_str(), ok);
        let unicode = format!("{endpoint}/subscriptions/s/resourceGroups/gruppé/x?api-version=1");
        assert!(checked_url(endpoint, &unicode).is_ok());
        for climbing in ["..", ".", "%2e%2E", ".%2e", "x/../..", "a\\..\\.."] {
            let url =
                format!("{endpoint}{MI}/distributedAvailabilityGroups/{climbing}?api-version=1");
            let refused = checked_url(endpoint, &url).unwrap_err().to_string();
            assert!(refused.contains("rewrite"), "{climbing}: {refused}");
        }
        let elsewhere = "https://management.azure.com.evil.example/subscriptions?api-version=1";
        assert!(checked_url(endpoint, elsewhere).is_err());
        let behind_proxy = "https://proxy.example/arm";
        assert!(checked_url(behind_proxy, &format!("{behind_proxy}{MI}?api-version=1")).is_ok());
        let up = format!("{behind_proxy}/../subscriptions?api-version=1");
        assert!(checked_url(behind_proxy, &up).is_err());
    }
}
