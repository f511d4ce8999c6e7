//! Assessment runs and their results. A run is created with one command per target host
//! in one transaction; an agent's Assessment report is stored in its report's
//! transaction, with each database's readiness derived then; reads are the rollups the
//! operator API shows.

use std::collections::HashMap;

use sqlx::any::AnyRow;
use sqlx::AnyConnection;

use super::audit::{self, AuditEvent};
use super::commands::{self, CommandRecord, CommandState};
use super::{agent_id, col, Store, StoreError};
use crate::assess::diff::Outcome;
use crate::assess::readiness::{self, Readiness};
use crate::assess::{CheckResult, CheckStatus, Finding, InstanceAssessment, Scope, Severity};
use crate::fleet::identity::AgentId;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunRecord {
    pub id: String,
    pub created_by: String,
    pub created_at_ms: i64,
    pub deadline_at_ms: i64,
    pub selector: String,
    pub trigger: String,
}

/// A target host of a run, with what its command and its agent say now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetRecord {
    pub agent_id: AgentId,
    pub host: String,
    pub last_seen_ms: Option<i64>,
    pub revoked: bool,
    pub command_state: CommandState,
    pub command_error: String,
    pub reported_at_ms: Option<i64>,
}

/// Where an instance sorts in a run's pages: host name, agent id, instance name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InstanceKey {
    pub host: String,
    pub agent_id: String,
    pub instance: String,
}

