//! The gates and the planner's decision, over readings built by hand and over random
//! sequences of them.
use super::*;
use crate::migration::sql_side::SqlLinkStatus;

const RULES: Rules = Rules {
    stable_readings: 3,
    quiet_ms: 30_000,
    no_user_sessions: true,
    max_age_ms: 60_000,
    approvals: 0,
    validate: false,
    max_failovers: 0,
    max_failovers_per_host: 0,
};

/// One reading of both sides at `at_ms` (SQL Server read at the same moment).
fn reading(at_ms: i64, mi: u64, sql_hardened: u64, end_of_log: u64) -> Observation {
    Observation {
        replica_state: "LinkSynchronizing".into(),
        synchronization_health: "HEALTHY".into(),
        connected_state: "CONNECTED".into(),
        last_hardened_lsn: mi.to_string(),
        replication_mode: "Sync".into(),
        link_role: "Secondary".into(),
        sql: Some(SqlLinkStatus {
            connected_state: "CONNECTED".into(),
            synchronous_commit: true,
            local_hardened_lsn: sql_hardened.to_string(),
            end_of_log_lsn: end_of_log.to_string(),
            user_sessions: Some(0),
            ..Default::default()
        }),
        sql_observed_ms: at_ms,
        ..Default::default()
    }
}

fn fold(history: &mut Vec<Observation>, mut next: Observation) {
    next.steady = Steady::follow(history.last(), &next);
    history.push(next);
}

/// The history of three equal readings (at 1, 2 and 3 s, LSN 100 on both sides): the
/// link's gates open at 3 s when the traffic is confirmed stopped.
fn caught_up_history() -> Vec<Observation> {
    let mut history = Vec::new();
    for at in [1_000, 2_000, 3_000] {
        fold(&mut history, reading(at, 100, 100, 100));
    }
    history
}

fn facts<'a>(o: &'a Observation, intent: &'a Intent, now_ms: i64) -> Facts<'a> {
    Facts {
        now_ms,
        observation: Some(o),
        observed_at_ms: now_ms,
        intent,
        synchronous_since_ms: Some(1),
        other_failover: None,
        in_flight: InFlight::default(),
        approvers: &[],
        wave: None,
        counts: &[],
        group: None,
    }
}

fn judge(o: &Observation, intent: &Intent, now_ms: i64) -> Vec<Gate> {
    evaluate(&facts(o, intent, now_ms), &RULES)
}

fn gate<'a>(gates: &'a [Gate], name: &str) -> &'a Gate {
    gates
        .iter()
        .find(|g| g.name.as_str() == name)
        .expect("gate")
}

#[test]
fn replication_opens_after_the_lsns_agree_in_enough_readings() {
    let intent = Intent {
        traffic_stopped_confirmed: true,
        ..Default::default()
    };
    let mut history = Vec::new();
    fold(&mut history, reading(1_000, 90, 100, 100));
    let gates = judge(history.last().unwrap(), &intent, 1_000);
    let replication = gate(&gates, "replication");
    assert!(!replication.open);
    assert!(
        replication.reason.contains("hardened LSN 90"),
        "{}",
        replication.reason
    );
    for (n, at) in [(1, 2_000), (2, 3_000), (3, 4_000)] {
        fold(&mut history, reading(at, 100, 100, 100));
        let gates = judge(history.last().unwrap(), &intent, at);
        assert_eq!(
            gate(&gates, "replication").open,
            n == 3,
            "after {n} readings"
        );
    }
    // An Azure reading without a new SQL Server reading does not count as one.
    let mut again = reading(4_000, 100, 100, 100);
    again.steady = Steady::follow(history.last(), &again);
    assert_eq!(again.steady.equal_readings, 3);
}

