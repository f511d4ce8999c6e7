//! The lab through the clients Ferry uses: tiberius for SQL Server and managed
//! instances (every encryption mode, login failures, result types, Microsoft's
//! documented queries, DDL effects), HTTPS for the lab's Azure.
//!
//! - `azure`: managed instances, the token authority, ARM and the link's prerequisites.
//! - `https`: the HTTPS client for the Azure tests.
//! - `replication`: the link at work: seeding, log flow, failover, faults.
//! - `availability_groups`: CREATE/ALTER/DROP AVAILABILITY GROUP, plain and distributed.
//! - `endpoints`: database mirroring endpoints on real ports; scenario setup T-SQL.
//! - `user_tables`: a scenario's tables and rows; INSERT, UPDATE and DELETE.
//! - `workload`: the log, LSNs and counters as a workload runs on a manual clock.

mod availability_groups;
mod azure;
mod endpoints;
mod faults;
mod https;
mod replication;
mod user_tables;
mod workload;
mod workload_identity;

use ferry_sim::{Lab, Scenario};
use tiberius::{AuthMethod, Config, EncryptionLevel};
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

type Client = tiberius::Client<Compat<TcpStream>>;

/// A lab on a manual clock: the test moves time by hand.
async fn lab_on_manual_clock(scenario: &str) -> (Lab, std::sync::Arc<ferry_sim::engine::LabClock>) {
    let clock = std::sync::Arc::new(ferry_sim::engine::LabClock::manual());
    let lab = Lab::start_with_clock(&Scenario::parse(scenario).unwrap(), clock.clone())
        .await
        .unwrap();
    (lab, clock)
}

async fn lab() -> Lab {
    Lab::start(&Scenario::parse(SCENARIO).unwrap())
        .await
        .unwrap()
}

async fn connect(
    lab: &Lab,
    instance: &str,
    user: &str,
    password: &str,
    encryption: EncryptionLevel,
) -> tiberius::Result<Client> {
    connect_at(
        lab.endpoint(instance).unwrap().address,
        user,
        password,
        encryption,
    )
    .await
}

async fn connect_at(
    address: std::net::SocketAddr,
    user: &str,
    password: &str,
    encryption: EncryptionLevel,
) -> tiberius::Result<Client> {
    let mut config = Config::new();
    config.host(address.ip());
    config.port(address.port());
    config.authentication(AuthMethod::sql_server(user, password));
    config.encryption(encryption);
    config.trust_cert();
    let tcp = TcpStream::connect(address).await?;
    tcp.set_nodelay(true)?;
    tiberius::Client::connect(config, tcp.compat_write()).await
}

async fn sa(lab: &Lab) -> Client {
    sa_on(lab, "SQL01").await
}

/// sa on any instance of a lab (every test scenario gives sa the same password).
async fn sa_on(lab: &Lab, instance: &str) -> Client {
    connect(
        lab,
        instance,
        "sa",
        "Lab-Passw0rd!",
        EncryptionLevel::Required,
    )
    .await
    .unwrap()
}

/// The login without sysadmin that both SQL01 scenarios declare.
async fn reader(lab: &Lab) -> Client {
    connect(
        lab,
        "SQL01",
        "reader",
        "Reader-1",
        EncryptionLevel::Required,
    )
    .await
    .unwrap()
}

async fn rows(client: &mut Client, sql: &str) -> Vec<tiberius::Row> {
    client
        .simple_query(sql)
        .await
        .unwrap()
        .into_first_result()
        .await
        .unwrap()
}

/// Runs a batch that must succeed.
async fn run(client: &mut Client, sql: &str) {
    client
        .simple_query(sql)
        .await
        .unwrap()
        .into_results()
        .await
        .unwrap();
}

