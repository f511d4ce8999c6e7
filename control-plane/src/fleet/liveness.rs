//! Liveness: an agent's status is derived, never stored, from its last heartbeat and
//! whether it is revoked, so every replica computes the same answer from the store.
//!
//! Heartbeats are frequent and individually worthless, so they are coalesced: sessions
//! record the latest time in memory and one task writes all of them per tick in a single
//! transaction. A status may therefore lag by one tick, far below the silence threshold.
//! Hellos (an agent's version, host name and OS, once per session) are coalesced the
//! same way: a fleet reconnecting at once must not queue a write per agent in front of
//! its sessions' heartbeats.

use std::collections::HashMap;
use std::sync::Mutex;

use super::identity::AgentId;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AgentStatus {
    /// Enrolled, has never opened a session.
    NeverConnected,
    /// Heard from within the silence threshold.
    Online,
    /// Silent for longer than the threshold.
    Disconnected,
    /// Its certificates are refused.
    Revoked,
}

impl AgentStatus {
    pub const ALL: [AgentStatus; 4] = [
        AgentStatus::NeverConnected,
        AgentStatus::Online,
        AgentStatus::Disconnected,
        AgentStatus::Revoked,
    ];

    pub fn derive(last_seen_ms: Option<i64>, revoked: bool, now_ms: i64, silence_ms: i64) -> Self {
        match (revoked, last_seen_ms) {
            (true, _) => AgentStatus::Revoked,
            (false, None) => AgentStatus::NeverConnected,
            (false, Some(seen)) if now_ms - seen <= silence_ms => AgentStatus::Online,
            (false, Some(_)) => AgentStatus::Disconnected,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            AgentStatus::NeverConnected => "never_connected",
            AgentStatus::Online => "online",
            AgentStatus::Disconnected => "disconnected",
            AgentStatus::Revoked => "revoked",
        }
    }
}

/// What an agent says of itself when its session opens, and when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentHello {
    pub agent_version: String,
    pub hostname: String,
    pub os: String,
    pub at_ms: i64,
}

/// Latest heartbeat time and hello per agent, not yet written to the store.
#[derive(Default)]
pub struct HeartbeatBuffer {
    pending: Mutex<HashMap<AgentId, i64>>,
    hellos: Mutex<HashMap<AgentId, AgentHello>>,
}

impl HeartbeatBuffer {
    pub fn record(&self, agent: AgentId, at_ms: i64) {
        let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        let slot = pending.entry(agent).or_insert(at_ms);
        *slot = (*slot).max(at_ms);
    }

    /// Takes everything buffered so far.
    pub fn drain(&self) -> Vec<(AgentId, i64)> {
        let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        pending.drain().collect()
    }

    /// Puts back a batch whose write failed, keeping any newer times.
    pub fn restore(&self, batch: Vec<(AgentId, i64)>) {
        for (agent, at) in batch {
            self.record(agent, at);
        }
    }

    /// The agent's newest hello; its time counts as a heartbeat (written with them).
    pub fn record_hello(&self, agent: AgentId, hello: AgentHello) {
        self.record(agent, hello.at_ms);
        let mut hellos = self.hellos.lock().unwrap_or_else(|p| p.into_inner());
        match hellos.get(&agent) {
            Some(newer) if newer.at_ms > hello.at_ms => {}
            _ => {
                hellos.insert(agent, hello);
            }
        }
    }

    /// Takes every hello buffered so far.
    pub fn drain_hellos(&self) -> Vec<(AgentId, AgentHello)> {
        let mut hellos = self.hellos.lock().unwrap_or_else(|p| p.into_inner());
        hellos.drain().collect()
    }

    /// Puts back hellos whose write failed, keeping any newer ones.
    pub fn restore_hellos(&self, batch: Vec<(AgentId, AgentHello)>) {
        for (agent, hello) in batch {
            self.record_hello(agent, hello);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_is_derived_from_last_seen_and_revocation() {
        use AgentStatus::*;
        assert_eq!(AgentStatus::derive(None, false, 100, 10), NeverConnected);
        assert_eq!(AgentStatus::derive(Some(95), false, 100, 10), Online);
        assert_eq!(AgentStatus::derive(Some(90), false, 100, 10), Online);
        assert_eq!(AgentStatus::derive(Some(89), false, 100, 10), Disconnected);
        assert_eq!(AgentStatus::derive(Some(99), true, 100, 10), Revoked);
    }

    #[test]
    fn buffer_keeps_the_latest_time() {
        let buffer = HeartbeatBuffer::default();
        let agent = AgentId(uuid::Uuid::new_v4());
        buffer.record(agent, 5);
        buffer.record(agent, 3);
        assert_eq!(buffer.drain(), vec![(agent, 5)]);
        assert!(buffer.drain().is_empty());
        buffer.record(agent, 9);
        buffer.restore(vec![(agent, 7)]);
        assert_eq!(buffer.drain(), vec![(agent, 9)]);
    }

    #[test]
    fn buffer_keeps_the_newest_hello() {
        let buffer = HeartbeatBuffer::default();
        let agent = AgentId(uuid::Uuid::new_v4());
        let hello = |version: &str, at_ms| AgentHello {
            agent_version: version.into(),
            hostname: "h".into(),
            os: "linux".into(),
            at_ms,
        };
        buffer.record_hello(agent, hello("2", 20));
        buffer.restore_hellos(vec![(agent, hello("1", 10))]);
        assert_eq!(buffer.drain_hellos(), vec![(agent, hello("2", 20))]);
        assert_eq!(buffer.drain(), vec![(agent, 20)]);
        assert!(buffer.drain_hellos().is_empty());
    }
}
