//! Waves (`cutover::wave`): applied from a plan, declaratively; paused and resumed;
//! approved as a whole. A migration belongs to at most one wave (`migrations.wave`).

use sqlx::AnyConnection;

use super::audit;
use super::migrations::{bump_revisions, Change};
use super::{col, Store, StoreError};
use crate::cutover::wave::Wave;
pub use crate::cutover::wave::WaveRecord;

/// What applying a plan came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PlanApplied {
    /// Each wave's and group's name and what became of it.
    Applied(Vec<(String, &'static str)>),
    /// Refused, nothing changed: why.
    Refused(String),
}

impl PlanApplied {
    /// The changes, when it was applied.
    pub fn applied(self) -> Option<Vec<(String, &'static str)>> {
        match self {
            PlanApplied::Applied(changes) => Some(changes),
            PlanApplied::Refused(_) => None,
        }
    }
}

/// Whether a plan may change the wave or group of a running cutover.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunningCutovers {
    Refuse,
    /// An admin's plan.
    MayChange,
}

impl Store {
    /// Makes the stored waves exactly `waves` and the cutover groups exactly
    /// `groups`, audited per change; each wave's name
    /// and what became of it (created, updated, unchanged, removed). An updated wave's
    /// approvals are cleared: they approved something else.
    ///
    /// Separation of duties: a plan that would change the wave or group of a migration
    /// whose cutover runs, its failover not begun (its approvals, its window, its
    /// membership), is refused, changing nothing, unless `running` says it may (an
    /// admin's): whoever asked for a cutover cannot lower what it needs.
    pub async fn apply_plan(
        &self,
        (waves, groups): (&[Wave], &[crate::cutover::group::Group]),
        (actor, running): (&str, RunningCutovers),
        now_ms: i64,
    ) -> Result<PlanApplied, StoreError> {
        let _timed = self.timed("apply_plan");
        let mut tx = self.write().await?;
        // Their members' failovers judged before this plan are not made after it.
        let members = "wave <> '' OR cutover_group <> ''";
        bump_revisions(&mut tx, members, None).await?;
        let cutting_over_before = cutting_over(&mut tx).await?;
        let stored: Vec<(String, String)> =
            sqlx::query_as("SELECT name, spec FROM waves ORDER BY name")
                .fetch_all(&mut *tx)
                .await?;
        let mut changes = Vec::new();
        for (name, _) in stored
            .iter()
            .filter(|(n, _)| !waves.iter().any(|w| &w.name == n))
        {
            clear(&mut tx, name).await?;
            sqlx::query("DELETE FROM waves WHERE name = $1")
                .bind(name)
                .execute(&mut *tx)
                .await?;
            record(&mut tx, (name, actor, "wave.remove"), "", now_ms).await?;
            changes.push((name.clone(), "removed"));
        }
        for wave in waves {
            let spec =
                serde_json::to_string(wave).map_err(|e| StoreError::Corrupt(e.to_string()))?;
            let before = stored.iter().find(|(n, _)| n == &wave.name).map(|(_, s)| s);
            let change = match before {
                Some(s) if *s == spec => {
                    changes.push((wave.name.clone(), "unchanged"));
                    continue;
                }
                Some(_) => "updated",
                None => "created",
            };
            clear(&mut tx, &wave.name).await?;
            sqlx::query(
                "INSERT INTO waves (name, spec, paused, updated_at) VALUES ($1, $2, 0, $3)
                 ON CONFLICT (name) DO UPDATE SET spec = excluded.spec, updated_at = excluded.updated_at",
            )
            .bind(&wave.name)
            .bind(&spec)
            .bind(now_ms)
            .execute(&mut *tx)
            .await?;
            for id in &wave.migrations {
                sqlx::query("UPDATE migrations SET wave = $1 WHERE id = $2")
                    .bind(&wave.name)
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
            }
            let action = if before.is_some() {
                "wave.update"
            } else {
                "wave.create"
            };
            record(&mut tx, (&wave.name, actor, action), &spec, now_ms).await?;
            changes.push((wave.name.clone(), change));
        }
        super::groups::apply(&mut tx, groups, (actor, now_ms), &mut changes).await?;
        bump_revisions(&mut tx, members, None).await?;
        if running == RunningCutovers::Refuse {
            let changed = |name: &str| {
                !name.is_empty()
                    && changes
                        .iter()
                        .any(|(n, change)| n == name && *change != "unchanged")
            };
            let after = cutting_over(&mut tx).await?;
            for (id, wave, group) in &cutting_over_before {
                let now = after.iter().find(|(other, _, _)| other == id);
                let moved = now.is_none_or(|(_, w, g)| w != wave || g != group);
                if moved || changed(wave) || changed(group) {
                    let within = [("wave", wave), ("group", group)]
                        .into_iter()
                        .filter(|(_, name)| !name.is_empty())
                        .map(|(kind, name)| format!("{kind} {name}"))
                        .collect::<Vec<_>>()
                        .join(" and ");
                    tx.rollback().await?;
                    return Ok(PlanApplied::Refused(format!(
                        "migration {id} is cutting over ({}), its failover not begun: this plan would change what its cutover needs; apply it once the cutover ends or is cancelled, or as an admin",
                        if within.is_empty() { "in no wave or group".to_string() } else { format!("in {within}") }
                    )));
                }
            }
        }
        tx.commit().await?;
        Ok(PlanApplied::Applied(changes))
    }

