//! Store conformance for an assessment run's targets at fleet size: read a page at a
//! time by host name, and counted in groups (one representative each) that
//! `TargetState::derive` judges, so a run of ten thousand hosts is counted in one
//! grouped query.

use ferry_control::assess::runs::TargetState;

use super::*;

pub(super) async fn target_pages_and_groups(store: &Store) {
    // Three hosts: c acked its command, a was seen and has not, b was never seen.
    let mut ids = Vec::new();
    for (i, name) in ["run-c", "run-a", "run-b"].iter().enumerate() {
        let id = format!("run-token-{i}");
        store.insert_token(&token(&id, NOW + 60_000)).await.unwrap();
        let host = agent(name);
        store
            .enroll_agent(&id, &format!("hash-{id}"), &host, NOW)
            .await
            .unwrap();
        ids.push(host.id);
    }
    store
        .touch_agents(&[(ids[0], NOW + 100), (ids[1], NOW + 100)])
        .await
        .unwrap();
    let run = RunRecord {
        id: "run-pages".into(),
        created_by: "operator/test".into(),
        created_at_ms: NOW,
        deadline_at_ms: NOW + 60_000,
        selector: "all".into(),
        trigger: "manual".into(),
    };
    let commands: Vec<CommandRecord> = ids
        .iter()
        .map(|&a| {
            CommandRecord::pending(
                a,
                CommandKind::RunAssessment,
                "operator/test",
                NOW,
                NOW + 60_000,
                "",
            )
        })
        .collect();
    assert!(store.create_assessment_run(&run, &commands).await.unwrap());
    assert!(store
        .ack_command(ids[0], &commands[0].id, NOW + 100)
        .await
        .unwrap());

    let first = store
        .assessment_targets_page(&run.id, None, 2)
        .await
        .unwrap();
    let names = |page: &[ferry_control::store::assessments::TargetRecord]| {
        page.iter().map(|t| t.host.clone()).collect::<Vec<_>>()
    };
    assert_eq!(names(&first), ["run-a", "run-b"]);
    let last = &first[1];
    let after = (last.host.as_str(), last.agent_id.to_string());
    let second = store
        .assessment_targets_page(&run.id, Some((after.0, &after.1)), 2)
        .await
        .unwrap();
    assert_eq!(names(&second), ["run-c"]);
    assert_eq!(second[0].command_state, CommandState::Acked);

    // Seen since NOW + 50 counts as online.
    let now = NOW + 1_000;
    let mut states: Vec<(TargetState, u32)> = store
        .assessment_target_groups(&run.id, NOW + 50)
        .await
        .unwrap()
        .into_iter()
        .map(|(t, n)| {
            (
                TargetState::derive(&t, run.deadline_at_ms, now, now - (NOW + 50)),
                n,
            )
        })
        .collect();
    states.sort_by_key(|(s, _)| s.as_str());
    assert_eq!(
        states,
        [
            (TargetState::OfflineWaiting, 1),
            (TargetState::Queued, 1),
            (TargetState::Running, 1),
        ]
    );
}
