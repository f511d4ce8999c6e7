//! MI-LINK-ENDPOINT: an existing database mirroring endpoint must be started, use
//! certificate authentication and AES encryption for the link (mi-link.md §2.1).

use super::facts::{got, Facts, MirroringEndpoint, Missing};
use super::{Check, Hit, Scope, Severity};

pub const CHECK: Check = Check {
    id: "MI-LINK-ENDPOINT",
    scope: Scope::Instance,
    severity: Severity::Warning,
    title: "The database mirroring endpoint is usable by the link",
    remedy: "ALTER ENDPOINT <name> STATE = STARTED AS TCP (LISTENER_PORT = <port>) FOR DATABASE_MIRRORING (ROLE = ALL, AUTHENTICATION = WINDOWS NEGOTIATE CERTIFICATE <cert>, ENCRYPTION = REQUIRED ALGORITHM AES); Ferry's link set-up does this when you allow it to change the endpoint.",
    evaluate,
};

fn evaluate(facts: &Facts) -> Result<Vec<Hit>, Missing> {
    let endpoints = got(&facts.mirroring_endpoints)?;
    Ok(endpoints
        .iter()
        .filter_map(|e| {
            let problems = problems(e);
            (!problems.is_empty()).then(|| hit(e, &problems))
        })
        .collect())
}

/// The finding for `endpoint` and its problems, with its settings as evidence.
pub fn hit(endpoint: &MirroringEndpoint, problems: &[String]) -> Hit {
    Hit::instance(format!(
        "mirroring endpoint {} {}",
        endpoint.name,
        problems.join(", ")
    ))
    .evidence("state", &endpoint.state)
    .evidence("port", endpoint.port)
    .evidence("connection_auth", &endpoint.connection_auth)
    .evidence("encryption_algorithm", &endpoint.encryption_algorithm)
    .objects([format!("endpoint {}", endpoint.name)])
}

/// What keeps `endpoint` from carrying the link ("is STOPPED", ...); empty when nothing.
pub fn problems(endpoint: &MirroringEndpoint) -> Vec<String> {
    let mut problems = Vec::new();
    if endpoint.state != "STARTED" {
        problems.push(format!("is {}", endpoint.state));
    }
    if !endpoint.connection_auth.contains("CERTIFICATE") {
        problems.push(format!("authenticates with {}", endpoint.connection_auth));
    }
    if !endpoint.encryption_enabled || !endpoint.encryption_algorithm.contains("AES") {
        problems.push(format!("encrypts with {}", endpoint.encryption_algorithm));
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::super::fixture::{found, ready};
    use super::*;

    #[test]
    fn a_stopped_or_windows_only_endpoint_is_flagged() {
        let mut facts = ready();
        let good = MirroringEndpoint {
            name: "Hadr_endpoint".into(),
            state: "STARTED".into(),
            port: 5022,
            connection_auth: "CERTIFICATE, WINDOWS NEGOTIATE".into(),
            encryption_algorithm: "AES".into(),
            encryption_enabled: true,
            ip_address: None,
        };
        facts.mirroring_endpoints = Ok(vec![good.clone()]);
        assert!(found(&CHECK, &facts).is_empty());
        facts.mirroring_endpoints = Ok(vec![MirroringEndpoint {
            state: "STOPPED".into(),
            connection_auth: "WINDOWS NEGOTIATE".into(),
            ..good
        }]);
        let hits = (CHECK.evaluate)(&facts).unwrap();
        assert!(hits[0]
            .message
            .contains("is STOPPED, authenticates with WINDOWS NEGOTIATE"));
    }
}