    pub async fn waves(&self) -> Result<Vec<WaveRecord>, StoreError> {
        let _timed = self.timed("waves");
        let rows = sqlx::query("SELECT name, spec, paused FROM waves ORDER BY name")
            .fetch_all(&self.pool)
            .await?;
        let mut waves = Vec::new();
        for row in &rows {
            let name: String = col(row, "name")?;
            waves.push(
                self.decode(&name, &col::<String>(row, "spec")?, col(row, "paused")?)
                    .await?,
            );
        }
        Ok(waves)
    }

    pub async fn wave(&self, name: &str) -> Result<Option<WaveRecord>, StoreError> {
        let _timed = self.timed("wave");
        let row: Option<(String, i64)> =
            sqlx::query_as("SELECT spec, paused FROM waves WHERE name = $1")
                .bind(name)
                .fetch_optional(&self.pool)
                .await?;
        match row {
            Some((spec, paused)) => Ok(Some(self.decode(name, &spec, paused).await?)),
            None => Ok(None),
        }
    }

    async fn decode(&self, name: &str, spec: &str, paused: i64) -> Result<WaveRecord, StoreError> {
        let wave = serde_json::from_str(spec)
            .map_err(|e| StoreError::Corrupt(format!("wave {name}: {e}")))?;
        let approvers = sqlx::query_scalar(
            "SELECT approver FROM wave_approvals WHERE wave = $1 ORDER BY approved_at, approver",
        )
        .bind(name)
        .fetch_all(&self.pool)
        .await?;
        Ok(WaveRecord {
            wave,
            paused: paused != 0,
            approvers,
        })
    }

    /// Pauses or resumes wave `name`, audited; Unchanged when it already was.
    pub async fn set_wave_paused(
        &self,
        name: &str,
        paused: bool,
        actor: &str,
        now_ms: i64,
    ) -> Result<Change, StoreError> {
        let _timed = self.timed("set_wave_paused");
        let mut tx = self.write().await?;
        // A failover of a member judged before the pause is not made after it.
        bump_revisions(&mut tx, "wave = $1", Some(name)).await?;
        let changed = sqlx::query(
            "UPDATE waves SET paused = $1, updated_at = $2 WHERE name = $3 AND paused <> $1",
        )
        .bind(i64::from(paused))
        .bind(now_ms)
        .bind(name)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if changed == 0 {
            return Ok(Change::Unchanged);
        }
        let action = if paused { "wave.pause" } else { "wave.resume" };
        record(&mut tx, (name, actor, action), "", now_ms).await?;
        tx.commit().await?;
        Ok(Change::Made)
    }

    /// `approver`'s approval of wave `name` as it stands, audited; Unchanged when the
    /// wave does not exist or they approved it already.
    pub async fn approve_wave(
        &self,
        name: &str,
        approver: &str,
        now_ms: i64,
    ) -> Result<Change, StoreError> {
        let _timed = self.timed("approve_wave");
        let mut tx = self.write().await?;
        let added = sqlx::query(
            "INSERT INTO wave_approvals (wave, approver, approved_at) SELECT $1, $2, $3
             WHERE EXISTS (SELECT 1 FROM waves WHERE name = $1) ON CONFLICT (wave, approver) DO NOTHING",
        )
        .bind(name)
        .bind(approver)
        .bind(now_ms)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if added == 0 {
            return Ok(Change::Unchanged);
        }
        record(&mut tx, (name, approver, "wave.approve"), "", now_ms).await?;
        tx.commit().await?;
        Ok(Change::Made)
    }

    /// Another member of wave `wave` whose migration failed, if any.
    pub async fn failed_in_wave(
        &self,
        wave: &str,
        except: &str,
    ) -> Result<Option<String>, StoreError> {
        let _timed = self.timed("failed_in_wave");
        Ok(sqlx::query_scalar("SELECT id FROM migrations WHERE wave = $1 AND id <> $2 AND state = 'failed' ORDER BY id LIMIT 1")
            .bind(wave)
            .bind(except)
            .fetch_optional(&self.pool)
            .await?)
    }
}

/// Takes every migration out of wave `name` and clears its approvals.
async fn clear(conn: &mut AnyConnection, name: &str) -> Result<(), StoreError> {
    sqlx::query("UPDATE migrations SET wave = '' WHERE wave = $1")
        .bind(name)
        .execute(&mut *conn)
        .await?;
    sqlx::query("DELETE FROM wave_approvals WHERE wave = $1")
        .bind(name)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Audits `action` on wave `wave` by `actor`.
async fn record(
    conn: &mut AnyConnection,
    (wave, actor, action): (&str, &str, &str),
    detail: &str,
    at_ms: i64,
) -> Result<(), StoreError> {
    audit::record_on(conn, format!("wave/{wave}"), (actor, action), detail, at_ms).await
}

/// The migrations cutting over whose failover has not begun: (id, wave, group).
async fn cutting_over(
    conn: &mut AnyConnection,
) -> Result<Vec<(String, String, String)>, StoreError> {
    Ok(sqlx::query_as(
        "SELECT m.id, m.wave, m.cutover_group FROM migrations m WHERE m.state = $1
         AND NOT EXISTS (SELECT 1 FROM migration_steps s WHERE s.migration_id = m.id
             AND s.name = $2 AND s.state IN ('running', 'done'))
         ORDER BY m.id",
    )
    .bind(crate::migration::State::CuttingOver.as_str())
    .bind(crate::migration::journal::FAILOVER)
    .fetch_all(conn)
    .await?)
}