#[test]
fn each_closed_condition_names_itself() {
    let intent = Intent {
        traffic_stopped_confirmed: true,
        ..Default::default()
    };
    let base = caught_up_history();
    let open = judge(base.last().unwrap(), &intent, 3_000);
    assert!(open.iter().all(|g| g.open), "{open:?}");
    let busy = Facts {
        other_failover: Some("m-other"),
        ..facts(base.last().unwrap(), &intent, 3_000)
    };
    let queued = evaluate(&busy, &RULES);
    assert!(
        matches!(decide(&queued, 0, 99_000, 60_000), Decision::Queued(w) if w.contains("m-other"))
    );
    assert_eq!(decide(&open, 0, 3_000, 60_000), Decision::FailOver);
    type Change = fn(&mut Observation);
    let cases: [(&str, Change, &str); 5] = [
        (
            "replication",
            |o| o.replication_mode = "Async".into(),
            "replicates Async",
        ),
        (
            "replication",
            |o| o.sql.as_mut().unwrap().synchronous_commit = false,
            "SYNCHRONOUS_COMMIT",
        ),
        (
            "health",
            |o| o.synchronization_health = "NOT_HEALTHY".into(),
            "NOT_HEALTHY",
        ),
        (
            "health",
            |o| o.connected_state = "DISCONNECTED".into(),
            "not connected",
        ),
        (
            "health",
            |o| o.partner_certificate_expiry = "1970-01-01T00:00:01Z".into(),
            "expired",
        ),
    ];
    for (name, change, words) in cases {
        let mut o = base.last().unwrap().clone();
        change(&mut o);
        let gates = judge(&o, &intent, 3_000);
        let g = gate(&gates, name);
        assert!(!g.open && g.reason.contains(words), "{name}: {}", g.reason);
        assert!(matches!(decide(&gates, 0, 3_000, 60_000), Decision::Wait(w) if w.contains(words)));
        assert!(matches!(
            decide(&gates, 0, 60_000, 60_000),
            Decision::Stop(_)
        ));
    }
}

#[test]
fn windows_and_approvals_queue_the_failover() {
    let history = caught_up_history();
    let o = history.last().unwrap();
    let intent = Intent {
        traffic_stopped_confirmed: true,
        requested_by: "operator/alice".into(),
        window: Some((10_000, 20_000)),
        ..Default::default()
    };
    let two = Rules {
        approvals: 2,
        ..RULES
    };
    let at = |now: i64, approvers: &[String]| {
        let facts = Facts {
            approvers,
            ..facts(o, &intent, now)
        };
        (evaluate(&facts, &two), now)
    };
    let (before, now) = at(3_000, &[]);
    assert!(gate(&before, "window").reason.contains("opens at"));
    assert!(gate(&before, "approval").reason.contains("2 more"));
    assert!(
        matches!(decide(&before, 0, now, 1_000), Decision::Queued(_)),
        "queued, not stopped"
    );
    let approvers = ["operator/alice".to_string(), "operator/bob".to_string()];
    let (inside, _) = at(15_000, &approvers[..1]);
    assert!(gate(&inside, "window").open);
    assert!(gate(&inside, "approval").reason.contains("1 more"));
    let requester_alone = Facts {
        approvers: &approvers[..1],
        ..facts(o, &intent, 15_000)
    };
    let only = evaluate(
        &requester_alone,
        &Rules {
            approvals: 1,
            ..RULES
        },
    );
    assert!(gate(&only, "approval")
        .reason
        .contains("cannot be its only approver"));
    let (approved, now) = at(15_000, &approvers);
    assert_eq!(decide(&approved, 0, now, 1_000), Decision::FailOver);
    let (after, now) = at(20_000, &approvers);
    assert!(
        matches!(decide(&after, 0, now, 1_000), Decision::Stop(w) if w.contains("window closed"))
    );
}

#[test]
fn a_moving_log_keeps_the_workload_gate_closed_unless_confirmed() {
    let mut history = Vec::new();
    for (at, eol) in [(0, 100), (20_000, 200), (40_000, 200)] {
        fold(&mut history, reading(at, eol, eol, eol));
    }
    let measured = Intent::default();
    let w = judge(history.last().unwrap(), &measured, 40_000);
    assert!(!gate(&w, "workload").open, "log moved 20 s ago");
    fold(&mut history, reading(50_000, 200, 200, 200));
    let w = judge(history.last().unwrap(), &measured, 50_000);
    assert!(gate(&w, "workload").open, "30 s without log");
    let confirmed = Intent {
        traffic_stopped_confirmed: true,
        requested_by: "operator/alice".into(),
        ..Default::default()
    };
    let w = judge(&history[1], &confirmed, 20_000);
    assert!(gate(&w, "workload").evidence.contains("operator/alice"));
}

