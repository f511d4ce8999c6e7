//! The MI link's ARM resources (mi-link.md §2.2): the MI's server trust certificates,
//! its endpoint certificate, the link itself (`distributedAvailabilityGroups`: made,
//! switched to synchronous commit, failed over, deleted), and the
//! polling of ARM's long-running operations.

use serde_json::Value;

use super::arm::{Answer, Arm, ArmError, API_VERSION};
use super::pace;
use super::ManagedInstanceId;

/// The api-version for the link: the current schema (`partnerEndpoint`,
/// `instanceAvailabilityGroupName`, ...) with `failover`.
pub const LINK_API_VERSION: &str = "2024-05-01-preview";

/// What ARM did with a change.
#[derive(Debug, Clone, PartialEq)]
pub enum Accepted {
    /// Done at once: the resource.
    Done(Value),
    /// Running: the URL to poll.
    Running(String),
}

/// A long-running operation's status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Poll {
    Running,
    Succeeded,
    Failed { code: String, message: String },
}

/// A certificate the MI trusts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustCertificate {
    pub name: String,
    /// DER.
    pub der: Vec<u8>,
}

impl Arm {
    pub async fn trust_certificates(
        &self,
        mi: &ManagedInstanceId,
    ) -> Result<Vec<TrustCertificate>, ArmError> {
        let url = self.url(&format!("{mi}/serverTrustCertificates"), API_VERSION);
        self.list(&url)
            .await?
            .iter()
            .map(|c| {
                Ok(TrustCertificate {
                    name: c["name"].as_str().unwrap_or_default().to_string(),
                    der: blob(&c["properties"]["publicBlob"])?,
                })
            })
            .collect()
    }

    /// Uploads SQL Server's endpoint certificate (DER) as server trust certificate
    /// `name` (`publicBlob` as the docs' script sends it: `0x` and hex).
    pub async fn put_trust_certificate(
        &self,
        mi: &ManagedInstanceId,
        name: &str,
        der: &[u8],
    ) -> Result<Accepted, ArmError> {
        let url = self.trust_url(mi, name)?;
        let body = serde_json::json!({"properties": {"publicBlob": format!("0x{}", hex::encode_upper(der))}});
        Ok(self.accepted(self.call(reqwest::Method::PUT, &url, Some(&body)).await?))
    }

    /// The MI's DATABASE_MIRRORING endpoint certificate (DER).
    pub async fn mi_endpoint_certificate(
        &self,
        mi: &ManagedInstanceId,
    ) -> Result<Vec<u8>, ArmError> {
        let url = self.url(
            &format!("{mi}/endpointCertificates/DATABASE_MIRRORING"),
            API_VERSION,
        );
        let answer = self.call(reqwest::Method::GET, &url, None).await?;
        blob(&answer.body["properties"]["publicBlob"])
    }

    /// Creates (or, with the same body, confirms) the link `name`.
    pub async fn put_link(
        &self,
        mi: &ManagedInstanceId,
        name: &str,
        body: &Value,
    ) -> Result<Accepted, ArmError> {
        let url = self.link_url(mi, name)?;
        Ok(self.accepted(self.call(reqwest::Method::PUT, &url, Some(body)).await?))
    }

    /// Sets the link's `replicationMode` (Sync for a cutover, Async as made).
    pub async fn set_replication_mode(
        &self,
        mi: &ManagedInstanceId,
        name: &str,
        sync: bool,
    ) -> Result<Accepted, ArmError> {
        let url = self.link_url(mi, name)?;
        let mode = if sync { "Sync" } else { "Async" };
        let body = serde_json::json!({"properties": {"replicationMode": mode}});
        Ok(self.accepted(self.call(reqwest::Method::PATCH, &url, Some(&body)).await?))
    }

    /// Fails the link over to the MI: `Planned` (refused by Azure unless synchronous
    /// and caught up) or `ForcedAllowDataLoss`.
    pub async fn failover_link(
        &self,
        mi: &ManagedInstanceId,
        name: &str,
        failover_type: &str,
    ) -> Result<Accepted, ArmError> {
        let url = self.resource_url(
            mi,
            &["distributedAvailabilityGroups", segment(name)?, "failover"],
            LINK_API_VERSION,
        )?;
        let body = serde_json::json!({"failoverType": failover_type});
        Ok(self.accepted(self.call(reqwest::Method::POST, &url, Some(&body)).await?))
    }

    /// Deletes the link `name` on the MI (404: nothing to delete, done).
    pub async fn delete_link(
        &self,
        mi: &ManagedInstanceId,
        name: &str,
    ) -> Result<Accepted, ArmError> {
        let url = self.link_url(mi, name)?;
        self.delete(&url).await
    }

    /// Removes server trust certificate `name` from the MI.
    pub async fn delete_trust_certificate(
        &self,
        mi: &ManagedInstanceId,
        name: &str,
    ) -> Result<Accepted, ArmError> {
        let url = self.trust_url(mi, name)?;
        self.delete(&url).await
    }

    fn link_url(&self, mi: &ManagedInstanceId, name: &str) -> Result<String, ArmError> {
        self.resource_url(
            mi,
            &["distributedAvailabilityGroups", segment(name)?],
            LINK_API_VERSION,
        )
    }

