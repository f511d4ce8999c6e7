//! NET-MI-DNS: this host resolves the managed instance's FQDN (mi-link.md §1.4). SQL
//! Server connects to the MI by that name (the link's listener URL names it).

use crate::checks::facts::Missing;
use crate::checks::{Check, Hit, Scope, Severity};
use crate::network::Observed;

pub const CHECK: Check<Observed> = Check {
    id: "NET-MI-DNS",
    scope: Scope::Instance,
    severity: Severity::Blocker,
    title: "The managed instance's FQDN resolves on this host",
    remedy: "Make the host's resolver answer the MI's FQDN with the MI's VNet-local address: link the MI's private DNS zone to the network this host uses (conditional forwarder to Azure DNS), or add a hosts file entry. The link cannot use the MI's public endpoint or a private endpoint.",
    evaluate,
};

fn evaluate(observed: &Observed) -> Result<Vec<Hit>, Missing> {
    Ok(match &observed.target.resolved {
        Ok(_) => Vec::new(),
        Err(why) => vec![
            Hit::instance(format!("{} does not resolve: {why}", observed.fqdn))
                .evidence("fqdn", &observed.fqdn),
        ],
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::network::checks::fixture::reachable;

    #[test]
    fn an_unresolved_name_is_found_with_the_cause() {
        assert!(evaluate(&reachable()).unwrap().is_empty());
        let mut observed = reachable();
        observed.target.resolved = Err("no such host".into());
        let hits = evaluate(&observed).unwrap();
        assert!(hits[0].message.ends_with("does not resolve: no such host"));
    }
}
