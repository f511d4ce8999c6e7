//! Inventory of every configured instance. An instance that cannot be reached or
//! queried is reported as unreachable with the reason, never left out.

use std::time::Duration;

use ferry_proto::agent::v1::{InstanceInventory, Inventory};

use crate::config::AgentConfig;
use crate::sql;

pub async fn collect(config: &AgentConfig) -> Inventory {
    let mut instances = Vec::with_capacity(config.instances.len());
    for instance in &config.instances {
        let mut found = InstanceInventory {
            name: instance.name.clone(),
            host: instance.host.clone(),
            port: u32::from(instance.port),
            ..Default::default()
        };
        let timeout = Duration::from_secs(instance.query_timeout_secs);
        let outcome = async {
            let mut conn = sql::connect(instance).await?;
            sql::inventory::collect(&mut conn, &mut found, timeout).await
        }
        .await;
        match outcome {
            Ok(()) => found.reachable = true,
            Err(e) => {
                tracing::warn!(instance = %instance.name, error = %e, "inventory collection failed");
                found.error = e.to_string();
            }
        }
        instances.push(found);
    }
    Inventory { instances }
}
