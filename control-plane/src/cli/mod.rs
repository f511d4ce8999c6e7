//! The `ferry` operator CLI: connects with an operator certificate and calls the
//! operator API. [`output`] renders tables and JSON; [`assess`] renders assessments;
//! [`target`] adds and lists target managed instances, [`connection_test`] tests the network
//! toward one; [`migrate`] starts and follows migrations; [`cutover`] cuts them over;
//! [`plan`] groups them into waves; [`audit`] reads the audit log; [`operator`] lists and
//! revokes operators; [`credentials`] reads the operator's own credentials and renews
//! them when due.

pub mod assess;
pub mod audit;
pub mod connection_test;
pub mod credentials;
pub mod cutover;
pub mod migrate;
pub mod operator;
pub mod output;
pub mod plan;
pub mod target;

use std::path::{Path, PathBuf};
use std::time::Duration;

use ferry_proto::operator::v1::operator_client::OperatorClient;
use ferry_proto::transport::{self, ChannelOptions, ControlPlaneUrl};
use tonic::transport::Channel;
use tonic::{Code, Status};

/// The page size the CLI asks list RPCs for: the largest the control plane gives.
pub const PAGE_SIZE: u32 = 1000;

/// Every unary call has this deadline.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error("{0}")]
    Usage(String),
    #[error("cannot read {path}: {source} (point --credentials or FERRY_CREDENTIALS at a directory with cert.pem, key.pem and ca.pem; the first admin's are in <data_dir>/operators/admin)")]
    Credentials {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{0} (is ferry-control running there? set --control-plane or FERRY_CONTROL_PLANE)")]
    Unreachable(String),
    #[error("not authorised: {0}")]
    NotAuthorised(String),
    #[error("the control plane refused the request: {0}")]
    Refused(String),
}

impl From<Status> for CliError {
    fn from(status: Status) -> Self {
        let message = status.message().to_string();
        match status.code() {
            Code::Unavailable | Code::DeadlineExceeded => {
                CliError::Unreachable(format!("the control plane did not answer: {message}"))
            }
            Code::PermissionDenied => CliError::NotAuthorised(message),
            Code::Unauthenticated => CliError::NotAuthorised(format!(
                "{message} (check --credentials / FERRY_CREDENTIALS)"
            )),
            _ => CliError::Refused(message),
        }
    }
}

/// Connects to the control plane at `url` with the operator credentials in `dir`.
pub async fn connect(url: &str, dir: &Path) -> Result<OperatorClient<Channel>, CliError> {
    let url = ControlPlaneUrl::parse(url).map_err(|e| CliError::Usage(e.to_string()))?;
    let credentials = credentials::load(dir)?;
    let tls = transport::mtls_client_config(
        &credentials.ca_pem,
        &credentials.cert_pem,
        &credentials.key_pem,
    )
    .map_err(|e| CliError::Usage(format!("credentials in {}: {e}", dir.display())))?;
    let channel = transport::connect(&url, tls, ChannelOptions::default())
        .await
        .map_err(|e| CliError::Unreachable(transport::error_chain(&e)))?;
    Ok(OperatorClient::new(channel)
        .max_decoding_message_size(transport::MAX_OPERATOR_MESSAGE)
        .max_encoding_message_size(transport::MAX_OPERATOR_MESSAGE))
}

/// Every item of a paged list: `fetch` gets a page token ('' first) and returns a page
/// and the next token ('' on the last page).
pub async fn every_page<T, F, Fut>(mut fetch: F) -> Result<Vec<T>, CliError>
where
    F: FnMut(String) -> Fut,
    Fut: std::future::Future<Output = Result<(Vec<T>, String), CliError>>,
{
    let mut items = Vec::new();
    let mut token = String::new();
    loop {
        let (page, next) = fetch(token).await?;
        items.extend(page);
        if next.is_empty() {
            return Ok(items);
        }
        token = next;
    }
}

/// The first `limit` items of a paged list: `fetch` gets a page token ('' first) and
/// the page size to ask for, and returns a page and the next token.
pub async fn first_items<T, F, Fut>(limit: u32, mut fetch: F) -> Result<Vec<T>, CliError>
where
    F: FnMut(String, u32) -> Fut,
    Fut: std::future::Future<Output = Result<(Vec<T>, String), CliError>>,
{
    let limit = limit as usize;
    let mut items = Vec::new();
    let mut token = String::new();
    while items.len() < limit {
        let wanted = (limit - items.len()).min(PAGE_SIZE as usize) as u32;
        let (page, next) = fetch(token, wanted).await?;
        items.extend(page);
        if next.is_empty() {
            break;
        }
        token = next;
    }
    items.truncate(limit);
    Ok(items)
}

/// A request with the CLI's deadline.
pub fn request<T>(message: T) -> tonic::Request<T> {
    transport::request(message, CALL_TIMEOUT)
}

/// Parses a duration like `90s`, `15m`, `1h` or `2d`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: u64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a duration like 90s, 15m, 1h or 2d"))?;
    let seconds = match unit {
        "s" | "" => number,
        "m" => number * 60,
        "h" => number * 3600,
        "d" => number * 86400,
        _ => return Err(format!("{text:?}: unknown unit {unit:?}; use s, m, h or d")),
    };
    Ok(Duration::from_secs(seconds))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("2h"), Ok(Duration::from_secs(7200)));
        assert_eq!(parse_duration("1d"), Ok(Duration::from_secs(86400)));
        assert!(parse_duration("h").is_err());
        assert!(parse_duration("5w").is_err());
    }
}
