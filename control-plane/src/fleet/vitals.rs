//! What connected agents say of their own health on each heartbeat (outbox backlog,
//! resident memory, CPU seconds, failed SQL queries), kept per session on the replica
//! that holds it and summarised for the gauges: a fleet without an OpenTelemetry
//! collector still sees its heaviest agent and its SQL errors.

use std::collections::HashMap;

use ferry_proto::agent::v1::Heartbeat;

use super::identity::AgentId;

/// One agent's last heartbeat, as kept.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct Last {
    at_ms: i64,
    outbox_reports: u32,
    resident_bytes: u64,
    /// Negative when the agent cannot measure it.
    cpu_seconds: f64,
    /// CPU used between the two last heartbeats, as a fraction of one core.
    cpu_utilization: Option<f64>,
    sql_errors: u64,
}

/// The connected agents' vitals.
#[derive(Debug, Default)]
pub struct Vitals {
    agents: HashMap<AgentId, Last>,
}

/// What the gauges show of them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Summary {
    /// Agents with reports waiting, and how many.
    pub backlogs: Vec<(AgentId, u32)>,
    pub max_resident_bytes: Option<u64>,
    pub max_cpu_utilization: Option<f64>,
}

impl Vitals {
    /// Keeps `agent`'s heartbeat received at `now_ms`; returns the SQL errors it
    /// counted since its previous one (all it counted when it restarted or is new here).
    pub fn heartbeat(&mut self, agent: AgentId, beat: &Heartbeat, now_ms: i64) -> u64 {
        let previous = self.agents.get(&agent).copied();
        let cpu_utilization = previous.and_then(|p| {
            let seconds = (now_ms - p.at_ms) as f64 / 1000.0;
            let used = beat.cpu_seconds - p.cpu_seconds;
            (p.cpu_seconds >= 0.0 && beat.cpu_seconds >= 0.0 && seconds > 0.0 && used >= 0.0)
                .then(|| used / seconds)
        });
        let new_errors = match previous {
            Some(p) if beat.sql_errors >= p.sql_errors => beat.sql_errors - p.sql_errors,
            // New here, or restarted (its count began again): all of its count.
            _ => beat.sql_errors,
        };
        self.agents.insert(
            agent,
            Last {
                at_ms: now_ms,
                outbox_reports: beat.outbox_reports,
                resident_bytes: beat.resident_bytes,
                cpu_seconds: beat.cpu_seconds,
                cpu_utilization,
                sql_errors: beat.sql_errors,
            },
        );
        new_errors
    }

    /// `agent`'s session ended here.
    pub fn ended(&mut self, agent: AgentId) {
        self.agents.remove(&agent);
    }

    pub fn summary(&self) -> Summary {
        let mut summary = Summary::default();
        for (agent, last) in &self.agents {
            if last.outbox_reports > 0 {
                summary.backlogs.push((*agent, last.outbox_reports));
            }
            if last.resident_bytes > 0 {
                summary.max_resident_bytes = Some(
                    summary
                        .max_resident_bytes
                        .unwrap_or(0)
                        .max(last.resident_bytes),
                );
            }
            if let Some(cpu) = last.cpu_utilization {
                summary.max_cpu_utilization =
                    Some(summary.max_cpu_utilization.unwrap_or(0.0).max(cpu));
            }
        }
        summary
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn beat(
        outbox_reports: u32,
        resident_bytes: u64,
        cpu_seconds: f64,
        sql_errors: u64,
    ) -> Heartbeat {
        Heartbeat {
            outbox_reports,
            resident_bytes,
            cpu_seconds,
            sql_errors,
            ..Default::default()
        }
    }

    #[test]
    fn summarises_the_heaviest_agent_and_counts_new_errors() {
        let (a, b) = (AgentId(uuid::Uuid::new_v4()), AgentId(uuid::Uuid::new_v4()));
        let mut vitals = Vitals::default();
        assert_eq!(vitals.heartbeat(a, &beat(0, 30 << 20, 2.0, 3), 0), 3);
        assert_eq!(vitals.heartbeat(b, &beat(7, 50 << 20, 1.0, 0), 0), 0);
        // 1.5 CPU seconds over 5 s: 30 % of a core.
        assert_eq!(vitals.heartbeat(a, &beat(0, 40 << 20, 3.5, 5), 5_000), 2);
        let summary = vitals.summary();
        assert_eq!(summary.backlogs, vec![(b, 7)]);
        assert_eq!(summary.max_resident_bytes, Some(50 << 20));
        assert_eq!(summary.max_cpu_utilization, Some(0.3));
        // Restarted: its count began again, and its CPU time too.
        assert_eq!(vitals.heartbeat(a, &beat(0, 10 << 20, 0.1, 1), 10_000), 1);
        assert_eq!(vitals.summary().max_cpu_utilization, None);
        vitals.ended(b);
        assert_eq!(vitals.summary().max_resident_bytes, Some(10 << 20));
        vitals.ended(a);
        assert_eq!(vitals.summary(), Summary::default());
    }

    #[test]
    fn unknown_measures_are_left_out() {
        let a = AgentId(uuid::Uuid::new_v4());
        let mut vitals = Vitals::default();
        vitals.heartbeat(a, &beat(0, 0, -1.0, 0), 0);
        vitals.heartbeat(a, &beat(0, 0, -1.0, 0), 5_000);
        assert_eq!(vitals.summary(), Summary::default());
    }
}