impl InstanceRow {
    pub fn key(&self) -> InstanceKey {
        InstanceKey {
            host: self.host.clone(),
            agent_id: self.agent_id.to_string(),
            instance: self.instance.clone(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceRow {
    pub agent_id: AgentId,
    pub host: String,
    pub instance: String,
    pub reachable: bool,
    pub error: String,
    pub product_version: String,
    pub readiness: Readiness,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatabaseRow {
    pub host: String,
    pub instance: String,
    pub database: String,
    pub size_bytes: i64,
    pub readiness: Readiness,
    pub reasons: Vec<String>,
}

/// How often one check hit across a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleRow {
    pub check_id: String,
    pub severity: Severity,
    pub title: String,
    pub instances: u32,
    pub databases: u32,
    pub unknown: u32,
}

/// A check's result on one instance, with its findings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResultRow {
    pub host: String,
    pub instance: String,
    pub result: CheckResult,
}

impl Store {
    /// Creates the run and one queued command per target, audited as one event. Returns
    /// false, creating nothing, when a run with its id exists (a scheduled slot's run
    /// made by another replica).
    pub async fn create_assessment_run(
        &self,
        run: &RunRecord,
        commands: &[CommandRecord],
    ) -> Result<bool, StoreError> {
        let _timed = self.timed("create_assessment_run");
        let mut tx = self.write().await?;
        let inserted = sqlx::query("INSERT INTO assessment_runs (id, created_by, created_at, deadline_at, selector, trigger_kind) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (id) DO NOTHING")
            .bind(&run.id)
            .bind(&run.created_by)
            .bind(run.created_at_ms)
            .bind(run.deadline_at_ms)
            .bind(&run.selector)
            .bind(&run.trigger)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if inserted == 0 {
            return Ok(false);
        }
        for command in commands {
            commands::insert(&mut tx, command).await?;
            sqlx::query(
                "INSERT INTO assessment_targets (run_id, agent_id, command_id) VALUES ($1, $2, $3)",
            )
            .bind(&run.id)
            .bind(command.agent_id.to_string())
            .bind(&command.id)
            .execute(&mut *tx)
            .await?;
        }
        let event = AuditEvent {
            at_ms: run.created_at_ms,
            actor: run.created_by.clone(),
            action: "assessment.run".into(),
            target: format!("assessment/{}", run.id),
            detail: format!(
                "selector={} targets={} trigger={}",
                run.selector,
                commands.len(),
                run.trigger
            ),
        };
        audit::record(&mut tx, &event).await?;
        tx.commit().await?;
        Ok(true)
    }

    pub async fn get_assessment_run(&self, id: &str) -> Result<Option<RunRecord>, StoreError> {
        let _timed = self.timed("get_assessment_run");
        let row = sqlx::query("SELECT * FROM assessment_runs WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(decode_run).transpose()
    }

    /// The run listed right after `run` by [`Self::list_assessment_runs`]: the one
    /// before it.
    pub async fn previous_assessment_run(
        &self,
        run: &RunRecord,
    ) -> Result<Option<RunRecord>, StoreError> {
        let _timed = self.timed("previous_assessment_run");
        let row = sqlx::query("SELECT * FROM assessment_runs WHERE created_at < $1 OR (created_at = $1 AND id > $2) ORDER BY created_at DESC, id LIMIT 1")
            .bind(run.created_at_ms)
            .bind(&run.id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(decode_run).transpose()
    }

    /// The newest runs first; with `agent`, only runs that targeted it.
    pub async fn list_assessment_runs(
        &self,
        agent: Option<AgentId>,
        limit: u32,
    ) -> Result<Vec<RunRecord>, StoreError> {
        let _timed = self.timed("list_assessment_runs");
        let agent = agent.map(|a| a.to_string()).unwrap_or_default();
        let rows = sqlx::query("SELECT r.* FROM assessment_runs r WHERE $1 = '' OR EXISTS (SELECT 1 FROM assessment_targets t WHERE t.run_id = r.id AND t.agent_id = $1) ORDER BY r.created_at DESC, r.id LIMIT $2")
            .bind(agent)
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(decode_run).collect()
    }

    /// At most `limit` targets of the run by host name, after `after` (a host's name
    /// and agent id; None from the start).
    pub async fn assessment_targets_page(
        &self,
        run: &str,
        after: Option<(&str, &str)>,
        limit: u32,
    ) -> Result<Vec<TargetRecord>, StoreError> {
        let _timed = self.timed("assessment_targets_page");
        let (name, id) = after.unwrap_or_default();
        let rows = sqlx::query(
            "SELECT t.agent_id, a.name, a.last_seen_at, a.revoked_at, c.state, c.error_code, c.error_message, t.reported_at
             FROM assessment_targets t JOIN agents a ON a.id = t.agent_id JOIN commands c ON c.id = t.command_id
             WHERE t.run_id = $1 AND ($2 = 0 OR a.name > $3 OR (a.name = $3 AND t.agent_id > $4))
             ORDER BY a.name, t.agent_id LIMIT $5",
        )
        .bind(run)
        .bind(i64::from(after.is_some()))
        .bind(name)
        .bind(id)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                let state: String = col(row, "state")?;
                let code: String = col(row, "error_code")?;
                let message: String = col(row, "error_message")?;
                Ok(TargetRecord {
                    agent_id: agent_id(&col::<String>(row, "agent_id")?)?,
                    host: col(row, "name")?,
                    last_seen_ms: col(row, "last_seen_at")?,
                    revoked: col::<Option<i64>>(row, "revoked_at")?.is_some(),
                    command_state: state.parse().map_err(StoreError::Corrupt)?,
                    command_error: if code.is_empty() {
                        message
                    } else {
                        format!("{code}: {message}")
                    },
                    reported_at_ms: col(row, "reported_at")?,
                })
            })
            .collect()
    }

    /// The run's targets grouped by what decides their state: one representative
    /// target per group (its command's state, whether its assessment arrived, its
    /// agent seen since `seen_since_ms` and not revoked, or not) and how many there
    /// are like it. `assess::runs::TargetState::derive` then judges each group.
    pub async fn assessment_target_groups(
        &self,
        run: &str,
        seen_since_ms: i64,
    ) -> Result<Vec<(TargetRecord, u32)>, StoreError> {
        let _timed = self.timed("assessment_target_groups");
        let rows = sqlx::query(
            "SELECT state, reported, online, COUNT(*) AS n FROM (
                SELECT c.state,
                    CAST(CASE WHEN t.reported_at IS NULL THEN 0 ELSE 1 END AS BIGINT) AS reported,
                    CAST(CASE WHEN a.revoked_at IS NULL AND a.last_seen_at >= $2 THEN 1 ELSE 0 END AS BIGINT) AS online
                FROM assessment_targets t JOIN agents a ON a.id = t.agent_id JOIN commands c ON c.id = t.command_id
                WHERE t.run_id = $1
             ) g GROUP BY state, reported, online",
        )
        .bind(run)
        .bind(seen_since_ms)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                let state: String = col(row, "state")?;
                let online = col::<i64>(row, "online")? == 1;
                let representative = TargetRecord {
                    agent_id: AgentId(uuid::Uuid::nil()),
                    host: String::new(),
                    last_seen_ms: online.then_some(seen_since_ms),
                    revoked: !online,
                    command_state: state.parse().map_err(StoreError::Corrupt)?,
                    command_error: String::new(),
                    reported_at_ms: (col::<i64>(row, "reported")? == 1).then_some(0),
                };
                Ok((representative, col::<i64>(row, "n")? as u32))
            })
            .collect()
    }

