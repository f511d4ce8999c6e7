//! Cutover groups (`cutover::group`) in the store: applied from a plan with its waves
//! (declaratively: the stored groups become exactly the file's), each member's
//! readiness as its group's gate reads it, and the group's application hook, claimed
//! and run once.

use sqlx::AnyConnection;

use super::{audit, col, Store, StoreError};
use crate::cutover::group::Group;
pub use crate::cutover::group::MemberProgress;
use crate::migration::State;

/// A group hook's run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HookRun {
    /// running, done or failed.
    pub state: String,
    pub started_at_ms: i64,
    pub finished_at_ms: Option<i64>,
    pub detail: String,
}

/// Makes the stored groups exactly `groups` (inside the plan's transaction), audited
/// per change; pushes each group's name and what became of it.
pub(super) async fn apply(
    conn: &mut AnyConnection,
    groups: &[Group],
    (actor, now_ms): (&str, i64),
    changes: &mut Vec<(String, &'static str)>,
) -> Result<(), StoreError> {
    let stored: Vec<(String, String)> =
        sqlx::query_as("SELECT name, spec FROM cutover_groups ORDER BY name")
            .fetch_all(&mut *conn)
            .await?;
    for (name, _) in stored
        .iter()
        .filter(|(n, _)| !groups.iter().any(|g| &g.name == n))
    {
        leave(conn, name).await?;
        sqlx::query("DELETE FROM cutover_groups WHERE name = $1")
            .bind(name)
            .execute(&mut *conn)
            .await?;
        record(conn, (name, actor, "group.remove"), "", now_ms).await?;
        changes.push((format!("group {name}"), "removed"));
    }
    for group in groups {
        let spec = serde_json::to_string(group).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let before = stored
            .iter()
            .find(|(n, _)| n == &group.name)
            .map(|(_, s)| s);
        let (change, action) = match before {
            Some(s) if *s == spec => {
                changes.push((format!("group {}", group.name), "unchanged"));
                continue;
            }
            Some(_) => ("updated", "group.update"),
            None => ("created", "group.create"),
        };
        leave(conn, &group.name).await?;
        sqlx::query(
            "INSERT INTO cutover_groups (name, spec, updated_at) VALUES ($1, $2, $3)
             ON CONFLICT (name) DO UPDATE SET spec = excluded.spec, updated_at = excluded.updated_at",
        )
        .bind(&group.name)
        .bind(&spec)
        .bind(now_ms)
        .execute(&mut *conn)
        .await?;
        for id in &group.migrations {
            sqlx::query("UPDATE migrations SET cutover_group = $1 WHERE id = $2")
                .bind(&group.name)
                .bind(id)
                .execute(&mut *conn)
                .await?;
        }
        record(conn, (&group.name, actor, action), &spec, now_ms).await?;
        changes.push((format!("group {}", group.name), change));
    }
    Ok(())
}

/// Takes every migration out of group `name`.
async fn leave(conn: &mut AnyConnection, name: &str) -> Result<(), StoreError> {
    sqlx::query("UPDATE migrations SET cutover_group = '' WHERE cutover_group = $1")
        .bind(name)
        .execute(conn)
        .await?;
    Ok(())
}

async fn record(
    conn: &mut AnyConnection,
    (group, actor, action): (&str, &str, &str),
    detail: &str,
    at_ms: i64,
) -> Result<(), StoreError> {
    audit::record_on(
        conn,
        format!("group/{group}"),
        (actor, action),
        detail,
        at_ms,
    )
    .await
}

impl Store {
    pub async fn groups(&self) -> Result<Vec<Group>, StoreError> {
        let _timed = self.timed("groups");
        let specs: Vec<(String, String)> =
            sqlx::query_as("SELECT name, spec FROM cutover_groups ORDER BY name")
                .fetch_all(&self.pool)
                .await?;
        specs
            .iter()
            .map(|(name, spec)| decode(name, spec))
            .collect()
    }

    /// The group migration `id` belongs to, if any.
    pub async fn group_of(&self, id: &str) -> Result<Option<Group>, StoreError> {
        let _timed = self.timed("group_of");
        let spec: Option<(String, String)> = sqlx::query_as(
            "SELECT g.name, g.spec FROM cutover_groups g JOIN migrations m ON m.cutover_group = g.name WHERE m.id = $1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        spec.map(|(name, spec)| decode(&name, &spec)).transpose()
    }

    /// Where each member of `group` stands, in the group's order.
    pub async fn member_progress(&self, group: &Group) -> Result<Vec<MemberProgress>, StoreError> {
        let _timed = self.timed("member_progress");
        let mut members = Vec::new();
        for id in &group.migrations {
            let Some(row) = sqlx::query(
                "SELECT m.id, a.name AS host, m.database_name, m.state, m.gates_open_at,
                    (SELECT COUNT(*) FROM migration_steps s WHERE s.migration_id = m.id AND s.phase = 'cutover' AND s.name = 'failover' AND s.state IN ('running', 'done')) AS begun,
                    (SELECT COUNT(*) FROM migration_steps s WHERE s.migration_id = m.id AND s.phase = 'cutover' AND s.name = 'verify_on_mi' AND s.state = 'done') AS verified
                 FROM migrations m JOIN agents a ON a.id = m.agent_id WHERE m.id = $1",
            )
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            else {
                continue;
            };
            let state: String = col(&row, "state")?;
            members.push(MemberProgress {
                id: col(&row, "id")?,
                host: col(&row, "host")?,
                database: col(&row, "database_name")?,
                state: State::parse(&state)
                    .ok_or_else(|| StoreError::Corrupt(format!("migration state {state:?}")))?,
                failover_begun: col::<i64>(&row, "begun")? > 0,
                verified: col::<i64>(&row, "verified")? > 0,
                gates_open_at_ms: col(&row, "gates_open_at")?,
            });
        }
        Ok(members)
    }

    /// Notes whether every gate of migration `id`'s own is open now.
    pub async fn set_gates_open(&self, id: &str, at_ms: Option<i64>) -> Result<(), StoreError> {
        let _timed = self.timed("set_gates_open");
        self.execute(
            sqlx::query("UPDATE migrations SET gates_open_at = $1 WHERE id = $2")
                .bind(at_ms)
                .bind(id),
        )
        .await?;
        Ok(())
    }

    pub async fn hook_run(&self, group: &str) -> Result<Option<HookRun>, StoreError> {
        let _timed = self.timed("hook_run");
        let row = sqlx::query("SELECT * FROM group_hooks WHERE group_name = $1")
            .bind(group)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|row| {
            Ok(HookRun {
                state: col(&row, "state")?,
                started_at_ms: col(&row, "started_at")?,
                finished_at_ms: col(&row, "finished_at")?,
                detail: col(&row, "detail")?,
            })
        })
        .transpose()
    }

    /// Claims the run of `group`'s hook at `now_ms`: when it never ran (or a retry
    /// of a member cleared its failed run), or one left running by a stopped control
    /// plane started before `lost_before_ms`. True for the one caller that gets to run it.
    pub async fn claim_hook(
        &self,
        group: &str,
        lost_before_ms: i64,
        now_ms: i64,
    ) -> Result<bool, StoreError> {
        let _timed = self.timed("claim_hook");
        let claimed = self.execute(sqlx::query(
            "INSERT INTO group_hooks (group_name, state, started_at, finished_at, detail) VALUES ($1, 'running', $2, NULL, '')
             ON CONFLICT (group_name) DO UPDATE SET state = 'running', started_at = excluded.started_at, finished_at = NULL, detail = ''
             WHERE group_hooks.state = 'running' AND group_hooks.started_at < $3",
        )
        .bind(group)
        .bind(now_ms)
        .bind(lost_before_ms))
        .await?;
        Ok(claimed == 1)
    }

    /// Records the end of `group`'s hook run started at `started_at_ms`, audited.
    pub async fn finish_hook(
        &self,
        (group, started_at_ms): (&str, i64),
        ok: bool,
        detail: &str,
        now_ms: i64,
    ) -> Result<(), StoreError> {
        let _timed = self.timed("finish_hook");
        let mut tx = self.write().await?;
        let state = if ok { "done" } else { "failed" };
        sqlx::query("UPDATE group_hooks SET state = $1, finished_at = $2, detail = $3 WHERE group_name = $4 AND started_at = $5")
            .bind(state)
            .bind(now_ms)
            .bind(detail)
            .bind(group)
            .bind(started_at_ms)
            .execute(&mut *tx)
            .await?;
        let action = if ok {
            "group.hook_done"
        } else {
            "group.hook_failed"
        };
        record(
            &mut tx,
            (group, crate::migration::ACTOR, action),
            detail,
            now_ms,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }
}

fn decode(name: &str, spec: &str) -> Result<Group, StoreError> {
    serde_json::from_str(spec).map_err(|e| StoreError::Corrupt(format!("group {name}: {e}")))
}
