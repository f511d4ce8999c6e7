//! The link's set-up steps on SQL Server (agent `workflow`), in process against the
//! lab over TDS: each step inspects, applies what is missing, verifies; a second run
//! applies nothing; a hostile database name stays a name; a second link for the same
//! database is refused.

use super::first_column;
use ferry_agent::workflow::names::default_link;
use ferry_agent::workflow::{Context, Link, Outcome, Step};
use ferry_tests::fleet::lab_instance;

const HOSTILE: &str = "x]; DROP DATABASE y; --";

const SCENARIO: &str = r#"
[[instance]]
name = "SQL22"
version = "2022 CU13"
hadr = true

[[instance.login]]
name = "ferry"
password = "Ferry-Passw0rd!"
sysadmin = true

[[instance.database]]
name = "x]; DROP DATABASE y; --"
backups = [{ type = "D" }]

[[instance.database]]
name = "y"
backups = [{ type = "D" }]

[[instance.database]]
name = "Simple"
recovery = "SIMPLE"
backups = [{ type = "D" }]

[[managed_instance]]
name = "mi-target"
dns_zone = "0a1b2c3d4e5f"
"#;

/// The steps' context for `database` on SQL22 (2022), over an encrypted connection,
/// without a link yet.
fn context<'c>(
    conn: &'c mut ferry_agent::sql::Connection,
    state_dir: &std::path::Path,
    database: &str,
    allow_recovery_change: bool,
) -> Context<'c> {
    Context {
        conn,
        timeout: std::time::Duration::from_secs(10),
        server_name: "SQL22".into(),
        database: database.into(),
        endpoint_port: 5022,
        state_dir: state_dir.to_path_buf(),
        allow_recovery_change,
        allow_endpoint_change: false,
        major_version: 16,
        encrypted: true,
        link: None,
    }
}

/// The steps' outcomes for `database` in order, up to the first that blocks, for the
/// link `link_name` to the lab's MI.
async fn run_all(
    conn: &mut ferry_agent::sql::Connection,
    state_dir: &std::path::Path,
    database: &str,
    allow_recovery_change: bool,
    (mi, endpoint_port, link_name): (&ferry_sim::azure::ManagedInstance, u16, Option<&str>),
) -> Vec<(&'static str, Outcome)> {
    let mut ctx = context(conn, state_dir, database, allow_recovery_change);
    ctx.endpoint_port = endpoint_port;
    ctx.link = Some(Link {
        name: link_name.map_or_else(|| default_link(database), str::to_string),
        mi_name: mi.spec.name.clone(),
        mi_fqdn: mi.fqdn.clone(),
        mi_certificate: mi.mirroring_certificate.clone(),
        address: [127, 0, 0, 1].into(),
    });
    let mut outcomes = Vec::new();
    for step in Step::ALL {
        let outcome = step.run(&mut ctx).await.unwrap();
        let blocked = matches!(outcome, Outcome::Blocked(_));
        outcomes.push((step.name(), outcome));
        if blocked {
            break;
        }
    }
    outcomes
}