/// For every sequence of readings, a failover is decided only when the raw history
/// shows what the gates promise: both sides synchronous and healthy, the MI's
/// hardened LSN equal to SQL Server's in the last `stable_readings` distinct SQL
/// Server readings, and (unless confirmed) SQL Server's log still for `quiet_ms`.
#[test]
fn no_failover_unless_every_gate_holds_in_the_history() {
    let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move |n: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % n
    };
    let mut failovers = 0;
    for _ in 0..4000 {
        let confirmed = next(3) == 0;
        let intent = Intent {
            traffic_stopped_confirmed: confirmed,
            ..Default::default()
        };
        let mut history: Vec<Observation> = Vec::new();
        let (mut at, mut eol, mut mi) = (1_000i64, 1_000u64, 900u64);
        for _ in 0..(5 + next(20)) {
            let new_sql_reading = history.is_empty() || next(4) != 0;
            at += 1_000 + next(15_000) as i64;
            if next(3) == 0 {
                eol += 1 + next(50); // the workload writes
            }
            if next(2) == 0 {
                mi = eol.min(mi + next(200)); // the MI catches up
            }
            let mut o = reading(at, mi, eol, eol);
            if !new_sql_reading {
                let last = history.last().unwrap();
                o.sql = last.sql.clone();
                o.sql_observed_ms = last.sql_observed_ms;
            }
            if next(10) == 0 {
                o.replication_mode = "Async".into();
            }
            if next(10) == 0 {
                o.sql.as_mut().unwrap().synchronous_commit = false;
            }
            if next(10) == 0 {
                o.synchronization_health = "PARTIALLY_HEALTHY".into();
            }
            fold(&mut history, o);
            let now = history.last().unwrap();
            if decide(&judge(now, &intent, at), 0, at, i64::MAX) != Decision::FailOver {
                continue;
            }
            failovers += 1;
            assert_eq!(now.replication_mode, "Sync");
            let sql = now.sql.as_ref().unwrap();
            assert!(sql.synchronous_commit && now.synchronization_health == "HEALTHY");
            // The distinct SQL Server readings, newest last, with the Azure reading
            // that came with each.
            let mut readings: Vec<&Observation> = Vec::new();
            for o in &history {
                match readings.last() {
                    Some(l) if l.sql_observed_ms == o.sql_observed_ms => {
                        *readings.last_mut().unwrap() = o
                    }
                    _ => readings.push(o),
                }
            }
            let last = &readings[readings.len() - RULES.stable_readings as usize..];
            let lsn = &sql.local_hardened_lsn;
            for r in last {
                assert_eq!(&r.last_hardened_lsn, lsn);
                assert_eq!(&r.sql.as_ref().unwrap().local_hardened_lsn, lsn);
            }
            if !confirmed {
                let since = readings
                    .iter()
                    .rev()
                    .take_while(|r| r.sql.as_ref().unwrap().end_of_log_lsn == sql.end_of_log_lsn)
                    .last()
                    .unwrap()
                    .sql_observed_ms;
                assert!(now.sql_observed_ms - since >= RULES.quiet_ms);
            }
        }
    }
    assert!(
        failovers > 100,
        "the generator must reach failovers ({failovers})"
    );
}

mod validation_gate {
    use super::*;
    use crate::cutover::row_counts::{RowCount, Side, TableRows};
    use validation::{needed, Needed, RECOUNT_MS};

    const VALIDATE: Rules = Rules {
        validate: true,
        ..RULES
    };
    const ASK_TIMEOUT: i64 = 60_000;

    fn count(side: Side, at: Option<i64>, lsns: (u64, u64), rows: &[(&str, i64)]) -> RowCount {
        RowCount {
            side,
            requested_at_ms: 0,
            command_id: String::new(),
            asked_at_ms: at.map_or(10_000, |at| at - 100),
            counted_at_ms: at,
            lsn_before: lsns.0.to_string(),
            lsn_after: lsns.1.to_string(),
            tables: rows
                .iter()
                .map(|(name, rows)| TableRows {
                    schema: "dbo".into(),
                    name: name.to_string(),
                    rows: *rows,
                })
                .collect(),
            error: String::new(),
        }
    }

    /// The link's gates open at 3 s (end of log 100), SQL Server read again at `read_at`.
    fn caught_up(read_at: i64, end_of_log: u64) -> Observation {
        let mut history = caught_up_history();
        fold(&mut history, reading(read_at, 100, 100, end_of_log));
        history.pop().unwrap()
    }