    /// Instances of the run; with `agent`, of that host only.
    pub async fn assessment_instances(
        &self,
        run: &str,
        agent: Option<AgentId>,
    ) -> Result<Vec<InstanceRow>, StoreError> {
        let _timed = self.timed("assessment_instances");
        let agent = agent.map(|a| a.to_string()).unwrap_or_default();
        let rows = sqlx::query(
            "SELECT i.*, a.name AS host FROM assessment_instances i JOIN agents a ON a.id = i.agent_id
             WHERE i.run_id = $1 AND ($2 = '' OR i.agent_id = $2) ORDER BY a.name, i.instance_name",
        )
        .bind(run)
        .bind(agent)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(decode_instance).collect()
    }

    /// At most `limit` instances of the run, by host name, agent and instance, after
    /// the instance `after` of an earlier page.
    pub async fn assessment_instances_page(
        &self,
        run: &str,
        after: Option<&InstanceKey>,
        limit: u32,
    ) -> Result<Vec<InstanceRow>, StoreError> {
        let _timed = self.timed("assessment_instances_page");
        let start = after.cloned().unwrap_or_default();
        let rows = sqlx::query(
            "SELECT i.*, a.name AS host FROM assessment_instances i JOIN agents a ON a.id = i.agent_id
             WHERE i.run_id = $1 AND ($2 = 0 OR (a.name, i.agent_id, i.instance_name) > ($3, $4, $5))
             ORDER BY a.name, i.agent_id, i.instance_name LIMIT $6",
        )
        .bind(run)
        .bind(i64::from(after.is_some()))
        .bind(start.host)
        .bind(start.agent_id)
        .bind(start.instance)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(decode_instance).collect()
    }

    /// The databases of `instances` (a page of the run's instances), in the page's
    /// order: looked up by the page's hosts through the primary key, not by a scan of
    /// the run (a page of a 10,000-host run is a thousand lookups, not 50,000 rows).
    pub async fn assessment_databases_of(
        &self,
        run: &str,
        instances: &[InstanceRow],
    ) -> Result<Vec<DatabaseRow>, StoreError> {
        let _timed = self.timed("assessment_databases_of");
        let mut agents: Vec<String> = instances.iter().map(|i| i.agent_id.to_string()).collect();
        agents.sort_unstable();
        agents.dedup();
        // Where each instance of the page stands in it.
        let position: HashMap<(String, &str), usize> = instances
            .iter()
            .enumerate()
            .map(|(n, i)| ((i.agent_id.to_string(), i.instance.as_str()), n))
            .collect();
        let mut databases: Vec<(usize, DatabaseRow)> = Vec::new();
        // 500 hosts a statement: well within both dialects' parameter limits.
        for chunk in agents.chunks(500) {
            let list = (0..chunk.len())
                .map(|i| format!("${}", i + 2))
                .collect::<Vec<_>>()
                .join(", ");
            let sql = format!(
                "SELECT d.*, a.name AS host FROM assessment_databases d JOIN agents a ON a.id = d.agent_id
                 WHERE d.run_id = $1 AND d.agent_id IN ({list})"
            );
            let mut query = sqlx::query(&sql).bind(run);
            for agent in chunk {
                query = query.bind(agent.as_str());
            }
            for row in query.fetch_all(&self.pool).await? {
                let agent: String = col(&row, "agent_id")?;
                let instance: String = col(&row, "instance_name")?;
                if let Some(&at) = position.get(&(agent, instance.as_str())) {
                    databases.push((at, decode_database(&row)?));
                }
            }
        }
        databases.sort_by(|(x_at, x), (y_at, y)| (x_at, &x.database).cmp(&(y_at, &y.database)));
        Ok(databases.into_iter().map(|(_, d)| d).collect())
    }

