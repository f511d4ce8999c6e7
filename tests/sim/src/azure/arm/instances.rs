//! `managedInstances`: GET one, list by resource group or subscription, with the
//! properties Azure returns (Managed Instances - Get); PATCH scales vCores and
//! storage (Managed Instances - Update, a long-running operation), refused with
//! `OperationCanNotStartDueToMiLink` while a link is creating a database on the
//! instance (mi-link.md §2.2).

use http::StatusCode;
use serde_json::{json, Value};

use super::super::http::Response;
use super::super::replication::Phase;
use super::super::ManagedInstance;
use super::operations::Change;
use super::{body_properties, property, Arm, ArmError, ArmResult, Call, State};
use crate::scenario::managed::VCORES;

pub fn route(arm: &Arm, call: &Call) -> ArmResult<Response> {
    let mi = call.mi.as_ref().expect("routed with an instance");
    match call.request.method {
        http::Method::GET => {
            let state = arm.lock();
            Ok(Response::json(
                StatusCode::OK,
                &instance_json(arm, &state, mi),
            ))
        }
        http::Method::PATCH => update(arm, call, mi),
        _ => Err(not_allowed(call)),
    }
}

pub fn list(arm: &Arm, call: &Call, group: Option<&str>) -> ArmResult<Response> {
    if call.request.method != http::Method::GET {
        return Err(not_allowed(call));
    }
    let state = arm.lock();
    let value: Vec<_> = arm
        .managed
        .iter()
        .filter(|m| group.is_none_or(|g| m.spec.resource_group.eq_ignore_ascii_case(g)))
        .map(|m| instance_json(arm, &state, m))
        .collect();
    Ok(Response::json(StatusCode::OK, &json!({ "value": value })))
}

/// PATCH: `properties.vCores` (or `sku.capacity`) and `properties.storageSizeInGB`;
/// other properties are not modelled and say so.
fn update(arm: &Arm, call: &Call, mi: &std::sync::Arc<ManagedInstance>) -> ArmResult<Response> {
    let properties = body_properties(call.request)?;
    let body: Value = serde_json::from_slice(&call.request.body).unwrap_or(Value::Null);
    let mut state = arm.lock();
    let (mut vcores, mut storage_gb) = size(&state, mi);
    for (key, value) in properties.as_object().into_iter().flatten() {
        match key.to_ascii_lowercase().as_str() {
            "vcores" => vcores = whole(value, "vCores")?,
            "storagesizeingb" => storage_gb = whole(value, "storageSizeInGB")?,
            _ => {
                return Err(ArmError::bad_request(
                    "NotModelledByLab",
                    format!("ferry-sim: updating property '{key}' of a managed instance is not modelled (vCores and storageSizeInGB are)"),
                ))
            }
        }
    }
    if let Some(capacity) = property(&body, "sku").and_then(|s| property(s, "capacity")) {
        vcores = whole(capacity, "sku.capacity")?;
    }
    if !VCORES.contains(&vcores) {
        return Err(ArmError::invalid_parameter(
            "vCores",
            &format!("{vcores} is not offered (one of {VCORES:?})"),
        ));
    }
    if !(32..=16384).contains(&storage_gb) || !storage_gb.is_multiple_of(32) {
        return Err(ArmError::invalid_parameter(
            "storageSizeInGB",
            &format!("{storage_gb} is not offered (32 to 16384, in steps of 32)"),
        ));
    }
    if let Some((link, database)) = creating(&state, mi) {
        return Err(ArmError::bad_request(
            "OperationCanNotStartDueToMiLink",
            format!("The operation cannot start while the managed instance link '{link}' is creating database '{database}' on managed instance '{}'. Retry once seeding has completed, or delete the link.", mi.spec.name),
        ));
    }
    let change = Change::Scale { vcores, storage_gb };
    arm.start(&mut state, call, mi, change)
}

/// A link of `mi` still creating one of its databases (seeding, or waiting to).
fn creating(state: &State, mi: &ManagedInstance) -> Option<(String, String)> {
    state.links(&mi.spec.name).iter().find_map(|l| {
        l.databases
            .iter()
            .find(|d| matches!(d.replica.phase, Phase::Seeding { .. } | Phase::Waiting))
            .map(|d| (l.name.clone(), d.name.clone()))
    })
}

fn whole(value: &Value, name: &str) -> ArmResult<u32> {
    value
        .as_u64()
        .and_then(|n| u32::try_from(n).ok())
        .ok_or_else(|| ArmError::invalid_parameter(name, "must be a whole number"))
}

/// vCores and storage (GB) as the instance stands now.
fn size(state: &State, mi: &ManagedInstance) -> (u32, u32) {
    state
        .scaled
        .get(&mi.spec.name)
        .copied()
        .unwrap_or((mi.spec.vcores, mi.spec.storage_gb))
}

pub fn instance_json(arm: &Arm, state: &State, mi: &ManagedInstance) -> Value {
    let spec = &mi.spec;
    let (vcores, storage_gb) = size(state, mi);
    json!({
        "id": arm.resource_id(mi, None),
        "name": spec.name,
        "type": "Microsoft.Sql/managedInstances",
        "location": spec.location,
        "sku": {
            "name": spec.tier.sku(),
            "tier": spec.tier.name(),
            "family": "Gen5",
            "capacity": vcores,
        },
        "properties": {
            "provisioningState": "Succeeded",
            "state": "Ready",
            "fullyQualifiedDomainName": mi.fqdn,
            "administratorLogin": spec.admin_login,
            "subnetId": format!("/subscriptions/{}/resourceGroups/{}/providers/Microsoft.Network/virtualNetworks/ferry-lab-vnet/subnets/managed-instances", arm.subscription(), spec.resource_group),
            "licenseType": "LicenseIncluded",
            "vCores": vcores,
            "storageSizeInGB": storage_gb,
            "collation": spec.collation,
            "dnsZone": spec.dns_zone(),
            "publicDataEndpointEnabled": false,
            "proxyOverride": "Redirect",
            "timezoneId": "UTC",
            "minimalTlsVersion": "1.2",
            "requestedBackupStorageRedundancy": "Geo",
            "currentBackupStorageRedundancy": "Geo",
            "zoneRedundant": false,
            "databaseFormat": spec.update_policy.name(),
        },
    })
}

pub fn not_allowed(call: &Call) -> ArmError {
    ArmError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "MethodNotAllowed",
        format!(
            "ferry-sim: {} is not served on '{}'",
            call.request.method, call.request.path
        ),
    )
}
