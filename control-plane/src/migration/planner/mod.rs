//! The driver's decisions, pure: from a snapshot of one migration (its state, its
//! journal, whether its target is known, whether ARM asked to be left alone) to the
//! one [`Action`] the driver performs next. No I/O, no clock: the driver gathers the
//! snapshot and does what the plan says; the rules are tested here alone.
//!
//! The rules, in order:
//! - Only a migration being set up, cut over or cancelled is driven; the others wait
//!   (their link is watched, or they are final).
//! - A cancel (`Cancelling`) first lets a step in flight end, then runs the teardown.
//! - Otherwise the first step neither done nor skipped is next; with none left, the
//!   migration ends in the state its journal earned ([`Action::Finish`]).
//! - A running agent step waits on its command; a running ARM step with an operation
//!   polls it; a pending (or cut-off running) step is run on its side: the agent's run
//!   of pending steps at once, an ARM call unless ARM's Retry-After holds, the link's
//!   creation only once admitted (seeding limits), the failover only once the gates
//!   hold, the control plane's own checks.
//! - Blocked, failed, done and skipped steps wait for the operator (their migration
//!   failed when they were recorded).

use super::journal::{self, Side};
use super::{Phase, State, StepState};

/// What the planner reads of one journaled step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StepView<'a> {
    pub seq: i64,
    pub phase: Phase,
    pub name: &'a str,
    pub state: StepState,
    /// The ARM operation it waits on ('' when none, or not an ARM step).
    pub has_operation: bool,
}

/// One migration as the driver found it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot<'a> {
    pub state: State,
    /// Its detail now (the plan changes it only when it says something else).
    pub detail: &'a str,
    /// The cutover keeps the link for a failback (`cutover::Intent::keep_link`).
    pub keep_link: bool,
    pub steps: Vec<StepView<'a>>,
    /// Why its target cannot be reached (removed, or its id unreadable), if so.
    pub target_missing: Option<&'a str>,
    /// ARM asked (Retry-After) that calls for its target wait.
    pub arm_held: bool,
}

/// What the driver does next for one migration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// No step is left: the migration moves to `state`.
    Finish { state: State, detail: &'static str },
    /// A step waits on its agent command: read the command.
    AwaitCommand { seq: i64 },
    /// An ARM step waits on a long-running operation: poll it.
    PollOperation { seq: i64 },
    /// Send the agent the run of pending SQL Server steps `seqs`, in order.
    SendAgentSteps { seqs: Vec<i64> },
    /// Create the link, if admitted by the seeding limits (else it waits, queued).
    AdmitThenCall { seq: i64 },
    /// Fail over, if every gate holds (else it waits, or stops past its timeout).
    GatesThenCall { seq: i64 },
    /// Make the step's ARM call.
    CallArm { seq: i64 },
    /// Run a step of the control plane's own.
    RunControl { seq: i64 },
    /// The step cannot run: fail it (and so the migration) with `why`.
    FailStep { seq: i64, why: String },
    /// Nothing to do this tick (ARM's Retry-After, or a step waiting on the operator).
    Wait,
}

impl Action {
    /// The step the action is about (the first of an agent run).
    pub fn seq(&self) -> Option<i64> {
        match self {
            Action::AwaitCommand { seq }
            | Action::PollOperation { seq }
            | Action::AdmitThenCall { seq }
            | Action::GatesThenCall { seq }
            | Action::CallArm { seq }
            | Action::RunControl { seq }
            | Action::FailStep { seq, .. } => Some(*seq),
            Action::SendAgentSteps { seqs } => seqs.first().copied(),
            Action::Finish { .. } | Action::Wait => None,
        }
    }
}

/// The plan: a new detail for the migration, if it should say something else, and
/// the action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub detail: Option<String>,
    pub action: Action,
}

/// The next step of `snapshot`, by its journal.
pub fn next_step(snapshot: &Snapshot<'_>) -> Option<usize> {
    let open = |s: &StepView<'_>| !matches!(s.state, StepState::Done | StepState::Skipped);
    let steps = &snapshot.steps;
    if snapshot.state == State::Cancelling {
        steps
            .iter()
            .position(|s| s.state == StepState::Running)
            .or_else(|| {
                steps
                    .iter()
                    .position(|s| s.phase == Phase::Teardown && open(s))
            })
    } else {
        steps.iter().position(open)
    }
}

