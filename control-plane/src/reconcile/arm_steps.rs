//! The set-up's steps on Azure (mi-link.md §2.2 (d), (e) and the link's PUT), each
//! idempotent like the agent's: it looks at what Azure holds first and changes only
//! what is missing. ARM's transient answers (throttling, 5xx, no answer) leave the
//! step to be tried again; its other refusals fail it with Azure's code and words.

use ferry_proto::link_names::{availability_group, mi_availability_group};
use serde_json::json;

use crate::azure::link::Accepted;
use crate::azure::{Arm, ArmError, ManagedInstanceId};
use crate::store::migrations::MigrationRecord;

/// What running an ARM step came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ran {
    Done(String),
    /// Found done: nothing was changed.
    AlreadyDone(String),
    /// An operation runs: poll this URL.
    Running(String),
    /// Try again later (ARM throttled, failed on its side, or did not answer).
    Again(String),
    /// Needs the operator.
    Blocked(String),
    Failed(String),
}

/// Whether ARM may well accept the same request later.
pub fn is_transient(error: &ArmError) -> bool {
    match error {
        ArmError::Transport(_) | ArmError::Paced { .. } | ArmError::LeaseEnding { .. } => true,
        ArmError::Azure { status, .. } => *status == 429 || *status == 409 || *status >= 500,
        ArmError::NotConfigured
        | ArmError::Credential(_)
        | ArmError::Decode(_)
        | ArmError::Unsafe(_) => false,
    }
}

/// An ARM error as a step's end.
pub fn ran_err(what: &str, error: ArmError) -> Ran {
    if is_transient(&error) {
        Ran::Again(format!("{what}: {error}; trying again"))
    } else {
        Ran::Failed(format!("{what}: {error}"))
    }
}

fn ran(accepted: Accepted, done: String) -> Ran {
    match accepted {
        Accepted::Done(_) => Ran::Done(done),
        Accepted::Running(url) => Ran::Running(url),
    }
}

/// (d) SQL Server's endpoint certificate as a server trust certificate of the MI, unless
/// the MI trusts it already (under any name, as Microsoft's cmdlet checks).
pub async fn upload_certificate(arm: &Arm, mi: &ManagedInstanceId, m: &MigrationRecord) -> Ran {
    let Ok(der) = hex::decode(&m.certificate) else {
        return Ran::Failed("the stored endpoint certificate is not hex".into());
    };
    if der.is_empty() || m.certificate_name.is_empty() {
        return Ran::Failed(
            "SQL Server's endpoint certificate was not read by the agent: retry the migration"
                .into(),
        );
    }
    let trusted = match arm.trust_certificates(mi).await {
        Ok(trusted) => trusted,
        Err(e) => return ran_err("listing the MI's server trust certificates", e),
    };
    if let Some(same) = trusted.iter().find(|c| c.der == der) {
        return Ran::Done(format!(
            "the MI trusts the certificate already, as {}",
            same.name
        ));
    }
    if trusted
        .iter()
        .any(|c| c.name.eq_ignore_ascii_case(&m.certificate_name))
    {
        return Ran::Blocked(format!(
            "the MI trusts another certificate named {name}: remove it (az sql mi partner-cert delete --instance-name {mi_name} --name {name}) if nothing uses it, then retry",
            name = m.certificate_name,
            mi_name = mi.name
        ));
    }
    match arm
        .put_trust_certificate(mi, &m.certificate_name, &der)
        .await
    {
        Ok(accepted) => ran(
            accepted,
            format!("uploaded {} to the MI", m.certificate_name),
        ),
        Err(e) => ran_err("uploading the server trust certificate", e),
    }
}

/// The link's body (the current schema): SQL Server primary, two-way capable.
pub fn link_body(m: &MigrationRecord) -> serde_json::Value {
    json!({"properties": {
        "databases": [{"databaseName": m.database}],
        "partnerEndpoint": m.listener_url,
        "instanceAvailabilityGroupName": mi_availability_group(&m.database),
        "partnerAvailabilityGroupName": availability_group(&m.database),
        "instanceLinkRole": "Secondary",
        "failoverMode": "Manual",
        "seedingMode": "Automatic",
    }})
}

/// The link on the MI: PUT distributedAvailabilityGroups/<link> (a PUT of the same
/// body is answered as done, so a repeat after a crash changes nothing).
pub async fn create_link(arm: &Arm, mi: &ManagedInstanceId, m: &MigrationRecord) -> Ran {
    if m.listener_url.is_empty() {
        return Ran::Failed(
            "SQL Server's listener URL was not read by the agent: retry the migration".into(),
        );
    }
    match arm.link(mi, &m.link_name).await {
        Ok(Some(link)) => {
            let p = &link["properties"];
            let partner = p["partnerEndpoint"].as_str().unwrap_or_default();
            let carries = p["databases"].as_array().is_some_and(|dbs| {
                dbs.iter()
                    .any(|d| d["databaseName"].as_str() == Some(m.database.as_str()))
            });
            return if partner.eq_ignore_ascii_case(&m.listener_url) && carries {
                Ran::AlreadyDone(format!("the MI has link {} already", m.link_name))
            } else {
                Ran::Blocked(format!(
                    "the MI has a link named {} from another SQL Server ({partner}) or for another database: cancel this migration and start it with another --link-name",
                    m.link_name
                ))
            };
        }
        Ok(None) => {}
        Err(e) => return ran_err("reading the link", e),
    }
    match arm.put_link(mi, &m.link_name, &link_body(m)).await {
        Ok(accepted) => ran(accepted, format!("created link {} on the MI", m.link_name)),
        Err(e) => ran_err("creating the link", e),
    }
}

