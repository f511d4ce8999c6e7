//! Link monitoring: every interval, each instance's MI links as SQL Server's DMVs show
//! them (`sql::link_status`) go out as one `LinkStatus` report per instance that has
//! any. The control plane joins them with what Azure reports (its migration driver).
//! An instance that cannot be read is skipped until the next interval; instances
//! without links send nothing. A ReadLinkStatus command reads one instance at once
//! (a cutover waiting for its gates asks for fresh readings).

use std::sync::Arc;
use std::time::Duration;

use ferry_proto::agent::v1::{report, LinkStatus};
use ferry_proto::clock::now_ms;
use tokio_util::sync::CancellationToken;

use crate::config::{AgentConfig, InstanceConfig};
use crate::every::Every;
use crate::{sql, Agent};

/// Reads and queues every instance's link status every interval, until `cancel`.
pub async fn monitoring_loop(agent: Arc<Agent>, cancel: CancellationToken) {
    let config = &agent.config;
    if config.link_status_interval_secs == 0 || config.instances.is_empty() {
        return;
    }
    let mut every = Every::new(
        Duration::from_secs(config.link_status_interval_secs),
        cancel,
    );
    while every.tick().await {
        for instance in &config.instances {
            let status = match read(instance).await {
                Ok(Some(status)) => status,
                Ok(None) => continue,
                Err(e) => {
                    tracing::debug!(instance = %instance.name, error = %e, "link status skipped");
                    continue;
                }
            };
            if let Err(e) = agent.outbox.append(report::Body::LinkStatus(status)).await {
                tracing::error!(error = %e, "cannot queue the link status report");
            }
        }
    }
}

/// The instance's links now; None when it has none.
pub async fn read(instance: &InstanceConfig) -> Result<Option<LinkStatus>, sql::SqlError> {
    let timeout = Duration::from_secs(instance.query_timeout_secs);
    let mut conn = sql::connect(instance).await?;
    let databases = sql::link_status::read(&mut conn, timeout).await?;
    Ok((!databases.is_empty()).then(|| LinkStatus {
        instance: instance.name.clone(),
        observed_unix_ms: now_ms(),
        databases,
    }))
}

/// A ReadLinkStatus command: the named instance's links now.
pub async fn read_now(config: &AgentConfig, name: &str) -> Result<Option<LinkStatus>, String> {
    read(config.instance(name)?)
        .await
        .map_err(|e| e.to_string())
}
