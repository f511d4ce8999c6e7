//! The connection test's checks: one file per check, each a stable id, a severity, a
//! title, a remedy and a pure function of what the test [`Observed`]; the page
//! `docs/checks/<ID>.md` explains each. All are instance-scoped.
//!
//! - Toward the managed instance: `dns`, `dns_override`, `link_port`, `redirect_ports`.
//! - On this host: `endpoint` (the mirroring endpoint exists, is usable and listens),
//!   `link_address` (where the MI will reach it).
//! - From the managed instance: `reverse_path` (not verifiable from here; the manual
//!   test to run).

mod dns;
mod dns_override;
mod endpoint;
mod link_address;
mod link_port;
mod redirect_ports;
mod reverse_path;

#[cfg(test)]
pub mod fixture;

use super::resolve::Resolution;
use super::Observed;
use crate::checks::facts::Missing;
use crate::checks::Check;

pub static REGISTRY: &[&Check<Observed>] = &[
    &dns::CHECK,
    &dns_override::CHECK,
    &link_port::CHECK,
    &redirect_ports::CHECK,
    &endpoint::CHECK,
    &link_address::CHECK,
    &reverse_path::CHECK,
];

/// The MI's addresses, or Unknown because the name did not resolve.
fn resolved(observed: &Observed) -> Result<&Resolution, Missing> {
    observed
        .target
        .resolved
        .as_ref()
        .map_err(|why| Missing(format!("{} did not resolve: {why}", observed.fqdn)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checks::{evaluate, Status};

    #[test]
    fn ids_are_unique_and_documented() {
        crate::checks::assert_documented(REGISTRY, "NET-");
    }

    #[test]
    fn a_reachable_instance_passes_all_but_advice() {
        for outcome in evaluate(REGISTRY, &fixture::reachable()) {
            let advice = outcome.check.severity == crate::checks::Severity::Info;
            assert_eq!(
                matches!(outcome.status, Status::Passed),
                !advice,
                "{}: {:?}",
                outcome.check.id,
                outcome.status
            );
        }
    }

    #[test]
    fn an_unresolved_name_is_a_blocker_and_leaves_the_probes_unknown() {
        let mut observed = fixture::reachable();
        observed.target = crate::network::Target {
            resolved: Err("NXDOMAIN".into()),
            link_port: None,
            redirect: Vec::new(),
        };
        let outcomes = evaluate(REGISTRY, &observed);
        let status = |id: &str| {
            outcomes
                .iter()
                .find(|o| o.check.id == id)
                .map(|o| o.status.clone())
                .unwrap()
        };
        assert!(matches!(status("NET-MI-DNS"), Status::Found(_)));
        for id in ["NET-MI-LINK-PORT", "NET-MI-REDIRECT-PORTS"] {
            assert!(
                matches!(status(id), Status::Unknown(ref why) if why.contains("NXDOMAIN")),
                "{id}"
            );
        }
    }
}
