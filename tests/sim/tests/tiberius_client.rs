//! The lab through tiberius, the client the agent uses: every encryption mode, login
//! failures, result types, Microsoft's documented queries, and DDL effects.

use ferry_sim::{Lab, Scenario};
use tiberius::{AuthMethod, Client, Config, EncryptionLevel};
use tokio::net::TcpStream;
use tokio_util::compat::{Compat, TokioAsyncWriteCompatExt};

const SCENARIO: &str = r#"
[[instance]]
name = "SQL01"
version = "2022 CU13"
edition = "Enterprise"
hadr = true
trace_flags = [1800]

[[instance.login]]
name = "sa"
password = "Lab-Passw0rd!"
sysadmin = true

[[instance.login]]
name = "reader"
password = "Reader-1"

[[instance.database]]
name = "Sales"
data_mb = 1024
backups = [{ type = "D", hours_ago = 2.0 }]

[[instance.database]]
name = "Legacy"
recovery = "SIMPLE"
log_files = 2
compatibility_level = 100

[[instance]]
name = "OLD2016"
version = "2016 SP3"
force_encryption = true
"#;

async fn lab() -> Lab {
    Lab::start(&Scenario::parse(SCENARIO).unwrap()).await.unwrap()
}

async fn connect(lab: &Lab, instance: &str, user: &str, password: &str, encryption: EncryptionLevel) -> tiberius::Result<Client<Compat<TcpStream>>> {
    let endpoint = lab.endpoint(instance).unwrap();
    let mut config = Config::new();
    config.host("127.0.0.1");
    config.port(endpoint.address.port());
    config.authentication(AuthMethod::sql_server(user, password));
    config.encryption(encryption);
    config.trust_cert();
    let tcp = TcpStream::connect(endpoint.address).await?;
    tcp.set_nodelay(true)?;
    Client::connect(config, tcp.compat_write()).await
}

async fn sa(lab: &Lab) -> Client<Compat<TcpStream>> {
    connect(lab, "SQL01", "sa", "Lab-Passw0rd!", EncryptionLevel::Required).await.unwrap()
}

async fn rows(client: &mut Client<Compat<TcpStream>>, sql: &str) -> Vec<tiberius::Row> {
    client.simple_query(sql).await.unwrap().into_first_result().await.unwrap()
}

async fn error_number(client: &mut Client<Compat<TcpStream>>, sql: &str) -> u32 {
    match client.simple_query(sql).await {
        Ok(stream) => match stream.into_results().await {
            Err(tiberius::error::Error::Server(e)) => e.code(),
            other => panic!("expected a server error from {sql}, got {other:?}"),
        },
        Err(tiberius::error::Error::Server(e)) => e.code(),
        Err(other) => panic!("expected a server error from {sql}, got {other}"),
    }
}

#[tokio::test]
async fn every_encryption_mode_logs_in_and_queries() {
    let lab = lab().await;
    for level in [EncryptionLevel::NotSupported, EncryptionLevel::Off, EncryptionLevel::Required] {
        let mut client = connect(&lab, "SQL01", "sa", "Lab-Passw0rd!", level).await.unwrap_or_else(|e| panic!("{level:?}: {e}"));
        let r = rows(&mut client, "SELECT @@SERVERNAME AS name, DB_NAME() AS db").await;
        assert_eq!(r[0].get::<&str, _>("name"), Some("SQL01"), "{level:?}");
        assert_eq!(r[0].get::<&str, _>("db"), Some("master"), "{level:?}");
    }
    // Force Encryption: a client that cannot encrypt is refused; one that can gets full TLS.
    assert!(connect(&lab, "OLD2016", "sa", "Lab-Passw0rd!", EncryptionLevel::NotSupported).await.is_err());
    let mut forced = connect(&lab, "OLD2016", "sa", "Lab-Passw0rd!", EncryptionLevel::Off).await.unwrap();
    let r = rows(&mut forced, "SELECT CAST(SERVERPROPERTY('ProductVersion') AS nvarchar(128))").await;
    assert_eq!(r[0].get::<&str, _>(0), Some("13.0.6300.2"));
}

