//! NET-MI-REDIRECT-PORTS: packets to the managed instance's 11000-11999 range get an
//! answer (mi-link.md §1.4: SQL Server needs them outbound besides 5022). Nothing need
//! listen on a sampled port: a refusal came back from the MI's side, so the path
//! carries the range; silence means a firewall drops it.

use super::resolved;
use crate::checks::facts::Missing;
use crate::checks::{Check, Hit, Scope, Severity};
use crate::network::Observed;

pub const CHECK: Check<Observed> = Check {
    id: "NET-MI-REDIRECT-PORTS",
    scope: Scope::Instance,
    severity: Severity::Blocker,
    title: "The managed instance's ports 11000-11999 are not blocked from this host",
    remedy: "Allow TCP 11000-11999 outbound from this host to the MI's subnet in the host firewall and every firewall on the way, and inbound from this host's address in the MI's network security group.",
    evaluate,
};

fn evaluate(observed: &Observed) -> Result<Vec<Hit>, Missing> {
    let address = resolved(observed)?.address();
    if observed.target.redirect.is_empty() {
        return Err(Missing("the redirect range was not tried".into()));
    }
    let dropped: Vec<String> = observed
        .target
        .redirect
        .iter()
        .filter(|(_, probe)| !probe.answered())
        .map(|(port, probe)| format!("{port}: {probe}"))
        .collect();
    Ok(if dropped.is_empty() {
        Vec::new()
    } else {
        vec![Hit::instance(format!(
            "{} of {} sampled ports of {address} in 11000-11999 got no answer",
            dropped.len(),
            observed.target.redirect.len()
        ))
        .evidence("address", address)
        .evidence("ports", dropped.join("; "))]
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::network::checks::fixture::reachable;
    use crate::network::probe::Probe;

    #[test]
    fn refusals_pass_and_silence_is_found() {
        assert!(evaluate(&reachable()).unwrap().is_empty());
        let mut observed = reachable();
        observed.target.redirect[2].1 = Probe::Silent(std::time::Duration::from_secs(3));
        let hits = evaluate(&observed).unwrap();
        assert!(
            hits[0].message.starts_with("1 of 5 sampled ports"),
            "{}",
            hits[0].message
        );
        assert_eq!(hits[0].evidence[1].1, "11500: no answer within 3s");
    }
}
