//! What the test observes for an instance that the link can use, for tests to change
//! one thing in.

use crate::checks::facts::MirroringEndpoint;
use crate::network::probe::Probe;
use crate::network::resolve::{Resolution, Source};
use crate::network::{LinkAddress, Observed, Target, REDIRECT_SAMPLE};

pub fn reachable() -> Observed {
    Observed {
        fqdn: "mi1.0123456789ab.database.windows.net".into(),
        target: Target {
            resolved: Ok(Resolution {
                addresses: vec!["10.1.0.4".parse().unwrap()],
                source: Source::Resolver,
            }),
            link_port: Some(Probe::Open),
            redirect: REDIRECT_SAMPLE
                .iter()
                .map(|p| (*p, Probe::Refused))
                .collect(),
        },
        endpoints: Ok(vec![MirroringEndpoint {
            name: "Hadr_endpoint".into(),
            state: "STARTED".into(),
            port: 5022,
            connection_auth: "CERTIFICATE".into(),
            encryption_algorithm: "AES".into(),
            encryption_enabled: true,
            ip_address: None,
        }]),
        listening: Some(("10.0.0.5:5022".parse().unwrap(), Probe::Open)),
        link_address: Ok(LinkAddress {
            ip: "10.0.0.5".parse().unwrap(),
            configured: false,
        }),
    }
}
