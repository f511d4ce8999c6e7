//! The gates' one decision, for any gates: fail over only with every gate open.

use proptest::prelude::*;

use super::{decide, Decision, Gate, GateName};

fn gate() -> impl Strategy<Value = Gate> {
    (
        proptest::sample::select(vec![
            GateName::Workload,
            GateName::Replication,
            GateName::Health,
            GateName::Turn,
            GateName::Window,
            GateName::Approval,
            GateName::Wave,
            GateName::Validation,
            GateName::Group,
            GateName::DataLoss,
        ]),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(|(name, open, queued)| Gate {
            name,
            open,
            evidence: String::new(),
            reason: if open { String::new() } else { "closed".into() },
            queued: queued && !open,
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4096))]

    /// The failover is decided only when every gate is open; a wait counts toward
    /// the timeout only when a gate that is not merely queued is closed.
    #[test]
    fn the_decision_fails_over_only_with_every_gate_open(
        gates in proptest::collection::vec(gate(), 0..12),
        since in 0i64..1_000_000,
        now in 0i64..2_000_000,
        timeout in 1i64..1_000_000,
    ) {
        let all_open = gates.iter().all(|g| g.open);
        let decision = decide(&gates, since, now, timeout);
        prop_assert_eq!(decision == Decision::FailOver, all_open);
        match decision {
            Decision::FailOver => {}
            Decision::Queued(_) => prop_assert!(gates.iter().all(|g| g.open || g.queued)),
            Decision::Wait(_) => prop_assert!(now - since < timeout),
            Decision::Stop(_) => {
                prop_assert!(now - since >= timeout);
                prop_assert!(gates.iter().any(|g| !g.open && !g.queued));
            }
        }
    }
}
