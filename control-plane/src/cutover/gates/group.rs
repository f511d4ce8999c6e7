//! The group gate: a member of a cutover group fails over only when every other member
//! is ready too — its own gates all open in the driver's last look (at most
//! [`FRESH_MS`] ago) — or has failed over already. So the group's members go over
//! together or none does; a member that failed, or whose cutover was not started,
//! holds the others.

use super::{rfc3339, Facts, Gate, GateName};
use crate::cutover::group::MemberProgress;
use crate::migration::State;

/// How recent a member's "all my gates open" must be to count.
pub const FRESH_MS: i64 = 10_000;

/// What the gate looks at of the migration's group.
#[derive(Debug, Clone, Copy)]
pub struct GroupFacts<'a> {
    pub name: &'a str,
    /// The other members.
    pub others: &'a [MemberProgress],
}

pub(super) fn gate(facts: &Facts, group: &GroupFacts) -> Gate {
    let mut seen = Vec::new();
    let mut waiting = Vec::new();
    for m in group.others {
        let who = format!("{} on {} ({})", m.database, m.host, m.id);
        let ready_at = m
            .gates_open_at_ms
            .filter(|at| facts.now_ms - at <= FRESH_MS && m.state == State::CuttingOver);
        if m.failover_begun {
            seen.push(format!("{who} failed over"));
        } else if let Some(at) = ready_at {
            seen.push(format!("{who} ready (its gates open at {})", rfc3339(at)));
        } else {
            let why = match m.state {
                State::CuttingOver => "its gates are not all open yet".to_string(),
                State::Failed => format!("it failed: `ferry migrate show {}`", m.id),
                state => format!(
                    "it is {}: start its cutover too (`ferry cutover {}`)",
                    state.as_str(),
                    m.id
                ),
            };
            seen.push(format!("{who} not ready"));
            waiting.push(format!("{who}: {why}"));
        }
    }
    let evidence = format!("group {}: {}", group.name, seen.join("; "));
    let closed = (!waiting.is_empty()).then(|| {
        format!(
            "the group cuts over all or none; waiting for {}",
            waiting.join("; ")
        )
    });
    Gate::new(GateName::Group, evidence, closed)
}
