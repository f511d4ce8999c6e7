//! Store conformance for refused reports: recorded per agent, newest first, the
//! newest 100 kept.

use ferry_control::store::refused_reports::{RefusedReport, KEPT_PER_AGENT};

use super::*;

pub(super) async fn refused_reports(store: &Store, agent: AgentId) {
    assert!(store.refused_reports(agent).await.unwrap().is_empty());
    for n in 0..KEPT_PER_AGENT + 5 {
        let refusal = RefusedReport {
            report_id: format!("r{n:03}"),
            kind: "inventory".into(),
            reason: "field `x`: too long".into(),
            refused_at_ms: NOW + n,
        };
        store.record_refused_report(agent, &refusal).await.unwrap();
    }
    let kept = store.refused_reports(agent).await.unwrap();
    assert_eq!(kept.len() as i64, KEPT_PER_AGENT, "retention");
    assert_eq!(
        kept[0].report_id,
        format!("r{:03}", KEPT_PER_AGENT + 4),
        "newest first"
    );
    assert_eq!(kept.last().unwrap().report_id, "r005", "the oldest went");
    let long = RefusedReport {
        report_id: "long".into(),
        kind: "inventory".into(),
        reason: "y".repeat(5000),
        refused_at_ms: NOW + 1_000,
    };
    store.record_refused_report(agent, &long).await.unwrap();
    assert_eq!(
        store.refused_reports(agent).await.unwrap()[0].reason.len(),
        1000
    );
}