    fn judged(o: &Observation, counts: &[RowCount], now: i64) -> (Gate, Needed) {
        let intent = Intent {
            traffic_stopped_confirmed: true,
            ..Default::default()
        };
        let facts = Facts {
            counts,
            ..facts(o, &intent, now)
        };
        let gates = evaluate(&facts, &VALIDATE);
        let needed = needed(&facts, &gates, &VALIDATE, ASK_TIMEOUT);
        (gate(&gates, "validation").clone(), needed)
    }

    #[test]
    fn off_is_open_and_counts_nothing() {
        let o = caught_up(4_000, 100);
        let gates = evaluate(&facts(&o, &Intent::default(), 4_000), &RULES);
        assert!(gate(&gates, "validation").open);
        assert!(gate(&gates, "validation").evidence.contains("off"));
    }

    #[test]
    fn sql_server_is_counted_first_then_the_mi_and_equal_counts_open_it() {
        let o = caught_up(20_000, 100);
        let (g, need) = judged(&o, &[], 20_000);
        assert!(!g.open && g.reason.contains("not counted yet"), "{g:?}");
        assert_eq!(
            need,
            Needed {
                sql: true,
                mi: false
            }
        );

        let asked = [count(Side::Sql, None, (0, 0), &[])];
        let (g, need) = judged(&o, &asked, 20_000);
        assert!(g.reason.contains("agent is counting"), "{g:?}");
        assert_eq!(need, Needed::default(), "one count at a time");
        let (_, need) = judged(&o, &asked, 10_000 + ASK_TIMEOUT);
        assert!(need.sql, "an unanswered count is asked again");

        let sql = count(Side::Sql, Some(15_000), (100, 100), &[("Orders", 7)]);
        let (g, need) = judged(&o, std::slice::from_ref(&sql), 20_000);
        assert!(!g.open, "{g:?}");
        assert_eq!(
            need,
            Needed {
                sql: false,
                mi: true
            }
        );

        let mi = count(Side::Mi, Some(16_000), (0, 0), &[("Orders", 7)]);
        let (g, need) = judged(&o, &[sql, mi], 20_000);
        assert!(g.open, "{g:?}");
        assert!(
            g.evidence.contains("SQL Server: 1 table(s), 7 row(s)")
                && g.evidence.contains("at end of log 100"),
            "{}",
            g.evidence
        );
        assert_eq!(need, Needed::default());
    }

    #[test]
    fn differing_counts_close_it_naming_the_tables_and_recount_the_mi() {
        let o = caught_up(20_000, 100);
        let sql = count(
            Side::Sql,
            Some(15_000),
            (100, 100),
            &[("Orders", 7), ("Lines", 3)],
        );
        let mi = count(Side::Mi, Some(16_000), (0, 0), &[("Orders", 5)]);
        let (g, need) = judged(&o, &[sql.clone(), mi.clone()], 16_000 + RECOUNT_MS - 1);
        assert!(!g.open);
        assert!(
            g.reason
                .contains("dbo.Orders: 7 rows on SQL Server, 5 rows on the MI")
                && g.reason
                    .contains("dbo.Lines: 3 rows on SQL Server, no such table on the MI"),
            "{}",
            g.reason
        );
        assert_eq!(need, Needed::default(), "not before {RECOUNT_MS} ms");
        let (_, need) = judged(&o, &[sql, mi], 16_000 + RECOUNT_MS);
        assert_eq!(
            need,
            Needed {
                sql: false,
                mi: true
            }
        );
    }

    #[test]
    fn a_log_that_moved_during_or_after_the_count_voids_it() {
        let during = count(Side::Sql, Some(15_000), (90, 100), &[("Orders", 7)]);
        let o = caught_up(20_000, 100);
        let (g, need) = judged(&o, &[during], 20_000);
        assert!(g.reason.contains("while SQL Server counted"), "{g:?}");
        assert!(need.sql);

        let sql = count(Side::Sql, Some(15_000), (100, 100), &[("Orders", 7)]);
        let mi = count(Side::Mi, Some(16_000), (0, 0), &[("Orders", 7)]);
        let moved = caught_up(20_000, 120);
        let (g, _) = judged(&moved, &[sql.clone(), mi.clone()], 20_000);
        assert!(!g.open && g.reason.contains("100 then, 120 now"), "{g:?}");

        // A count newer than SQL Server's newest reading waits for the next one.
        let older = caught_up(14_000, 100);
        let (g, need) = judged(&older, &[sql, mi], 20_000);
        assert!(
            !g.open && g.reason.contains("newer than its count"),
            "{g:?}"
        );
        assert_eq!(need, Needed::default());
    }

