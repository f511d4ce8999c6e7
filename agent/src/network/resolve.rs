//! The managed instance's FQDN to addresses: an entry of the agent's `[network.hosts]`
//! first (the result says so), otherwise the host's own resolver, within the timeout.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// The host's resolver (DNS, the hosts file), as SQL Server asks it.
    Resolver,
    /// The agent's `[network.hosts]` entry; SQL Server does not see it.
    Override,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolution {
    /// In the resolver's order, without repeats; never empty.
    pub addresses: Vec<IpAddr>,
    pub source: Source,
}

impl Resolution {
    /// The address the probes connect to: the first IPv4 one (the MI's VNet-local
    /// endpoint), else the first.
    pub fn address(&self) -> IpAddr {
        self.addresses
            .iter()
            .copied()
            .find(IpAddr::is_ipv4)
            .unwrap_or(self.addresses[0])
    }
}

pub async fn resolve(
    name: &str,
    hosts: &BTreeMap<String, IpAddr>,
    timeout: Duration,
) -> Result<Resolution, String> {
    if let Some((_, ip)) = hosts.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)) {
        return Ok(Resolution {
            addresses: vec![*ip],
            source: Source::Override,
        });
    }
    let found = tokio::time::timeout(timeout, tokio::net::lookup_host((name, 0)))
        .await
        .map_err(|_| {
            format!(
                "the host's resolver gave no answer within {}s",
                timeout.as_secs()
            )
        })?
        .map_err(|e| format!("the host's resolver: {e}"))?;
    let mut addresses: Vec<IpAddr> = Vec::new();
    for address in found {
        if !addresses.contains(&address.ip()) {
            addresses.push(address.ip());
        }
    }
    if addresses.is_empty() {
        return Err("the host's resolver returned no address".into());
    }
    Ok(Resolution {
        addresses,
        source: Source::Resolver,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn an_override_wins_without_asking_the_resolver() {
        let hosts = BTreeMap::from([(
            "MI1.zone.database.windows.net".to_string(),
            "10.1.0.4".parse().unwrap(),
        )]);
        let found = resolve(
            "mi1.zone.database.windows.net",
            &hosts,
            Duration::from_secs(1),
        )
        .await
        .unwrap();
        assert_eq!(found.source, Source::Override);
        assert_eq!(found.address().to_string(), "10.1.0.4");
        let local = resolve("localhost", &BTreeMap::new(), Duration::from_secs(3))
            .await
            .unwrap();
        assert_eq!(local.source, Source::Resolver);
        assert!(local.address().is_loopback());
    }

    #[test]
    fn ipv4_is_preferred() {
        let both = Resolution {
            addresses: vec!["::1".parse().unwrap(), "10.0.0.1".parse().unwrap()],
            source: Source::Resolver,
        };
        assert_eq!(both.address().to_string(), "10.0.0.1");
    }
}