/// The link's `replicationMode` on Azure's side: Sync for a cutover, Async when one is
/// cancelled before its failover.
pub async fn replication_mode(
    arm: &Arm,
    mi: &ManagedInstanceId,
    m: &MigrationRecord,
    sync: bool,
) -> Ran {
    let wanted = if sync { "Sync" } else { "Async" };
    match arm.link(mi, &m.link_name).await {
        Ok(Some(link)) if link["properties"]["replicationMode"].as_str() == Some(wanted) => {
            return Ran::AlreadyDone(format!("the link replicates {wanted} already"))
        }
        Ok(Some(_)) => {}
        Ok(None) => {
            return Ran::Failed(format!(
                "the MI has no link {}: it was removed outside Ferry",
                m.link_name
            ))
        }
        Err(e) => return ran_err("reading the link", e),
    }
    match arm.set_replication_mode(mi, &m.link_name, sync).await {
        Ok(accepted) => ran(accepted, format!("the link replicates {wanted}")),
        Err(e) => ran_err("switching the link's replication mode", e),
    }
}

/// The failover (made only once the cutover's gates hold): planned, or forced when the
/// operator allowed data loss; done when the MI is the link's primary already, so a
/// failover is never asked for twice.
pub async fn failover(arm: &Arm, mi: &ManagedInstanceId, m: &MigrationRecord) -> Ran {
    let forced = match m.intent() {
        Ok(intent) => intent.is_some_and(|i| i.allow_data_loss),
        Err(e) => return Ran::Failed(e.to_string()),
    };
    let (kind, words) = if forced {
        ("ForcedAllowDataLoss", "forced failover (data loss allowed)")
    } else {
        ("Planned", "planned failover")
    };
    match arm.link(mi, &m.link_name).await {
        Ok(Some(link)) if link["properties"]["instanceLinkRole"].as_str() == Some("Primary") => {
            return Ran::AlreadyDone("the MI is the link's primary already".into())
        }
        Ok(Some(_)) => {}
        // SQL Server 2016 to 2019: the failover breaks the link (mi-link.md §4.1).
        Ok(None) => {
            return Ran::Failed(format!(
                "the MI has no link {}: it was removed outside Ferry, or a failover broke it; check the database on the MI before anything else",
                m.link_name
            ))
        }
        Err(e) => return ran_err("reading the link", e),
    }
    match arm.failover_link(mi, &m.link_name, kind).await {
        Ok(accepted) => ran(accepted, format!("{words} to the MI")),
        Err(e) => ran_err(&format!("the {words}"), e),
    }
}

/// The link deleted on the MI (SQL Server's side is dropped by the next steps).
pub async fn delete_link(arm: &Arm, mi: &ManagedInstanceId, m: &MigrationRecord) -> Ran {
    match arm.link(mi, &m.link_name).await {
        Ok(None) => return Ran::AlreadyDone(format!("the MI has no link {}", m.link_name)),
        Ok(Some(_)) => {}
        Err(e) => return ran_err("reading the link", e),
    }
    match arm.delete_link(mi, &m.link_name).await {
        Ok(accepted) => ran(accepted, format!("deleted link {} on the MI", m.link_name)),
        Err(e) => ran_err("deleting the link", e),
    }
}

/// SQL Server's certificate removed from the MI's trust, when the MI still trusts it
/// under the name Ferry uploaded it as.
pub async fn delete_trust_certificate(
    arm: &Arm,
    mi: &ManagedInstanceId,
    m: &MigrationRecord,
) -> Ran {
    let der = hex::decode(&m.certificate).unwrap_or_default();
    let trusted = match arm.trust_certificates(mi).await {
        Ok(trusted) => trusted,
        Err(e) => return ran_err("listing the MI's server trust certificates", e),
    };
    if !trusted
        .iter()
        .any(|c| c.name.eq_ignore_ascii_case(&m.certificate_name) && c.der == der)
    {
        return Ran::AlreadyDone(format!("the MI does not trust {}", m.certificate_name));
    }
    match arm.delete_trust_certificate(mi, &m.certificate_name).await {
        Ok(accepted) => ran(
            accepted,
            format!("removed {} from the MI's trust", m.certificate_name),
        ),
        Err(e) => ran_err("removing the server trust certificate", e),
    }
}
