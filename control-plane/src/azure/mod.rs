//! Azure as the control plane reaches it: a sign-in through azure_identity (the
//! credential `[azure]` chooses) and ARM's REST API, over one HTTPS client with
//! timeouts. The ARM endpoint and the authority host are configurable, so a sovereign
//! cloud or the lab stands in for Azure's public cloud. No Azure secret leaves the
//! control plane.
//!
//! - `client`: the HTTPS client (rustls with ring; the platform's roots plus an
//!   optional CA file).
//! - `credential`: the configured azure_identity credential.
//! - `resource_id`: managed instance resource ids, parsed and checked.
//! - `arm`: ARM calls and ARM's error bodies.
//! - `link`: the MI link's resources and long-running operations.
//! - `pace`: ARM's Retry-After honoured, per subscription and per operation.

pub mod arm;
mod client;
pub mod credential;
pub mod link;
mod metrics;
mod pace;
pub mod resource_id;

pub use arm::{Arm, ArmError, ManagedInstance};
pub use resource_id::ManagedInstanceId;

use std::time::Duration;

use crate::config::AzureSettings;

/// ARM with the configured credential (none when `[azure] credential` is `none`, so
/// that every Azure call says how to configure it).
pub fn connect(settings: &AzureSettings) -> Result<Arm, String> {
    let ca = match &settings.ca_file {
        Some(path) => Some(
            std::fs::read_to_string(path)
                .map_err(|e| format!("azure.ca_file: cannot read {}: {e}", path.display()))?,
        ),
        None => None,
    };
    let timeout = Duration::from_secs(settings.timeout_secs);
    let http = client::https_client(ca.as_deref(), timeout)?;
    let credential = credential::build(settings, http.clone())?;
    Ok(Arm::new(
        &settings.arm_endpoint,
        &settings.arm_audience,
        credential,
        http,
    ))
}
