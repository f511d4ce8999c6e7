//! The link's conversation over real TCP. SQL Server's mirroring endpoint connects to
//! the managed instance's link endpoint (port 5022) and keeps the connection while
//! the link runs, as AG transports do; everything the link moves goes over it:
//!
//! - `hello` names the SQL Server instance; the MI answers `welcome`, or ends the
//!   connection when it is stopped or the network between the two is cut (either
//!   direction: a session needs both);
//! - `ping` / `pong` tells the sender, before each look at the link, that the
//!   connection still stands;
//! - `ship` carries how far a database's seeding copy or log has got; the MI answers
//!   `hardened` once it holds it. SQL Server counts only what the MI acknowledged, so
//!   a synchronous commit returns after the MI's answer came back over the wire.
//!
//! Frames are a 4-byte big-endian length and a JSON body. What the frames stand for
//! (the pages and log blocks themselves) is not sent: the model (`replication`) says
//! how many bytes moved, and the MI's rows are copied in-process once hardened.
//!
//! The MI side runs a thread per connection, never a task of the caller's runtime:
//! a look blocks on the answer, and may run on a single-threaded runtime.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::faults::Faults;
use crate::port::Service;

/// How long the sender waits to connect, and for each answer.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
const ANSWER_TIMEOUT: Duration = Duration::from_secs(2);
/// No frame the link sends comes near this; a longer one is a broken peer.
const MAX_FRAME: usize = 1 << 20;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "frame", rename_all = "snake_case")]
pub enum Frame {
    Hello { instance: String },
    Welcome,
    Ping,
    Pong,
    Ship(Progress),
    Hardened(Progress),
}

/// How far one database of a link has got: bytes of the seeding copy, or the log
/// position (partner coordinates) once seeded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Progress {
    pub link: String,
    pub database: String,
    pub seeding: bool,
    pub upto: f64,
}

fn write_frame(stream: &mut impl Write, frame: &Frame) -> std::io::Result<()> {
    let body = serde_json::to_vec(frame).map_err(std::io::Error::other)?;
    let mut bytes = (body.len() as u32).to_be_bytes().to_vec();
    bytes.extend(body);
    stream.write_all(&bytes)
}

fn read_frame(stream: &mut impl Read) -> std::io::Result<Frame> {
    let mut length = [0u8; 4];
    stream.read_exact(&mut length)?;
    let length = u32::from_be_bytes(length) as usize;
    if length > MAX_FRAME {
        return Err(std::io::Error::other(format!(
            "a frame of {length} bytes (at most {MAX_FRAME})"
        )));
    }
    let mut body = vec![0u8; length];
    stream.read_exact(&mut body)?;
    serde_json::from_slice(&body).map_err(std::io::Error::other)
}

/// The SQL Server side: one connection per (SQL Server instance, managed instance).
#[derive(Default)]
pub struct Wires {
    open: Mutex<HashMap<(String, SocketAddr), TcpStream>>,
}

impl Wires {
    /// Makes sure `instance` has a working connection to the link endpoint at `to`:
    /// a ping on the one it has, or a new one. A failure says why, as the sender's
    /// socket saw it.
    pub fn check(&self, instance: &str, to: SocketAddr) -> Result<(), String> {
        self.converse(instance, to, &[Frame::Ping], |f| matches!(f, Frame::Pong))
            .map(drop)
    }

    /// Sends each database's progress and waits until the MI has acknowledged all.
    pub fn ship(
        &self,
        instance: &str,
        to: SocketAddr,
        progress: Vec<Progress>,
    ) -> Result<(), String> {
        if progress.is_empty() {
            return Ok(());
        }
        let frames: Vec<Frame> = progress.iter().cloned().map(Frame::Ship).collect();
        let answers = self.converse(instance, to, &frames, |f| matches!(f, Frame::Hardened(_)))?;
        let acknowledged = answers
            .iter()
            .zip(&progress)
            .all(|(a, p)| matches!(a, Frame::Hardened(h) if h == p));
        if acknowledged {
            Ok(())
        } else {
            Err("the managed instance acknowledged other progress than was sent".into())
        }
    }

    /// Ends `instance`'s connection to `to`, if it has one: the session is lost.
    pub fn close(&self, instance: &str, to: SocketAddr) {
        let key = (instance.to_ascii_lowercase(), to);
        self.open
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&key);
    }

    /// Sends `frames` at once, then reads one expected answer for each. Any failure
    /// drops the connection, so the next call connects again.
    fn converse(
        &self,
        instance: &str,
        to: SocketAddr,
        frames: &[Frame],
        expected: impl Fn(&Frame) -> bool,
    ) -> Result<Vec<Frame>, String> {
        let key = (instance.to_ascii_lowercase(), to);
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        let mut stream = match open.remove(&key) {
            Some(stream) => stream,
            None => connect(instance, to)?,
        };
        let talk = |stream: &mut TcpStream| -> std::io::Result<Vec<Frame>> {
            let mut bytes = Vec::new();
            for frame in frames {
                write_frame(&mut bytes, frame)?;
            }
            stream.write_all(&bytes)?;
            (0..frames.len()).map(|_| read_frame(stream)).collect()
        };
        let answers = talk(&mut stream).map_err(|e| describe(to, &e))?;
        if let Some(odd) = answers.iter().find(|a| !expected(a)) {
            return Err(format!("the link endpoint at {to} answered {odd:?}"));
        }
        open.insert(key, stream);
        Ok(answers)
    }
}