    #[test]
    fn counts_of_an_earlier_request_or_before_the_link_holds_count_for_nothing() {
        let o = caught_up(20_000, 100);
        let mut old = count(Side::Sql, Some(15_000), (100, 100), &[("Orders", 7)]);
        old.requested_at_ms = -1;
        let (g, need) = judged(&o, &[old], 20_000);
        assert!(g.reason.contains("not counted yet"), "{g:?}");
        assert!(need.sql);

        let mut lagging = o.clone();
        lagging.last_hardened_lsn = "90".into();
        lagging.steady.equal_readings = 0;
        let (_, need) = judged(&lagging, &[], 20_000);
        assert_eq!(need, Needed::default(), "replication has not caught up");
    }
}

#[test]
fn a_forced_failover_waits_for_an_approver_only_and_records_the_gap() {
    let mut o = reading(5_000, 90, 120, 120);
    o.connected_state = "DISCONNECTED".into();
    o.synchronization_health = "NOT_HEALTHY".into();
    o.sql.as_mut().unwrap().log_send_queue_kb = 12;
    let intent = Intent {
        requested_by: "operator/admin".into(),
        allow_data_loss: true,
        reason: "site lost".into(),
        ..Default::default()
    };
    let gates = judge(&o, &intent, 6_000);
    let names: Vec<&str> = gates.iter().map(|g| g.name.as_str()).collect();
    assert_eq!(names, ["data_loss", "turn", "window", "approval", "wave"]);
    let loss = gate(&gates, "data_loss");
    assert!(loss.open);
    assert!(
        loss.evidence.contains("\"site lost\"")
            && loss.evidence.contains("hardened LSN 90")
            && loss.evidence.contains("end of log was 120")
            && loss.evidence.contains("12 KB of log not yet sent"),
        "{}",
        loss.evidence
    );
    // Approvals = 0 in the rules, yet a forced failover needs one besides admin.
    assert!(matches!(
        decide(&gates, 0, 6_000, 1_000),
        Decision::Queued(_)
    ));
    let own = ["operator/admin".to_string()];
    let alone = evaluate(
        &Facts {
            approvers: &own,
            ..facts(&o, &intent, 6_000)
        },
        &RULES,
    );
    assert!(gate(&alone, "approval").reason.contains("only approver"));
    let both = ["operator/admin".to_string(), "operator/bob".to_string()];
    let approved = evaluate(
        &Facts {
            approvers: &both,
            ..facts(&o, &intent, 6_000)
        },
        &RULES,
    );
    assert_eq!(decide(&approved, 0, 6_000, 1_000), Decision::FailOver);
}

#[test]
fn a_group_member_fails_over_only_with_every_other_member_ready() {
    use crate::cutover::group::MemberProgress;
    use crate::migration::State;
    let history = caught_up_history();
    let o = history.last().unwrap();
    let intent = Intent {
        traffic_stopped_confirmed: true,
        ..Default::default()
    };
    let member = |id: &str, state: State, open_at: Option<i64>, begun: bool| MemberProgress {
        id: id.into(),
        host: "sql01".into(),
        database: id.to_uppercase(),
        state,
        failover_begun: begun,
        verified: false,
        gates_open_at_ms: open_at,
    };
    let judge_with = |others: &[MemberProgress], now: i64| {
        let gates = evaluate(
            &Facts {
                group: Some(group::GroupFacts {
                    name: "shop",
                    others,
                }),
                ..facts(o, &intent, now)
            },
            &RULES,
        );
        gate(&gates, "group").clone()
    };
    let idle = [member("b", State::ReadyForCutover, None, false)];
    let g = judge_with(&idle, 3_000);
    assert!(!g.open && g.reason.contains("`ferry cutover b`"), "{g:?}");
    let failed = [member("b", State::Failed, None, false)];
    assert!(judge_with(&failed, 3_000).reason.contains("it failed"));
    let ready = [member("b", State::CuttingOver, Some(2_500), false)];
    assert!(judge_with(&ready, 3_000).open);
    assert!(
        !judge_with(&ready, 2_500 + group::FRESH_MS + 1).open,
        "a stale readiness does not count"
    );
    let gone = [member("b", State::CuttingOver, None, true)];
    let g = judge_with(&gone, 3_000);
    assert!(
        g.open && g.evidence.contains("B on sql01 (b) failed over"),
        "{g:?}"
    );
}

