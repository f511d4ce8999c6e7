//! The planner's rules, for every journal: examples, then properties over journals
//! generated from the real step lists in any states.

use proptest::prelude::*;

use super::*;
use crate::migration::journal::{CUTOVER, FORCED_CUTOVER, ROLLBACK, STEPS, TEARDOWN};

fn journal<'a>(
    phases: &[(Phase, &'a [(&'a str, Side)])],
    states: &[StepState],
) -> Vec<StepView<'a>> {
    let mut steps = Vec::new();
    for (phase, list) in phases {
        for (name, _) in list.iter() {
            let seq = steps.len() as i64;
            steps.push(StepView {
                seq,
                phase: *phase,
                name,
                state: states
                    .get(seq as usize)
                    .copied()
                    .unwrap_or(StepState::Pending),
                has_operation: false,
            });
        }
    }
    steps
}

fn snapshot<'a>(state: State, steps: Vec<StepView<'a>>) -> Snapshot<'a> {
    Snapshot {
        state,
        detail: "",
        keep_link: false,
        steps,
        target_missing: None,
        arm_held: false,
    }
}

#[test]
fn a_new_migration_sends_the_agent_its_run_of_sql_server_steps() {
    let s = snapshot(State::Preparing, journal(&[(Phase::Setup, &STEPS)], &[]));
    let agent_run = STEPS
        .iter()
        .take_while(|(_, side)| *side == Side::Agent)
        .count() as i64;
    assert_eq!(
        plan(&s).action,
        Action::SendAgentSteps {
            seqs: (0..agent_run).collect()
        }
    );
}

#[test]
fn the_failover_waits_for_the_gates_and_a_cut_off_request_is_made_again() {
    let setup = STEPS.len();
    let failover = setup
        + CUTOVER
            .iter()
            .position(|(n, _)| *n == journal::FAILOVER)
            .unwrap();
    let mut states = vec![StepState::Done; failover];
    states.push(StepState::Pending);
    let mut s = snapshot(
        State::CuttingOver,
        journal(
            &[(Phase::Setup, &STEPS), (Phase::Cutover, &CUTOVER)],
            &states,
        ),
    );
    let seq = failover as i64;
    let planned = plan(&s);
    assert_eq!(planned.action, Action::GatesThenCall { seq });
    assert_eq!(planned.detail.as_deref(), Some("cutting over: failover"));
    s.steps[failover].state = StepState::Running;
    assert_eq!(plan(&s).action, Action::CallArm { seq });
    s.steps[failover].has_operation = true;
    assert_eq!(plan(&s).action, Action::PollOperation { seq });
    s.arm_held = true;
    assert_eq!(
        plan(&s).action,
        Action::PollOperation { seq },
        "polling is paced by ARM itself"
    );
    s.steps[failover].has_operation = false;
    assert_eq!(plan(&s).action, Action::Wait);
}

#[test]
fn a_cancel_lets_the_running_step_end_then_tears_down() {
    let mut states = vec![StepState::Done; 3];
    states.push(StepState::Running);
    let mut s = snapshot(
        State::Cancelling,
        journal(
            &[(Phase::Setup, &STEPS), (Phase::Teardown, &TEARDOWN)],
            &states,
        ),
    );
    assert_eq!(plan(&s).action, Action::AwaitCommand { seq: 3 });
    s.steps[3].state = StepState::Done;
    let first_teardown = STEPS.len() as i64;
    assert_eq!(seq_of(&plan(&s).action), Some(first_teardown));
    for step in &mut s.steps[STEPS.len()..] {
        step.state = StepState::Done;
    }
    assert_eq!(
        plan(&s).action,
        Action::Finish {
            state: State::Cancelled,
            detail: "everything the migration made is removed"
        }
    );
}

