//! Link monitoring: every interval, each instance's MI links as SQL Server's DMVs show
//! them (`sql::link_status`) go out as one `LinkStatus` report per instance that has
//! any. The control plane joins them with what Azure reports (its migration driver).
//! An instance that cannot be read is skipped until the next interval; instances
//! without links send nothing.

use std::sync::Arc;
use std::time::Duration;

use ferry_proto::agent::v1::{report, LinkStatus};
use ferry_proto::clock::now_ms;
use tokio_util::sync::CancellationToken;

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
            let timeout = Duration::from_secs(instance.query_timeout_secs);
            let read = match sql::connect(instance).await {
                Ok(mut conn) => sql::link_status::read(&mut conn, timeout).await,
                Err(e) => Err(e),
            };
            let databases = match read {
                Ok(databases) if databases.is_empty() => continue,
                Ok(databases) => databases,
                Err(e) => {
                    tracing::debug!(instance = %instance.name, error = %e, "link status skipped");
                    continue;
                }
            };
            let status = LinkStatus {
                instance: instance.name.clone(),
                observed_unix_ms: now_ms(),
                databases,
            };
            if let Err(e) = agent.outbox.append(report::Body::LinkStatus(status)).await {
                tracing::error!(error = %e, "cannot queue the link status report");
            }
        }
    }
}
