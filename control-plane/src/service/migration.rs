//! Starting a migration: what the operator named found and checked, the pre-flight
//! passed, the migration journaled once per database (the driver does the work).

use ferry_proto::clock::now_ms;
use ferry_proto::link_names::default_link;

use super::lookup::{find_live_host, find_target};
use super::ServiceError;
use crate::assess::{CheckStatus, Severity};
use crate::context::Context;
use crate::migration::preflight::{self, Gate};
use crate::migration::Options;
use crate::store::inventory::InstanceRecord;
use crate::store::migrations::MigrationRecord;

/// What an operator asks to migrate, and what they allow.
#[derive(Debug, Clone, Default)]
pub struct StartAsk {
    pub host: String,
    /// '' when the database is on one instance of the host only.
    pub instance: String,
    pub database: String,
    pub target: String,
    /// '' for `DAG_<database>`.
    pub link_name: String,
    pub allow_recovery_change: bool,
    pub allow_endpoint_change: bool,
    pub accept_warnings: bool,
}

/// The migration a start came to: made now, or the one that existed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Started {
    pub id: String,
    pub created: bool,
}

/// Starts migrating a database to a target: the database found in the host's
/// inventory, the link's name checked, the pre-flight passed (blockers refuse,
/// warnings only when accepted). Idempotent: the same database, target and link
/// return the existing migration; a second link for the database is refused.
pub async fn start(
    shared: &Context,
    actor: &str,
    request: StartAsk,
) -> Result<Started, ServiceError> {
    if request.database.is_empty() || request.database.len() > 128 {
        return Err(ServiceError::invalid(
            "database",
            "name the database (1 to 128 characters)",
        ));
    }
    let target = find_target(shared, &request.target).await?;
    let agent = find_live_host(shared, &request.host).await?;
    let instances = shared.store.list_instances(agent.id).await?;
    let (instance, database) = locate(
        &instances,
        &request.instance,
        &request.database,
        &agent.name,
    )?;
    let link_name = if request.link_name.is_empty() {
        default_link(&database)
    } else {
        request.link_name.clone()
    };
    check_link_name(&link_name)?;
    let mi = &target.instance;
    if let Some(existing) = shared
        .store
        .live_migration(agent.id, &instance, &database)
        .await?
    {
        return same_or_refused(existing, &mi.id.key(), &link_name);
    }
    if let Some(other) = shared
        .store
        .migration_on_target(&mi.id.key(), &database, &link_name)
        .await?
    {
        let taken = if other.database.eq_ignore_ascii_case(&database) {
            format!("receives a database named {database} already")
        } else {
            format!("has a link named {link_name} already")
        };
        return Err(ServiceError::FailedPrecondition(format!(
            "{} {taken}, from {} ({}/{}, migration {}, {}): a managed instance holds one database and one link of a name; {}",
            mi.id.name,
            other.host,
            other.instance,
            other.database,
            other.id,
            other.state.as_str(),
            if other.database.eq_ignore_ascii_case(&database) {
                "migrate this database to another target, or cancel that migration first"
            } else {
                "choose another with --link-name"
            }
        )));
    }

    let mut gate = Gate::default();
    let assessed = shared
        .store
        .newest_database_assessment(agent.id, &instance, &database)
        .await?;
    gate.add(preflight::assessment(
        assessed
            .as_ref()
            .map(|(r, reasons)| (*r, reasons.as_slice())),
        &agent.name,
        &database,
    ));
    let tests = shared
        .store
        .newest_connection_tests(&mi.id.key(), Some(agent.id))
        .await?;
    let tested = tests
        .iter()
        .filter(|t| t.reported_at_ms.is_some())
        .flat_map(|t| &t.instances)
        .find(|(i, _)| i.name.eq_ignore_ascii_case(&instance))
        .map(|(i, verdict)| (*verdict, found_checks(i)));
    gate.add(preflight::connection(
        tested.as_ref().map(|(v, checks)| (*v, checks.as_slice())),
        &agent.name,
        &mi.id.name,
    ));
    if !gate.blockers.is_empty() {
        return Err(ServiceError::FailedPrecondition(format!(
            "pre-flight refuses the start:\n  - {}",
            gate.blockers.join("\n  - ")
        )));
    }
    if !gate.warnings.is_empty() && !request.accept_warnings {
        let warnings: Vec<&str> = gate.warnings.iter().map(|(_, w)| w.as_str()).collect();
        return Err(ServiceError::FailedPrecondition(format!(
            "pre-flight warns:\n  - {}\nstart again with --accept-warnings to accept them",
            warnings.join("\n  - ")
        )));
    }

    let record = MigrationRecord::preparing(
        uuid::Uuid::new_v4().to_string(),
        (agent.id, agent.name.clone()),
        (instance, database),
        (mi.id.key(), link_name),
        Options {
            allow_recovery_change: request.allow_recovery_change,
            allow_endpoint_change: request.allow_endpoint_change,
            accepted_warnings: gate.warnings.into_iter().map(|(_, w)| w).collect(),
        },
        (actor.to_string(), now_ms()),
    );
    match shared.store.create_migration(&record).await? {
        None => {
            tracing::info!(migration = %record.id, host = %record.host, database = %record.database, target = %record.target_key, %actor, "migration started");
            Ok(Started {
                id: record.id,
                created: true,
            })
        }
        // Started by a concurrent request.
        Some(existing) => same_or_refused(existing, &record.target_key, &record.link_name),
    }
}

