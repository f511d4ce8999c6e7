//! The lab's Azure: a managed instance over TDS, the token authority as
//! azure_identity's client-secret credential calls it, ARM's refusals, long-running
//! operations on the lab clock, and a link that comes up only once every
//! prerequisite of mi-link.md §2.1 is in place, reporting the documented error for
//! the first one missing.

use std::time::Duration;

use ferry_sim::engine::LabClock;
use ferry_sim::scenario::azure::{DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET};
use ferry_sim::Lab;
use serde_json::{json, Value};
use tiberius::EncryptionLevel;

use super::https::{call, Answer};
use super::{connect_at, free_port, lab_on_manual_clock, rows, run, sa, Client};

const READER_ID: &str = "3c2b1a09-8f7e-4d6c-9b5a-4f3e2d1c0b0a";

fn scenario() -> String {
    format!(
        r#"
[[instance]]
name = "SQL01"
version = "2022 CU13"
edition = "Enterprise"
hadr = true
# No logins declared: sa with the lab's default password, as `sa()` expects.

[[instance.database]]
name = "Sales"
backups = [{{ type = "D", hours_ago = 2.0 }}]

[[instance.database]]
name = "Archive"
recovery = "SIMPLE"

[[managed_instance]]
name = "mi-target"
dns_zone = "0a1b2c3d4e5f"
tier = "BusinessCritical"
vcores = 16
storage_gb = 512

[azure]
speed = 10.0

[[azure.principal]]
client_id = "{DEFAULT_CLIENT_ID}"
client_secret = "{DEFAULT_CLIENT_SECRET}"

[[azure.principal]]
client_id = "{READER_ID}"
client_secret = "Reader-Secret"
role = "Reader"
"#
    )
}

/// A token as azure_identity's ClientSecretCredential asks for one.
async fn token_answer(lab: &Lab, tenant: &str, client: &str, secret: &str, scope: &str) -> Answer {
    let azure = lab.azure.as_ref().unwrap();
    let form = form_urlencoded::Serializer::new(String::new())
        .append_pair("client_id", client)
        .append_pair("client_secret", secret)
        .append_pair("grant_type", "client_credentials")
        .append_pair("scope", scope)
        .finish();
    call(
        &azure.ca_pem,
        "POST",
        &format!("{}{tenant}/oauth2/v2.0/token", azure.authority),
        &[],
        Some(("application/x-www-form-urlencoded", form.into_bytes())),
    )
    .await
}

pub(super) async fn token(lab: &Lab, client: &str, secret: &str) -> String {
    let tenant = lab.azure.as_ref().unwrap().tenant.clone();
    let answer = token_answer(
        lab,
        &tenant,
        client,
        secret,
        "https://management.azure.com/.default",
    )
    .await;
    assert_eq!(answer.status, 200, "{}", answer.json);
    answer.json["access_token"].as_str().unwrap().to_string()
}

