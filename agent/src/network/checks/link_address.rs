//! NET-LINK-ADDRESS (advice): the address the managed instance will reach this
//! instance's mirroring endpoint at, which the link's listener URL carries
//! (`TCP://<address>:<port>`): the instance's `link_address`, or the local address the
//! host routes to the MI from.

use crate::checks::facts::Missing;
use crate::checks::{Check, Hit, Scope, Severity};
use crate::network::Observed;

pub const CHECK: Check<Observed> = Check {
    id: "NET-LINK-ADDRESS",
    scope: Scope::Instance,
    severity: Severity::Info,
    title: "The address the managed instance will reach SQL Server at",
    remedy: "If the MI must reach this host at another address (NAT, several interfaces), set link_address in the instance's section of the agent's configuration.",
    evaluate,
};

fn evaluate(observed: &Observed) -> Result<Vec<Hit>, Missing> {
    let address = observed
        .link_address
        .as_ref()
        .map_err(|why| Missing(why.clone()))?;
    let url = format!("TCP://{}:{}", address.ip, observed.endpoint_port());
    let origin = if address.configured {
        "the instance's link_address"
    } else {
        "the route from this host to the MI"
    };
    Ok(vec![Hit::instance(format!(
        "the link's listener URL will be {url} (from {origin})"
    ))
    .evidence("address", address.ip)
    .evidence("origin", origin)])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::network::checks::fixture::reachable;

    #[test]
    fn the_listener_url_is_shown_with_its_origin() {
        let hits = evaluate(&reachable()).unwrap();
        assert_eq!(
            hits[0].message,
            "the link's listener URL will be TCP://10.0.0.5:5022 (from the route from this host to the MI)"
        );
        let mut observed = reachable();
        observed.link_address = Err("no route".into());
        assert!(evaluate(&observed).is_err());
    }
}