/// Decides what the driver does next for a migration that is being set up, cut over
/// or cancelled.
pub fn plan(snapshot: &Snapshot<'_>) -> Plan {
    let wait = Plan {
        detail: None,
        action: Action::Wait,
    };
    if !drives(snapshot.state) {
        return wait;
    }
    let Some(first) = next_step(snapshot) else {
        return Plan {
            detail: None,
            action: finish(snapshot).unwrap_or(Action::Wait),
        };
    };
    let step = &snapshot.steps[first];
    let detail = (snapshot.state == State::CuttingOver)
        .then(|| match step.phase {
            Phase::Rollback => format!("cancelling the cutover: {}", step.name),
            Phase::Setup | Phase::Cutover | Phase::Teardown => {
                format!("cutting over: {}", step.name)
            }
        })
        .filter(|doing| doing != snapshot.detail);
    Plan {
        detail,
        action: act(snapshot, first),
    }
}

fn act(snapshot: &Snapshot<'_>, first: usize) -> Action {
    let step = &snapshot.steps[first];
    let seq = step.seq;
    let Some(side) = journal::side(step.name) else {
        return Action::FailStep {
            seq,
            why: "this control plane does not know the step; upgrade ferry-control".into(),
        };
    };
    match (side, step.state) {
        (Side::Agent, StepState::Running) => Action::AwaitCommand { seq },
        (Side::Arm, StepState::Running) if step.has_operation => Action::PollOperation { seq },
        // Blocked or failed steps failed their migration when they were recorded.
        (_, StepState::Blocked | StepState::Failed | StepState::Done | StepState::Skipped) => {
            Action::Wait
        }
        // Pending, or a running ARM or control step whose work was cut off (the
        // control plane stopped while the request was out): made again, as the steps
        // look before they change anything.
        (_, StepState::Pending | StepState::Running) => {
            if let Some(why) = snapshot.target_missing {
                return Action::FailStep {
                    seq,
                    why: why.to_string(),
                };
            }
            match side {
                Side::Agent => Action::SendAgentSteps {
                    seqs: snapshot.steps[first..]
                        .iter()
                        .take_while(|s| {
                            s.state == StepState::Pending
                                && journal::side(s.name) == Some(Side::Agent)
                        })
                        .map(|s| s.seq)
                        .collect(),
                },
                // ARM asked to wait (Retry-After): not an attempt until it may be called.
                Side::Arm if snapshot.arm_held => Action::Wait,
                // Seeding starts with the link: it waits for a seeding slot.
                Side::Arm
                    if step.name == journal::CREATE_LINK && step.state == StepState::Pending =>
                {
                    Action::AdmitThenCall { seq }
                }
                // The failover waits for the gates; once it is journaled as started, it
                // is finished without asking them again (Azure's planned failover
                // itself refuses unless synchronous and caught up).
                Side::Arm if step.name == journal::FAILOVER && step.state == StepState::Pending => {
                    Action::GatesThenCall { seq }
                }
                Side::Arm => Action::CallArm { seq },
                Side::Control => Action::RunControl { seq },
            }
        }
    }
}

/// Whether the journal drives a migration in `state`: set-up, cutover and cancel
/// run steps; the other states are watched (the link read) or final.
pub fn drives(state: State) -> bool {
    match state {
        State::Preparing | State::CuttingOver | State::Cancelling => true,
        State::Seeding
        | State::CatchingUp
        | State::Synchronizing
        | State::ReadyForCutover
        | State::Stalled
        | State::Unknown
        | State::Failed
        | State::Cancelled
        | State::Completed => false,
    }
}

/// The state a driven migration with no step left ends in (None for one that is not
/// driven).
fn finish(snapshot: &Snapshot<'_>) -> Option<Action> {
    let rolled_back = snapshot
        .steps
        .last()
        .is_some_and(|s| s.phase == Phase::Rollback);
    let (state, detail) = match snapshot.state {
        State::Preparing => (
            State::Seeding,
            "the link is set up; waiting for Azure's first report",
        ),
        State::Cancelling => (State::Cancelled, "everything the migration made is removed"),
        State::CuttingOver if rolled_back => (
            State::Synchronizing,
            "the cutover was cancelled: the link replicates asynchronously again",
        ),
        State::CuttingOver if snapshot.keep_link => (
            State::Completed,
            "cut over: the database is ONLINE and writable on the MI; the link is kept, SQL Server its secondary, for a failback",
        ),
        State::CuttingOver => (
            State::Completed,
            "cut over: the database is ONLINE and writable on the MI, the link removed",
        ),
        State::Seeding
        | State::CatchingUp
        | State::Synchronizing
        | State::ReadyForCutover
        | State::Stalled
        | State::Unknown
        | State::Failed
        | State::Cancelled
        | State::Completed => return None,
    };
    Some(Action::Finish { state, detail })
}

#[cfg(test)]
mod tests;
