//! The fleet: who the agents are and whether they are alive.
//!
//! - [`ca`]: the certificate authority that issues agent, operator and server certificates.
//! - [`identity`]: reading a peer's identity (agent id, operator role) from its certificate.
//! - [`expired_renewal`]: checks on an expired agent certificate and the proof of its key.
//! - [`enrollment`]: minting enrollment tokens and validating what an enrolling agent asks for.
//! - [`labels`]: operator-set host labels and label selectors.
//! - [`liveness`]: online / disconnected / revoked, and the coalesced heartbeat writer.
//! - [`metrics`]: the fleet's OpenTelemetry metrics.
//! - [`rate_limit`]: how often one source may try to enroll.
//! - [`sessions`]: this replica's live agent sessions (command wake-ups, revocation).
//! - [`vitals`]: what connected agents' heartbeats say of their health, summarised.

pub mod ca;
pub mod enrollment;
pub mod expired_renewal;
pub mod identity;
pub mod labels;
pub mod liveness;
pub mod metrics;
pub mod rate_limit;
pub mod sessions;
pub mod vitals;
