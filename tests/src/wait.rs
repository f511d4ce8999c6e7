//! Waiting for a condition with a deadline. Polling a real observable (an RPC, a file, a
//! database row) is how the tests synchronise with processes; they never sleep a fixed
//! time and hope.

use std::future::Future;
use std::time::{Duration, Instant};

/// Polls `probe` until it returns `Some`, or fails after `limit` saying what was
/// awaited and the last thing seen. It polls every 50 ms at first, then less often, up
/// to every 400 ms: many probes start a `ferry` process (a TLS handshake each), and on
/// two cores a test polling that fast slows the processes it waits for.
pub async fn until<T, F, Fut>(what: &str, limit: Duration, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Option<T>, String>>,
{
    let deadline = Instant::now() + limit;
    let mut last = String::from("nothing yet");
    let mut interval = Duration::from_millis(50);
    loop {
        match probe().await {
            Ok(Some(value)) => return value,
            Ok(None) => {}
            Err(seen) => last = seen,
        }
        if Instant::now() >= deadline {
            panic!("timed out after {limit:?} waiting for {what}; last seen: {last}");
        }
        tokio::time::sleep(interval.min(deadline.saturating_duration_since(Instant::now()))).await;
        interval = (interval * 3 / 2).min(Duration::from_millis(400));
    }
}