/// An ARM call under the managed instance (`path` after `managedInstances/mi-target`).
pub(super) async fn arm(
    lab: &Lab,
    token: &str,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> Answer {
    let azure = lab.azure.as_ref().unwrap();
    let url = format!(
        "{}subscriptions/{}/resourceGroups/ferry-lab/providers/Microsoft.Sql/managedInstances/mi-target{path}?api-version=2024-05-01-preview",
        azure.arm, azure.subscription
    );
    call(
        &azure.ca_pem,
        method,
        &url,
        &[("authorization", format!("Bearer {token}"))],
        body.map(|b| ("application/json", b.to_string().into_bytes())),
    )
    .await
}

/// Follows a long-running operation that succeeds: see [`finish`].
pub(super) async fn complete(lab: &Lab, clock: &LabClock, token: &str, started: &Answer) -> Answer {
    let (status, result) = finish(lab, clock, token, started).await;
    assert_eq!(status["status"], "Succeeded", "{status}");
    result
}

/// Follows a long-running operation: in progress until the lab clock has moved on,
/// then finished; its final status, and the answer at its Location.
pub(super) async fn finish(
    lab: &Lab,
    clock: &LabClock,
    token: &str,
    started: &Answer,
) -> (Value, Answer) {
    assert_eq!(started.status, 202, "{}", started.json);
    let azure = lab.azure.as_ref().unwrap();
    let get = |url: String| async move {
        call(
            &azure.ca_pem,
            "GET",
            &url,
            &[("authorization", format!("Bearer {token}"))],
            None,
        )
        .await
    };
    let status = get(started.header("azure-asyncoperation").to_string()).await;
    assert_eq!(status.json["status"], "InProgress", "{}", status.json);
    let pending = get(started.header("location").to_string()).await;
    assert_eq!(pending.status, 202);
    assert!(pending.header("retry-after").parse::<u64>().unwrap() >= 1);
    // Azure's slowest link operation is 90 s; the scenario runs at ten times that.
    clock.advance(Duration::from_secs(10));
    let status = get(started.header("azure-asyncoperation").to_string()).await;
    (
        status.json,
        get(started.header("location").to_string()).await,
    )
}

#[tokio::test]
async fn the_token_authority_and_arm_refuse_what_azure_refuses() {
    let (lab, clock) = lab_on_manual_clock(&scenario()).await;
    let tenant = lab.azure.as_ref().unwrap().tenant.clone();
    let management = "https://management.azure.com/.default";

    let wrong_secret = token_answer(&lab, &tenant, DEFAULT_CLIENT_ID, "nope", management).await;
    assert_eq!(
        (wrong_secret.status, wrong_secret.error_code()),
        (401, "invalid_client")
    );
    assert!(wrong_secret.json["error_description"]
        .as_str()
        .unwrap()
        .starts_with("AADSTS7000215"));
    let unknown_tenant = token_answer(
        &lab,
        "11111111-2222-4333-8444-555555555555",
        DEFAULT_CLIENT_ID,
        DEFAULT_CLIENT_SECRET,
        management,
    )
    .await;
    assert_eq!(unknown_tenant.json["error_codes"][0], 90002);
    let bare_scope = token_answer(
        &lab,
        &tenant,
        DEFAULT_CLIENT_ID,
        DEFAULT_CLIENT_SECRET,
        "https://management.azure.com/",
    )
    .await;
    assert_eq!(bare_scope.error_code(), "invalid_scope");
    let unknown_app = token_answer(
        &lab,
        &tenant,
        "00000000-0000-4000-8000-000000000000",
        "x",
        management,
    )
    .await;
    assert_eq!(unknown_app.error_code(), "unauthorized_client");

    let good = token(&lab, DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET).await;
    let azure = lab.azure.as_ref().unwrap();
    let base = format!("{}subscriptions/{}/resourceGroups/ferry-lab/providers/Microsoft.Sql/managedInstances/mi-target", azure.arm, azure.subscription);
    let anonymous = call(
        &azure.ca_pem,
        "GET",
        &format!("{base}?api-version=2021-11-01"),
        &[],
        None,
    )
    .await;
    assert_eq!(
        (anonymous.status, anonymous.error_code()),
        (401, "AuthenticationFailed")
    );
    assert!(anonymous.header("www-authenticate").starts_with("Bearer"));
    let forged = format!("{}x", &good[..good.len() - 1]);
    assert_eq!(
        arm(&lab, &forged, "GET", "", None).await.error_code(),
        "InvalidAuthenticationToken"
    );
    let bearer = [("authorization", format!("Bearer {good}"))];
    let no_version = call(&azure.ca_pem, "GET", &base, &bearer, None).await;
    assert_eq!(
        (no_version.status, no_version.error_code()),
        (400, "MissingApiVersionParameter")
    );
    let old = call(
        &azure.ca_pem,
        "GET",
        &format!("{base}/distributedAvailabilityGroups?api-version=2021-11-01"),
        &bearer,
        None,
    )
    .await;
    assert_eq!(old.error_code(), "NoRegisteredProviderFound");
    let other_group = call(
        &azure.ca_pem,
        "GET",
        &base.replace("/ferry-lab/", "/elsewhere/"),
        &bearer,
        None,
    )
    .await;
    assert_eq!(
        (other_group.status, other_group.error_code()),
        (404, "ResourceGroupNotFound")
    );
    let other_instance = call(
        &azure.ca_pem,
        "GET",
        &format!(
            "{}?api-version=2021-11-01",
            base.replace("mi-target", "mi-other")
        ),
        &bearer,
        None,
    )
    .await;
    assert_eq!(
        (other_instance.status, other_instance.error_code()),
        (404, "ResourceNotFound")
    );

    let reader = token(&lab, READER_ID, "Reader-Secret").await;
    assert_eq!(arm(&lab, &reader, "GET", "", None).await.status, 200);
    let write = arm(
        &lab,
        &reader,
        "PUT",
        "/serverTrustCertificates/c",
        Some(json!({"properties": {"publicBlob": "0x00"}})),
    )
    .await;
    assert_eq!(
        (write.status, write.error_code()),
        (403, "AuthorizationFailed")
    );

    // Tokens expire on the lab clock, as ARM judges them.
    clock.advance(Duration::from_secs(3600));
    let expired = arm(&lab, &good, "GET", "", None).await;
    assert_eq!(
        (expired.status, expired.error_code()),
        (401, "ExpiredAuthenticationToken")
    );
}

#[tokio::test]
async fn a_managed_instance_describes_itself_over_tds_and_arm() {
    let (lab, _clock) = lab_on_manual_clock(&scenario()).await;
    let mi = lab.managed_instance("mi-target").unwrap();
    assert_eq!(mi.fqdn, "mi-target.0a1b2c3d4e5f.database.windows.net");
    let address = std::net::SocketAddr::new(mi.ip.into(), 1433);
    let mut client = connect_at(
        address,
        "miadmin",
        "Lab-Passw0rd!",
        EncryptionLevel::Required,
    )
    .await
    .unwrap();
    let found = rows(
        &mut client,
        "SELECT CAST(SERVERPROPERTY('EngineEdition') AS int), CAST(SERVERPROPERTY('Edition') AS nvarchar(128)), CAST(SERVERPROPERTY('ProductVersion') AS nvarchar(128)), CAST(SERVERPROPERTY('ProductUpdateType') AS nvarchar(128)), @@VERSION",
    )
    .await;
    assert_eq!(found[0].get::<i32, _>(0), Some(8));
    assert_eq!(found[0].get::<&str, _>(1), Some("SQL Azure"));
    assert_eq!(found[0].get::<&str, _>(2), Some("12.0.2000.8"));
    assert_eq!(found[0].get::<&str, _>(3), Some("Continuous"));
    assert!(found[0]
        .get::<&str, _>(4)
        .unwrap()
        .starts_with("Microsoft SQL Azure (RTM) - 12.0.2000.8"));
    // The link endpoint takes connections on the MI's own address.
    tokio::net::TcpStream::connect((mi.ip, 5022)).await.unwrap();

    let token = token(&lab, DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET).await;
    let got = arm(&lab, &token, "GET", "", None).await;
    assert_eq!(got.status, 200, "{}", got.json);
    let properties = &got.json["properties"];
    assert_eq!(properties["fullyQualifiedDomainName"], mi.fqdn.as_str());
    assert_eq!(properties["vCores"], 16);
    assert_eq!(properties["storageSizeInGB"], 512);
    assert_eq!(properties["databaseFormat"], "SQLServer2022");
    assert_eq!(got.json["sku"]["name"], "BC_Gen5");
    let blob = mi_certificate(&lab, &token).await;
    assert_eq!(hex::decode(blob).unwrap(), mi.mirroring_certificate);
}

/// The MI's DATABASE_MIRRORING endpoint certificate, hex, as ARM gives it.
pub(super) async fn mi_certificate(lab: &Lab, token: &str) -> String {
    let got = arm(
        lab,
        token,
        "GET",
        "/endpointCertificates/DATABASE_MIRRORING",
        None,
    )
    .await;
    got.json["properties"]["publicBlob"]
        .as_str()
        .unwrap()
        .to_string()
}

/// PUT of the link DAG_Sales on the managed instance.
pub(super) async fn put_link(lab: &Lab, token: &str, body: Value) -> Answer {
    arm(
        lab,
        token,
        "PUT",
        "/distributedAvailabilityGroups/DAG_Sales",
        Some(body),
    )
    .await
}

/// The databases of link DAG_Sales as ARM reports them.
pub(super) async fn link_databases(lab: &Lab, token: &str) -> Vec<Value> {
    let got = arm(
        lab,
        token,
        "GET",
        "/distributedAvailabilityGroups/DAG_Sales",
        None,
    )
    .await;
    assert_eq!(got.status, 200, "{}", got.json);
    got.json["properties"]["databases"]
        .as_array()
        .unwrap()
        .clone()
}

/// The link's state for its databases, as ARM reports it: (replicaState, error number).
pub(super) async fn link_states(lab: &Lab, token: &str) -> Vec<(String, Option<u32>)> {
    link_databases(lab, token)
        .await
        .iter()
        .map(|d| {
            (
                d["replicaState"].as_str().unwrap().to_string(),
                link_error(d),
            )
        })
        .collect()
}

/// The number of a link database's `mostRecentLinkError` ("NUMBER: text").
pub(super) fn link_error(database: &Value) -> Option<u32> {
    database["mostRecentLinkError"]
        .as_str()?
        .split(':')
        .next()?
        .parse()
        .ok()
}

/// mi-link.md §2.1 on SQL Server: a master key, the endpoint certificate (expiring
/// 2030-01-01) and a mirroring endpoint on `port` that authenticates with it.
pub(super) async fn create_endpoint(sql: &mut Client, port: u16) {
    run(
        sql,
        "CREATE MASTER KEY ENCRYPTION BY PASSWORD = 'Strong-Passw0rd!'",
    )
    .await;
    run(sql, "CREATE CERTIFICATE [Cert_SQL01_endpoint] WITH SUBJECT = 'Certificate for Cert_SQL01_endpoint', EXPIRY_DATE = '2030-01-01'").await;
    run(sql, &format!(
        "CREATE ENDPOINT database_mirroring_endpoint STATE = STARTED AS TCP (LISTENER_PORT = {port}, LISTENER_IP = ALL)
         FOR DATABASE_MIRRORING (ROLE = ALL, AUTHENTICATION = CERTIFICATE [Cert_SQL01_endpoint], ENCRYPTION = REQUIRED ALGORITHM AES)"
    )).await;
}

/// Starts the upload of the endpoint certificate's public key to the MI as a server
/// trust certificate; the long-running operation's first answer.
pub(super) async fn upload_endpoint_certificate(
    lab: &Lab,
    token: &str,
    sql: &mut Client,
) -> Answer {
    let encoded = rows(sql, "SELECT CERTENCODED(CERT_ID(N'Cert_SQL01_endpoint'))").await;
    let public_key = format!(
        "0x{}",
        hex::encode_upper(encoded[0].get::<&[u8], _>(0).unwrap())
    );
    arm(
        lab,
        token,
        "PUT",
        "/serverTrustCertificates/Cert_SQL01_endpoint",
        Some(json!({"properties": {"publicBlob": public_key}})),
    )
    .await
}

/// The availability group AG_Sales over `databases` and the distributed group
/// DAG_Sales with the MI's member AG_Sales_MI, both asynchronous (mi-link.md §2.1).
pub(super) async fn create_groups(sql: &mut Client, port: u16, fqdn: &str, databases: &str) {
    run(sql, &format!(
        "CREATE AVAILABILITY GROUP [AG_Sales] WITH (CLUSTER_TYPE = NONE) FOR DATABASE {databases}
         REPLICA ON N'SQL01' WITH (ENDPOINT_URL = 'TCP://127.0.0.1:{port}', AVAILABILITY_MODE = SYNCHRONOUS_COMMIT,
           FAILOVER_MODE = MANUAL, SEEDING_MODE = AUTOMATIC)"
    )).await;
    run(sql, &format!(
        "CREATE AVAILABILITY GROUP [DAG_Sales] WITH (DISTRIBUTED) AVAILABILITY GROUP ON
           N'AG_Sales' WITH (LISTENER_URL = 'TCP://127.0.0.1:{port}', AVAILABILITY_MODE = ASYNCHRONOUS_COMMIT,
             FAILOVER_MODE = MANUAL, SEEDING_MODE = AUTOMATIC, SESSION_TIMEOUT = 20),
           N'AG_Sales_MI' WITH (LISTENER_URL = 'tcp://{fqdn}:5022;Server=[mi-target]', AVAILABILITY_MODE = ASYNCHRONOUS_COMMIT,
             FAILOVER_MODE = MANUAL, SEEDING_MODE = AUTOMATIC)"
    )).await;
}

#[tokio::test]
async fn a_link_comes_up_only_when_every_prerequisite_is_in_place() {
    let (lab, clock) = lab_on_manual_clock(&scenario()).await;
    let fqdn = lab.managed_instance("mi-target").unwrap().fqdn.clone();
    let token = token(&lab, DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET).await;
    let port = free_port();
    let link = json!({"properties": {
        "databases": [{"databaseName": "Sales"}, {"databaseName": "Archive"}],
        "partnerEndpoint": format!("TCP://127.0.0.1:{port}"),
        "instanceAvailabilityGroupName": "AG_Sales_MI",
        "partnerAvailabilityGroupName": "AG_Sales",
        "instanceLinkRole": "Secondary",
        "failoverMode": "Manual",
        "seedingMode": "Automatic",
    }});
    let bad = put_link(&lab, &token, json!({"properties": {"databases": []}})).await;
    assert_eq!(
        (bad.status, bad.error_code()),
        (400, "InvalidParameterValue")
    );
    let started = put_link(&lab, &token, link.clone()).await;
    let again = put_link(&lab, &token, link.clone()).await;
    assert_eq!(
        again.status, 409,
        "a second create while the first runs is refused"
    );
    let created = complete(&lab, &clock, &token, &started).await;
    assert_eq!(created.status, 200, "{}", created.json);
    assert_eq!(created.json["properties"]["replicationMode"], "Async");
    let repeated = put_link(&lab, &token, link).await;
    assert_eq!(repeated.status, 200, "the same PUT again changes nothing");

    // Nothing listens at the partner endpoint yet.
    let creating = ("CreatingLink".to_string(), Some(41986));
    assert_eq!(
        link_states(&lab, &token).await,
        vec![creating.clone(), creating]
    );

    let mut sql = sa(&lab).await;
    create_endpoint(&mut sql, port).await;
    assert_eq!(
        link_states(&lab, &token).await[0].1,
        Some(41973),
        "the MI does not trust the endpoint's certificate yet"
    );

    let upload = upload_endpoint_certificate(&lab, &token, &mut sql).await;
    let uploaded = complete(&lab, &clock, &token, &upload).await;
    assert_eq!(
        uploaded.json["properties"]["certificateName"],
        "Cert_SQL01_endpoint"
    );
    assert_eq!(
        link_states(&lab, &token).await[0].1,
        Some(41974),
        "SQL Server does not hold the MI's certificate yet"
    );

    let mi_key = mi_certificate(&lab, &token).await;
    run(
        &mut sql,
        &format!("CREATE CERTIFICATE [{fqdn}] FROM BINARY = 0x{mi_key}"),
    )
    .await;
    assert_eq!(
        link_states(&lab, &token).await[0].1,
        Some(41976),
        "no availability groups on SQL Server yet"
    );

    create_groups(&mut sql, port, &fqdn, "[Sales], [Archive]").await;
    // Connected: Sales can seed; Archive, in SIMPLE recovery without a full backup, cannot.
    assert_eq!(
        link_states(&lab, &token).await,
        vec![
            ("Copying".to_string(), None),
            ("LinkCreationError".to_string(), Some(1475))
        ]
    );
    let got = arm(
        &lab,
        &token,
        "GET",
        "/distributedAvailabilityGroups/DAG_Sales",
        None,
    )
    .await;
    let sales = &got.json["properties"]["databases"][0];
    assert_eq!(sales["connectedState"], "CONNECTED");
    assert_eq!(
        sales["partnerAuthCertValidity"]["certificateName"],
        "Cert_SQL01_endpoint"
    );
    assert!(sales["partnerAuthCertValidity"]["expiryDate"]
        .as_str()
        .unwrap()
        .starts_with("2030-01-01"));

    let patch = arm(
        &lab,
        &token,
        "PATCH",
        "/distributedAvailabilityGroups/DAG_Sales",
        Some(json!({"properties": {"replicationMode": "Sync"}})),
    )
    .await;
    let patched = complete(&lab, &clock, &token, &patch).await;
    assert_eq!(patched.json["properties"]["replicationMode"], "Sync");
    let failover = arm(
        &lab,
        &token,
        "POST",
        "/distributedAvailabilityGroups/DAG_Sales/failover",
        Some(json!({"failoverType": "Planned"})),
    )
    .await;
    let (status, result) = finish(&lab, &clock, &token, &failover).await;
    assert_eq!(status["status"], "Failed", "{status}");
    assert_eq!(
        result.error_code(),
        "FailoverNotPossible",
        "SQL Server's side is still asynchronous, and nothing is seeded: {}",
        result.json
    );

    let delete = arm(
        &lab,
        &token,
        "DELETE",
        "/distributedAvailabilityGroups/DAG_Sales",
        None,
    )
    .await;
    assert_eq!(complete(&lab, &clock, &token, &delete).await.status, 204);
    let gone = arm(
        &lab,
        &token,
        "GET",
        "/distributedAvailabilityGroups/DAG_Sales",
        None,
    )
    .await;
    assert_eq!((gone.status, gone.error_code()), (404, "ResourceNotFound"));
    // The SQL Server side keeps its objects: the DAG must still be dropped there.
    let left = rows(
        &mut sql,
        "SELECT name FROM sys.availability_groups WHERE is_distributed = 1",
    )
    .await;
    assert_eq!(left.len(), 1);
}

#[tokio::test]
async fn a_link_that_cannot_connect_for_five_minutes_reports_41962() {
    let (lab, clock) = lab_on_manual_clock(&scenario()).await;
    let token = token(&lab, DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET).await;
    let link = json!({"properties": {
        "databases": [{"databaseName": "Sales"}],
        "partnerEndpoint": format!("TCP://127.0.0.1:{}", free_port()),
        "instanceAvailabilityGroupName": "AG_Sales_MI",
        "partnerAvailabilityGroupName": "AG_Sales",
    }});
    let started = put_link(&lab, &token, link).await;
    complete(&lab, &clock, &token, &started).await;
    assert_eq!(
        link_states(&lab, &token).await,
        vec![("CreatingLink".to_string(), Some(41986))]
    );
    clock.advance(Duration::from_secs(300));
    assert_eq!(
        link_states(&lab, &token).await,
        vec![("LinkInitError".to_string(), Some(41962))]
    );
}