fn kinds(outcomes: &[(&'static str, Outcome)]) -> Vec<(&'static str, &'static str)> {
    outcomes
        .iter()
        .map(|(step, outcome)| {
            let kind = match outcome {
                Outcome::AlreadyDone(_) => "done",
                Outcome::Applied(_) => "applied",
                Outcome::Blocked(_) => "blocked",
            };
            (*step, kind)
        })
        .collect()
}

#[tokio::test]
async fn set_up_steps_apply_once_and_resume_without_repeating() {
    let lab = ferry_sim::Lab::start(&ferry_sim::Scenario::parse(SCENARIO).unwrap())
        .await
        .unwrap();
    let instance = lab_instance(
        "sql22",
        lab.endpoint("SQL22").unwrap().address,
        "ferry",
        "Ferry-Passw0rd!",
    );
    let mut conn = ferry_agent::sql::connect(&instance).await.unwrap();
    let state = tempfile::tempdir().unwrap();
    let port = ferry_tests::processes::closed_port();
    let mi = lab.managed_instance("mi-target").unwrap();
    let link: (&ferry_sim::azure::ManagedInstance, u16, Option<&str>) = (mi, port, None);

    let first = run_all(&mut conn, state.path(), HOSTILE, false, link).await;
    assert_eq!(
        kinds(&first),
        [
            ("database", "done"),
            ("master_key", "applied"),
            ("endpoint_certificate", "applied"),
            ("mirroring_endpoint", "applied"),
            ("mi_certificate", "applied"),
            ("root_trust", "applied"),
            ("availability_group", "applied"),
            ("distributed_availability_group", "applied"),
        ],
        "{first:?}"
    );
    // Run again (a resumed run): nothing is applied twice.
    let again = run_all(&mut conn, state.path(), HOSTILE, false, link).await;
    assert_eq!(again.len(), Step::ALL.len(), "{again:?}");
    assert!(
        kinds(&again).iter().all(|(_, kind)| *kind == "done"),
        "{again:?}"
    );
    // A second link for the same database is refused on SQL Server too.
    let second = run_all(
        &mut conn,
        state.path(),
        HOSTILE,
        false,
        (mi, port, Some("DAG_two")),
    )
    .await;
    assert!(
        matches!(&second.last().unwrap().1, Outcome::Blocked(why) if why.contains("already linked by distributed availability group [DAG_x]]; DROP DATABASE y; --]")),
        "{second:?}"
    );
    let groups = ferry_agent::sql::rows(
        &mut conn,
        "groups",
        "SELECT ag.name, ar.endpoint_url FROM sys.availability_groups ag
         JOIN sys.availability_replicas ar ON ar.group_id = ag.group_id ORDER BY ag.name, ar.endpoint_url",
        std::time::Duration::from_secs(10),
    )
    .await
    .unwrap();
    let groups: Vec<(String, String)> = groups
        .iter()
        .map(|r| {
            (
                r.get::<&str, _>(0).unwrap().into(),
                r.get::<&str, _>(1).unwrap().into(),
            )
        })
        .collect();
    let ours = format!("TCP://127.0.0.1:{port}");
    let theirs = format!("tcp://{}:5022;Server=[mi-target]", mi.fqdn);
    assert_eq!(
        groups,
        [
            (format!("AG_{HOSTILE}"), ours.clone()),
            (format!("DAG_{HOSTILE}"), ours),
            (format!("DAG_{HOSTILE}"), theirs),
        ]
    );
    // The agent's link monitoring sees the database in its link, not yet connected
    // (Azure's side is not made here) and not seeding.
    let status = ferry_agent::sql::link_status::read(&mut conn, std::time::Duration::from_secs(10))
        .await
        .unwrap();
    assert_eq!(status.len(), 1, "{status:?}");
    assert_eq!(status[0].link_name, format!("DAG_{HOSTILE}"));
    assert_eq!(status[0].database, HOSTILE);
    assert_ne!(status[0].connected_state, "CONNECTED", "{status:?}");
    assert!(!status[0].seeding, "{status:?}");
    assert!(!status[0].end_of_log_lsn.is_empty(), "{status:?}");
    // Azure's roots are in master (their issuers were added: the run again found
    // them "already added").
    let roots = "SELECT name FROM master.sys.certificates WHERE name IN (N'MicrosoftPKI', N'DigiCertPKI') ORDER BY name";
    assert_eq!(
        first_column(&mut conn, roots).await,
        ["DigiCertPKI", "MicrosoftPKI"]
    );
    // The endpoint listens, and the hostile name dropped nothing.
    assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_ok());
    let rows = ferry_agent::sql::rows(
        &mut conn,
        "databases",
        "SELECT name FROM sys.databases WHERE name IN (N'y', N'x]; DROP DATABASE y; --')",
        std::time::Duration::from_secs(10),
    )
    .await
    .unwrap();
    assert_eq!(rows.len(), 2);
    // The master key's password stayed on this host, owner-only.
    let kept = state.path().join("master-keys").join("SQL22.password");
    assert!(std::fs::read_to_string(&kept).unwrap().len() >= 32);

    // SIMPLE recovery blocks unless allowed; once FULL, the chain still needs a new full
    // backup, which Ferry never takes.
    let simple = run_all(&mut conn, state.path(), "Simple", false, link).await;
    assert!(
        matches!(&simple[0].1, Outcome::Blocked(why) if why.contains("SET RECOVERY FULL")),
        "{simple:?}"
    );
    let allowed = run_all(&mut conn, state.path(), "Simple", true, link).await;
    assert!(
        matches!(&allowed[0].1, Outcome::Blocked(why) if why.contains("no backup chain") && why.contains("BACKUP DATABASE [Simple]")),
        "{allowed:?}"
    );
    let missing = run_all(&mut conn, state.path(), "nowhere", false, link).await;
    assert!(
        matches!(&missing[0].1, Outcome::Blocked(why) if why == "there is no database [nowhere]"),
        "{missing:?}"
    );
}

/// Creating the master key sends its password: over a connection the configuration
/// does not encrypt after login, the step stops, saying what to set, and makes nothing.
#[tokio::test]
async fn the_master_key_is_not_made_over_an_unencrypted_connection() {
    let lab = ferry_sim::Lab::start(&ferry_sim::Scenario::parse(SCENARIO).unwrap())
        .await
        .unwrap();
    let instance = lab_instance(
        "sql22",
        lab.endpoint("SQL22").unwrap().address,
        "ferry",
        "Ferry-Passw0rd!",
    );
    let mut conn = ferry_agent::sql::connect(&instance).await.unwrap();
    let state = tempfile::tempdir().unwrap();
    let mut ctx = context(&mut conn, state.path(), "Sales", false);
    ctx.encrypted = false;
    let outcome = Step::MasterKey.run(&mut ctx).await.unwrap();
    assert!(
        matches!(&outcome, Outcome::Blocked(why) if why.contains("encryption = \"required\"")),
        "{outcome:?}"
    );
    assert!(
        !state.path().join("master-keys").exists(),
        "no password made"
    );
}