async fn error_number(client: &mut Client, sql: &str) -> u32 {
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
    for level in [
        EncryptionLevel::NotSupported,
        EncryptionLevel::Off,
        EncryptionLevel::Required,
    ] {
        let mut client = connect(&lab, "SQL01", "sa", "Lab-Passw0rd!", level)
            .await
            .unwrap_or_else(|e| panic!("{level:?}: {e}"));
        let r = rows(&mut client, "SELECT @@SERVERNAME AS name, DB_NAME() AS db").await;
        assert_eq!(r[0].get::<&str, _>("name"), Some("SQL01"), "{level:?}");
        assert_eq!(r[0].get::<&str, _>("db"), Some("master"), "{level:?}");
    }
    // Force Encryption: a client that cannot encrypt is refused; one that can gets full TLS.
    assert!(connect(
        &lab,
        "OLD2016",
        "sa",
        "Lab-Passw0rd!",
        EncryptionLevel::NotSupported
    )
    .await
    .is_err());
    let mut forced = connect(&lab, "OLD2016", "sa", "Lab-Passw0rd!", EncryptionLevel::Off)
        .await
        .unwrap();
    let r = rows(
        &mut forced,
        "SELECT CAST(SERVERPROPERTY('ProductVersion') AS nvarchar(128))",
    )
    .await;
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
                CAST(SERVERPROPERTY('EngineEdition') AS int) AS engine_edition",
    )
    .await;
    let row = &r[0];
    assert_eq!(row.get::<bool, _>("b"), Some(true));
    assert_eq!(row.get::<u8, _>("t"), Some(200));
    assert_eq!(row.get::<i16, _>("s"), Some(-3));
    assert_eq!(row.get::<i32, _>("i"), Some(7));
    assert_eq!(row.get::<i64, _>("g"), Some(9_000_000_000));
    assert_eq!(
        row.get::<tiberius::numeric::Numeric, _>("d")
            .map(|n| n.to_string()),
        Some("12.50".into())
    );
    assert_eq!(row.get::<f64, _>("f"), Some(0.25));
    assert_eq!(row.get::<&str, _>("n"), Some("héllo"));
    assert_eq!(row.get::<&str, _>("v"), Some("abc"));
    assert_eq!(row.get::<&str, _>("m").map(str::len), Some(10));
    assert_eq!(row.get::<&[u8], _>("vb"), Some(&[1u8, 2][..]));
    let cell = |name: &str| {
        row.cells()
            .find(|(c, _)| c.name() == name)
            .map(|(_, d)| d.clone())
            .unwrap()
    };
    // datetime: days since 1900-01-01 and 1/300 s; datetime2: days since 0001-01-01 and 100 ns.
    match cell("dt") {
        tiberius::ColumnData::DateTime(Some(dt)) => {
            assert_eq!(dt.days(), 45_349);
            assert_eq!(
                dt.seconds_fragments(),
                (13 * 3600 + 14 * 60 + 15) * 300 + 37
            );
        }
        other => panic!("datetime came back as {other:?}"),
    }
    match cell("dt2") {
        tiberius::ColumnData::DateTime2(Some(dt)) => {
            assert_eq!(dt.date().days(), 738_944);
            assert_eq!(
                dt.time().increments(),
                (13 * 3600 + 14 * 60 + 15) * 10_000_000 + 1_234_567
            );
        }
        other => panic!("datetime2 came back as {other:?}"),
    }
    assert_eq!(
        row.get::<tiberius::Uuid, _>("u").map(|u| u.to_string()),
        Some("00112233-4455-6677-8899-aabbccddeeff".into())
    );
    assert_eq!(row.get::<i32, _>("engine_edition"), Some(3));
    // SERVERPROPERTY itself returns sql_variant, as SQL Server does; tiberius 0.12 cannot
    // decode sql_variant columns (it panics), which is why the agent casts every property.
    // python-tds reads the variant in tests/other_clients.rs.

    // Aggregates type their result as SQL Server does: SUM of int is int, SUM of
    // bigint is bigint, MAX keeps the column's type, COUNT is int, COUNT_BIG bigint.
    let r = rows(
        &mut client,
        "SELECT SUM(f.size) AS pages, SUM(CAST(f.size AS bigint)) AS big, MAX(f.name) AS last_file,
                COUNT(*) AS files, COUNT_BIG(*) AS files_big
         FROM sys.master_files AS f",
    )
    .await;
    let row = &r[0];
    assert!(row.get::<i32, _>("pages").unwrap() > 0);
    assert!(row.get::<i64, _>("big").unwrap() > 0);
    assert!(row.get::<&str, _>("last_file").is_some());
    assert!(row.get::<i32, _>("files").unwrap() > 0);
    assert!(row.get::<i64, _>("files_big").unwrap() > 0);

    // A scalar subquery that finds no row is NULL of its column's type, not an int.
    let r = rows(
        &mut client,
        "SELECT (SELECT MAX(f.name) FROM sys.master_files AS f WHERE f.file_id < 0) AS none,
                (SELECT MAX(f.name) FROM sys.master_files AS f) AS some",
    )
    .await;
    let row = &r[0];
    assert_eq!(row.try_get::<&str, _>("none").unwrap(), None);
    assert!(row.try_get::<&str, _>("some").unwrap().is_some());
}

