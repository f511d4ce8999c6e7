//! Talking to the control plane.
//!
//! - [`identity`]: the agent's key, certificate and CA on disk.
//! - [`pinning`]: trusting the control plane's CA by fingerprint during enrollment.
//! - [`enroll`]: token + locally generated key -> certificate.
//! - [`renew`]: renewing the certificate before it expires.
//! - [`outbox`]: the durable queue every report goes through.
//! - [`backoff`]: jittered exponential reconnect delays.
//! - [`session`]: the long-lived mTLS session (heartbeats, reports, commands).

pub mod backoff;
pub mod enroll;
pub mod identity;
pub mod outbox;
pub mod pinning;
pub mod renew;
pub mod session;