#[test]
fn a_rolled_back_cutover_links_again_and_a_kept_link_says_so() {
    let all_done = vec![StepState::Done; STEPS.len() + CUTOVER.len() + ROLLBACK.len()];
    let s = snapshot(
        State::CuttingOver,
        journal(
            &[
                (Phase::Setup, &STEPS),
                (Phase::Cutover, &CUTOVER),
                (Phase::Rollback, &ROLLBACK),
            ],
            &all_done,
        ),
    );
    assert!(matches!(
        plan(&s).action,
        Action::Finish {
            state: State::Synchronizing,
            ..
        }
    ));
    let mut kept = snapshot(
        State::CuttingOver,
        journal(
            &[(Phase::Setup, &STEPS), (Phase::Cutover, &CUTOVER)],
            &all_done,
        ),
    );
    kept.keep_link = true;
    let Action::Finish { state, detail } = plan(&kept).action else {
        panic!("finished")
    };
    assert_eq!(state, State::Completed);
    assert!(detail.contains("the link is kept"), "{detail}");
}

#[test]
fn an_unknown_step_or_a_removed_target_fails_the_step_with_the_cause() {
    let mut s = snapshot(State::Preparing, journal(&[(Phase::Setup, &STEPS)], &[]));
    s.target_missing = Some("the target was removed: add it again");
    assert_eq!(
        plan(&s).action,
        Action::FailStep {
            seq: 0,
            why: "the target was removed: add it again".into()
        }
    );
    s.steps[0].name = "from_the_future";
    assert!(
        matches!(plan(&s).action, Action::FailStep { seq: 0, ref why } if why.contains("upgrade"))
    );
}

fn step_state() -> impl Strategy<Value = StepState> {
    prop_oneof![
        Just(StepState::Pending),
        Just(StepState::Running),
        Just(StepState::Done),
        Just(StepState::Blocked),
        Just(StepState::Failed),
        Just(StepState::Skipped),
    ]
}

fn migration_state() -> impl Strategy<Value = State> {
    proptest::sample::select(State::ALL.to_vec())
}

type Phases = Vec<(Phase, &'static [(&'static str, Side)])>;

fn phases() -> impl Strategy<Value = Phases> {
    let setup: (Phase, &'static [(&'static str, Side)]) = (Phase::Setup, &STEPS);
    prop_oneof![
        Just(vec![setup]),
        Just(vec![setup, (Phase::Cutover, &CUTOVER[..])]),
        Just(vec![
            setup,
            (Phase::Cutover, &CUTOVER[..]),
            (Phase::Rollback, &ROLLBACK[..])
        ]),
        Just(vec![
            setup,
            (Phase::Cutover, &CUTOVER[..]),
            (Phase::Cutover, &FORCED_CUTOVER[..])
        ]),
        Just(vec![
            setup,
            (Phase::Cutover, &CUTOVER[..]),
            (Phase::Teardown, &TEARDOWN[..])
        ]),
        Just(vec![setup, (Phase::Teardown, &TEARDOWN[..])]),
    ]
}

fn any_snapshot() -> impl Strategy<Value = Snapshot<'static>> {
    (
        migration_state(),
        phases(),
        proptest::collection::vec((step_state(), any::<bool>()), 40),
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(|(state, phases, states, keep_link, missing, arm_held)| {
            let mut steps = journal(&phases, &[]);
            for (step, (s, op)) in steps.iter_mut().zip(states) {
                step.state = s;
                step.has_operation = op;
            }
            Snapshot {
                state,
                detail: "",
                keep_link,
                steps,
                target_missing: missing.then_some("gone"),
                arm_held,
            }
        })
}