/// The instance and database as the host's inventory spells them.
fn locate(
    instances: &[InstanceRecord],
    instance: &str,
    database: &str,
    host: &str,
) -> Result<(String, String), ServiceError> {
    let holding: Vec<&InstanceRecord> = instances
        .iter()
        .filter(|i| instance.is_empty() || i.name.eq_ignore_ascii_case(instance))
        .filter(|i| {
            i.databases
                .iter()
                .any(|d| d.name.eq_ignore_ascii_case(database))
        })
        .collect();
    match holding.as_slice() {
        [one] => {
            let db = one
                .databases
                .iter()
                .find(|d| d.name.eq_ignore_ascii_case(database))
                .map(|d| d.name.clone())
                .unwrap_or_default();
            Ok((one.name.clone(), db))
        }
        [] => Err(ServiceError::NotFound(format!(
            "{host}'s inventory has no database {database:?}{}: check the name (`ferry host show {host}`), or collect the inventory again",
            if instance.is_empty() { String::new() } else { format!(" on instance {instance:?}") }
        ))),
        several => Err(ServiceError::invalid(
            "instance",
            format!(
                "{database:?} is on several of {host}'s instances ({}): name one with --instance",
                several.iter().map(|i| i.name.as_str()).collect::<Vec<_>>().join(", ")
            ),
        )),
    }
}

/// A link name must be an ARM resource name (one URL path segment) and an
/// availability group name.
fn check_link_name(name: &str) -> Result<(), ServiceError> {
    ferry_proto::link_names::check_resource_name(name).map_err(|why| {
        ServiceError::invalid("link_name", format!("{why}: give one with --link-name"))
    })
}

/// Starting what exists returns it; a second link for the database is refused.
fn same_or_refused(
    existing: MigrationRecord,
    target_key: &str,
    link_name: &str,
) -> Result<Started, ServiceError> {
    if existing.target_key == target_key && existing.link_name == link_name {
        return Ok(Started {
            id: existing.id,
            created: false,
        });
    }
    Err(ServiceError::AlreadyExists(format!(
        "{} on {} already has migration {} ({}, link {} to {}): a database has one link; cancel that migration first",
        existing.database,
        existing.host,
        existing.id,
        existing.state.as_str(),
        existing.link_name,
        existing.target_key
    )))
}

/// The ids of the checks that found something.
fn found_checks(instance: &crate::connection_test::InstanceConnection) -> Vec<String> {
    instance
        .results
        .iter()
        .filter(|r| r.status != CheckStatus::Passed && r.severity != Severity::Info)
        .map(|r| r.check_id.clone())
        .collect()
}
