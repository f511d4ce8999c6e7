//! Migrations: one database of one SQL Server instance linked to a target managed
//! instance over the MI link, set up as journaled steps and then watched.
//!
//! - [`journal`]: the steps journaled per phase (set-up, teardown, cutover planned and
//!   forced, rollback), in order, each on the agent (T-SQL, `RunLinkSteps`), on Azure
//!   (ARM) or in the control plane.
//! - [`preflight`]: what gates a start: the assessment's and the connection test's
//!   blockers; warnings only when accepted.
//! - [`observe`]: the link as Azure reports it, turned into the migration's state.
//! - [`sql_side`]: the link as SQL Server's DMVs show it (the agents' reports).
//! - [`planner`]: the driver's decisions, pure: a snapshot of a migration to the
//!   next action.
//! - [`admission`]: how many links may seed at once, and with how much bandwidth.
//! - [`step_metrics`]: how long the steps take, by step and outcome.

pub mod admission;
pub mod journal;
pub mod observe;
pub mod planner;
pub mod preflight;
pub mod sql_side;
pub mod step_metrics;

use serde::{Deserialize, Serialize};

/// Who the driver's commands and audit events are from.
pub const ACTOR: &str = "ferry-control (migration driver)";

/// What the operator allowed when starting the migration.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Options {
    /// Set the database to FULL recovery when it is not.
    #[serde(default)]
    pub allow_recovery_change: bool,
    /// Alter an existing mirroring endpoint that cannot carry the link.
    #[serde(default)]
    pub allow_endpoint_change: bool,
    /// The warnings shown at the start and accepted (check ids).
    #[serde(default)]
    pub accepted_warnings: Vec<String>,
}

/// A migration's state, as `ferry migrate ls` shows it.
///
/// Allowed transitions ([`State::may_become`], enforced by the store's one state
/// setter and by each operator change's `WHERE state IN (...)`, written from
/// [`sql_list`]):
/// - `Preparing -> Seeding` (set-up done) `| Failed | Cancelling`;
/// - linked (`Seeding | CatchingUp | Synchronizing | ReadyForCutover | Stalled`) -> any
///   linked state as the link is read, `| Unknown | Failed | CuttingOver | Cancelling`;
/// - `Unknown -> ` any linked state `| Unknown | Failed | Cancelling` (no cutover
///   starts from it);
/// - `CuttingOver -> Completed | Synchronizing` (rolled back) `| Failed | Cancelling`
///   (before its failover began);
/// - `Failed -> Preparing | CuttingOver | Cancelling` (retried, in the phase its
///   journal ends with; a forced cutover; a cancel);
/// - `Cancelling -> Cancelled | Failed`;
/// - `Cancelled`, `Completed`: final.
///
/// Every state may stay as it is (a new reading, a new detail) except the final ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// The set-up steps are running.
    Preparing,
    /// The link is up; the MI is copying the database.
    Seeding,
    /// Seeded; the MI is applying the log it missed.
    CatchingUp,
    /// Replicating, but not healthy enough to cut over.
    Synchronizing,
    ReadyForCutover,
    /// No progress for longer than the configured time.
    Stalled,
    /// A step or the link failed; the detail says why and what to do.
    Failed,
    /// `ferry migrate cancel`: the teardown steps are running.
    Cancelling,
    Cancelled,
    /// `ferry cutover`: the cutover's steps are running (or, when it was cancelled
    /// before its failover, the rollback's).
    CuttingOver,
    /// Linked, but Azure reports a replica state Ferry does not know: shown as read,
    /// never taken for another; watched until it is one Ferry knows.
    Unknown,
    /// Cut over: the database lives on the MI; the link is removed.
    Completed,
}

impl State {
    pub const ALL: [State; 12] = [
        State::Preparing,
        State::Seeding,
        State::CatchingUp,
        State::Synchronizing,
        State::ReadyForCutover,
        State::Stalled,
        State::Failed,
        State::Cancelling,
        State::Cancelled,
        State::CuttingOver,
        State::Unknown,
        State::Completed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            State::Preparing => "preparing",
            State::Seeding => "seeding",
            State::CatchingUp => "catching_up",
            State::Synchronizing => "synchronizing",
            State::ReadyForCutover => "ready_for_cutover",
            State::Stalled => "stalled",
            State::Failed => "failed",
            State::Cancelling => "cancelling",
            State::Cancelled => "cancelled",
            State::CuttingOver => "cutting_over",
            State::Unknown => "unknown",
            State::Completed => "completed",
        }
    }

    pub fn parse(text: &str) -> Option<State> {
        State::ALL.into_iter().find(|s| s.as_str() == text)
    }

    /// The states in which the link exists and is watched (set up, not ended).
    pub const LINKED: [State; 5] = [
        State::Seeding,
        State::CatchingUp,
        State::Synchronizing,
        State::ReadyForCutover,
        State::Stalled,
    ];

    /// Final: nothing moves the migration again.
    pub const FINAL: [State; 2] = [State::Cancelled, State::Completed];

    /// Whether the link exists in a state Ferry knows (set up, not ended).
    pub fn is_linked(self) -> bool {
        State::LINKED.contains(&self)
    }

    /// Whether a migration in this state may move to `to` (see the enum's table).
    pub fn may_become(self, to: State) -> bool {
        let linked = to.is_linked();
        match self {
            State::Preparing => {
                matches!(
                    to,
                    State::Preparing | State::Seeding | State::Failed | State::Cancelling
                )
            }
            State::Seeding
            | State::CatchingUp
            | State::Synchronizing
            | State::ReadyForCutover
            | State::Stalled => {
                linked
                    || matches!(
                        to,
                        State::Unknown | State::Failed | State::CuttingOver | State::Cancelling
                    )
            }
            State::Unknown => {
                linked || matches!(to, State::Unknown | State::Failed | State::Cancelling)
            }
            State::CuttingOver => matches!(
                to,
                State::CuttingOver
                    | State::Completed
                    | State::Synchronizing
                    | State::Failed
                    | State::Cancelling
            ),
            State::Failed => matches!(
                to,
                State::Failed | State::Preparing | State::CuttingOver | State::Cancelling
            ),
            State::Cancelling => {
                matches!(to, State::Cancelling | State::Cancelled | State::Failed)
            }
            State::Cancelled | State::Completed => false,
        }
    }
}

