//! The agent sessions live on this replica, one per agent (a new session closes the
//! one before it). A session is woken when commands are queued for its agent, and
//! closed at once when its agent is revoked or this replica shuts down. Other replicas learn of queued commands and revocations through the periodic
//! poll in `server`.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::{watch, Notify};

use super::identity::AgentId;

#[derive(Default)]
pub struct SessionRegistry {
    live: Mutex<HashMap<AgentId, Vec<Arc<SessionHandle>>>>,
    shutting_down: AtomicBool,
}

/// Why a session must end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Close {
    /// The agent was revoked, for this reason; it must not reconnect.
    Revoked(String),
    /// This replica is stopping; the agent should reconnect (to another replica).
    ShuttingDown,
    /// A newer session of the same agent opened here: one live session per agent.
    Replaced,
}

pub struct SessionHandle {
    /// Wakes the session to look for deliverable commands.
    pub commands: Notify,
    /// Set when the session must end.
    pub close: watch::Sender<Option<Close>>,
}

/// Removes the session from the registry when dropped.
pub struct SessionGuard {
    registry: Arc<SessionRegistry>,
    agent: AgentId,
    pub handle: Arc<SessionHandle>,
}

impl SessionRegistry {
    pub fn register(self: &Arc<Self>, agent: AgentId) -> SessionGuard {
        let closing = self
            .shutting_down
            .load(Ordering::SeqCst)
            .then_some(Close::ShuttingDown);
        let handle = Arc::new(SessionHandle {
            commands: Notify::new(),
            close: watch::channel(closing).0,
        });
        let mut live = self.lock();
        let sessions = live.entry(agent).or_default();
        for older in sessions.iter() {
            older.close.send_replace(Some(Close::Replaced));
        }
        sessions.push(handle.clone());
        drop(live);
        SessionGuard {
            registry: self.clone(),
            agent,
            handle,
        }
    }

    pub fn wake(&self, agent: AgentId) {
        if let Some(handles) = self.lock().get(&agent) {
            for handle in handles {
                handle.commands.notify_one();
            }
        }
    }

    pub fn close(&self, agent: AgentId, reason: &str) {
        if let Some(handles) = self.lock().get(&agent) {
            for handle in handles {
                handle
                    .close
                    .send_replace(Some(Close::Revoked(reason.to_string())));
            }
        }
    }

    /// Ends every session (and any opened from now on): this replica is stopping.
    pub fn close_all(&self) {
        self.shutting_down.store(true, Ordering::SeqCst);
        for handle in self.lock().values().flatten() {
            handle.close.send_replace(Some(Close::ShuttingDown));
        }
    }

    pub fn connected(&self) -> usize {
        self.lock().values().map(Vec::len).sum()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<AgentId, Vec<Arc<SessionHandle>>>> {
        self.live.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Drop for SessionGuard {
    fn drop(&mut self) {
        let mut live = self.registry.lock();
        if let Some(handles) = live.get_mut(&self.agent) {
            handles.retain(|h| !Arc::ptr_eq(h, &self.handle));
            if handles.is_empty() {
                live.remove(&self.agent);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_session_of_an_agent_closes_the_one_before() {
        let registry = Arc::new(SessionRegistry::default());
        let agent = AgentId(uuid::Uuid::new_v4());
        let other = AgentId(uuid::Uuid::new_v4());
        let first = registry.register(agent);
        let elsewhere = registry.register(other);
        assert_eq!(*first.handle.close.borrow(), None);
        let second = registry.register(agent);
        assert_eq!(*first.handle.close.borrow(), Some(Close::Replaced));
        assert_eq!(*second.handle.close.borrow(), None);
        assert_eq!(
            *elsewhere.handle.close.borrow(),
            None,
            "another agent's stays"
        );
        drop(first);
        assert_eq!(registry.connected(), 2);
    }
}
