//! A runtime of the lab's own for the managed instances' link endpoints. A look at a
//! link blocks while it waits for the MI's answer over TCP (`azure::wire`), and the
//! caller's runtime may have one thread only; the endpoints therefore accept on
//! this runtime, which no look ever blocks.

use tokio::runtime::Handle;
use tokio::sync::oneshot;

pub struct Network {
    handle: Handle,
    stop: Option<oneshot::Sender<()>>,
}

impl Network {
    pub fn start() -> std::io::Result<Network> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("lab-network")
            .enable_all()
            .build()?;
        let handle = runtime.handle().clone();
        let (stop, stopped) = oneshot::channel::<()>();
        // The runtime lives on a thread of its own and is dropped there, outside
        // any async context, once the lab is gone.
        std::thread::Builder::new()
            .name("lab-network".into())
            .spawn(move || {
                runtime.block_on(async {
                    let _ = stopped.await;
                });
            })?;
        Ok(Network {
            handle,
            stop: Some(stop),
        })
    }

    pub fn handle(&self) -> &Handle {
        &self.handle
    }
}

impl Drop for Network {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}