fn connect(instance: &str, to: SocketAddr) -> Result<TcpStream, String> {
    let mut stream =
        TcpStream::connect_timeout(&to, CONNECT_TIMEOUT).map_err(|e| describe(to, &e))?;
    let setup = |s: &mut TcpStream| -> std::io::Result<Frame> {
        s.set_nodelay(true)?;
        s.set_read_timeout(Some(ANSWER_TIMEOUT))?;
        s.set_write_timeout(Some(ANSWER_TIMEOUT))?;
        write_frame(
            s,
            &Frame::Hello {
                instance: instance.to_string(),
            },
        )?;
        read_frame(s)
    };
    match setup(&mut stream) {
        Ok(Frame::Welcome) => Ok(stream),
        Ok(other) => Err(format!(
            "the link endpoint at {to} answered {other:?} to hello"
        )),
        Err(e) => Err(describe(to, &e)),
    }
}

fn describe(to: SocketAddr, e: &std::io::Error) -> String {
    use std::io::ErrorKind::*;
    let what = match e.kind() {
        ConnectionRefused => "the connection was refused",
        UnexpectedEof | ConnectionReset | ConnectionAborted | BrokenPipe => {
            "the managed instance ended the connection"
        }
        TimedOut | WouldBlock => "no answer in time",
        _ => "the connection failed",
    };
    format!("{what} ({to}: {e})")
}

/// The managed instance's link endpoint: answers each connection on a thread of
/// its own, until the sender leaves, the MI stops, or the path is cut.
pub fn endpoint(managed_instance: &str, faults: Arc<Faults>) -> Service {
    let mi = managed_instance.to_string();
    Arc::new(move |stream, peer| {
        let (mi, faults) = (mi.clone(), faults.clone());
        let stream = stream.into_std().and_then(|s| {
            s.set_nonblocking(false)?;
            Ok(s)
        });
        match stream {
            Ok(stream) => {
                let spawned = std::thread::Builder::new()
                    .name(format!("link {mi}"))
                    .spawn(move || {
                        if let Err(e) = answer(stream, &mi, &faults) {
                            tracing::debug!(%peer, error = %e, "link connection ended");
                        }
                    });
                if let Err(e) = spawned {
                    tracing::error!(error = %e, "cannot start a link connection's thread");
                }
            }
            Err(e) => tracing::debug!(%peer, error = %e, "link connection lost"),
        }
        Box::pin(async {})
    })
}

fn answer(mut stream: TcpStream, mi: &str, faults: &Faults) -> std::io::Result<()> {
    stream.set_nodelay(true)?;
    let Frame::Hello { instance } = read_frame(&mut stream)? else {
        return Err(std::io::Error::other("the first frame was not hello"));
    };
    let reachable = || {
        let path = faults.path(&instance, mi);
        !(faults.is_stopped(mi) || path.to_mi_cut || path.from_mi_cut)
    };
    let mut reply = Some(Frame::Welcome);
    loop {
        if !reachable() {
            return Ok(());
        }
        if let Some(frame) = reply.take() {
            write_frame(&mut stream, &frame)?;
        }
        reply = Some(match read_frame(&mut stream)? {
            Frame::Ping => Frame::Pong,
            Frame::Ship(progress) => Frame::Hardened(progress),
            other => return Err(std::io::Error::other(format!("unexpected {other:?}"))),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::faults::Direction;
    use crate::network::Network;
    use crate::port::Port;

    fn progress(upto: f64) -> Progress {
        Progress {
            link: "Link1".into(),
            database: "Sales".into(),
            seeding: false,
            upto,
        }
    }

    /// On a single-threaded runtime, as the lab's tests run: a blocking look must
    /// still get its answer.
    #[tokio::test(flavor = "current_thread")]
    async fn the_mi_acknowledges_over_tcp_and_ends_sessions_a_fault_cuts() {
        let network = Network::start().unwrap();
        let faults = Arc::new(Faults::default());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let mut tasks = tokio::task::JoinSet::new();
        let service = endpoint("mi-one", faults.clone());
        let port = Port::serve(
            "mi-one",
            true,
            listener,
            service,
            (&mut tasks, network.handle()),
        )
        .unwrap();
        let to = port.address();
        let wires = Wires::default();

        wires.check("SQL01", to).unwrap();
        wires
            .ship("SQL01", to, vec![progress(1.0), progress(2.0)])
            .unwrap();
        wires.ship("SQL02", to, vec![progress(3.0)]).unwrap();

        // A cut path ends that instance's session only; reconnecting is refused
        // while the endpoint's port is closed.
        faults.set_cut("SQL01", "mi-one", Direction::FromManagedInstance, true);
        let broken = wires.check("SQL01", to).unwrap_err();
        assert!(broken.contains("ended the connection"), "{broken}");
        wires.check("SQL02", to).unwrap();
        faults.set_cut("SQL01", "mi-one", Direction::FromManagedInstance, false);
        wires.check("SQL01", to).unwrap();

        faults.set_stopped("mi-one", true);
        port.set_open(false).unwrap();
        assert!(wires.check("SQL02", to).is_err());
        let refused = wires.check("SQL02", to).unwrap_err();
        assert!(refused.contains("refused"), "{refused}");
        faults.set_stopped("mi-one", false);
        port.set_open(true).unwrap();
        wires.ship("SQL02", to, vec![progress(4.0)]).unwrap();
    }
}
