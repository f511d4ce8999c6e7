//! NET-LINK-ENDPOINT: the instance's database mirroring endpoint exists, is started,
//! authenticates with a certificate, encrypts with AES and accepts connections on its
//! port. A warning, as in the Arc portal: the link set-up creates or fixes the
//! endpoint when allowed to; a port held by another process it cannot fix.

use crate::checks::facts::{got, Missing};
use crate::checks::mirroring_endpoint::{hit, problems};
use crate::checks::{Check, Hit, Scope, Severity};
use crate::network::Observed;

pub const CHECK: Check<Observed> = Check {
    id: "NET-LINK-ENDPOINT",
    scope: Scope::Instance,
    severity: Severity::Warning,
    title: "The database mirroring endpoint exists, is usable by the link, and listens",
    remedy: "Let Ferry's link set-up create or fix the endpoint (CREATE/ALTER ENDPOINT ... STATE = STARTED AS TCP (LISTENER_PORT = 5022) FOR DATABASE_MIRRORING (ROLE = ALL, AUTHENTICATION = CERTIFICATE <cert>, ENCRYPTION = REQUIRED ALGORITHM AES)). If the endpoint is started but does not accept connections, another process holds its port or the host firewall blocks it: free the port or allow it inbound.",
    evaluate,
};

fn evaluate(observed: &Observed) -> Result<Vec<Hit>, Missing> {
    let endpoints = got(&observed.endpoints)?;
    let Some(endpoint) = endpoints.first() else {
        return Ok(vec![Hit::instance(
            "there is no database mirroring endpoint (the link set-up creates one)",
        )]);
    };
    let mut problems = problems(endpoint);
    if let Some((address, probe)) = &observed.listening {
        if !probe.is_open() {
            problems.push(format!(
                "does not accept connections on {address} ({probe})"
            ));
        }
    }
    Ok(if problems.is_empty() {
        Vec::new()
    } else {
        vec![hit(endpoint, &problems)]
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::network::checks::fixture::reachable;
    use crate::network::probe::Probe;

    #[test]
    fn a_missing_or_deaf_endpoint_is_found() {
        assert!(evaluate(&reachable()).unwrap().is_empty());
        let mut observed = reachable();
        observed.listening = Some(("10.0.0.5:5022".parse().unwrap(), Probe::Refused));
        let hits = evaluate(&observed).unwrap();
        assert!(hits[0]
            .message
            .contains("does not accept connections on 10.0.0.5:5022 (refused)"));
        observed.endpoints = Ok(Vec::new());
        assert!(evaluate(&observed).unwrap()[0]
            .message
            .starts_with("there is no database mirroring endpoint"));
        observed.endpoints = Err(Missing("login failed".into()));
        assert!(evaluate(&observed).is_err());
    }
}
