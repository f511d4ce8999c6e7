//! One TCP connection attempt, classified the way a network engineer reads it: a
//! refusal came back from the far host (the path carries packets; nothing listens
//! there, or a firewall rejects), silence means something dropped the packets.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use tokio::net::TcpStream;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Probe {
    /// The connection opened (and was closed again at once).
    Open,
    Refused,
    /// No answer within the timeout.
    Silent(Duration),
    Failed(String),
}

impl Probe {
    pub fn is_open(&self) -> bool {
        matches!(self, Probe::Open)
    }

    /// Whether the far host answered at all (opened or refused).
    pub fn answered(&self) -> bool {
        matches!(self, Probe::Open | Probe::Refused)
    }
}

impl fmt::Display for Probe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Probe::Open => f.write_str("open"),
            Probe::Refused => f.write_str("refused"),
            Probe::Silent(after) => write!(f, "no answer within {}s", after.as_secs()),
            Probe::Failed(why) => write!(f, "failed: {why}"),
        }
    }
}

pub async fn tcp(ip: IpAddr, port: u16, timeout: Duration) -> Probe {
    match tokio::time::timeout(timeout, TcpStream::connect(SocketAddr::new(ip, port))).await {
        Err(_) => Probe::Silent(timeout),
        Ok(Ok(_)) => Probe::Open,
        Ok(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionRefused => Probe::Refused,
        Ok(Err(e)) => Probe::Failed(e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn open_and_refused_ports_are_told_apart() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let ip: IpAddr = "127.0.0.1".parse().unwrap();
        let timeout = Duration::from_secs(2);
        assert_eq!(tcp(ip, port, timeout).await, Probe::Open);
        drop(listener);
        let closed = tcp(ip, port, timeout).await;
        assert_eq!(closed, Probe::Refused);
        assert!(closed.answered() && !closed.is_open());
    }
}