    /// How many of the run's databases are at each readiness.
    pub async fn assessment_readiness_counts(
        &self,
        run: &str,
    ) -> Result<Vec<(Readiness, u32)>, StoreError> {
        let _timed = self.timed("assessment_readiness_counts");
        let rows = sqlx::query(
            "SELECT readiness, COUNT(*) AS n FROM assessment_databases WHERE run_id = $1 GROUP BY readiness",
        )
        .bind(run)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok((
                    word(row, "readiness", Readiness::parse)?,
                    col::<i64>(row, "n")? as u32,
                ))
            })
            .collect()
    }

    /// Databases of the run; with `agent`, of that host only.
    pub async fn assessment_databases(
        &self,
        run: &str,
        agent: Option<AgentId>,
    ) -> Result<Vec<DatabaseRow>, StoreError> {
        let _timed = self.timed("assessment_databases");
        let agent = agent.map(|a| a.to_string()).unwrap_or_default();
        let rows = sqlx::query(
            "SELECT d.*, a.name AS host FROM assessment_databases d JOIN agents a ON a.id = d.agent_id
             WHERE d.run_id = $1 AND ($2 = '' OR d.agent_id = $2) ORDER BY a.name, d.instance_name, d.database_name",
        )
        .bind(run)
        .bind(agent)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(decode_database).collect()
    }

    /// The newest assessment of one database: its readiness and the checks behind it.
    pub async fn newest_database_assessment(
        &self,
        agent: AgentId,
        instance: &str,
        database: &str,
    ) -> Result<Option<(Readiness, Vec<String>)>, StoreError> {
        let _timed = self.timed("newest_database_assessment");
        let row = sqlx::query(
            "SELECT d.readiness, d.reasons FROM assessment_databases d JOIN assessment_runs r ON r.id = d.run_id
             WHERE d.agent_id = $1 AND d.instance_name = $2 AND d.database_name = $3
             ORDER BY r.created_at DESC LIMIT 1",
        )
        .bind(agent.to_string())
        .bind(instance)
        .bind(database)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|row| {
            let reasons: String = col(&row, "reasons")?;
            Ok((
                word(&row, "readiness", Readiness::parse)?,
                reasons
                    .split(',')
                    .filter(|r| !r.is_empty())
                    .map(str::to_string)
                    .collect(),
            ))
        })
        .transpose()
    }

    /// Per check: instances it found something on, the databases that touches (for an
    /// instance check, every database on those instances), and instances where it could
    /// not run.
    pub async fn assessment_rules(&self, run: &str) -> Result<Vec<RuleRow>, StoreError> {
        let _timed = self.timed("assessment_rules");
        // Three passes over the run, each grouped by check, not a sub-query per check:
        // what each check found, the databases of the instances an instance-scoped
        // check found something on, and the databases a database-scoped check named.
        let rows = sqlx::query(
            "SELECT check_id, MAX(severity) AS severity, MAX(title) AS title, MAX(scope) AS scope,
                    SUM(CASE WHEN status = 'found' THEN 1 ELSE 0 END) AS instances,
                    SUM(CASE WHEN status = 'unknown' THEN 1 ELSE 0 END) AS unknown
             FROM assessment_results WHERE run_id = $1
             GROUP BY check_id ORDER BY check_id",
        )
        .bind(run)
        .fetch_all(&self.pool)
        .await?;
        let on_instances: HashMap<String, i64> = sqlx::query_as(
            "SELECT i.check_id, COUNT(*) FROM assessment_results i
             JOIN assessment_databases d
               ON d.run_id = i.run_id AND d.agent_id = i.agent_id AND d.instance_name = i.instance_name
             WHERE i.run_id = $1 AND i.status = 'found'
             GROUP BY i.check_id",
        )
        .bind(run)
        .fetch_all(&self.pool)
        .await?
        .into_iter()
        .collect();
        let named: HashMap<String, i64> = sqlx::query_as(
            "SELECT check_id, COUNT(*) FROM
               (SELECT DISTINCT check_id, agent_id, instance_name, database_name
                FROM assessment_findings WHERE run_id = $1 AND database_name <> '') AS hit
             GROUP BY check_id",
        )
        .bind(run)
        .fetch_all(&self.pool)
        .await?
        .into_iter()
        .collect();
        rows.iter()
            .map(|row| {
                let check_id: String = col(row, "check_id")?;
                let scope: String = col(row, "scope")?;
                let databases = if scope == Scope::Instance.as_str() {
                    on_instances.get(&check_id)
                } else {
                    named.get(&check_id)
                };
                Ok(RuleRow {
                    severity: word(row, "severity", Severity::parse)?,
                    title: col(row, "title")?,
                    instances: col::<i64>(row, "instances")? as u32,
                    databases: databases.copied().unwrap_or(0) as u32,
                    unknown: col::<i64>(row, "unknown")? as u32,
                    check_id,
                })
            })
            .collect()
    }

    /// Check results of one host in a run that found something or could not run, with
    /// their findings (only those on `database` and the instance's, when given).
    pub async fn assessment_results(
        &self,
        run: &str,
        agent: AgentId,
        database: Option<&str>,
    ) -> Result<Vec<ResultRow>, StoreError> {
        let _timed = self.timed("assessment_results");
        let results = sqlx::query(
            "SELECT r.*, a.name AS host FROM assessment_results r JOIN agents a ON a.id = r.agent_id
             WHERE r.run_id = $1 AND r.agent_id = $2 AND r.status <> 'passed' ORDER BY r.instance_name, r.check_id",
        )
        .bind(run)
        .bind(agent.to_string())
        .fetch_all(&self.pool)
        .await?;
        let findings = sqlx::query(
            "SELECT * FROM assessment_findings WHERE run_id = $1 AND agent_id = $2 AND ($3 = '' OR database_name = '' OR database_name = $3)
             ORDER BY instance_name, check_id, seq",
        )
        .bind(run)
        .bind(agent.to_string())
        .bind(database.unwrap_or_default())
        .fetch_all(&self.pool)
        .await?;
        let mut by_check: HashMap<(String, String), Vec<Finding>> = HashMap::new();
        for f in &findings {
            by_check
                .entry((col(f, "instance_name")?, col(f, "check_id")?))
                .or_default()
                .push(decode_finding(f)?);
        }
        let mut out = Vec::with_capacity(results.len());
        for row in &results {
            let instance: String = col(row, "instance_name")?;
            let mut result = decode_result(row)?;
            result.findings = by_check
                .remove(&(instance.clone(), result.check_id.clone()))
                .unwrap_or_default();
            let filtered_out = database.is_some()
                && result.status == CheckStatus::Found
                && result.findings.is_empty();
            if !filtered_out {
                out.push(ResultRow {
                    host: col(row, "host")?,
                    instance,
                    result,
                });
            }
        }
        Ok(out)
    }

    /// Every check's outcome on every instance of a run (with `agent`, of that host
    /// only), with the databases it found something on.
    pub async fn assessment_outcomes(
        &self,
        run: &str,
        agent: Option<AgentId>,
    ) -> Result<Vec<Outcome>, StoreError> {
        let _timed = self.timed("assessment_outcomes");
        let agent = agent.map(|a| a.to_string()).unwrap_or_default();
        let rows = sqlx::query(
            "SELECT a.name AS host, r.instance_name, r.check_id, r.severity, r.title, r.status, f.database_name
             FROM assessment_results r JOIN agents a ON a.id = r.agent_id
             LEFT JOIN (SELECT DISTINCT agent_id, instance_name, check_id, database_name FROM assessment_findings WHERE run_id = $1) f
               ON f.agent_id = r.agent_id AND f.instance_name = r.instance_name AND f.check_id = r.check_id
             WHERE r.run_id = $1 AND ($2 = '' OR r.agent_id = $2) ORDER BY a.name, r.instance_name, r.check_id",
        )
        .bind(run)
        .bind(agent)
        .fetch_all(&self.pool)
        .await?;
        let mut out: Vec<Outcome> = Vec::new();
        for row in &rows {
            let (host, instance, check_id): (String, String, String) = (
                col(row, "host")?,
                col(row, "instance_name")?,
                col(row, "check_id")?,
            );
            let found_on: Option<String> = col(row, "database_name")?;
            let same = out.last().is_some_and(|o: &Outcome| {
                o.host == host && o.instance == instance && o.check_id == check_id
            });
            if !same {
                out.push(Outcome {
                    host,
                    instance,
                    check_id,
                    severity: word(row, "severity", Severity::parse)?,
                    title: col(row, "title")?,
                    status: word(row, "status", CheckStatus::parse)?,
                    found_on: Default::default(),
                });
            }
            if let (Some(database), Some(last)) = (found_on, out.last_mut()) {
                last.found_on.insert(database);
            }
        }
        Ok(out)
    }
}

