//! Assessment runs: which hosts a run targets, and each target's progress, derived from
//! its command and its agent's liveness (intent in the run, observation in the command).

use crate::fleet::liveness::AgentStatus;
use crate::store::assessments::TargetRecord;
use crate::store::commands::CommandState;

/// A target's progress, as `ferry assess run --wait` shows it. Allowed transitions:
/// `Queued | OfflineWaiting -> Running -> Done | Failed`, any unfinished state
/// `-> TimedOut` at the run's deadline; `Queued <-> OfflineWaiting` as the host comes and
/// goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TargetState {
    Queued,
    OfflineWaiting,
    Running,
    Done,
    Failed,
    TimedOut,
}

impl TargetState {
    pub fn as_str(self) -> &'static str {
        match self {
            TargetState::Queued => "queued",
            TargetState::OfflineWaiting => "offline_waiting",
            TargetState::Running => "running",
            TargetState::Done => "done",
            TargetState::Failed => "failed",
            TargetState::TimedOut => "timed_out",
        }
    }

    pub fn finished(self) -> bool {
        match self {
            TargetState::Done | TargetState::Failed | TargetState::TimedOut => true,
            TargetState::Queued | TargetState::OfflineWaiting | TargetState::Running => false,
        }
    }

    /// Derives the state from the target's command and agent.
    pub fn derive(target: &TargetRecord, deadline_ms: i64, now_ms: i64, silence_ms: i64) -> Self {
        let online = AgentStatus::derive(target.last_seen_ms, target.revoked, now_ms, silence_ms)
            == AgentStatus::Online;
        let state = match target.command_state {
            CommandState::Done if target.reported_at_ms.is_some() => TargetState::Done,
            // The agent said it ran, but no assessment arrived for the run.
            CommandState::Done | CommandState::Failed => TargetState::Failed,
            CommandState::Expired => TargetState::TimedOut,
            CommandState::Acked => TargetState::Running,
            CommandState::Pending | CommandState::Sent if !online => TargetState::OfflineWaiting,
            CommandState::Pending => TargetState::Queued,
            CommandState::Sent => TargetState::Running,
        };
        if !state.finished() && now_ms >= deadline_ms {
            TargetState::TimedOut
        } else {
            state
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fleet::identity::AgentId;

    fn target(state: CommandState, seen: Option<i64>, reported: Option<i64>) -> TargetRecord {
        TargetRecord {
            agent_id: AgentId(uuid::Uuid::new_v4()),
            host: "h".into(),
            last_seen_ms: seen,
            revoked: false,
            command_state: state,
            command_error: String::new(),
            reported_at_ms: reported,
        }
    }

    #[test]
    fn states_follow_the_command_and_the_host() {
        let derive = |t: &TargetRecord, now| TargetState::derive(t, 10_000, now, 1_000);
        assert_eq!(
            derive(&target(CommandState::Pending, Some(900), None), 1_000),
            TargetState::Queued
        );
        assert_eq!(
            derive(&target(CommandState::Pending, Some(0), None), 5_000),
            TargetState::OfflineWaiting
        );
        assert_eq!(
            derive(&target(CommandState::Pending, None, None), 5_000),
            TargetState::OfflineWaiting
        );
        assert_eq!(
            derive(&target(CommandState::Acked, Some(0), None), 5_000),
            TargetState::Running
        );
        assert_eq!(
            derive(&target(CommandState::Done, Some(0), Some(1)), 5_000),
            TargetState::Done
        );
        assert_eq!(
            derive(&target(CommandState::Done, Some(0), None), 5_000),
            TargetState::Failed
        );
        assert_eq!(
            derive(&target(CommandState::Sent, Some(9_500), None), 10_000),
            TargetState::TimedOut
        );
        assert_eq!(
            derive(&target(CommandState::Done, Some(0), Some(1)), 20_000),
            TargetState::Done
        );
    }
}
