//! The link's set-up steps on SQL Server (agent `workflow`), in process against the
//! lab over TDS: each step inspects, applies what is missing, verifies; a second run
//! applies nothing; a hostile database name stays a name.

use ferry_agent::workflow::{Context, Outcome, Step};
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
"#;

/// Every step's outcome for `database`, in order.
async fn run_all(
    conn: &mut ferry_agent::sql::Connection,
    state_dir: &std::path::Path,
    database: &str,
    allow_recovery_change: bool,
    endpoint_port: u16,
) -> Vec<(&'static str, Outcome)> {
    let mut ctx = Context {
        conn,
        timeout: std::time::Duration::from_secs(10),
        server_name: "SQL22".into(),
        database: database.into(),
        endpoint_port,
        state_dir: state_dir.to_path_buf(),
        allow_recovery_change,
        allow_endpoint_change: false,
    };
    let mut outcomes = Vec::new();
    for step in Step::ALL {
        outcomes.push((step.name(), step.run(&mut ctx).await.unwrap()));
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

    let first = run_all(&mut conn, state.path(), HOSTILE, false, port).await;
    assert_eq!(
        kinds(&first),
        [
            ("database", "done"),
            ("master_key", "applied"),
            ("endpoint_certificate", "applied"),
            ("mirroring_endpoint", "applied"),
        ],
        "{first:?}"
    );
    // Run again (a resumed run): nothing is applied twice.
    let again = run_all(&mut conn, state.path(), HOSTILE, false, port).await;
    assert!(
        kinds(&again).iter().all(|(_, kind)| *kind == "done"),
        "{again:?}"
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
    let simple = run_all(&mut conn, state.path(), "Simple", false, port).await;
    assert!(
        matches!(&simple[0].1, Outcome::Blocked(why) if why.contains("SET RECOVERY FULL")),
        "{simple:?}"
    );
    let allowed = run_all(&mut conn, state.path(), "Simple", true, port).await;
    assert!(
        matches!(&allowed[0].1, Outcome::Blocked(why) if why.contains("no backup chain") && why.contains("BACKUP DATABASE [Simple]")),
        "{allowed:?}"
    );
    let missing = run_all(&mut conn, state.path(), "nowhere", false, port).await;
    assert!(
        matches!(&missing[0].1, Outcome::Blocked(why) if why == "there is no database [nowhere]"),
        "{missing:?}"
    );
}
