//! `distributedAvailabilityGroups`: the MI link's ARM resource. PUT creates the MI's
//! side of a link (a long-running operation), GET and list (paged) report each database's
//! state as the MI observes it (`crate::azure::link`) with its LSNs and lag, PATCH
//! switches `replicationMode`, POST `failover` (Planned or ForcedAllowDataLoss) makes
//! the MI primary, DELETE breaks the link (`crate::azure::failover`).

use http::StatusCode;
use serde_json::{json, Value};

use super::super::http::Response;
use super::super::link::{observe, Failover, Link, LinkDatabase};
use super::super::replicate::partner_log;
use super::super::replication::Phase;
use super::super::ManagedInstance;
use super::instances::not_allowed;
use super::operations::Change;
use super::{body_properties, property, rfc3339, Arm, ArmError, ArmResult, Call, State, LINKS};

pub fn route(arm: &Arm, call: &Call) -> ArmResult<Response> {
    let mi = call.mi.as_ref().expect("routed with an instance");
    let mut state = arm.lock();
    let method = &call.request.method;
    let Some(name) = call.rest.first() else {
        if *method != http::Method::GET {
            return Err(not_allowed(call));
        }
        return list(arm, &state, call, mi).map(|b| Response::json(StatusCode::OK, &b));
    };
    let exists = state.link(&mi.spec.name, name).is_some();
    if let Some(action) = call.rest.get(1) {
        if !action.eq_ignore_ascii_case("failover") {
            return Err(ArmError::bad_request(
                "NotModelledByLab",
                format!("ferry-sim: POST {LINKS}/{{name}}/{action} is not modelled (failover is)"),
            ));
        }
        if *method != http::Method::POST {
            return Err(not_allowed(call));
        }
        if !exists {
            return Err(not_found(mi, name));
        }
        let body: Value = serde_json::from_slice(&call.request.body).unwrap_or(Value::Null);
        let kind = match property(&body, "failoverType").and_then(Value::as_str) {
            Some(t) if t.eq_ignore_ascii_case("Planned") => Failover::Planned,
            Some(t) if t.eq_ignore_ascii_case("ForcedAllowDataLoss") => {
                Failover::ForcedAllowDataLoss
            }
            _ => {
                return Err(ArmError::invalid_parameter(
                    "failoverType",
                    "must be 'Planned' or 'ForcedAllowDataLoss'",
                ))
            }
        };
        let link = name.clone();
        return arm.start(&mut state, call, mi, Change::Failover { link, kind });
    }
    match *method {
        http::Method::GET => {
            link_json(arm, &state, mi, name).map(|b| Response::json(StatusCode::OK, &b))
        }
        http::Method::PUT => {
            let link = parse_link(call, name)?;
            if let Some(existing) = state.link(&mi.spec.name, name) {
                return if same(existing, &link) {
                    link_json(arm, &state, mi, name).map(|b| Response::json(StatusCode::OK, &b))
                } else {
                    Err(ArmError::invalid_parameter("properties", "the link exists with other properties; only replicationMode can change (PATCH), or delete the link first"))
                };
            }
            arm.start(&mut state, call, mi, Change::PutLink(Box::new(link)))
        }
        http::Method::PATCH => {
            if !exists {
                return Err(not_found(mi, name));
            }
            let properties = body_properties(call.request)?;
            let sync = match property(&properties, "replicationMode").and_then(Value::as_str) {
                Some(m) if m.eq_ignore_ascii_case("sync") => true,
                Some(m) if m.eq_ignore_ascii_case("async") => false,
                _ => {
                    return Err(ArmError::invalid_parameter(
                        "replicationMode",
                        "must be 'Sync' or 'Async'",
                    ))
                }
            };
            let link = name.clone();
            arm.start(
                &mut state,
                call,
                mi,
                Change::SetReplicationMode { link, sync },
            )
        }
        http::Method::DELETE if !exists => Ok(Response::empty(StatusCode::NO_CONTENT)),
        http::Method::DELETE => arm.start(&mut state, call, mi, Change::DeleteLink(name.clone())),
        _ => Err(not_allowed(call)),
    }
}

