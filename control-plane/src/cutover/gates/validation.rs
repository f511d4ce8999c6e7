//! The validation gate: every user table (or `validate_tables`) holds as many rows on
//! the MI as on SQL Server, counted on both sides once nothing more is written. SQL
//! Server's count is bracketed by two readings of its end of log; it stands only
//! while the link's newest reading still shows that end of log (nothing written
//! since). The MI's count is taken after it; a difference is counted again every
//! [`RECOUNT_MS`] (the MI may still be applying the log it hardened), and one that
//! stays closes the gate until the gates' timeout stops the cutover.
//!
//! [`needed`] says which side to count next; the gate only judges counts.

use super::{rfc3339, Facts, Gate, GateName, Rules};
use crate::cutover::row_counts::{RowCount, Side};
use crate::migration::observe::Observation;

/// How soon the MI is counted again while the counts differ.
pub const RECOUNT_MS: i64 = 2000;

/// Which side's count to ask for now.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Needed {
    pub sql: bool,
    pub mi: bool,
}

/// What the counts of the current cutover request came to.
enum Judged<'a> {
    NotAsked,
    Counting(Side, i64),
    Failed(Side, &'a str),
    /// Rows were written on SQL Server while it counted or since.
    Moved(String),
    /// SQL Server's count is newer than the link's newest reading of it.
    Unconfirmed(i64),
    Differ(Vec<String>),
    Equal,
}

fn current<'a>(facts: &Facts<'a>, side: Side) -> Option<&'a RowCount> {
    facts
        .counts
        .iter()
        .find(|c| c.side == side && c.requested_at_ms == facts.intent.requested_at_ms)
}

fn judge<'a>(facts: &Facts<'a>, o: &Observation) -> Judged<'a> {
    let Some(sql) = current(facts, Side::Sql) else {
        return Judged::NotAsked;
    };
    let Some(sql_at) = sql.counted_at_ms else {
        return Judged::Counting(Side::Sql, sql.asked_at_ms);
    };
    if !sql.error.is_empty() {
        return Judged::Failed(Side::Sql, &sql.error);
    }
    if sql.lsn_before != sql.lsn_after {
        return Judged::Moved(format!(
            "while SQL Server counted (end of log {} then {})",
            sql.lsn_before, sql.lsn_after
        ));
    }
    let now_lsn = o.sql.as_ref().map(|s| s.end_of_log_lsn.as_str());
    if o.sql_observed_ms < sql_at {
        return Judged::Unconfirmed(sql_at);
    }
    if now_lsn != Some(sql.lsn_after.as_str()) {
        return Judged::Moved(format!(
            "since SQL Server counted (end of log {} then, {} now)",
            sql.lsn_after,
            now_lsn.unwrap_or("unknown")
        ));
    }
    let mi = match current(facts, Side::Mi) {
        Some(mi) if mi.asked_at_ms >= sql_at => mi,
        _ => return Judged::NotAsked,
    };
    if mi.counted_at_ms.is_none() {
        return Judged::Counting(Side::Mi, mi.asked_at_ms);
    }
    if !mi.error.is_empty() {
        return Judged::Failed(Side::Mi, &mi.error);
    }
    let differ = differences(sql, mi);
    if differ.is_empty() {
        Judged::Equal
    } else {
        Judged::Differ(differ)
    }
}

/// Tables whose rows differ, as "schema.name: N on SQL Server, M on the MI".
fn differences(sql: &RowCount, mi: &RowCount) -> Vec<String> {
    let find = |count: &RowCount, schema: &str, name: &str| {
        count
            .tables
            .iter()
            .find(|t| t.schema.eq_ignore_ascii_case(schema) && t.name.eq_ignore_ascii_case(name))
            .map(|t| t.rows)
    };
    let rows = |n: Option<i64>| n.map_or("no such table".to_string(), |n| format!("{n} rows"));
    let mut differ = Vec::new();
    for t in &sql.tables {
        let on_mi = find(mi, &t.schema, &t.name);
        if on_mi != Some(t.rows) {
            differ.push(format!(
                "{}.{}: {} on SQL Server, {} on the MI",
                t.schema,
                t.name,
                rows(Some(t.rows)),
                rows(on_mi)
            ));
        }
    }
    for t in &mi.tables {
        if find(sql, &t.schema, &t.name).is_none() {
            differ.push(format!(
                "{}.{}: no such table on SQL Server, {} on the MI",
                t.schema,
                t.name,
                rows(Some(t.rows))
            ));
        }
    }
    differ
}

/// The link's other gates hold: the counts can mean something.
fn link_holds(gates: &[Gate]) -> bool {
    [GateName::Workload, GateName::Replication, GateName::Health]
        .iter()
        .all(|name| gates.iter().any(|g| g.name == *name && g.open))
}

