//! `managedInstances`: GET one, list by resource group or subscription, with the
//! properties Azure returns (Managed Instances - Get).

use http::StatusCode;
use serde_json::json;

use super::super::http::Response;
use super::super::ManagedInstance;
use super::{Arm, ArmError, ArmResult, Call};

pub fn get(arm: &Arm, call: &Call) -> ArmResult<Response> {
    if call.request.method != http::Method::GET {
        return Err(not_allowed(call));
    }
    let mi = call.mi.as_ref().expect("routed with an instance");
    Ok(Response::json(StatusCode::OK, &instance_json(arm, mi)))
}

pub fn list(arm: &Arm, call: &Call, group: Option<&str>) -> ArmResult<Response> {
    if call.request.method != http::Method::GET {
        return Err(not_allowed(call));
    }
    let value: Vec<_> = arm
        .managed
        .iter()
        .filter(|m| group.is_none_or(|g| m.spec.resource_group.eq_ignore_ascii_case(g)))
        .map(|m| instance_json(arm, m))
        .collect();
    Ok(Response::json(StatusCode::OK, &json!({ "value": value })))
}

fn instance_json(arm: &Arm, mi: &ManagedInstance) -> serde_json::Value {
    let spec = &mi.spec;
    json!({
        "id": arm.resource_id(mi, None),
        "name": spec.name,
        "type": "Microsoft.Sql/managedInstances",
        "location": spec.location,
        "sku": {
            "name": spec.tier.sku(),
            "tier": spec.tier.name(),
            "family": "Gen5",
            "capacity": spec.vcores,
        },
        "properties": {
            "provisioningState": "Succeeded",
            "state": "Ready",
            "fullyQualifiedDomainName": mi.fqdn,
            "administratorLogin": spec.admin_login,
            "subnetId": format!("/subscriptions/{}/resourceGroups/{}/providers/Microsoft.Network/virtualNetworks/ferry-lab-vnet/subnets/managed-instances", arm.subscription(), spec.resource_group),
            "licenseType": "LicenseIncluded",
            "vCores": spec.vcores,
            "storageSizeInGB": spec.storage_gb,
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