fn text(properties: &Value, name: &str, default: Option<&str>) -> ArmResult<String> {
    match property(properties, name) {
        Some(Value::String(s)) if !s.trim().is_empty() => Ok(s.clone()),
        None | Some(Value::Null) if default.is_some() => {
            Ok(default.unwrap_or_default().to_string())
        }
        _ => Err(ArmError::invalid_parameter(
            name,
            "a non-empty string is required",
        )),
    }
}

fn one_of(properties: &Value, name: &str, allowed: &[&str], default: &str) -> ArmResult<String> {
    let value = text(properties, name, Some(default))?;
    allowed
        .iter()
        .find(|a| a.eq_ignore_ascii_case(&value))
        .map(|a| a.to_string())
        .ok_or_else(|| {
            ArmError::invalid_parameter(name, &format!("'{value}' is not one of {allowed:?}"))
        })
}

fn parse_link(call: &Call, name: &str) -> ArmResult<Link> {
    if name.len() > 128 {
        return Err(ArmError::invalid_parameter(
            "distributedAvailabilityGroupName",
            "at most 128 characters",
        ));
    }
    let p = body_properties(call.request)?;
    let databases = property(&p, "databases")
        .and_then(Value::as_array)
        .filter(|d| !d.is_empty())
        .ok_or_else(|| {
            ArmError::invalid_parameter(
                "databases",
                "a list of { \"databaseName\": ... } with at least one database is required",
            )
        })?
        .iter()
        .map(|d| text(d, "databaseName", None).map(LinkDatabase::new))
        .collect::<ArmResult<Vec<_>>>()?;
    let partner_endpoint = text(&p, "partnerEndpoint", None)?;
    if crate::engine::parse_endpoint_url(&partner_endpoint).is_none() {
        return Err(ArmError::invalid_parameter(
            "partnerEndpoint",
            "expected 'TCP://<address>:<port>'",
        ));
    }
    let instance_role = one_of(
        &p,
        "instanceLinkRole",
        &["Primary", "Secondary"],
        "Secondary",
    )?;
    if instance_role == "Primary" {
        return Err(ArmError::bad_request("NotModelledByLab", "ferry-sim: a managed instance as the link's initial primary is not modelled (instanceLinkRole = Secondary)"));
    }
    Ok(Link {
        name: name.to_string(),
        id: crate::engine::new_guid().to_lowercase(),
        databases,
        partner_endpoint,
        instance_group: text(&p, "instanceAvailabilityGroupName", None)?,
        partner_group: text(&p, "partnerAvailabilityGroupName", None)?,
        instance_role,
        failover_mode: one_of(&p, "failoverMode", &["Manual", "None"], "Manual")?,
        seeding_mode: one_of(&p, "seedingMode", &["Automatic", "Manual"], "Automatic")?,
        sync: false,
        created_at: Default::default(),
        failover: None,
    })
}

/// A PUT that repeats the link as it is (ARM PUTs are idempotent).
fn same(a: &Link, b: &Link) -> bool {
    let names = |l: &Link| {
        l.databases
            .iter()
            .map(|d| d.name.to_ascii_lowercase())
            .collect::<Vec<_>>()
    };
    names(a) == names(b)
        && a.partner_endpoint.eq_ignore_ascii_case(&b.partner_endpoint)
        && a.instance_group.eq_ignore_ascii_case(&b.instance_group)
        && a.partner_group.eq_ignore_ascii_case(&b.partner_group)
        && a.failover_mode == b.failover_mode
        && a.seeding_mode == b.seeding_mode
}

/// Links a LIST answers per page: ARM pages its lists (`nextLink` with a skip token,
/// the page's size its own choice), so a client that reads only the first page misses
/// links.
pub const LIST_PAGE: usize = 50;

/// One page of the MI's links, from `$skiptoken` (the lab's token: how many to skip).
fn list(arm: &Arm, state: &State, call: &Call, mi: &ManagedInstance) -> ArmResult<Value> {
    let skip = match call.request.query("$skiptoken") {
        None => 0,
        Some(token) => token.parse::<usize>().map_err(|_| {
            ArmError::bad_request(
                "InvalidSkipToken",
                format!("the skip token {token:?} is not one this list gave"),
            )
        })?,
    };
    let links = state.links(&mi.spec.name);
    let value = links
        .iter()
        .skip(skip)
        .take(LIST_PAGE)
        .map(|l| link_json(arm, state, mi, &l.name))
        .collect::<ArmResult<Vec<_>>>()?;
    let mut page = json!({ "value": value });
    if skip + LIST_PAGE < links.len() {
        page["nextLink"] = json!(format!(
            "{}{}?api-version={}&$skiptoken={}",
            call.base,
            call.request.path,
            call.api_version,
            skip + LIST_PAGE
        ));
    }
    Ok(page)
}