/// Stores an agent's assessment (inside its report's transaction) for the run whose
/// command it answers. Returns false when no run asked for it.
pub(crate) async fn record(
    conn: &mut AnyConnection,
    agent: AgentId,
    command_id: &str,
    instances: &[InstanceAssessment],
    now_ms: i64,
) -> Result<bool, StoreError> {
    let run: Option<(String,)> = sqlx::query_as(
        "SELECT run_id FROM assessment_targets WHERE agent_id = $1 AND command_id = $2 AND reported_at IS NULL",
    )
    .bind(agent.to_string())
    .bind(command_id)
    .fetch_optional(&mut *conn)
    .await?;
    let Some((run,)) = run else {
        return Ok(false);
    };
    let agent = agent.to_string();
    for instance in instances {
        let rated = readiness::rate(instance);
        sqlx::query("INSERT INTO assessment_instances (run_id, agent_id, instance_name, reachable, error, product_version, readiness) VALUES ($1, $2, $3, $4, $5, $6, $7)")
            .bind(&run)
            .bind(&agent)
            .bind(&instance.name)
            .bind(i64::from(instance.reachable))
            .bind(&instance.error)
            .bind(&instance.product_version)
            .bind(readiness::instance(instance, &rated).as_str())
            .execute(&mut *conn)
            .await?;
        for (database, rated) in instance.databases.iter().zip(&rated) {
            sqlx::query("INSERT INTO assessment_databases (run_id, agent_id, instance_name, database_name, size_bytes, readiness, reasons) VALUES ($1, $2, $3, $4, $5, $6, $7)")
                .bind(&run)
                .bind(&agent)
                .bind(&instance.name)
                .bind(&database.name)
                .bind(database.size_bytes)
                .bind(rated.readiness.as_str())
                .bind(rated.reasons.join(","))
                .execute(&mut *conn)
                .await?;
        }
        for result in &instance.results {
            sqlx::query("INSERT INTO assessment_results (run_id, agent_id, instance_name, check_id, scope, severity, title, remedy, status, unknown_cause) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)")
                .bind(&run)
                .bind(&agent)
                .bind(&instance.name)
                .bind(&result.check_id)
                .bind(result.scope.as_str())
                .bind(result.severity.as_str())
                .bind(&result.title)
                .bind(&result.remedy)
                .bind(result.status.as_str())
                .bind(&result.unknown_cause)
                .execute(&mut *conn)
                .await?;
            for (seq, finding) in result.findings.iter().enumerate() {
                sqlx::query("INSERT INTO assessment_findings (run_id, agent_id, instance_name, check_id, seq, database_name, message, evidence, objects) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)")
                    .bind(&run)
                    .bind(&agent)
                    .bind(&instance.name)
                    .bind(&result.check_id)
                    .bind(seq as i64)
                    .bind(finding.database.as_deref().unwrap_or_default())
                    .bind(&finding.message)
                    .bind(serde_json::to_string(&finding.evidence).unwrap_or_default())
                    .bind(serde_json::to_string(&finding.objects).unwrap_or_default())
                    .execute(&mut *conn)
                    .await?;
            }
        }
    }
    sqlx::query(
        "UPDATE assessment_targets SET reported_at = $1 WHERE run_id = $2 AND agent_id = $3",
    )
    .bind(now_ms)
    .bind(&run)
    .bind(&agent)
    .execute(&mut *conn)
    .await?;
    Ok(true)
}

