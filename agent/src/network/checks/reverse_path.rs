//! NET-MI-TO-SQL (advice): the managed instance must open connections to this
//! instance's mirroring endpoint (mi-link.md §1.4: the MI's outbound 5022, this
//! host's inbound endpoint port from the MI's subnet). Azure has no API that makes the
//! MI open a connection; only a SQL Agent job on the MI can, which needs a login to the
//! MI that Ferry does not hold. So it is reported as not verified, with the test to run.

use crate::checks::facts::Missing;
use crate::checks::{Check, Hit, Scope, Severity};
use crate::network::Observed;

pub const CHECK: Check<Observed> = Check {
    id: "NET-MI-TO-SQL",
    scope: Scope::Instance,
    severity: Severity::Info,
    title: "The managed instance reaches SQL Server's mirroring endpoint (not verifiable from SQL Server)",
    remedy: "Allow the endpoint port inbound to this host from the MI's whole subnet, and outbound 5022 from the MI's subnet in its network security group. To verify, on the MI create a SQL Agent job with a PowerShell step `tnc <address> -port <port> -InformationLevel Quiet` (SSMS's link network checker does this) and read its output; the endpoint must be started while it runs.",
    evaluate,
};

fn evaluate(observed: &Observed) -> Result<Vec<Hit>, Missing> {
    let port = observed.endpoint_port();
    let target = match &observed.link_address {
        Ok(address) => format!("{}:{port}", address.ip),
        Err(_) => format!("<this host's address>:{port}"),
    };
    Ok(vec![Hit::instance(format!(
        "not verified: run on the MI `tnc {} -port {port}` from a SQL Agent job",
        target
            .rsplit_once(':')
            .map_or(target.as_str(), |(ip, _)| ip)
    ))
    .evidence("endpoint", target)])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::network::checks::fixture::reachable;

    #[test]
    fn the_manual_test_names_the_address_and_port() {
        let hits = evaluate(&reachable()).unwrap();
        assert_eq!(
            hits[0].message,
            "not verified: run on the MI `tnc 10.0.0.5 -port 5022` from a SQL Agent job"
        );
    }
}
