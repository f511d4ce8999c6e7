//! Which local address this host sends from toward an address: the kernel's own route
//! choice, read by connecting a UDP socket (which sends nothing).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};

pub fn source_address(to: IpAddr) -> std::io::Result<IpAddr> {
    let any: IpAddr = match to {
        IpAddr::V4(_) => Ipv4Addr::UNSPECIFIED.into(),
        IpAddr::V6(_) => Ipv6Addr::UNSPECIFIED.into(),
    };
    let socket = UdpSocket::bind(SocketAddr::new(any, 0))?;
    socket.connect(SocketAddr::new(to, super::LINK_PORT))?;
    Ok(socket.local_addr()?.ip())
}

#[cfg(test)]
mod tests {
    #[test]
    fn loopback_is_reached_from_loopback() {
        let from = super::source_address("127.0.0.1".parse().unwrap()).unwrap();
        assert!(from.is_loopback(), "{from}");
    }
}
