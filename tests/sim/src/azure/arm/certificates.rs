//! `serverTrustCertificates` (the SQL Server endpoint certificates a managed instance
//! trusts; PUT/GET/list/DELETE) and `endpointCertificates` (the MI's own, GET/list).
//! Public keys travel as hex, with or without `0x` (mi-link.md §2.1 d, e).

use http::StatusCode;
use serde_json::json;

use super::super::http::Response;
use super::super::link::TrustCertificate;
use super::super::ManagedInstance;
use super::instances::not_allowed;
use super::operations::Change;
use super::{body_properties, property, Arm, ArmError, ArmResult, Call, TRUST};

pub fn trust(arm: &Arm, call: &Call) -> ArmResult<Response> {
    let mi = call.mi.as_ref().expect("routed with an instance");
    let mut state = arm.lock();
    let method = &call.request.method;
    let Some(name) = call.rest.first() else {
        if *method != http::Method::GET {
            return Err(not_allowed(call));
        }
        let value: Vec<_> = state
            .trusted(&mi.spec.name)
            .iter()
            .map(|c| trust_json(arm, mi, Some(c)))
            .collect::<ArmResult<_>>()?;
        return Ok(Response::json(StatusCode::OK, &json!({ "value": value })));
    };
    let existing = state.trusted_named(&mi.spec.name, name);
    match *method {
        http::Method::GET => {
            trust_json(arm, mi, existing).map(|b| Response::json(StatusCode::OK, &b))
        }
        http::Method::PUT => {
            let properties = body_properties(call.request)?;
            let blob = property(&properties, "publicBlob")
                .and_then(|b| b.as_str())
                .ok_or_else(|| {
                    ArmError::invalid_parameter(
                        "publicBlob",
                        "the certificate's public key, hex-encoded, is required",
                    )
                })?;
            let der = decode_hex(blob)
                .filter(|der| x509_parser::parse_x509_certificate(der).is_ok())
                .ok_or_else(|| {
                    ArmError::invalid_parameter(
                        "publicBlob",
                        "not the hex encoding of an X.509 certificate (CERTENCODED's output)",
                    )
                })?;
            let certificate = TrustCertificate {
                name: name.clone(),
                der,
            };
            arm.start(&mut state, call, mi, Change::PutTrust(certificate))
        }
        http::Method::DELETE if existing.is_none() => Ok(Response::empty(StatusCode::NO_CONTENT)),
        http::Method::DELETE => arm.start(&mut state, call, mi, Change::DeleteTrust(name.clone())),
        _ => Err(not_allowed(call)),
    }
}

pub fn trust_json(
    arm: &Arm,
    mi: &ManagedInstance,
    certificate: Option<&TrustCertificate>,
) -> ArmResult<serde_json::Value> {
    let c = certificate.ok_or_else(|| {
        ArmError::not_found(
            "Microsoft.Sql/managedInstances/serverTrustCertificates",
            "certificate",
            &mi.spec.resource_group,
        )
    })?;
    Ok(json!({
        "id": arm.resource_id(mi, Some((TRUST, &c.name))),
        "name": c.name,
        "type": "Microsoft.Sql/managedInstances/serverTrustCertificates",
        "properties": {
            "publicBlob": hex(&c.der),
            "thumbprint": thumbprint(&c.der),
            "certificateName": c.name,
        },
    }))
}

pub fn endpoint(arm: &Arm, call: &Call) -> ArmResult<Response> {
    if call.request.method != http::Method::GET {
        return Err(not_allowed(call));
    }
    let mi = call.mi.as_ref().expect("routed with an instance");
    let all = [
        ("DATABASE_MIRRORING", &mi.mirroring_certificate),
        ("SERVICE_BROKER", &mi.broker_certificate),
    ];
    let as_json = |(kind, der): (&str, &Vec<u8>)| {
        json!({
            "id": arm.resource_id(mi, Some(("endpointCertificates", kind))),
            "name": kind,
            "type": "Microsoft.Sql/managedInstances/endpointCertificates",
            "properties": { "publicBlob": hex(der) },
        })
    };
    match call.rest.first() {
        None => Ok(Response::json(
            StatusCode::OK,
            &json!({ "value": all.into_iter().map(as_json).collect::<Vec<_>>() }),
        )),
        Some(kind) => all
            .into_iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(kind))
            .map(|entry| Response::json(StatusCode::OK, &as_json(entry)))
            .ok_or_else(|| {
                ArmError::not_found(
                    "Microsoft.Sql/managedInstances/endpointCertificates",
                    kind,
                    &mi.spec.resource_group,
                )
            }),
    }
}

/// Upper-case hex without a prefix, as the API's examples show public keys.
fn hex(bytes: &[u8]) -> String {
    hex::encode_upper(bytes)
}

fn thumbprint(der: &[u8]) -> String {
    hex(ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, der).as_ref())
}

/// A public key as CERTENCODED prints it (`0x...`) or bare.
fn decode_hex(text: &str) -> Option<Vec<u8>> {
    let text = text.trim();
    let digits = text
        .strip_prefix("0x")
        .or_else(|| text.strip_prefix("0X"))
        .unwrap_or(text);
    hex::decode(digits).ok().filter(|b| !b.is_empty())
}