#[tokio::test]
async fn documented_queries_run_unchanged() {
    let lab = lab().await;
    let mut client = sa(&lab).await;
    // mi-link.md §1.2 and §1.3.
    // (SELECT * here would include a sql_variant column, which tiberius cannot read; the
    // python-tds test runs that query unchanged.)
    let keys = rows(
        &mut client,
        "SELECT name FROM sys.symmetric_keys WHERE name LIKE '%DatabaseMasterKey%'",
    )
    .await;
    assert!(keys.is_empty());
    let recovery = rows(
        &mut client,
        "SELECT recovery_model FROM sys.databases WHERE name = N'Legacy'",
    )
    .await;
    assert_eq!(recovery[0].get::<u8, _>(0), Some(3));
    let agent_inventory = rows(
        &mut client,
        include_str!("../../../../agent/src/sql/queries/databases.sql"),
    )
    .await;
    let legacy = agent_inventory
        .iter()
        .find(|r| r.get::<&str, _>("name") == Some("Legacy"))
        .unwrap();
    assert_eq!(legacy.get::<i32, _>("log_file_count"), Some(2));
    assert_eq!(legacy.get::<i32, _>("compatibility_level"), Some(100));
    // §3.1: no availability groups yet, so no rows, but the query runs as written.
    let replicas = rows(
        &mut client,
        "SELECT r.replica_server_name, r.endpoint_url,
       rs.connected_state_desc, rs.last_connect_error_description,
       rs.last_connect_error_number, rs.last_connect_error_timestamp
FROM sys.dm_hadr_availability_replica_states rs
JOIN sys.availability_replicas r ON rs.replica_id = r.replica_id;",
    )
    .await;
    assert!(replicas.is_empty());
    let backups = rows(
        &mut client,
        "SELECT TOP 1 database_name, type, is_copy_only FROM msdb.dbo.backupset WHERE database_name = N'Sales' AND type = 'D' ORDER BY backup_finish_date DESC",
    )
    .await;
    assert_eq!(backups.len(), 1);
    let version = rows(&mut client, "SELECT @@VERSION").await;
    assert!(version[0]
        .get::<&str, _>(0)
        .unwrap()
        .starts_with("Microsoft SQL Server 2022 (RTM-CU13)"));
    let flags = rows(&mut client, "DBCC TRACESTATUS").await;
    assert_eq!(flags[0].get::<i16, _>("TraceFlag"), Some(1800));
}

#[tokio::test]
async fn ddl_effects_show_in_the_views_and_rules_are_enforced() {
    let lab = lab().await;
    let mut client = sa(&lab).await;
    // A certificate needs the master key first (15581), as SQL Server requires.
    let create = "CREATE CERTIFICATE [Cert_SQL01_endpoint] WITH SUBJECT = 'Certificate for Cert_SQL01_endpoint', EXPIRY_DATE = '2030-01-01'";
    assert_eq!(error_number(&mut client, create).await, 15581);
    let setup = format!(
        "USE master;
         IF NOT EXISTS (SELECT * FROM sys.symmetric_keys WHERE symmetric_key_id = 101)
             CREATE MASTER KEY ENCRYPTION BY PASSWORD = 'Str0ng!Passw0rd';
         {create}"
    );
    client
        .simple_query(setup)
        .await
        .unwrap()
        .into_results()
        .await
        .unwrap();
    assert_eq!(
        error_number(
            &mut client,
            "CREATE MASTER KEY ENCRYPTION BY PASSWORD = 'again'"
        )
        .await,
        15578
    );
    assert_eq!(error_number(&mut client, create).await, 15232);
    let certs = rows(&mut client, "SELECT name, pvt_key_encryption_type FROM sys.certificates WHERE pvt_key_encryption_type = 'MK'").await;
    assert_eq!(certs[0].get::<&str, _>("name"), Some("Cert_SQL01_endpoint"));
    let der = rows(
        &mut client,
        "SELECT CERTENCODED(CERT_ID(N'Cert_SQL01_endpoint'))",
    )
    .await;
    assert_eq!(
        der[0].get::<&[u8], _>(0).unwrap()[0],
        0x30,
        "a DER certificate starts with a SEQUENCE"
    );
    // A log backup needs FULL recovery and a full backup that is not COPY_ONLY.
    let log_backup = "BACKUP LOG [Legacy] TO DISK = N'/backups/legacy.trn'";
    assert_eq!(error_number(&mut client, log_backup).await, 4208);
    client
        .simple_query("ALTER DATABASE [Legacy] SET RECOVERY FULL")
        .await
        .unwrap()
        .into_results()
        .await
        .unwrap();
    assert_eq!(error_number(&mut client, log_backup).await, 4214);
    client
        .simple_query("BACKUP DATABASE [Legacy] TO DISK = N'/b/legacy.bak' WITH COPY_ONLY")
        .await
        .unwrap()
        .into_results()
        .await
        .unwrap();
    assert_eq!(
        error_number(&mut client, log_backup).await,
        4214,
        "COPY_ONLY does not start a chain"
    );
    client
        .simple_query("BACKUP DATABASE [Legacy] TO DISK = N'/b/legacy.bak'")
        .await
        .unwrap()
        .into_results()
        .await
        .unwrap();
    client
        .simple_query(log_backup)
        .await
        .unwrap()
        .into_results()
        .await
        .unwrap();
    let model = rows(
        &mut client,
        "SELECT recovery_model_desc FROM sys.databases WHERE name = 'legacy'",
    )
    .await;
    assert_eq!(model[0].get::<&str, _>(0), Some("FULL"));
    // Unknown objects, unmodelled statements and missing procedures fail with numbers.
    assert_eq!(
        error_number(&mut client, "SELECT * FROM sys.no_such_view").await,
        208
    );
    let endpoint = "CREATE ENDPOINT e STATE = STARTED AS TCP (LISTENER_PORT = 5022) FOR TSQL ()";
    assert_eq!(error_number(&mut client, endpoint).await, 40517);
    assert_eq!(error_number(&mut client, "SELECT FROM WHERE").await, 102);
    assert_eq!(
        error_number(&mut client, "UPDATE sys.databases SET name = 'x'").await,
        259
    );
    assert_eq!(
        error_number(
            &mut client,
            "EXEC sp_certificate_add_issuer 999, N'*.database.windows.net'"
        )
        .await,
        15151
    );
}

