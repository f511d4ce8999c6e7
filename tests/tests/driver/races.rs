//! Sequences of what can happen around one cutover, run on the real store (SQLite)
//! with the real planner: the driver reads a snapshot and later acts on it (so any
//! operator change can fall between), operators cancel and pause its wave, the gates
//! open and close, another replica takes the lease. For every sequence:
//!
//! - the failover is requested at most once;
//! - only when the gates were open, the wave not paused, and the requester held the
//!   lease, at the moment of the request;
//! - of a cancel and a failover request, never both: once requested, every cancel is
//!   refused; once cancelled, no request is made.

use ferry_control::cutover::wave::{OnFailure, Wave};
use ferry_control::migration::journal;
use ferry_control::migration::planner::{self, Action};
use ferry_control::migration::{State, StepState};
use ferry_control::reconcile::driver::{self, LEASE};
use ferry_control::store::migrations::{Change, MigrationRecord, StepRecord};
use ferry_control::store::waves::RunningCutovers;
use ferry_control::store::{Store, StoreError};
use ferry_proto::clock::now_ms;
use proptest::prelude::*;

use super::Harness;

#[derive(Debug, Clone, Copy)]
enum Event {
    /// The gates, as the driver would judge them now, open or not.
    Gates(bool),
    /// The driver reads the migration and its journal.
    Read,
    /// The driver acts on what it last read.
    Act,
    Cancel,
    Pause(bool),
    /// Another replica takes the lease over.
    TakeOver,
    /// The driver takes the lease back (a new epoch).
    Retake,
}

fn event() -> impl Strategy<Value = Event> {
    // Weighted so that most sequences reach the failover, and many race it.
    prop_oneof![
        4 => Just(Event::Gates(true)),
        1 => Just(Event::Gates(false)),
        12 => Just(Event::Read),
        12 => Just(Event::Act),
        1 => Just(Event::Cancel),
        1 => Just(Event::Pause(true)),
        2 => Just(Event::Pause(false)),
        1 => Just(Event::TakeOver),
        2 => Just(Event::Retake),
    ]
}

/// What the sequence came to.
#[derive(Debug, Default)]
struct Seen {
    requests: u32,
    cancelled: bool,
    refused_after_request: u32,
}

struct World {
    store: Store,
    driver: Store,
    id: String,
    gates_open: bool,
    read: Option<(MigrationRecord, Vec<StepRecord>, bool)>,
    /// The newest holder's number (`driver-N`).
    holder: u32,
    /// Who the driver's store is fenced as.
    driving: String,
}

impl World {
    async fn new(h: &Harness) -> World {
        let store = h.ctx.store.clone();
        let id = h.migration("Sales").await;
        for step in store.migration_steps(&id).await.unwrap() {
            store
                .finish_step(&id, step.seq, (StepState::Done, false), "set up", now_ms())
                .await
                .unwrap();
        }
        for (from, to) in [
            (State::Preparing, State::Seeding),
            (State::Seeding, State::ReadyForCutover),
        ] {
            store
                .set_migration_state((&id, from), to, "linked", None, now_ms())
                .await
                .unwrap();
        }
        let wave = Wave {
            name: "w1".into(),
            approvals: 0,
            on_failure: OnFailure::Halt,
            window: None,
            migrations: vec![id.clone()],
        };
        store
            .apply_plan(
                (&[wave], &[]),
                ("operator/test", RunningCutovers::Refuse),
                now_ms(),
            )
            .await
            .unwrap();
        let intent = r#"{"requested_by":"operator/test","requested_at_ms":1}"#;
        let started = store
            .start_cutover(
                (&id, intent),
                &journal::names(&journal::CUTOVER),
                "operator/test",
                now_ms(),
            )
            .await
            .unwrap();
        assert_eq!(started, Change::Made);
        let fence = store
            .take_lease(LEASE, "driver-0", 600_000)
            .await
            .unwrap()
            .unwrap();
        World {
            driver: store.fenced(fence),
            store,
            id,
            gates_open: false,
            read: None,
            holder: 0,
            driving: "driver-0".into(),
        }
    }

    async fn paused(&self) -> bool {
        self.store
            .wave("w1")
            .await
            .unwrap()
            .is_some_and(|w| w.paused)
    }

    /// Whether the driver's fence holds the lease now.
    async fn holds_lease(&self) -> bool {
        let lease = self.store.lease(LEASE).await.unwrap();
        lease.is_some_and(|l| l.holder == self.driving)
    }

