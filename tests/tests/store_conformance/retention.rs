//! Store conformance for the retention sweep: what is past its horizon goes, in
//! batches, with what points at it; what is newer, and the newest assessment runs,
//! stay; a second sweep finds nothing.

use ferry_control::store::audit::AuditEvent;
use ferry_control::store::refused_reports::RefusedReport;
use ferry_control::store::retention::{Horizons, Pruned};

use super::*;

const DAY: i64 = 86_400_000;

pub(super) async fn retention(store: &Store, agent: AgentId) {
    let old = NOW - 40 * DAY;
    let horizon = NOW - 30 * DAY;

    // Report receipts: the old one goes, the newer stays.
    let receipt = |id: &str, at: i64| IncomingReport {
        report_id: id.into(),
        produced_at_ms: at,
        body: ReportBody::CommandResult {
            command_id: "none".into(),
            ok: true,
            error_code: String::new(),
            error_message: String::new(),
        },
    };
    for (id, at) in [("old-receipt", old), ("new-receipt", NOW)] {
        store
            .record_report(agent, &receipt(id, at), at)
            .await
            .unwrap();
    }
    // Refused reports (of an agent of their own: the newest 100 per agent are kept).
    let refuser = AgentId(Uuid::new_v4());
    for (id, at) in [("old-refusal", old), ("new-refusal", NOW)] {
        let refusal = RefusedReport {
            report_id: id.into(),
            kind: "inventory".into(),
            reason: "test".into(),
            refused_at_ms: at,
        };
        store
            .record_refused_report(refuser, &refusal)
            .await
            .unwrap();
    }
    // An enrollment token that expired long ago.
    let mut spent = token("old-token", old + 1);
    spent.created_at_ms = old;
    store.insert_token(&spent).await.unwrap();
    // Commands: one whose deadline passed long ago, one still open.
    let command = |at: i64, expires: i64| {
        CommandRecord::pending(agent, CommandKind::RunAssessment, "test", at, expires, "")
    };
    let (stale, open) = (command(old, old + 1), command(NOW, NOW + DAY));
    for c in [&stale, &open] {
        store.create_command(c).await.unwrap();
    }
    // A connection test asked long ago, with its command.
    let mut tested = command(old, old + 1);
    tested.kind = CommandKind::TestConnection;
    store
        .create_connection_tests("target", "mi.example", std::slice::from_ref(&tested))
        .await
        .unwrap();
    // Three old assessment runs: with the suite's newer one, the newest two are kept.
    let mut runs = Vec::new();
    for n in 0..3 {
        let run = RunRecord {
            id: format!("old-run-{n}"),
            created_by: "test".into(),
            created_at_ms: old + n,
            deadline_at_ms: old + n + 1,
            selector: "all".into(),
            trigger: "operator".into(),
        };
        let target = command(old + n, old + n + 1);
        assert!(store.create_assessment_run(&run, &[target]).await.unwrap());
        runs.push(run.id);
    }
    // Audit events on both sides of the audit's horizon.
    for (action, at) in [("retention.old", old), ("retention.new", NOW)] {
        let event = AuditEvent {
            at_ms: at,
            actor: "test".into(),
            action: action.into(),
            target: "store".into(),
            detail: String::new(),
        };
        store.record_audit(&event).await.unwrap();
    }

    let horizons = Horizons {
        history_ms: horizon,
        assessments_ms: horizon,
        keep_assessment_runs: 2,
        audit_ms: horizon,
    };
    // Batches of one: every loop goes round.
    let pruned = store.prune(&horizons, 1).await.unwrap();
    assert!(pruned.report_receipts >= 1, "{pruned:?}");
    assert_eq!(pruned.refused_reports, 1, "{pruned:?}");
    assert_eq!(pruned.enrollment_tokens, 1, "{pruned:?}");
    assert_eq!(pruned.connection_tests, 1, "{pruned:?}");
    assert_eq!(pruned.assessment_runs, 2, "{pruned:?}");
    assert!(pruned.audit_events >= 1, "{pruned:?}");

    let receipts = store.list_report_ids(agent).await.unwrap();
    assert!(!receipts.contains(&"old-receipt".to_string()));
    assert!(receipts.contains(&"new-receipt".to_string()));
    let refused = store.refused_reports(refuser).await.unwrap();
    assert_eq!(refused.len(), 1);
    assert_eq!(refused[0].report_id, "new-refusal");
    assert_eq!(
        store
            .check_token("old-token", "hash-old-token", NOW)
            .await
            .unwrap(),
        Err(TokenRejection::Unknown)
    );
    assert!(store.get_command(&stale.id).await.unwrap().is_none());
    assert!(store.get_command(&tested.id).await.unwrap().is_none());
    assert!(store.get_command(&open.id).await.unwrap().is_some());
    assert!(store
        .connection_tests(std::slice::from_ref(&tested.id))
        .await
        .unwrap()
        .is_empty());
    assert!(store.get_assessment_run(&runs[0]).await.unwrap().is_none());
    assert!(store.get_assessment_run(&runs[1]).await.unwrap().is_none());
    assert!(store.get_assessment_run(&runs[2]).await.unwrap().is_some());
    assert_eq!(
        store
            .assessment_targets_page(&runs[2], None, 1000)
            .await
            .unwrap()
            .len(),
        1
    );
    let actions: Vec<String> = store
        .list_audit(10_000)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.action)
        .collect();
    assert!(!actions.iter().any(|a| a == "retention.old"));
    assert!(actions.iter().any(|a| a == "retention.new"));

    // Nothing left past the horizons.
    assert_eq!(
        store.prune(&horizons, 1000).await.unwrap(),
        Pruned::default()
    );
}
