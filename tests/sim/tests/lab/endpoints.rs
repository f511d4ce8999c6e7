//! Database mirroring endpoints: the documented CREATE ENDPOINT for the MI link, what
//! the views show, the real TCP port opening and closing with the endpoint's state,
//! and SQL Server's errors for a second endpoint, a missing certificate, a busy port
//! and a login without permission.

use std::net::{SocketAddr, TcpListener, TcpStream};

use ferry_sim::{Lab, Scenario};

use super::{error_number, free_port, reader, rows, run, sa, Client};

const SCENARIO: &str = r#"
[[instance]]
name = "SQL01"
version = "2022 CU13"
edition = "Enterprise"
hadr = true

[[instance.login]]
name = "sa"
password = "Lab-Passw0rd!"
sysadmin = true

[[instance.login]]
name = "reader"
password = "Reader-1"
"#;

/// A port nothing listens on, and a listener holding another one busy.
fn listens(port: u16) -> bool {
    TcpStream::connect(SocketAddr::from(([127, 0, 0, 1], port))).is_ok()
}

async fn mirroring_endpoint(client: &mut Client) -> Vec<String> {
    let r = rows(
        client,
        "SELECT e.name, e.state_desc, e.role_desc, e.connection_auth_desc, e.encryption_algorithm_desc,
                CAST(t.port AS nvarchar(10)), CAST(e.is_encryption_enabled AS nvarchar(1))
         FROM sys.database_mirroring_endpoints AS e JOIN sys.tcp_endpoints AS t ON t.endpoint_id = e.endpoint_id
         WHERE e.type_desc = 'DATABASE_MIRRORING'",
    )
    .await;
    (0..7)
        .map(|i| r[0].get::<&str, _>(i).unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn the_documented_mirroring_endpoint_listens_and_follows_its_state() {
    let lab = Lab::start(&Scenario::parse(SCENARIO).unwrap())
        .await
        .unwrap();
    let mut client = sa(&lab).await;
    let system = rows(
        &mut client,
        "SELECT COUNT(*) FROM sys.endpoints WHERE endpoint_id < 65536",
    )
    .await;
    assert_eq!(system[0].get::<i32, _>(0), Some(5));

    let port = free_port();
    let create = format!(
        "CREATE ENDPOINT database_mirroring_endpoint
           STATE = STARTED
           AS TCP (LISTENER_PORT = {port}, LISTENER_IP = ALL)
           FOR DATABASE_MIRRORING (ROLE = ALL,
                 AUTHENTICATION = CERTIFICATE [Cert_SQL01_endpoint],
                 ENCRYPTION = REQUIRED ALGORITHM AES);"
    );
    assert_eq!(error_number(&mut client, &create).await, 15151);
    run(
        &mut client,
        "CREATE MASTER KEY ENCRYPTION BY PASSWORD = 'Strong-Passw0rd!';
         CREATE CERTIFICATE [Cert_SQL01_endpoint] WITH SUBJECT = 'Certificate for Cert_SQL01_endpoint', EXPIRY_DATE = '2030-01-01'",
    )
    .await;
    assert!(!listens(port));
    run(&mut client, &create).await;
    assert!(listens(port), "a STARTED endpoint listens on its port");
    assert_eq!(
        mirroring_endpoint(&mut client).await,
        [
            "database_mirroring_endpoint",
            "STARTED",
            "ALL",
            "CERTIFICATE",
            "AES",
            &port.to_string(),
            "1"
        ]
    );
    let bound = rows(
        &mut client,
        "SELECT COUNT(*) FROM sys.database_mirroring_endpoints WHERE certificate_id = CERT_ID(N'Cert_SQL01_endpoint')",
    )
    .await;
    assert_eq!(bound[0].get::<i32, _>(0), Some(1));

    // One mirroring endpoint per instance.
    let second = format!(
        "CREATE ENDPOINT another STATE = STARTED AS TCP (LISTENER_PORT = {})
         FOR DATABASE_MIRRORING (ROLE = ALL)",
        free_port()
    );
    assert_eq!(error_number(&mut client, &second).await, 7862);

    // DISABLED closes the port; STARTED opens it again.
    run(
        &mut client,
        "ALTER ENDPOINT database_mirroring_endpoint STATE = DISABLED",
    )
    .await;
    assert!(!listens(port));
    run(
        &mut client,
        "ALTER ENDPOINT database_mirroring_endpoint STATE = STARTED",
    )
    .await;
    assert!(listens(port));

    // Windows authentication kept for existing groups, AES preferred (mi-link.md §1.4).
    run(
        &mut client,
        "ALTER ENDPOINT database_mirroring_endpoint FOR DATABASE_MIRRORING (
           AUTHENTICATION = WINDOWS NEGOTIATE CERTIFICATE [Cert_SQL01_endpoint],
           ENCRYPTION = REQUIRED ALGORITHM AES RC4)",
    )
    .await;
    let now = mirroring_endpoint(&mut client).await;
    assert_eq!(now[3], "NEGOTIATE, CERTIFICATE");
    assert_eq!(now[4], "AES, RC4");

    // A busy port: the ALTER fails and the endpoint stays where it was.
    let busy = TcpListener::bind("127.0.0.1:0").unwrap();
    let busy_port = busy.local_addr().unwrap().port();
    let alter =
        format!("ALTER ENDPOINT database_mirroring_endpoint AS TCP (LISTENER_PORT = {busy_port})");
    assert_eq!(error_number(&mut client, &alter).await, 9692);
    assert_eq!(mirroring_endpoint(&mut client).await[5], port.to_string());
    assert!(listens(port));

    // Without sysadmin or CREATE ENDPOINT: refused.
    let mut reader = reader(&lab).await;
    assert_eq!(
        error_number(&mut reader, "DROP ENDPOINT database_mirroring_endpoint").await,
        15247
    );

    run(&mut client, "DROP ENDPOINT database_mirroring_endpoint").await;
    assert!(!listens(port), "a dropped endpoint closes its port");
    assert_eq!(
        error_number(&mut client, "DROP ENDPOINT database_mirroring_endpoint").await,
        15151
    );
}

#[tokio::test]
async fn a_scenario_sets_up_state_with_t_sql_and_a_failing_statement_stops_the_lab() {
    let with_setup =
        |setup: &str| SCENARIO.replace("hadr = true\n", &format!("hadr = true\nsetup = {setup}\n"));
    let scenario = with_setup(
        "[\"\"\"CREATE ENDPOINT Hadr_endpoint STATE = DISABLED AS TCP (LISTENER_PORT = 5022)
           FOR DATABASE_MIRRORING (AUTHENTICATION = WINDOWS NEGOTIATE, ENCRYPTION = REQUIRED ALGORITHM RC4)\"\"\"]",
    );
    let lab = Lab::start(&Scenario::parse(&scenario).unwrap())
        .await
        .unwrap();
    let mut client = sa(&lab).await;
    assert_eq!(
        mirroring_endpoint(&mut client).await,
        [
            "Hadr_endpoint",
            "DISABLED",
            "ALL",
            "NEGOTIATE",
            "RC4",
            "5022",
            "1"
        ]
    );

    let broken = with_setup(
        "[\"CREATE ENDPOINT e AS TCP (LISTENER_PORT = 5022) FOR DATABASE_MIRRORING (AUTHENTICATION = CERTIFICATE missing)\"]",
    );
    let error = Lab::start(&Scenario::parse(&broken).unwrap())
        .await
        .err()
        .expect("a failing setup statement stops the lab")
        .to_string();
    assert!(
        error.contains("SQL01") && error.contains("setup[0]") && error.contains("15151"),
        "{error}"
    );
}
