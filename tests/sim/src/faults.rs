//! Faults a test injects into a running lab (issue 4): the network between a SQL
//! Server instance and a managed instance cut (each direction on its own), slowed
//! or delayed; an instance stopped or hung (it accepts connections and answers none); ARM answering with errors, throttling or not at
//! all; a certificate expired; a managed instance's redo held (it hardens the log it
//! receives but applies none of it, so its readable copy trails). The lab's parts read this state on every look, so a
//! fault takes effect at once and a restored path recovers the way the real link
//! does (it reconnects, and seeding starts again).
//!
//! Tests in the same process call [`Faults`] through [`crate::Lab`]; other processes
//! use the control API (`control`).

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::time::Duration;

/// Which way traffic is cut on a path between SQL Server and a managed instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// SQL Server to the MI (the MI's inbound 5022 and 11000-11999).
    ToManagedInstance,
    /// The MI to SQL Server (the SQL Server endpoint's inbound port).
    FromManagedInstance,
    Both,
}

/// The network between one SQL Server instance and one managed instance.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Path {
    pub to_mi_cut: bool,
    pub from_mi_cut: bool,
    /// Added to the managed instance's configured latency.
    pub added_latency: Duration,
    /// A cap below the managed instance's configured bandwidth, Mbit/s.
    pub bandwidth_mbps: Option<f64>,
}

/// How ARM misbehaves for the next requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArmFault {
    /// 500 InternalServerError.
    ServerError,
    /// 503 ServiceUnavailable, with Retry-After.
    Unavailable { retry_after_secs: u64 },
    /// 429 TooManyRequests (ARM's throttling), with Retry-After.
    Throttled { retry_after_secs: u64 },
    /// No answer for this long, then 504 GatewayTimeout: a client with a shorter
    /// timeout sees its own timeout. The request is not carried out.
    Timeout { after_secs: u64 },
    /// Carried out at once, its answer held back this long: a slow ARM.
    Slow { after_secs: u64 },
}

#[derive(Debug, Default)]
struct State {
    /// By (SQL Server instance, managed instance), lower case.
    paths: HashMap<(String, String), Path>,
    /// Instances (SQL Server or managed) that are stopped, lower case.
    stopped: HashSet<String>,
    /// Instances that accept connections but answer none (hung), lower case.
    hung: HashSet<String>,
    /// The fault for the next `count` ARM requests of the method (empty: any) whose
    /// path contains the text (lower case; empty: every request).
    arm: Option<(ArmFault, u32, String, String)>,
    /// Managed instances (lower case) that apply none of the log they harden.
    redo_held: HashSet<String>,
    /// Certificates (DER) whose validity the lab ended early.
    expired: Vec<Vec<u8>>,
}

#[derive(Debug, Default)]
pub struct Faults {
    state: Mutex<State>,
}

/// Puts `instance` (lower case) in `set` or takes it out.
fn mark(set: &mut HashSet<String>, instance: &str, member: bool) {
    let name = instance.to_ascii_lowercase();
    if member {
        set.insert(name);
    } else {
        set.remove(&name);
    }
}

fn key(instance: &str, mi: &str) -> (String, String) {
    (instance.to_ascii_lowercase(), mi.to_ascii_lowercase())
}

impl Faults {
    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The path between SQL Server `instance` and managed instance `mi` now.
    pub fn path(&self, instance: &str, mi: &str) -> Path {
        self.state()
            .paths
            .get(&key(instance, mi))
            .copied()
            .unwrap_or_default()
    }

    /// Whether any path into managed instance `mi` is cut: the lab's SQL Server
    /// instances all reach it from the same loopback address, so its link port
    /// refuses them all.
    pub fn inbound_cut(&self, mi: &str) -> bool {
        let mi = mi.to_ascii_lowercase();
        self.state()
            .paths
            .iter()
            .any(|((_, m), p)| *m == mi && p.to_mi_cut)
    }

    /// Cuts (`cut`) or restores traffic in `direction`.
    pub fn set_cut(&self, instance: &str, mi: &str, direction: Direction, cut: bool) {
        let mut state = self.state();
        let path = state.paths.entry(key(instance, mi)).or_default();
        if direction != Direction::FromManagedInstance {
            path.to_mi_cut = cut;
        }
        if direction != Direction::ToManagedInstance {
            path.from_mi_cut = cut;
        }
    }

    /// Adds `latency` to the path and caps its bandwidth (None: the managed
    /// instance's own again).
    pub fn set_shape(&self, instance: &str, mi: &str, latency: Duration, mbps: Option<f64>) {
        let mut state = self.state();
        let path = state.paths.entry(key(instance, mi)).or_default();
        path.added_latency = latency;
        path.bandwidth_mbps = mbps;
    }

    pub fn set_stopped(&self, instance: &str, stopped: bool) {
        mark(&mut self.state().stopped, instance, stopped);
    }

