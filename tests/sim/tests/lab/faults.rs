//! Faults injected into a running lab, and the symptoms and recovery mi-link.md §3.2
//! and §7 document: a cut network (each direction) disconnects the link with 41986
//! and restarts seeding; a slower path seeds slower; a stopped instance refuses
//! connections and the link reconnects when it starts; a hung one holds them; ARM answers 5xx, 429 with
//! Retry-After, or nothing; an expired endpoint certificate fails the handshake.
//! Library calls (`lab.control`) and the HTTP control API are both exercised.

use std::time::Duration;

use ferry_sim::faults::Direction;
use ferry_sim::scenario::azure::{DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET};
use ferry_sim::Lab;
use serde_json::{json, Value};

use super::azure::{arm, complete, link_databases, link_error, token};
use super::replication::{
    arm_database, linked, mi_client, one_number, one_text, set_up_link, BANDWIDTH, MB, SCENARIO,
};
use super::{https, lab_on_manual_clock, rows, run, sa, Client};

/// POSTs to the lab's control API: the status and the JSON answer (if any).
async fn control(lab: &Lab, path: &str, body: Option<Value>) -> (u16, Value) {
    let url = format!("{}{}", lab.control_url, path.trim_start_matches('/'));
    let body = body.map(|b| ("application/json", b.to_string().into_bytes()));
    let answer = https::call_plain("POST", &url, &[], body).await;
    (answer.status, answer.json)
}

