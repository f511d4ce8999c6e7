//! Workload identity: the lab issues a workload's service account token, and its
//! token authority exchanges it for an ARM token the way Entra ID does for a
//! federated identity credential, refusing a wrong issuer, subject, signature or time
//! with Entra's codes.

use std::time::Duration;

use ferry_sim::scenario::azure::{DEFAULT_CLIENT_ID, DEFAULT_SUBJECT};
use ferry_sim::Lab;
use serde_json::json;

use super::azure::arm;
use super::https::{call, call_plain, Answer};
use super::lab_on_manual_clock;

const SCENARIO: &str = r#"
[[managed_instance]]
name = "mi-target"

[azure]
speed = 10.0

[[azure.principal]]
client_id = "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d"

[[azure.principal.federated]]
subject = "system:serviceaccount:ferry:ferry-control"
"#;

/// A service account token from the lab's control API.
async fn service_account_token(lab: &Lab, body: serde_json::Value) -> String {
    let url = format!("{}service-account-token", lab.control_url);
    let body = Some(("application/json", body.to_string().into_bytes()));
    let answer = call_plain("POST", &url, &[], body).await;
    assert_eq!(answer.status, 200, "{}", answer.json);
    answer.json["token"].as_str().unwrap().to_string()
}

/// A token as azure_identity's WorkloadIdentityCredential asks for one.
async fn exchange(lab: &Lab, assertion: &str, assertion_type: Option<&str>) -> Answer {
    let azure = lab.azure.as_ref().unwrap();
    let mut form = form_urlencoded::Serializer::new(String::new());
    form.append_pair("client_assertion", assertion);
    if let Some(kind) = assertion_type {
        form.append_pair("client_assertion_type", kind);
    }
    let form = form
        .append_pair("client_id", DEFAULT_CLIENT_ID)
        .append_pair("grant_type", "client_credentials")
        .append_pair("scope", "https://management.azure.com/.default")
        .finish();
    call(
        &azure.ca_pem,
        "POST",
        &format!("{}{}/oauth2/v2.0/token", azure.authority, azure.tenant),
        &[],
        Some(("application/x-www-form-urlencoded", form.into_bytes())),
    )
    .await
}

const JWT_BEARER: Option<&str> = Some("urn:ietf:params:oauth:client-assertion-type:jwt-bearer");

/// An answer's HTTP status and Entra's AADSTS code.
fn refusal(answer: &Answer) -> (u16, u64) {
    let code = answer.json["error_codes"][0].as_u64().unwrap_or(0);
    (answer.status, code)
}

#[tokio::test]
async fn a_federated_token_signs_the_workload_in_and_a_wrong_one_does_not() {
    let (lab, clock) = lab_on_manual_clock(SCENARIO).await;
    let token = service_account_token(&lab, json!({ "subject": DEFAULT_SUBJECT })).await;
    let answer = exchange(&lab, &token, JWT_BEARER).await;
    assert_eq!(answer.status, 200, "{}", answer.json);
    let access = answer.json["access_token"].as_str().unwrap();
    assert_eq!(arm(&lab, access, "GET", "", None).await.status, 200);

    // The application has no secret: only its federated identity signs it in.
    let azure = lab.azure.as_ref().unwrap();
    let form = format!("client_id={DEFAULT_CLIENT_ID}&client_secret=x&grant_type=client_credentials&scope=https%3A%2F%2Fmanagement.azure.com%2F.default");
    let url = format!("{}{}/oauth2/v2.0/token", azure.authority, azure.tenant);
    let body = Some(("application/x-www-form-urlencoded", form.into_bytes()));
    let secret = call(&azure.ca_pem, "POST", &url, &[], body).await;
    assert_eq!(refusal(&secret), (401, 7000215));

    let other_subject = json!({ "subject": "system:serviceaccount:default:other" });
    let stranger = service_account_token(&lab, other_subject).await;
    let answer = exchange(&lab, &stranger, JWT_BEARER).await;
    assert_eq!(refusal(&answer), (400, 700213), "{}", answer.json);
    let other_issuer =
        json!({ "subject": DEFAULT_SUBJECT, "issuer": "https://elsewhere.invalid/" });
    let foreign = service_account_token(&lab, other_issuer).await;
    let answer = exchange(&lab, &foreign, JWT_BEARER).await;
    assert_eq!(refusal(&answer), (400, 700211), "{}", answer.json);
    assert!(answer.json["error_description"]
        .as_str()
        .unwrap()
        .contains("elsewhere.invalid"));
    let forged = format!("{}x", token.trim_end_matches(|c| c != '.'));
    let answer = exchange(&lab, &forged, JWT_BEARER).await;
    assert_eq!(refusal(&answer), (401, 50027), "{}", answer.json);
    let answer = exchange(&lab, &token, None).await;
    assert_eq!(refusal(&answer), (400, 900144), "{}", answer.json);

    // A cluster refreshes its tokens; one an hour old has expired.
    clock.advance(Duration::from_secs(3601));
    let answer = exchange(&lab, &token, JWT_BEARER).await;
    assert_eq!(refusal(&answer), (401, 700024), "{}", answer.json);
    let fresh = service_account_token(&lab, json!({ "subject": DEFAULT_SUBJECT })).await;
    assert_eq!(exchange(&lab, &fresh, JWT_BEARER).await.status, 200);
}