    async fn step(&mut self, event: Event, seen: &mut Seen) -> Result<(), TestCaseError> {
        match event {
            Event::Gates(open) => self.gates_open = open,
            Event::Read => {
                let m = self.store.migration(&self.id).await.unwrap().unwrap();
                let steps = self.store.migration_steps(&self.id).await.unwrap();
                // The gates judge the wave as read now (its pause is a gate).
                let open = self.gates_open && !self.paused().await;
                self.read = Some((m, steps, open));
            }
            Event::Act => {
                let Some((m, steps, open)) = self.read.clone() else {
                    return Ok(());
                };
                match self.act(&m, &steps, open, seen).await {
                    Ok(()) | Err(StoreError::Fenced { .. }) => {}
                    Err(e) => return Err(TestCaseError::fail(e.to_string())),
                }
            }
            Event::Cancel => {
                let cancelled = self
                    .store
                    .cancel_cutover(&self.id, "operator/test", now_ms())
                    .await
                    .unwrap();
                match cancelled {
                    Change::Made => {
                        prop_assert_eq!(seen.requests, 0, "cancelled after the request");
                        seen.cancelled = true;
                    }
                    Change::Refused => {
                        prop_assert!(seen.requests > 0, "refused before any request");
                        seen.refused_after_request += 1;
                    }
                    Change::Unchanged => {}
                }
            }
            Event::Pause(paused) => {
                self.store
                    .set_wave_paused("w1", paused, "operator/test", now_ms())
                    .await
                    .unwrap();
            }
            Event::TakeOver => {
                self.store
                    .take_lease(LEASE, &format!("driver-{}", self.holder), 0)
                    .await
                    .unwrap();
                self.holder += 1;
                self.store
                    .take_lease(LEASE, &format!("driver-{}", self.holder), 600_000)
                    .await
                    .unwrap();
                // The old driver keeps its fence: its writes must now be refused.
            }
            Event::Retake => {
                let holder = format!("driver-{}", self.holder);
                if let Some(fence) = self
                    .store
                    .take_lease(LEASE, &holder, 600_000)
                    .await
                    .unwrap()
                {
                    self.driver = self.store.fenced(fence);
                    self.driving = holder;
                }
            }
        }
        Ok(())
    }

    /// The driver's action on what it read, as the planner decides it; agents, ARM and
    /// the MI answer at once.
    async fn act(
        &self,
        m: &MigrationRecord,
        steps: &[StepRecord],
        gates_open: bool,
        seen: &mut Seen,
    ) -> Result<(), StoreError> {
        let snapshot = driver::snapshot(m, steps);
        let store = &self.driver;
        let done =
            |seq: i64| store.finish_step(&m.id, seq, (StepState::Done, false), "done", now_ms());
        match planner::plan(&snapshot).action {
            Action::GatesThenCall { seq } => {
                if !gates_open {
                    return Ok(());
                }
                if store
                    .start_failover((&m.id, seq), m.revision, now_ms())
                    .await?
                {
                    // The request goes out now: check what holds at this moment.
                    assert!(self.holds_lease().await, "requested without the lease");
                    assert!(!self.paused().await, "requested while the wave is paused");
                    seen.requests += 1;
                    done(seq).await?;
                }
            }
            Action::CallArm { seq } => {
                let step = steps.iter().find(|s| s.seq == seq).unwrap();
                assert_ne!(step.name, journal::FAILOVER, "a failover made again");
                if store
                    .start_arm_step((&m.id, seq), step.state, "", now_ms())
                    .await?
                {
                    done(seq).await?;
                }
            }
            Action::SendAgentSteps { seqs } => {
                for seq in seqs {
                    done(seq).await?;
                }
            }
            Action::RunControl { seq } => done(seq).await?,
            Action::Finish { state, detail } => {
                store
                    .set_migration_state((&m.id, m.state), state, detail, None, now_ms())
                    .await?;
            }
            Action::FailStep { .. }
            | Action::AdmitThenCall { .. }
            | Action::AwaitCommand { .. }
            | Action::PollOperation { .. }
            | Action::Wait => {}
        }
        Ok(())
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn a_cutover_fails_over_once_only_through_its_gates_and_never_after_a_cancel(
        events in proptest::collection::vec(event(), 1..60)
    ) {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(async {
            let h = Harness::new(|_| {}).await;
            let mut world = World::new(&h).await;
            let mut seen = Seen::default();
            for event in events {
                world.step(event, &mut seen).await?;
            }
            prop_assert!(seen.requests <= 1, "{:?}", seen);
            prop_assert!(!(seen.cancelled && seen.requests > 0), "{:?}", seen);
            Ok(())
        })?;
    }
}