/// Waits (up to 10 s) until `condition` holds, looking every 10 ms.
async fn until(what: &str, condition: impl Fn() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !condition() {
        assert!(tokio::time::Instant::now() < deadline, "waited for {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// The MI's member of the link as SQL Server sees it: connected state and the last
/// connection error's number.
async fn mi_member(sql: &mut Client) -> (String, Option<i32>) {
    let found = rows(
        sql,
        "SELECT rs.connected_state_desc, rs.last_connect_error_number
         FROM sys.dm_hadr_availability_replica_states rs
         JOIN sys.availability_replicas r ON r.replica_id = rs.replica_id
         WHERE r.replica_server_name = 'AG_Sales_MI'",
    )
    .await;
    let row = &found[0];
    (
        row.get::<&str, _>(0).unwrap().to_string(),
        row.get::<i32, _>(1),
    )
}

async fn transferred(sql: &mut Client) -> f64 {
    one_number(
        sql,
        "SELECT transferred_size_bytes FROM sys.dm_hadr_physical_seeding_stats",
    )
    .await
}

/// Established TCP connections from a client to `server`, as the kernel lists them
/// (/proc/net/tcp: addresses in hex, the IPv4 address in host byte order).
fn established_to(server: std::net::SocketAddr) -> usize {
    let std::net::IpAddr::V4(ip) = server.ip() else {
        panic!("the lab's MIs listen on IPv4")
    };
    let wanted = format!(
        "{:08X}:{:04X}",
        u32::from_le_bytes(ip.octets()),
        server.port()
    );
    let table = std::fs::read_to_string("/proc/net/tcp").expect("Linux lists TCP sockets");
    table
        .lines()
        .skip(1)
        .filter(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            // Client sockets: the server's address is the remote one; 01 ESTABLISHED.
            fields.get(2) == Some(&wanted.as_str()) && fields.get(3) == Some(&"01")
        })
        .count()
}

#[tokio::test]
async fn a_cut_network_disconnects_the_link_restarts_seeding_and_recovers() {
    let (lab, clock, mut sql, token) = linked().await;
    clock.advance(Duration::from_secs(5));
    assert!((transferred(&mut sql).await - 5.0 * BANDWIDTH).abs() < MB);
    let mi = lab.managed_instance("mi-target").unwrap();
    let link_port = mi.link_address();
    assert!(tokio::net::TcpStream::connect(link_port).await.is_ok());

    // SQL Server can no longer reach the MI: its link port refuses the lab's hosts.
    let to_mi = Direction::ToManagedInstance;
    lab.control.cut("SQL01", "mi-target", to_mi).unwrap();
    let db = arm_database(&lab, &token).await;
    assert_eq!(db["connectedState"], "DISCONNECTED", "{db}");
    assert_eq!(link_error(&db), Some(41986), "{db}");
    assert_eq!(
        mi_member(&mut sql).await,
        ("DISCONNECTED".into(), Some(41986))
    );
    assert!(tokio::net::TcpStream::connect(link_port).await.is_err());
    clock.advance(Duration::from_secs(3));
    lab.control.restore("SQL01", "mi-target", to_mi).unwrap();
    assert!(tokio::net::TcpStream::connect(link_port).await.is_ok());

    // Seeding is not resilient: it starts again from nothing.
    clock.advance(Duration::from_secs(2));
    assert!(
        (transferred(&mut sql).await - 2.0 * BANDWIDTH).abs() < MB,
        "seeding restarted"
    );
    let attempts = "SELECT MAX(number_of_attempts) FROM sys.dm_hadr_automatic_seeding";
    assert_eq!(one_number(&mut sql, attempts).await, 2.0);

    // The link runs over a TCP connection to the MI's port 5022.
    assert_eq!(
        established_to(link_port),
        1,
        "one connection carries the link"
    );

    // The other direction on its own also breaks the link and its connection; the
    // MI's port stays open.
    let from_mi = Direction::FromManagedInstance;
    lab.control.cut("SQL01", "mi-target", from_mi).unwrap();
    assert_eq!(mi_member(&mut sql).await.0, "DISCONNECTED");
    assert_eq!(established_to(link_port), 0, "the session ended");
    assert!(tokio::net::TcpStream::connect(link_port).await.is_ok());
    lab.control.restore("SQL01", "mi-target", from_mi).unwrap();
    clock.advance(Duration::from_secs(12));
    assert_eq!(mi_member(&mut sql).await.0, "CONNECTED");
    assert_eq!(established_to(link_port), 1, "a new connection");
    let db = arm_database(&lab, &token).await;
    assert_eq!(db["connectedState"], "CONNECTED", "{db}");
    assert_eq!(one_number(&mut sql, attempts).await, 3.0);
    let mut mi = mi_client(&lab).await;
    let state = "SELECT state_desc FROM sys.databases WHERE name = 'Sales'";
    assert_eq!(one_text(&mut mi, state).await, "ONLINE");
}

#[tokio::test]
async fn a_slower_path_seeds_slower_and_a_longer_delay_widens_the_lag() {
    let (lab, clock) = lab_on_manual_clock(SCENARIO).await;
    // 8 Mbit/s: a tenth of the MI's 80.
    lab.control
        .shape("SQL01", "mi-target", Duration::ZERO, Some(8.0))
        .unwrap();
    let mut sql = sa(&lab).await;
    let token = set_up_link(&lab, &clock, &mut sql).await;
    clock.advance(Duration::from_secs(5));
    let slow = transferred(&mut sql).await;
    assert!((slow - 0.5 * BANDWIDTH).abs() < MB / 4.0, "{slow}");
    lab.control
        .shape("SQL01", "mi-target", Duration::ZERO, None)
        .unwrap();
    clock.advance(Duration::from_secs(15));
    let db = arm_database(&lab, &token).await;
    assert_eq!(db["replicaState"], "LinkSynchronizing", "{db}");
    // Two seconds more each way: the MI trails the workload by that much more.
    lab.control
        .shape("SQL01", "mi-target", Duration::from_secs(2), None)
        .unwrap();
    clock.advance(Duration::from_secs(5));
    let db = arm_database(&lab, &token).await;
    let lag = db["instanceSendReplicationLagSeconds"].as_i64().unwrap();
    assert!(lag >= 2, "{db}");
    // Refused values name the field.
    let refused = lab
        .control
        .shape("SQL01", "mi-target", Duration::ZERO, Some(0.0))
        .unwrap_err();
    assert!(refused.message.starts_with("bandwidth_mbps:"), "{refused}");
}

#[tokio::test]
async fn a_stopped_instance_refuses_connections_and_its_link_reconnects_when_it_starts() {
    let (lab, clock, mut sql, token) = linked().await;
    clock.advance(Duration::from_secs(12));
    assert_eq!(
        arm_database(&lab, &token).await["connectedState"],
        "CONNECTED"
    );
    let (status, _) = control(&lab, "/instances/SQL01/stop", None).await;
    assert_eq!(status, 204);
    // Sessions end; new connections are refused.
    assert!(sql.simple_query("SELECT 1").await.is_err());
    let address = lab.endpoint("SQL01").unwrap().address;
    assert!(tokio::net::TcpStream::connect(address).await.is_err());
    let db = arm_database(&lab, &token).await;
    assert_eq!(db["connectedState"], "DISCONNECTED", "{db}");
    assert_eq!(link_error(&db), Some(41986), "{db}");

    let (status, _) = control(&lab, "/instances/SQL01/start", None).await;
    assert_eq!(status, 204);
    let mut sql = sa(&lab).await;
    clock.advance(Duration::from_secs(1));
    assert_eq!(mi_member(&mut sql).await.0, "CONNECTED");
    let orders = one_number(&mut sql, "SELECT COUNT(*) FROM Sales.dbo.Orders").await;
    assert!(orders > 1000.0, "the database kept its rows: {orders}");

    // A managed instance stops the same way.
    let (status, _) = control(&lab, "/instances/mi-target/stop", None).await;
    assert_eq!(status, 204);
    let mi = lab.managed_instance("mi-target").unwrap();
    let tds = std::net::SocketAddr::new(mi.ip.into(), 1433);
    assert!(tokio::net::TcpStream::connect(tds).await.is_err());
    assert_eq!(mi_member(&mut sql).await.0, "DISCONNECTED");
    control(&lab, "/instances/mi-target/start", None).await;
    assert!(tokio::net::TcpStream::connect(tds).await.is_ok());
    assert_eq!(mi_member(&mut sql).await.0, "CONNECTED");

    let (status, answer) = control(&lab, "/instances/nowhere/stop", None).await;
    assert_eq!(status, 404);
    assert!(answer["error"].as_str().unwrap().contains("'nowhere'"));
}

#[tokio::test]
async fn a_hung_instance_accepts_logins_and_answers_them_when_it_resumes() {
    let lab = super::lab().await;
    let (status, _) = control(&lab, "/instances/SQL01/hang", None).await;
    assert_eq!(status, 204);
    let login = tokio::spawn({
        let address = lab.endpoint("SQL01").unwrap().address;
        async move {
            super::connect_at(
                address,
                "sa",
                "Lab-Passw0rd!",
                tiberius::EncryptionLevel::Required,
            )
            .await
        }
    });
    // The connection is accepted and waits: nothing answers the login.
    until("a connection held", || {
        lab.control.held_connections("SQL01") > 0
    })
    .await;
    assert!(!login.is_finished());
    let (status, _) = control(&lab, "/instances/SQL01/resume", None).await;
    assert_eq!(status, 204);
    let mut sql = tokio::time::timeout(Duration::from_secs(10), login)
        .await
        .expect("the login completes once the instance resumes")
        .unwrap()
        .unwrap();
    assert_eq!(one_number(&mut sql, "SELECT 1").await, 1.0);
    assert_eq!(lab.control.held_connections("SQL01"), 0);
    let (status, answer) = control(&lab, "/instances/nowhere/hang", None).await;
    assert_eq!(status, 404);
    assert!(answer["error"].as_str().unwrap().contains("'nowhere'"));
}

#[tokio::test]
async fn arm_fails_throttles_and_times_out_when_told_and_then_recovers() {
    let (lab, _clock) = lab_on_manual_clock(SCENARIO).await;
    let token = token(&lab, DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET).await;
    let fail = |body: Value| control(&lab, "/arm/fail", Some(body));
    let (status, _) = fail(json!({"kind": "throttled", "count": 2, "retry_after_secs": 7})).await;
    assert_eq!(status, 204);
    for _ in 0..2 {
        let answer = arm(&lab, &token, "GET", "", None).await;
        assert_eq!(answer.status, 429);
        assert_eq!(answer.error_code(), "SubscriptionRequestsThrottled");
        assert_eq!(answer.header("retry-after"), "7");
    }
    assert_eq!(arm(&lab, &token, "GET", "", None).await.status, 200);

    fail(json!({"kind": "server_error"})).await;
    let answer = arm(&lab, &token, "GET", "", None).await;
    assert_eq!(
        (answer.status, answer.error_code()),
        (500, "InternalServerError")
    );
    fail(json!({"kind": "unavailable", "retry_after_secs": 3})).await;
    let answer = arm(&lab, &token, "GET", "", None).await;
    assert_eq!((answer.status, answer.header("retry-after")), (503, "3"));

    // No answer within the client's own timeout.
    fail(json!({"kind": "timeout", "after_secs": 120})).await;
    let waited = tokio::time::timeout(
        Duration::from_millis(300),
        arm(&lab, &token, "GET", "", None),
    )
    .await;
    assert!(waited.is_err(), "ARM answered");
    assert_eq!(arm(&lab, &token, "GET", "", None).await.status, 200);

    // A fault on one resource type leaves the others alone until it is answered.
    let on = json!({"kind": "server_error", "path_contains": "endpointCertificates"});
    fail(on).await;
    assert_eq!(arm(&lab, &token, "GET", "", None).await.status, 200);
    assert_eq!(lab.control.arm_faults_left(), 1);
    let path = "/endpointCertificates/DATABASE_MIRRORING";
    assert_eq!(arm(&lab, &token, "GET", path, None).await.status, 500);
    assert_eq!(lab.control.arm_faults_left(), 0);

    let (status, answer) = fail(json!({"kind": "sometimes"})).await;
    assert_eq!(status, 400);
    assert!(answer["error"]
        .as_str()
        .unwrap()
        .contains("unknown variant"));
}

#[tokio::test]
async fn an_expired_endpoint_certificate_fails_the_handshake_until_it_is_replaced() {
    let (lab, clock, mut sql, token) = linked().await;
    clock.advance(Duration::from_secs(12));
    let body = json!({"instance": "SQL01", "certificate": "Cert_SQL01_endpoint"});
    let (status, _) = control(&lab, "/certificates/expire", Some(body)).await;
    assert_eq!(status, 204);
    let databases = link_databases(&lab, &token).await;
    assert_eq!(link_error(&databases[0]), Some(9642), "{databases:?}");
    assert_eq!(databases[0]["connectedState"], "DISCONNECTED");
    // It was valid until 2030; now it says it has ended.
    let expired = "SELECT CASE WHEN expiry_date < '2029-01-01' THEN 1 ELSE 0 END
                   FROM sys.certificates WHERE name = 'Cert_SQL01_endpoint'";
    assert_eq!(one_number(&mut sql, expired).await, 1.0);
    // The documented fix: a new certificate on the endpoint, its public key uploaded.
    run(&mut sql, "CREATE CERTIFICATE [Cert_SQL01_endpoint_2] WITH SUBJECT = 'Certificate for Cert_SQL01_endpoint_2', EXPIRY_DATE = '2031-01-01'").await;
    run(
        &mut sql,
        "ALTER ENDPOINT database_mirroring_endpoint FOR DATABASE_MIRRORING (AUTHENTICATION = CERTIFICATE [Cert_SQL01_endpoint_2])",
    )
    .await;
    let encoded = rows(
        &mut sql,
        "SELECT CERTENCODED(CERT_ID(N'Cert_SQL01_endpoint_2'))",
    )
    .await;
    let blob = format!(
        "0x{}",
        hex::encode_upper(encoded[0].get::<&[u8], _>(0).unwrap())
    );
    let upload = arm(
        &lab,
        &token,
        "PUT",
        "/serverTrustCertificates/Cert_SQL01_endpoint_2",
        Some(json!({"properties": {"publicBlob": blob}})),
    )
    .await;
    complete(&lab, &clock, &token, &upload).await;
    // Connected again; the last connection error stays on record (41973: the new
    // certificate was in use on the endpoint before the MI trusted it).
    assert_eq!(mi_member(&mut sql).await, ("CONNECTED".into(), Some(41973)));
    let missing = json!({"instance": "SQL01", "certificate": "nope"});
    let (status, answer) = control(&lab, "/certificates/expire", Some(missing)).await;
    assert_eq!(status, 404);
    assert!(answer["error"]
        .as_str()
        .unwrap()
        .starts_with("certificate:"));
}

#[tokio::test]
async fn a_held_reply_comes_after_the_work_and_is_lost_with_its_client() {
    let lab = super::lab().await;
    let (status, _) = control(
        &lab,
        "/instances/SQL01/hold",
        Some(json!({"statement": "create master key"})),
    )
    .await;
    assert_eq!(status, 204);
    let waiting = |count: usize| {
        let lab = &lab;
        until("the held replies", move || {
            lab.control.held_replies("SQL01") == count
        })
    };
    let keys =
        "SELECT CAST(COUNT(*) AS int) FROM master.sys.symmetric_keys WHERE symmetric_key_id = 101";
    let mut other = sa(&lab).await;
    assert_eq!(one_number(&mut other, keys).await, 0.0);

    // The client goes while its reply is held: the key exists all the same.
    let mut first = sa(&lab).await;
    let create = tokio::spawn(async move {
        run(
            &mut first,
            "CREATE MASTER KEY ENCRYPTION BY PASSWORD = 'Held-Passw0rd!'",
        )
        .await;
    });
    waiting(1).await;
    assert_eq!(one_number(&mut other, keys).await, 1.0);
    create.abort();
    waiting(0).await;

    // Released, a held reply goes out.
    let mut second = sa(&lab).await;
    let drop_key = tokio::spawn(async move {
        run(
            &mut second,
            "DROP MASTER KEY; CREATE MASTER KEY ENCRYPTION BY PASSWORD = 'Held-Passw0rd!'",
        )
        .await;
        second
    });
    waiting(1).await;
    let (status, _) = control(&lab, "/instances/SQL01/release", None).await;
    assert_eq!(status, 204);
    let mut second = tokio::time::timeout(Duration::from_secs(10), drop_key)
        .await
        .expect("the reply goes out once released")
        .unwrap();
    assert_eq!(one_number(&mut second, keys).await, 1.0);

    let (status, answer) = control(
        &lab,
        "/instances/SQL01/hold",
        Some(json!({"statement": " "})),
    )
    .await;
    assert_eq!(status, 400);
    assert!(answer["error"].as_str().unwrap().contains("statement"));
}
