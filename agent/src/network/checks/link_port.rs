//! NET-MI-LINK-PORT: a TCP connection from this host to the managed instance's port
//! 5022 opens (mi-link.md §1.4: the MI's NSG allows 5022 from SQL Server, and every
//! firewall on the way lets it out).

use super::resolved;
use crate::checks::facts::Missing;
use crate::checks::{Check, Hit, Scope, Severity};
use crate::network::{Observed, LINK_PORT};

pub const CHECK: Check<Observed> = Check {
    id: "NET-MI-LINK-PORT",
    scope: Scope::Instance,
    severity: Severity::Blocker,
    title: "This host opens TCP connections to the managed instance's port 5022",
    remedy: "Allow TCP 5022 outbound from this host to the MI's subnet in the host firewall and every firewall on the way, and inbound to the MI's subnet from this host's address in the MI's network security group. Firewalls that inspect packets need an explicit rule for SQL Server's link (UCS) traffic.",
    evaluate,
};

fn evaluate(observed: &Observed) -> Result<Vec<Hit>, Missing> {
    let address = resolved(observed)?.address();
    let probe = observed
        .target
        .link_port
        .as_ref()
        .ok_or_else(|| Missing("port 5022 was not tried".into()))?;
    Ok(if probe.is_open() {
        Vec::new()
    } else {
        vec![Hit::instance(format!(
            "{}:{LINK_PORT} ({address}): {probe}{}",
            observed.fqdn,
            if probe.answered() {
                " (the MI answered, but nothing accepted: a firewall rejects, or the address is not the MI's)"
            } else {
                " (something on the way drops the packets)"
            }
        ))
        .evidence("address", format!("{address}:{LINK_PORT}"))
        .evidence("result", probe)]
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::network::checks::fixture::reachable;
    use crate::network::probe::Probe;

    #[test]
    fn only_an_open_port_passes() {
        assert!(evaluate(&reachable()).unwrap().is_empty());
        let mut observed = reachable();
        observed.target.link_port = Some(Probe::Silent(std::time::Duration::from_secs(3)));
        let hits = evaluate(&observed).unwrap();
        assert!(
            hits[0].message.contains("no answer within 3s"),
            "{}",
            hits[0].message
        );
        observed.target.link_port = Some(Probe::Refused);
        assert!(evaluate(&observed).unwrap()[0].message.contains("refused"));
    }
}
