//! NET-MI-DNS-OVERRIDE: the FQDN resolved through the agent's `[network.hosts]`, which
//! SQL Server does not see: the test reached the MI, SQL Server may not find it.

use super::resolved;
use crate::checks::facts::Missing;
use crate::checks::{Check, Hit, Scope, Severity};
use crate::network::resolve::Source;
use crate::network::Observed;

pub const CHECK: Check<Observed> = Check {
    id: "NET-MI-DNS-OVERRIDE",
    scope: Scope::Instance,
    severity: Severity::Warning,
    title: "The managed instance's FQDN resolves through DNS, not only the agent's override",
    remedy: "SQL Server asks the host's resolver, not ferry-agent: add the MI's FQDN to DNS (its private zone) or to the host's hosts file with the same address, then remove the agent's [network.hosts] entry and test again.",
    evaluate,
};

fn evaluate(observed: &Observed) -> Result<Vec<Hit>, Missing> {
    let resolution = resolved(observed)?;
    Ok(match resolution.source {
        Source::Resolver => Vec::new(),
        Source::Override => vec![Hit::instance(format!(
            "{} resolved to {} only through the agent's [network.hosts] entry",
            observed.fqdn,
            resolution.address()
        ))
        .evidence("address", resolution.address())],
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::network::checks::fixture::reachable;

    #[test]
    fn an_override_is_found() {
        assert!(evaluate(&reachable()).unwrap().is_empty());
        let mut observed = reachable();
        if let Ok(r) = &mut observed.target.resolved {
            r.source = Source::Override;
        }
        assert!(evaluate(&observed).unwrap()[0]
            .message
            .contains("only through the agent's [network.hosts] entry"));
    }
}