pub fn link_json(arm: &Arm, state: &State, mi: &ManagedInstance, name: &str) -> ArmResult<Value> {
    let link = state
        .link(&mi.spec.name, name)
        .ok_or_else(|| not_found(mi, name))?;
    let now = arm.authority.time_at(arm.clock.elapsed());
    let seen = observe(
        link,
        mi,
        &arm.surroundings(state.trusted(&mi.spec.name), now),
    );
    let age = arm.clock.elapsed().saturating_sub(link.created_at);
    let validity = seen.partner_certificate.as_ref().map(|(name, expiry)| {
        json!({"certificateName": name, "expiryDate": rfc3339(expiry.unix_timestamp())})
    });
    let databases: Vec<Value> = link
        .databases
        .iter()
        .enumerate()
        .map(|(n, d)| {
            let (state, error) = seen.database(n, age, &d.replica, link.failover);
            let r = &d.replica;
            let seeded = r.phase == Phase::Replicating;
            let health = match (seen.connected, seeded, r.caught_up) {
                (true, true, true) => "HEALTHY",
                (true, _, _) if error.is_none() => "PARTIALLY_HEALTHY",
                _ => "NOT_HEALTHY",
            };
            let lsn = seeded.then(|| crate::engine::lsn(r.hardened).to_string());
            let at = r
                .hardened_at
                .filter(|_| seeded)
                .map(|t| rfc3339(arm.authority.time_at(t).unix_timestamp()));
            let log = partner_log(seen.partner.as_deref(), &d.name, std::time::Duration::ZERO);
            let lag = seeded.then(|| r.lag_secs(&log));
            json!({
                "databaseName": d.name,
                "instanceReplicaId": d.instance_replica_id,
                "partnerReplicaId": d.partner_replica_id,
                "replicaState": state,
                "synchronizationHealth": health,
                "connectedState": if seen.connected { "CONNECTED" } else { "DISCONNECTED" },
                "lastReceivedLsn": lsn, "lastReceivedTime": at,
                "lastSentLsn": lsn, "lastSentTime": at,
                "lastCommitLsn": lsn, "lastCommitTime": at,
                "lastHardenedLsn": lsn, "lastHardenedTime": at,
                "lastBackupLsn": null, "lastBackupTime": null,
                "mostRecentLinkError": error.map(|e| format!("{}: {}", e.number, e.text)),
                "partnerAuthCertValidity": validity,
                "instanceSendReplicationLagSeconds": lag,
                "instanceRedoReplicationLagSeconds": seeded.then(|| d
                    .redo_behind_since
                    .map_or(0, |since| arm.clock.elapsed().saturating_sub(since).as_secs())),
            })
        })
        .collect();
    Ok(json!({
        "id": arm.resource_id(mi, Some((LINKS, &link.name))),
        "name": link.name,
        "type": "Microsoft.Sql/managedInstances/distributedAvailabilityGroups",
        "properties": {
            "distributedAvailabilityGroupName": link.name,
            "distributedAvailabilityGroupId": link.id,
            "replicationMode": if link.sync { "Sync" } else { "Async" },
            "partnerLinkRole": if link.failover.is_some() { "Secondary" } else { "Primary" },
            "partnerAvailabilityGroupName": link.partner_group,
            "partnerEndpoint": link.partner_endpoint,
            "instanceLinkRole": link.instance_role,
            "instanceAvailabilityGroupName": link.instance_group,
            "failoverMode": link.failover_mode,
            "seedingMode": link.seeding_mode,
            "databases": databases,
        },
    }))
}

fn not_found(mi: &ManagedInstance, name: &str) -> ArmError {
    ArmError::not_found(
        "Microsoft.Sql/managedInstances/distributedAvailabilityGroups",
        name,
        &mi.spec.resource_group,
    )
}
