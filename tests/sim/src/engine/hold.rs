//! Held replies, a fault (`crate::control`): a batch whose text holds one of the
//! given statements runs, and its reply then waits until the hold is released or its
//! client goes, as when the network stalls after the server did the work. A client
//! killed while it waits never learns the outcome, though the work is done: the case
//! a resumable set-up must handle.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use super::session::Cancel;

#[derive(Debug, Default)]
pub struct ReplyHold {
    /// Statement texts, lower case.
    statements: Mutex<Vec<String>>,
    waiting: AtomicUsize,
}

impl ReplyHold {
    /// Holds the replies to batches containing `statement` (case-insensitive).
    pub fn hold(&self, statement: &str) {
        self.lock().push(statement.to_lowercase());
    }

    /// Releases every hold; waiting replies go out.
    pub fn release(&self) {
        self.lock().clear();
    }

    /// Replies waiting now.
    pub fn waiting(&self) -> usize {
        self.waiting.load(Ordering::SeqCst)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<String>> {
        self.statements.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn holds(&self, batch: &str) -> bool {
        let statements = self.lock();
        if statements.is_empty() {
            return false;
        }
        let batch = batch.to_lowercase();
        statements.iter().any(|s| batch.contains(s.as_str()))
    }

    /// After `batch` ran: waits while a hold matches it and its client is there.
    pub(crate) fn after(&self, batch: &str, cancel: &Cancel) {
        if !self.holds(batch) {
            return;
        }
        self.waiting.fetch_add(1, Ordering::SeqCst);
        while self.holds(batch) && !cancel.wait(Duration::from_millis(20)) {}
        self.waiting.fetch_sub(1, Ordering::SeqCst);
    }
}