pub(super) fn gate(facts: &Facts, o: &Observation, rules: &Rules) -> Gate {
    if !rules.validate {
        return Gate::new(
            GateName::Validation,
            "not asked ([cutover] validate = \"off\")".into(),
            None,
        );
    }
    let evidence = evidence(facts);
    let closed = match judge(facts, o) {
        Judged::Equal => None,
        Judged::NotAsked => Some("not counted yet: the rows are counted on both sides once the workload, replication and health gates hold".into()),
        Judged::Counting(Side::Sql, at) => Some(format!("SQL Server's agent is counting the rows (asked {})", rfc3339(at))),
        Judged::Counting(Side::Mi, at) => Some(format!("counting the rows on the MI (since {})", rfc3339(at))),
        Judged::Failed(side, error) => Some(format!(
            "the count on {} failed: {error}; counting again",
            side_name(side)
        )),
        Judged::Moved(when) => Some(format!("rows were written {when}: counting again once the workload stops")),
        Judged::Unconfirmed(at) => Some(format!(
            "waiting for a reading of SQL Server's log newer than its count ({})",
            rfc3339(at)
        )),
        Judged::Differ(differ) => Some(format!(
            "rows differ ({}): counting the MI again every {} s (it may still be applying the log); a difference that stays stops the cutover before its failover",
            shortened(&differ),
            RECOUNT_MS / 1000
        )),
    };
    Gate::new(GateName::Validation, evidence, closed)
}

/// Which side to count now: SQL Server when it has no count for this request that
/// still stands (or its agent's went unanswered for `ask_timeout_ms`), the MI after
/// it, and again while they differ. Nothing until the link's gates hold.
pub fn needed(facts: &Facts, gates: &[Gate], rules: &Rules, ask_timeout_ms: i64) -> Needed {
    let Some(o) = facts.observation else {
        return Needed::default();
    };
    if !rules.validate || !link_holds(gates) {
        return Needed::default();
    }
    let unanswered =
        |side| current(facts, side).is_some_and(|c| facts.now_ms - c.asked_at_ms >= ask_timeout_ms);
    // A side counted a while ago (or never) may be counted again.
    let due = |side| {
        current(facts, side)
            .and_then(|c| c.counted_at_ms)
            .is_none_or(|at| facts.now_ms - at >= RECOUNT_MS)
    };
    let sql_counted = current(facts, Side::Sql).is_some_and(|c| c.counted_at_ms.is_some());
    match judge(facts, o) {
        Judged::Equal | Judged::Unconfirmed(_) => Needed::default(),
        Judged::NotAsked if sql_counted => Needed {
            sql: false,
            mi: true,
        },
        Judged::NotAsked => Needed {
            sql: true,
            mi: false,
        },
        Judged::Moved(_) | Judged::Failed(Side::Sql, _) => Needed {
            sql: due(Side::Sql),
            mi: false,
        },
        Judged::Counting(side, _) => Needed {
            sql: side == Side::Sql && unanswered(Side::Sql),
            mi: side == Side::Mi && unanswered(Side::Mi),
        },
        Judged::Failed(Side::Mi, _) | Judged::Differ(_) => Needed {
            sql: false,
            mi: due(Side::Mi),
        },
    }
}

fn side_name(side: Side) -> &'static str {
    match side {
        Side::Sql => "SQL Server",
        Side::Mi => "the MI",
    }
}

fn evidence(facts: &Facts) -> String {
    let side = |side: Side| match current(facts, side) {
        Some(RowCount {
            counted_at_ms: Some(at),
            tables,
            error,
            lsn_after,
            ..
        }) if error.is_empty() => format!(
            "{}: {} table(s), {} row(s), counted {}{}",
            side_name(side),
            tables.len(),
            tables.iter().map(|t| t.rows).sum::<i64>(),
            rfc3339(*at),
            if lsn_after.is_empty() {
                String::new()
            } else {
                format!(" at end of log {lsn_after}")
            }
        ),
        Some(RowCount {
            counted_at_ms: Some(_),
            ..
        }) => format!("{}: the count failed", side_name(side)),
        Some(_) => format!("{}: counting", side_name(side)),
        None => format!("{}: not counted", side_name(side)),
    };
    format!("{}; {}", side(Side::Sql), side(Side::Mi))
}

/// The first few differences, and how many more.
fn shortened(differ: &[String]) -> String {
    const SHOWN: usize = 3;
    let mut text = differ[..differ.len().min(SHOWN)].join("; ");
    if differ.len() > SHOWN {
        text.push_str(&format!("; and {} more table(s)", differ.len() - SHOWN));
    }
    text
}
