//! The gates of when and by whose leave: one failover per MI at a time, inside the
//! maintenance window, approved, and the wave running.

use super::{rfc3339, Facts, Gate, GateName, Rules};
use crate::cutover::wave::OnFailure;
use crate::cutover::window::{Now, Window};

pub(super) fn wave(facts: &Facts) -> Gate {
    let Some(w) = facts.wave else {
        return Gate::new(GateName::Wave, "in no wave".into(), None);
    };
    let name = &w.wave.wave.name;
    let evidence = format!(
        "wave {name}: {}, on failure {:?}",
        if w.wave.paused { "paused" } else { "running" },
        w.wave.wave.on_failure
    );
    if w.wave.paused {
        let why = format!("wave {name} is paused: `ferry wave resume {name}`");
        return Gate::new(GateName::Wave, evidence, Some(why)).queued();
    }
    match w.failed_member {
        Some(other) if w.wave.wave.on_failure == OnFailure::Halt => {
            let why = format!("wave {name} halts on a failure, and migration {other} failed: retry or cancel it, or set on_failure = \"continue\"");
            Gate::new(GateName::Wave, evidence, Some(why))
        }
        _ => Gate::new(GateName::Wave, evidence, None),
    }
}

/// The cutover's own window, else its wave's.
pub(super) fn window(facts: &Facts) -> Gate {
    let own = facts.intent.window.map(|(s, e)| Window::OneOff(s, e));
    let of_wave = facts.wave.and_then(|w| w.wave.wave.window.clone());
    let Some(window) = own.or(of_wave) else {
        return Gate::new(
            GateName::Window,
            "no maintenance window: any time".into(),
            None,
        );
    };
    let evidence = format!("window {}", window.describe());
    match window.now(facts.now_ms) {
        Ok(Now::Open(closes)) => Gate::new(
            GateName::Window,
            format!("{evidence}: open until {}", rfc3339(closes)),
            None,
        ),
        Ok(Now::Opens(at)) => {
            let why = format!("the maintenance window opens at {}", rfc3339(at));
            Gate::new(GateName::Window, evidence, Some(why)).queued()
        }
        Ok(Now::Over(end)) => {
            let why = format!("the maintenance window closed at {}: cancel this cutover (`ferry cutover cancel`) and start it again with another window", rfc3339(end));
            Gate::new(GateName::Window, evidence, Some(why))
        }
        Err(e) => Gate::new(
            GateName::Window,
            evidence,
            Some(format!(
                "the window cannot be read: {e}; apply the plan again"
            )),
        ),
    }
}

/// A forced failover needs at least one approver besides its requester, and only
/// its own approvals count (a wave's were given for planned cutovers).
pub(super) fn approval(facts: &Facts, rules: &Rules) -> Gate {
    let forced = facts.intent.allow_data_loss;
    let wave = facts.wave.filter(|_| !forced);
    let of_wave = wave.map_or(0, |w| w.wave.wave.approvals);
    let needed = rules.approvals.max(of_wave).max(u32::from(forced));
    if needed == 0 {
        let evidence = "no approval required ([cutover] approvals = 0)".to_string();
        return Gate::new(GateName::Approval, evidence, None);
    }
    let mut approvers: Vec<&String> = facts.approvers.iter().collect();
    for a in wave.iter().flat_map(|w| &w.wave.approvers) {
        if !approvers.contains(&a) {
            approvers.push(a);
        }
    }
    let requester = &facts.intent.requested_by;
    let others = approvers.iter().filter(|a| **a != requester).count();
    let names: Vec<&str> = approvers.iter().map(|a| a.as_str()).collect();
    let evidence = format!(
        "approved by {} of {needed} needed (requested by {requester}{})",
        if names.is_empty() {
            "nobody".to_string()
        } else {
            names.join(", ")
        },
        if forced {
            "; a forced failover needs an approver besides its requester"
        } else {
            ""
        },
    );
    let closed = if (approvers.len() as u32) < needed {
        Some(format!(
            "{} more approval(s) needed: an operator with the approver role runs `ferry cutover approve` (or `ferry wave approve`)",
            needed - approvers.len() as u32
        ))
    } else if others == 0 {
        Some(format!("{requester} asked for the cutover and cannot be its only approver: another approver runs `ferry cutover approve`"))
    } else {
        None
    };
    Gate::new(GateName::Approval, evidence, closed).queued()
}

/// The gate that queues failovers to one MI.
pub(super) fn turn(facts: &Facts, rules: &Rules) -> Gate {
    let flight = facts.in_flight;
    let evidence = format!(
        "{}; {} other failover(s) in flight, {} from this host",
        match facts.other_failover {
            Some(other) => format!("migration {other}'s failover to this MI is in flight"),
            None => "no other failover to this MI in flight".into(),
        },
        flight.all.len(),
        flight.same_host.len()
    );
    // A limit (0: none) reached by the failovers in `list`, said with its setting.
    let full = |(setting, limit): (&str, u32), whose: &str, list: &[String]| {
        (limit > 0 && list.len() >= limit as usize).then(|| {
            format!(
                "{} failover(s){whose} in flight ({}), [cutover] {setting} = {limit}: waiting for its turn",
                list.len(),
                list.join(", ")
            )
        })
    };
    let closed = facts
        .other_failover
        .map(|other| {
            format!(
                "migration {other} is failing over to this MI, one at a time: waiting for its turn"
            )
        })
        .or_else(|| {
            let per_host = ("max_failovers_per_host", rules.max_failovers_per_host);
            full(per_host, " from this host", flight.same_host)
        })
        .or_else(|| full(("max_failovers", rules.max_failovers), "", flight.all));
    Gate::new(GateName::Turn, evidence, closed).queued()
}