#[tokio::test]
async fn the_issuer_procedure_is_absent_without_the_servicing_update() {
    let lab = lab().await;
    let mut old = sa_on(&lab, "OLD2016").await;
    assert_eq!(
        error_number(
            &mut old,
            "EXEC sp_certificate_add_issuer 256, N'*.database.windows.net'"
        )
        .await,
        2812
    );
    // The documented probe for the servicing update: OBJECT_ID of the procedure.
    let probe = "SELECT OBJECT_ID(N'sys.sp_certificate_add_issuer') AS id";
    let id = |rows: Vec<tiberius::Row>| rows[0].get::<i32, _>("id");
    assert_eq!(id(rows(&mut old, probe).await), None);
    let mut new = sa(&lab).await;
    assert!(id(rows(&mut new, probe).await).is_some_and(|id| id < 0));
}

#[tokio::test]
async fn a_login_without_sysadmin_is_refused_ddl_and_server_state() {
    let lab = lab().await;
    let mut reader = reader(&lab).await;
    assert_eq!(
        error_number(&mut reader, "SELECT * FROM sys.dm_os_sys_info").await,
        300
    );
    assert_eq!(
        error_number(&mut reader, "DBCC TRACEON (9567, -1)").await,
        2571
    );
    assert_eq!(
        error_number(&mut reader, "ALTER DATABASE [Sales] SET RECOVERY SIMPLE").await,
        5011
    );
    let me = rows(
        &mut reader,
        "SELECT SUSER_SNAME() AS me, IS_SRVROLEMEMBER('sysadmin') AS sa",
    )
    .await;
    assert_eq!(me[0].get::<&str, _>("me"), Some("reader"));
    assert_eq!(me[0].get::<i32, _>("sa"), Some(0));
}

#[tokio::test]
async fn parameters_travel_through_sp_executesql() {
    let lab = lab().await;
    let mut client = sa(&lab).await;
    let sql = "SELECT name, database_id FROM sys.databases WHERE name = @P1 AND database_id > @P2";
    let r = client
        .query(sql, &[&"Sales", &1i32])
        .await
        .unwrap()
        .into_first_result()
        .await
        .unwrap();
    assert_eq!(r.len(), 1);
    assert_eq!(r[0].get::<i32, _>("database_id"), Some(5));
}

#[tokio::test]
async fn a_slow_batch_does_not_block_another_session() {
    let lab = lab().await;
    let mut slow = sa(&lab).await;
    let mut fast = sa(&lab).await;
    let (started_tx, started_rx) = tokio::sync::oneshot::channel();
    let waiting = tokio::spawn(async move {
        let stream = slow.simple_query("WAITFOR DELAY '00:00:03'; SELECT 1");
        let _ = started_tx.send(());
        stream
            .await
            .unwrap()
            .into_first_result()
            .await
            .unwrap()
            .len()
    });
    started_rx.await.unwrap();
    let started = std::time::Instant::now();
    let r = rows(&mut fast, "SELECT COUNT(*) FROM sys.databases").await;
    assert_eq!(r[0].get::<i32, _>(0), Some(6));
    assert!(
        started.elapsed() < std::time::Duration::from_secs(2),
        "the other session waited for WAITFOR"
    );
    assert_eq!(waiting.await.unwrap(), 1);
}

/// A loopback port nothing listens on right now.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}