#[test]
fn a_wave_s_recurring_window_queues_the_failover_until_it_opens() {
    use crate::cutover::wave::WaveRecord;
    use crate::cutover::wave::{OnFailure, Wave};
    use crate::cutover::window::{Recurring, Window};
    let record = WaveRecord {
        wave: Wave {
            name: "weekend".into(),
            approvals: 0,
            on_failure: OnFailure::Halt,
            window: Some(Window::Recurring(Recurring {
                days: vec!["sat".into()],
                from: "22:00".into(),
                to: "02:00".into(),
                time_zone: "Europe/Paris".into(),
            })),
            migrations: vec![],
        },
        paused: false,
        approvers: vec![],
    };
    let o = reading(1_000, 100, 100, 100);
    let intent = Intent::default();
    let at = |text: &str| {
        let now = crate::rfc3339::parse_ms(text).unwrap();
        let facts = Facts {
            wave: Some(WaveFacts {
                wave: &record,
                failed_member: None,
            }),
            ..facts(&o, &intent, now)
        };
        gate(&evaluate(&facts, &RULES), "window").clone()
    };
    let friday = at("2026-12-04T23:00:00+01:00");
    assert!(friday.queued, "{friday:?}");
    assert!(
        friday.reason.contains("opens at 2026-12-05T21:00:00"),
        "in UTC: {}",
        friday.reason
    );
    let saturday_night = at("2026-12-06T00:30:00+01:00");
    assert!(saturday_night.open, "{saturday_night:?}");
    assert!(saturday_night
        .evidence
        .contains("sat 22:00-02:00 Europe/Paris"));
}

#[test]
fn failovers_in_flight_queue_by_host_and_in_all() {
    let history = caught_up_history();
    let o = history.last().unwrap();
    let intent = Intent {
        traffic_stopped_confirmed: true,
        ..Default::default()
    };
    let (host, all) = (
        vec!["m-a".to_string()],
        vec!["m-a".to_string(), "m-b".to_string()],
    );
    let turn = |rules: &Rules| {
        let facts = Facts {
            in_flight: InFlight {
                same_host: &host,
                all: &all,
            },
            ..facts(o, &intent, 3_000)
        };
        gate(&evaluate(&facts, rules), "turn").clone()
    };
    assert!(turn(&RULES).open, "no limits");
    let per_host = turn(&Rules {
        max_failovers_per_host: 1,
        ..RULES
    });
    assert!(per_host.queued && per_host.reason.contains("max_failovers_per_host = 1"));
    let global = turn(&Rules {
        max_failovers: 2,
        max_failovers_per_host: 2,
        ..RULES
    });
    assert!(
        global.queued
            && global
                .reason
                .contains("(m-a, m-b), [cutover] max_failovers = 2")
    );
    assert!(
        turn(&Rules {
            max_failovers: 3,
            ..RULES
        })
        .open
    );
}

#[test]
fn connected_sessions_keep_the_measured_workload_gate_closed() {
    let mut history = Vec::new();
    for at in [1_000, 40_000] {
        fold(&mut history, reading(at, 200, 200, 200));
    }
    let mut o = history.pop().unwrap();
    let measured = Intent::default();
    assert!(gate(&judge(&o, &measured, 40_000), "workload").open);
    o.sql.as_mut().unwrap().user_sessions = Some(3);
    let busy = gate(&judge(&o, &measured, 40_000), "workload").clone();
    assert!(
        !busy.open && busy.reason.starts_with("3 user session(s)"),
        "{busy:?}"
    );
    assert!(busy.evidence.contains("3 user session(s) on the database"));
    let log_only = Rules {
        no_user_sessions: false,
        ..RULES
    };
    assert!(
        gate(
            &evaluate(&facts(&o, &measured, 40_000), &log_only),
            "workload"
        )
        .open
    );
    o.sql.as_mut().unwrap().user_sessions = None;
    let unknown = gate(&judge(&o, &measured, 40_000), "workload").clone();
    assert!(
        unknown.reason.contains("upgrade ferry-agent"),
        "{unknown:?}"
    );
    let confirmed = Intent {
        traffic_stopped_confirmed: true,
        ..Default::default()
    };
    assert!(gate(&judge(&o, &confirmed, 40_000), "workload").open);
}