/// `states` as a SQL list for `state IN (...)`: the store's conditions are written
/// from the enum, never spelled out again.
pub fn sql_list(states: &[State]) -> String {
    states
        .iter()
        .map(|s| format!("'{}'", s.as_str()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A journaled step's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepState {
    Pending,
    Running,
    Done,
    /// Needs the operator; the detail says what to do.
    Blocked,
    Failed,
    /// Not run: its cutover was cancelled, or the migration cancelled, first.
    Skipped,
}

impl StepState {
    pub fn as_str(self) -> &'static str {
        match self {
            StepState::Pending => "pending",
            StepState::Running => "running",
            StepState::Done => "done",
            StepState::Blocked => "blocked",
            StepState::Failed => "failed",
            StepState::Skipped => "skipped",
        }
    }

    pub fn parse(text: &str) -> Option<StepState> {
        [
            StepState::Pending,
            StepState::Running,
            StepState::Done,
            StepState::Blocked,
            StepState::Failed,
            StepState::Skipped,
        ]
        .into_iter()
        .find(|s| s.as_str() == text)
    }
}

/// Which part of a migration's journal a step belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Setup,
    Cutover,
    /// A cutover cancelled before its failover, undone.
    Rollback,
    Teardown,
}

impl Phase {
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Setup => "setup",
            Phase::Cutover => "cutover",
            Phase::Rollback => "rollback",
            Phase::Teardown => "teardown",
        }
    }

    pub fn parse(text: &str) -> Option<Phase> {
        [
            Phase::Setup,
            Phase::Cutover,
            Phase::Rollback,
            Phase::Teardown,
        ]
        .into_iter()
        .find(|p| p.as_str() == text)
    }

    /// The state a failed migration resumes in when its first unfinished step is of
    /// this phase.
    pub fn resumes_in(self) -> State {
        match self {
            Phase::Setup => State::Preparing,
            Phase::Cutover | Phase::Rollback => State::CuttingOver,
            Phase::Teardown => State::Cancelling,
        }
    }
}

/// An agent's LinkSteps report, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentSteps {
    pub command_id: String,
    pub migration_id: String,
    pub steps: Vec<AgentStep>,
    /// Why the run could not start.
    pub error: String,
    pub certificate_name: String,
    /// DER.
    pub certificate: Vec<u8>,
    pub listener_url: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentStep {
    pub name: String,
    /// Done, Blocked or Failed.
    pub state: StepState,
    pub detail: String,
    pub already_done: bool,
    pub started_ms: i64,
    pub duration_ms: i64,
}

/// A RunLinkSteps command's parameters, kept in the command's payload until it is
/// delivered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepsRequest {
    pub migration_id: String,
    pub instance: String,
    pub database: String,
    pub steps: Vec<String>,
    pub link_name: String,
    pub mi_name: String,
    pub mi_fqdn: String,
    /// DER, hex; '' until read from Azure.
    #[serde(default)]
    pub mi_certificate: String,
    pub allow_recovery_change: bool,
    pub allow_endpoint_change: bool,
}

#[cfg(test)]
mod tests {
    use super::State;

    #[test]
    fn the_transition_table_holds_what_the_journal_needs() {
        for from in State::ALL {
            for to in State::ALL {
                if State::FINAL.contains(&from) {
                    assert!(!from.may_become(to), "{from:?} is final, not {to:?}");
                }
            }
            // Anything not final can fail or be cancelled.
            if !State::FINAL.contains(&from) {
                assert!(from.may_become(State::Failed), "{from:?}");
                assert!(
                    from.may_become(State::Cancelling) || from == State::Cancelling,
                    "{from:?}"
                );
            }
        }
        // Only a cutover completes; only a cancel ends cancelled.
        for from in State::ALL {
            assert_eq!(
                from.may_become(State::Completed),
                from == State::CuttingOver
            );
            assert_eq!(
                from.may_become(State::Cancelled),
                from == State::Cancelling,
                "{from:?}"
            );
        }
        assert!(
            !State::Preparing.may_become(State::CuttingOver),
            "a cutover needs the link"
        );
        assert_eq!(super::sql_list(&State::FINAL), "'cancelled', 'completed'");
    }
}