    pub fn is_stopped(&self, instance: &str) -> bool {
        self.state()
            .stopped
            .contains(&instance.to_ascii_lowercase())
    }

    pub fn set_hung(&self, instance: &str, hung: bool) {
        mark(&mut self.state().hung, instance, hung);
    }

    pub fn set_redo_held(&self, mi: &str, held: bool) {
        mark(&mut self.state().redo_held, mi, held);
    }

    pub fn is_redo_held(&self, mi: &str) -> bool {
        self.state().redo_held.contains(&mi.to_ascii_lowercase())
    }

    pub fn is_hung(&self, instance: &str) -> bool {
        self.state().hung.contains(&instance.to_ascii_lowercase())
    }

    /// ARM answers the next `count` requests with `fault` (0 clears it).
    pub fn fail_arm(&self, fault: ArmFault, count: u32) {
        self.fail_arm_on(fault, count, "");
    }

    /// As [`Faults::fail_arm`], for requests whose path contains `path` only
    /// (case-insensitive), e.g. one resource type.
    pub fn fail_arm_on(&self, fault: ArmFault, count: u32, path: &str) {
        self.fail_arm_request(fault, count, ("", path));
    }

    /// As [`Faults::fail_arm_on`], for requests of `method` (e.g. PATCH) only.
    pub fn fail_arm_request(&self, fault: ArmFault, count: u32, (method, path): (&str, &str)) {
        self.state().arm = (count > 0).then(|| {
            (
                fault,
                count,
                method.to_ascii_uppercase(),
                path.to_ascii_lowercase(),
            )
        });
    }

    /// ARM requests the fault set is still to answer.
    pub fn arm_faults_left(&self) -> u32 {
        self.state().arm.as_ref().map_or(0, |(_, left, _, _)| *left)
    }

    /// The fault for this ARM request (`method` to `path`), if one is due; counts it.
    pub fn take_arm(&self, method: &str, path: &str) -> Option<ArmFault> {
        let mut state = self.state();
        let (fault, left, of, on) = state.arm.as_mut()?;
        if !path.to_ascii_lowercase().contains(on.as_str())
            || !(of.is_empty() || method.eq_ignore_ascii_case(of))
        {
            return None;
        }
        let fault = *fault;
        *left -= 1;
        if *left == 0 {
            state.arm = None;
        }
        Some(fault)
    }

    pub fn expire(&self, certificate: Vec<u8>) {
        self.state().expired.push(certificate);
    }

    pub fn is_expired(&self, certificate: &[u8]) -> bool {
        self.state().expired.iter().any(|c| c == certificate)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_direction_is_cut_and_restored_on_its_own() {
        let faults = Faults::default();
        faults.set_cut("SQL01", "mi", Direction::ToManagedInstance, true);
        let path = faults.path("sql01", "MI");
        assert!(path.to_mi_cut && !path.from_mi_cut);
        assert!(faults.inbound_cut("mi"));
        faults.set_cut("SQL01", "mi", Direction::Both, true);
        faults.set_cut("SQL01", "mi", Direction::ToManagedInstance, false);
        let path = faults.path("SQL01", "mi");
        assert!(!path.to_mi_cut && path.from_mi_cut);
        assert!(!faults.inbound_cut("mi"));
        assert_eq!(faults.path("SQL02", "mi"), Path::default());
    }

    #[test]
    fn an_arm_fault_lasts_its_count() {
        let faults = Faults::default();
        let throttled = ArmFault::Throttled {
            retry_after_secs: 3,
        };
        faults.fail_arm(throttled, 2);
        assert_eq!(faults.take_arm("GET", "/a"), Some(throttled));
        assert_eq!(faults.arm_faults_left(), 1);
        assert_eq!(faults.take_arm("PUT", "/b"), Some(throttled));
        assert_eq!(faults.take_arm("GET", "/c"), None);
        assert_eq!(faults.arm_faults_left(), 0);
    }

    #[test]
    fn an_arm_fault_on_a_path_leaves_the_others() {
        let faults = Faults::default();
        faults.fail_arm_on(ArmFault::ServerError, 1, "endpointCertificates");
        assert_eq!(faults.take_arm("GET", "/x/serverTrustCertificates/c"), None);
        assert_eq!(
            faults.take_arm("GET", "/x/endpointcertificates/DATABASE_MIRRORING"),
            Some(ArmFault::ServerError)
        );
        assert_eq!(
            faults.take_arm("GET", "/x/endpointCertificates/DATABASE_MIRRORING"),
            None
        );
    }

    #[test]
    fn an_arm_fault_on_a_method_leaves_the_others() {
        let faults = Faults::default();
        faults.fail_arm_request(ArmFault::ServerError, 1, ("patch", "/links/l1"));
        assert_eq!(faults.take_arm("GET", "/links/l1"), None);
        assert_eq!(
            faults.take_arm("PATCH", "/links/l1"),
            Some(ArmFault::ServerError)
        );
        assert_eq!(faults.arm_faults_left(), 0);
    }
}