fn decode_run(row: &AnyRow) -> Result<RunRecord, StoreError> {
    Ok(RunRecord {
        id: col(row, "id")?,
        created_by: col(row, "created_by")?,
        created_at_ms: col(row, "created_at")?,
        deadline_at_ms: col(row, "deadline_at")?,
        selector: col(row, "selector")?,
        trigger: col(row, "trigger_kind")?,
    })
}

/// A column holding one of a fixed set of words, parsed by `parse`.
pub(super) fn word<T>(
    row: &AnyRow,
    name: &str,
    parse: fn(&str) -> Option<T>,
) -> Result<T, StoreError> {
    let text: String = col(row, name)?;
    parse(&text).ok_or_else(|| StoreError::Corrupt(format!("column {name}: {text:?}")))
}

fn decode_result(row: &AnyRow) -> Result<CheckResult, StoreError> {
    Ok(CheckResult {
        check_id: col(row, "check_id")?,
        scope: word(row, "scope", Scope::parse)?,
        severity: word(row, "severity", Severity::parse)?,
        title: col(row, "title")?,
        remedy: col(row, "remedy")?,
        status: word(row, "status", CheckStatus::parse)?,
        unknown_cause: col(row, "unknown_cause")?,
        findings: Vec::new(),
    })
}

fn decode_finding(row: &AnyRow) -> Result<Finding, StoreError> {
    let database: String = col(row, "database_name")?;
    let evidence: String = col(row, "evidence")?;
    let objects: String = col(row, "objects")?;
    Ok(Finding {
        database: (!database.is_empty()).then_some(database),
        message: col(row, "message")?,
        evidence: serde_json::from_str(&evidence)
            .map_err(|e| StoreError::Corrupt(format!("evidence: {e}")))?,
        objects: serde_json::from_str(&objects)
            .map_err(|e| StoreError::Corrupt(format!("objects: {e}")))?,
    })
}

fn decode_instance(row: &AnyRow) -> Result<InstanceRow, StoreError> {
    Ok(InstanceRow {
        agent_id: agent_id(&col::<String>(row, "agent_id")?)?,
        host: col(row, "host")?,
        instance: col(row, "instance_name")?,
        reachable: col::<i64>(row, "reachable")? == 1,
        error: col(row, "error")?,
        product_version: col(row, "product_version")?,
        readiness: word(row, "readiness", Readiness::parse)?,
    })
}

fn decode_database(row: &AnyRow) -> Result<DatabaseRow, StoreError> {
    let reasons: String = col(row, "reasons")?;
    Ok(DatabaseRow {
        host: col(row, "host")?,
        instance: col(row, "instance_name")?,
        database: col(row, "database_name")?,
        size_bytes: col(row, "size_bytes")?,
        readiness: word(row, "readiness", Readiness::parse)?,
        reasons: reasons
            .split(',')
            .filter(|r| !r.is_empty())
            .map(str::to_string)
            .collect(),
    })
}
