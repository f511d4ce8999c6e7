//! A port an instance listens on, which the lab's faults close and open again (a
//! stopped service, or a firewall that rejects) or hang (a service that accepts
//! connections and answers none until it recovers). Closing drops the listener at once
//! (the next connection is refused, not queued) and ends every connection it
//! accepted that its service still serves as a task (the link endpoint hands each
//! connection to a thread, which ends it itself: `azure::wire`); opening binds the
//! same address again before it returns. The serving
//! task never holds the listener across a wait, so the port's owner is the only one
//! who can keep it open.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Poll, Waker};

use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::runtime::Handle;
use tokio::sync::watch;
use tokio::task::JoinSet;

/// What a port does with each connection it accepts.
pub type Service = Arc<dyn Fn(TcpStream, SocketAddr) -> Connection + Send + Sync>;
pub type Connection = Pin<Box<dyn Future<Output = ()> + Send>>;

#[derive(Default)]
struct Slot {
    listener: Option<TcpListener>,
    /// The serving task, waiting for a listener.
    waiting: Option<Waker>,
}

pub struct Port {
    /// The SQL Server or managed instance that owns it.
    pub owner: String,
    /// The MI's link endpoint (closed also while the network into the MI is cut).
    pub link: bool,
    address: SocketAddr,
    slot: Arc<Mutex<Slot>>,
    /// Bumped on every close: connections accepted before it end.
    closes: watch::Sender<u64>,
    /// While true, accepted connections wait unserved (a hung service).
    hung: watch::Sender<bool>,
    /// Connections waiting on the hang now.
    held: Arc<AtomicUsize>,
    /// The runtime that accepts (and registers the listener when it opens again).
    runtime: Handle,
}

impl Port {
    /// Serves `listener` with `service` on `runtime` until the lab's tasks end.
    pub fn serve(
        owner: &str,
        link: bool,
        listener: TcpListener,
        service: Service,
        (tasks, runtime): (&mut JoinSet<()>, &Handle),
    ) -> std::io::Result<Port> {
        let address = listener.local_addr()?;
        let listener = {
            let listener = listener.into_std()?;
            let _entered = runtime.enter();
            TcpListener::from_std(listener)?
        };
        let slot = Arc::new(Mutex::new(Slot {
            listener: Some(listener),
            waiting: None,
        }));
        let (closes, _) = watch::channel(0);
        let (hung, _) = watch::channel(false);
        let held = Arc::new(AtomicUsize::new(0));
        let port = Port {
            owner: owner.to_string(),
            link,
            address,
            slot: slot.clone(),
            closes: closes.clone(),
            hung: hung.clone(),
            held: held.clone(),
            runtime: runtime.clone(),
        };
        let serve = async move {
            loop {
                let (stream, peer) = accept(&slot).await;
                let mut closed = closes.subscribe();
                let mut hang = hung.subscribe();
                let held = held.clone();
                let connection = service(stream, peer);
                tokio::spawn(async move {
                    let served = async {
                        if *hang.borrow_and_update() {
                            // Counted while waiting, also when the port closes meanwhile.
                            let _waiting = Held::count(&held);
                            let _ = hang.wait_for(|hung| !hung).await;
                        }
                        connection.await
                    };
                    tokio::select! {
                        () = served => {}
                        _ = closed.changed() => {}
                    }
                });
            }
        };
        tasks.spawn_on(serve, runtime);
        Ok(port)
    }

    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// Hangs the service (connections are accepted and wait) or lets it answer
    /// again, serving the waiting connections.
    pub fn set_hung(&self, hung: bool) {
        self.hung
            .send_if_modified(|h| std::mem::replace(h, hung) != hung);
    }

    /// Connections accepted while hung that are waiting now.
    pub fn held(&self) -> usize {
        self.held.load(Ordering::SeqCst)
    }

    /// Opens or closes the port; opening binds its address again (SO_REUSEADDR,
    /// as servers do, so that connections still in TIME_WAIT do not stop it).
    pub fn set_open(&self, open: bool) -> std::io::Result<()> {
        let mut slot = lock(&self.slot);
        if open == slot.listener.is_some() {
            return Ok(());
        }
        if open {
            let _entered = self.runtime.enter();
            let socket = match self.address {
                SocketAddr::V4(_) => TcpSocket::new_v4()?,
                SocketAddr::V6(_) => TcpSocket::new_v6()?,
            };
            socket.set_reuseaddr(true)?;
            socket.bind(self.address)?;
            slot.listener = Some(socket.listen(1024)?);
        } else {
            slot.listener = None;
            self.closes.send_modify(|n| *n += 1);
        }
        if let Some(task) = slot.waiting.take() {
            task.wake();
        }
        Ok(())
    }
}

/// One connection waiting on a hang, for as long as it lives.
struct Held(Arc<AtomicUsize>);

impl Held {
    fn count(held: &Arc<AtomicUsize>) -> Held {
        held.fetch_add(1, Ordering::SeqCst);
        Held(held.clone())
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

fn lock(slot: &Mutex<Slot>) -> std::sync::MutexGuard<'_, Slot> {
    slot.lock().unwrap_or_else(|p| p.into_inner())
}

/// The next connection while the port is open; waits while it is closed. Accept
/// errors (a connection reset before it was accepted, too many files) are skipped.
async fn accept(slot: &Mutex<Slot>) -> (TcpStream, SocketAddr) {
    std::future::poll_fn(|cx| {
        let mut slot = lock(slot);
        let Some(listener) = slot.listener.as_ref() else {
            slot.waiting = Some(cx.waker().clone());
            return Poll::Pending;
        };
        match listener.poll_accept(cx) {
            Poll::Ready(Ok(accepted)) => Poll::Ready(accepted),
            Poll::Ready(Err(e)) => {
                tracing::debug!(error = %e, "accept failed");
                cx.waker().wake_by_ref();
                Poll::Pending
            }
            Poll::Pending => {
                // Woken by a connection, or by the port closing (this listener gone).
                slot.waiting = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    })
    .await
}