    fn trust_url(&self, mi: &ManagedInstanceId, name: &str) -> Result<String, ArmError> {
        self.resource_url(
            mi,
            &["serverTrustCertificates", segment(name)?],
            API_VERSION,
        )
    }

    async fn delete(&self, url: &str) -> Result<Accepted, ArmError> {
        match self.call(reqwest::Method::DELETE, url, None).await {
            Ok(answer) => Ok(self.accepted(answer)),
            Err(ArmError::Azure { status: 404, .. }) => Ok(Accepted::Done(Value::Null)),
            Err(e) => Err(e),
        }
    }

    /// The link `name`, or None when the MI has none of that name.
    pub async fn link(
        &self,
        mi: &ManagedInstanceId,
        name: &str,
    ) -> Result<Option<Value>, ArmError> {
        let url = self.link_url(mi, name)?;
        match self.call(reqwest::Method::GET, &url, None).await {
            Ok(answer) => Ok(Some(answer.body)),
            Err(ArmError::Azure { status: 404, .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Every link on the MI (one LIST, its pages followed), by name in lower case
    /// (ARM's names are case-insensitive).
    pub async fn links(
        &self,
        mi: &ManagedInstanceId,
    ) -> Result<std::collections::HashMap<String, Value>, ArmError> {
        let url = self.resource_url(mi, &["distributedAvailabilityGroups"], LINK_API_VERSION)?;
        Ok(self
            .list(&url)
            .await?
            .into_iter()
            .filter_map(|link| Some((link["name"].as_str()?.to_ascii_lowercase(), link)))
            .collect())
    }

    /// A collection's items: ARM answers a LIST a page at a time (`value`, and
    /// `nextLink` while more follow; the link carries its own api-version and skip
    /// token, and is called only when it is on the ARM endpoint).
    async fn list(&self, url: &str) -> Result<Vec<Value>, ArmError> {
        let mut items = Vec::new();
        let mut next = url.to_string();
        for _ in 0..MAX_LIST_PAGES {
            let mut answer = self.call(reqwest::Method::GET, &next, None).await?;
            let Value::Array(page) = answer.body["value"].take() else {
                return Err(ArmError::Decode(format!("{}: no value list", path_of(url))));
            };
            items.extend(page);
            match answer.body["nextLink"].as_str() {
                Some(link) if !link.is_empty() => next = link.to_string(),
                _ => return Ok(items),
            }
        }
        Err(ArmError::Decode(format!(
            "{}: more than {MAX_LIST_PAGES} pages",
            path_of(url)
        )))
    }

    /// Polls an operation at the URL ARM gave (`Azure-AsyncOperation`, else `Location`).
    /// Within the operation's last Retry-After, answers Running without a call.
    pub async fn poll(&self, url: &str) -> Result<Poll, ArmError> {
        if self.pace.left(&pace::operation_key(url)).is_some() {
            return Ok(Poll::Running);
        }
        let answer = self.call(reqwest::Method::GET, url, None).await?;
        self.pace_operation(url, &answer);
        Ok(match answer.body["status"].as_str() {
            Some("Succeeded") => Poll::Succeeded,
            Some("Failed" | "Canceled") => Poll::Failed {
                code: answer.body["error"]["code"]
                    .as_str()
                    .unwrap_or_default()
                    .into(),
                message: answer.body["error"]["message"]
                    .as_str()
                    .unwrap_or_default()
                    .into(),
            },
            Some(_) => Poll::Running,
            // A Location URL: 202 while running, the result when done.
            None if answer.status == 202 => Poll::Running,
            None => Poll::Succeeded,
        })
    }
}

impl Arm {
    /// A long-running operation's answer: where to poll it, its first poll held by
    /// its Retry-After.
    fn accepted(&self, answer: Answer) -> Accepted {
        if matches!(answer.status, 201 | 202) {
            for url in [&answer.async_operation, &answer.location] {
                if !url.is_empty() {
                    self.pace_operation(url, &answer);
                    return Accepted::Running(url.clone());
                }
            }
        }
        Accepted::Done(answer.body)
    }

    fn pace_operation(&self, url: &str, answer: &Answer) {
        if let Some(seconds) = answer.retry_after {
            self.pace.hold(pace::operation_key(url), seconds);
        }
    }
}

/// A LIST's pages followed at most: ARM's pages hold at least a hundred items, and a
/// nextLink that never ends must not hold the driver.
const MAX_LIST_PAGES: usize = 100;

/// A URL's path, for an error: no query string (a skip token is noise).
fn path_of(url: &str) -> &str {
    url.split('?').next().unwrap_or_default()
}

/// A `publicBlob`: hex, with or without `0x` (the CLI's output lacks it).
fn blob(value: &Value) -> Result<Vec<u8>, ArmError> {
    let text = value
        .as_str()
        .ok_or_else(|| ArmError::Decode("no publicBlob".into()))?;
    let digits = text
        .strip_prefix("0x")
        .or_else(|| text.strip_prefix("0X"))
        .unwrap_or(text);
    hex::decode(digits).map_err(|e| ArmError::Decode(format!("publicBlob is not hex: {e}")))
}

/// A resource name as one URL path segment: names a URL parser would rewrite, or
/// ARM would not keep, are refused rather than escaped.
fn segment(name: &str) -> Result<&str, ArmError> {
    ferry_proto::link_names::check_resource_name(name).map_err(ArmError::Unsafe)?;
    Ok(name)
}