#[tokio::test]
async fn a_wrong_password_gets_error_18456() {
    let lab = lab().await;
    match connect(&lab, "SQL01", "sa", "wrong", EncryptionLevel::Required).await {
        Err(tiberius::error::Error::Server(e)) => {
            assert_eq!(e.code(), 18456);
            assert_eq!(e.class(), 14);
            assert_eq!(e.message(), "Login failed for user 'sa'.");
        }
        Err(other) => panic!("expected a server error, got {other}"),
        Ok(_) => panic!("a wrong password was accepted"),
    }
}

#[tokio::test]
async fn result_types_round_trip() {
    let lab = lab().await;
    let mut client = sa(&lab).await;
    let r = rows(
        &mut client,
        "SELECT CAST(1 AS bit) AS b, CAST(200 AS tinyint) AS t, CAST(-3 AS smallint) AS s, CAST(7 AS int) AS i,
                CAST(9000000000 AS bigint) AS g, CAST(12.5 AS decimal(10, 2)) AS d, CAST(0.25 AS float) AS f,
                N'héllo' AS n, CAST('abc' AS varchar(10)) AS v, CAST(REPLICATE('x', 10) AS nvarchar(max)) AS m,
                CAST(0x0102 AS varbinary(10)) AS vb,
                CAST('2024-02-29 13:14:15.123' AS datetime) AS dt, CAST('2024-02-29 13:14:15.1234567' AS datetime2) AS dt2,
                CAST('00112233-4455-6677-8899-AABBCCDDEEFF' AS uniqueidentifier) AS u,
                SERVERPROPERTY('EngineEdition') AS variant_int, SERVERPROPERTY('Edition') AS variant_text",
    )
    .await;
    let row = &r[0];
    assert_eq!(row.get::<bool, _>("b"), Some(true));
    assert_eq!(row.get::<u8, _>("t"), Some(200));
    assert_eq!(row.get::<i16, _>("s"), Some(-3));
    assert_eq!(row.get::<i32, _>("i"), Some(7));
    assert_eq!(row.get::<i64, _>("g"), Some(9_000_000_000));
    assert_eq!(row.get::<tiberius::numeric::Numeric, _>("d").map(|n| n.to_string()), Some("12.50".into()));
    assert_eq!(row.get::<f64, _>("f"), Some(0.25));
    assert_eq!(row.get::<&str, _>("n"), Some("héllo"));
    assert_eq!(row.get::<&str, _>("v"), Some("abc"));
    assert_eq!(row.get::<&str, _>("m").map(str::len), Some(10));
    assert_eq!(row.get::<&[u8], _>("vb"), Some(&[1u8, 2][..]));
    let cell = |name: &str| row.cells().find(|(c, _)| c.name() == name).map(|(_, d)| d.clone()).unwrap();
    // datetime: days since 1900-01-01 and 1/300 s; datetime2: days since 0001-01-01 and 100 ns.
    match cell("dt") {
        tiberius::ColumnData::DateTime(Some(dt)) => {
            assert_eq!(dt.days(), 45_349);
            assert_eq!(dt.seconds_fragments(), (13 * 3600 + 14 * 60 + 15) * 300 + 37);
        }
        other => panic!("datetime came back as {other:?}"),
    }
    match cell("dt2") {
        tiberius::ColumnData::DateTime2(Some(dt)) => {
            assert_eq!(dt.date().days(), 738_944);
            assert_eq!(dt.time().increments(), (13 * 3600 + 14 * 60 + 15) * 10_000_000 + 1_234_567);
        }
        other => panic!("datetime2 came back as {other:?}"),
    }
    assert_eq!(row.get::<tiberius::Uuid, _>("u").map(|u| u.to_string()), Some("00112233-4455-6677-8899-aabbccddeeff".into()));
    assert_eq!(row.get::<i32, _>("variant_int"), Some(3));
    assert_eq!(row.get::<&str, _>("variant_text"), Some("Enterprise Edition (64-bit)"));
}