fn seq_of(action: &Action) -> Option<i64> {
    action.seq()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4096))]

    /// The failover is asked for only through the gates: a pending failover step
    /// always goes to them, and a request is made without them only for a step the
    /// gates already let through (running, its request cut off) — never for one a
    /// cancel skipped, one that ended, or while ARM asked to wait.
    #[test]
    fn no_failover_without_the_gates(s in any_snapshot()) {
        let action = plan(&s).action;
        if let Some(seq) = seq_of(&action) {
            let step = s.steps.iter().find(|x| x.seq == seq).unwrap();
            if step.name == journal::FAILOVER {
                match &action {
                    Action::GatesThenCall { .. } => {
                        prop_assert_eq!(step.state, StepState::Pending);
                        prop_assert!(!s.arm_held && s.target_missing.is_none());
                    }
                    Action::CallArm { .. } => {
                        prop_assert_eq!(step.state, StepState::Running);
                        prop_assert!(!step.has_operation && !s.arm_held);
                    }
                    Action::PollOperation { .. } => prop_assert!(step.has_operation),
                    Action::FailStep { .. } | Action::Wait => {}
                    other => prop_assert!(false, "failover step planned as {:?}", other),
                }
            }
        }
    }

    /// The plan's step is the journal's next open one, and a cancel runs nothing of
    /// the cutover it replaced but lets a running step end.
    #[test]
    fn the_plan_follows_the_journal(s in any_snapshot()) {
        let planned = plan(&s);
        if !drives(s.state) {
            prop_assert_eq!(planned.action, Action::Wait);
            return Ok(());
        }
        let next = next_step(&s);
        match (&planned.action, next) {
            (Action::Finish { .. }, None) => {}
            (Action::Finish { .. }, Some(i)) => prop_assert!(false, "finished with step {} open", i),
            (action, None) => prop_assert!(false, "{:?} with no step open", action),
            (action, Some(i)) => {
                let step = s.steps[i];
                prop_assert!(!matches!(step.state, StepState::Done | StepState::Skipped));
                if let Some(seq) = seq_of(action) {
                    prop_assert_eq!(seq, step.seq);
                }
                if s.state == State::Cancelling {
                    prop_assert!(step.state == StepState::Running || step.phase == Phase::Teardown);
                }
            }
        }
        if let Action::SendAgentSteps { seqs } = &planned.action {
            prop_assert!(!seqs.is_empty());
            for seq in seqs {
                let step = s.steps.iter().find(|x| x.seq == *seq).unwrap();
                prop_assert_eq!(step.state, StepState::Pending);
                prop_assert_eq!(journal::side(step.name), Some(Side::Agent));
            }
            prop_assert!(seqs.windows(2).all(|w| w[1] == w[0] + 1));
        }
        prop_assert!(planned.detail.is_none() || s.state == State::CuttingOver);
    }

    /// Nothing is made (no agent command, no ARM call, no check on the MI) for a
    /// migration whose target is gone: the step fails with the cause.
    #[test]
    fn nothing_runs_without_its_target(s in any_snapshot()) {
        let action = plan(&s).action;
        if s.target_missing.is_some() {
            let runs = matches!(
                action,
                Action::SendAgentSteps { .. }
                    | Action::AdmitThenCall { .. }
                    | Action::GatesThenCall { .. }
                    | Action::CallArm { .. }
                    | Action::RunControl { .. }
            );
            prop_assert!(!runs, "{:?}", action);
        }
    }

    /// A forced cutover whose failover was made ends only once SQL Server is
    /// demoted (no split brain left behind); until then it waits for that step,
    /// however often the demotion has to wait.
    #[test]
    fn a_forced_cutover_ends_only_with_sql_server_demoted(
        waits in proptest::collection::vec(any::<bool>(), 0..30)
    ) {
        let forced_failover = STEPS.len() + CUTOVER.len();
        let mut states = vec![StepState::Done; STEPS.len()];
        states.extend([StepState::Skipped; CUTOVER.len()]);
        states.push(StepState::Done);
        let mut s = snapshot(
            State::CuttingOver,
            journal(
                &[(Phase::Setup, &STEPS), (Phase::Cutover, &CUTOVER), (Phase::Cutover, &FORCED_CUTOVER)],
                &states,
            ),
        );
        prop_assert_eq!(s.steps[forced_failover].name, journal::FAILOVER);
        let demote = s.steps.iter().position(|x| x.name == "demote_sql_server").unwrap();
        let mut waits = waits.into_iter();
        for _ in 0..100 {
            let action = plan(&s).action;
            if let Action::Finish { .. } = action {
                prop_assert_eq!(s.steps[demote].state, StepState::Done);
                return Ok(());
            }
            let at = s.steps.iter().position(|x| Some(x.seq) == action.seq()).unwrap();
            if at > demote {
                prop_assert_eq!(s.steps[demote].state, StepState::Done, "{:?} before the demotion", action);
            }
            if at == demote && waits.next().unwrap_or(false) {
                continue; // SQL Server unreachable: the step waits, nothing ends.
            }
            s.steps[at].state = StepState::Done;
        }
        prop_assert!(false, "the forced cutover never ended");
    }
}
