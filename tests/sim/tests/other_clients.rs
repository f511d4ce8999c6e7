//! Independent clients against the lab: python-tds (PyPI `python-tds`) and FreeTDS
//! `tsql` (Debian `freetds-bin`). `.ci/run` installs both; where one is missing its
//! test says so and checks nothing else.

use std::process::Command;

use ferry_sim::{Endpoint, Lab, Scenario};

const SCENARIO: &str = r#"
[[instance]]
name = "SQL01"
version = "2019 CU20"
[[instance.database]]
name = "Sales"
"#;

/// Whether `program` answers `probe`; where it does not, a test skips, except under
/// `FERRY_REQUIRE_TOOLS` (set by `.ci/run`, which installs them), where it fails.
fn available(program: &str, probe: &[&str]) -> bool {
    let answers = Command::new(program)
        .args(probe)
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        answers || std::env::var_os("FERRY_REQUIRE_TOOLS").is_none(),
        "{program} {probe:?} fails and FERRY_REQUIRE_TOOLS is set: .ci/run installs it"
    );
    answers
}

#[tokio::test(flavor = "multi_thread")]
async fn python_tds_logs_in_reads_rows_and_a_sql_variant() {
    if !available("python3", &["-c", "import pytds"]) {
        eprintln!("python-tds is not installed (pip install python-tds); skipped");
        return;
    }
    let lab = Lab::start(&Scenario::parse(SCENARIO).unwrap())
        .await
        .unwrap();
    let e = lab.endpoint("SQL01").unwrap().clone();
    let script = format!(
        r#"
import pytds
with pytds.connect(server="127.0.0.1", port={port}, user="{user}", password="{password}", database="master", autocommit=True) as conn:
    cur = conn.cursor()
    cur.execute("SELECT * FROM sys.symmetric_keys WHERE name LIKE '%DatabaseMasterKey%'")
    print("keys", len(cur.fetchall()))
    cur.execute("SELECT name, recovery_model_desc FROM sys.databases WHERE name = %s", ("Sales",))
    print("db", *cur.fetchone())
    cur.execute("SELECT SERVERPROPERTY('ProductVersion'), SERVERPROPERTY('EngineEdition')")
    print("variant", *cur.fetchone())
try:
    pytds.connect(server="127.0.0.1", port={port}, user="{user}", password="wrong")
except pytds.tds_base.Error as e:
    print("login failed:", e)
"#,
        port = e.address.port(),
        user = e.login,
        password = e.password
    );
    let output =
        tokio::task::spawn_blocking(move || Command::new("python3").arg("-c").arg(script).output())
            .await
            .unwrap()
            .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("keys 0"), "{stdout}");
    assert!(stdout.contains("db Sales FULL"), "{stdout}");
    assert!(stdout.contains("variant 15.0.4312.2 3"), "{stdout}");
    assert!(
        stdout.contains("login failed: (\"Login failed for user 'sa'.\""),
        "{stdout}"
    );
}

/// Runs `tsql` against the endpoint with a freetds.conf that sets `encryption`, feeding
/// it `input`; returns everything it printed.
fn tsql(e: &Endpoint, encryption: &str, password: &str, input: &str) -> String {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("freetds.conf");
    std::fs::write(
        &conf,
        format!(
            "[lab]\n\thost = 127.0.0.1\n\tport = {}\n\ttds version = 7.4\n\tencryption = {encryption}\n",
            e.address.port()
        ),
    )
    .unwrap();
    let mut child = Command::new("tsql")
        .args(["-S", "lab", "-U", &e.login, "-P", password])
        .env("FREETDSCONF", &conf)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn freetds_tsql_logs_in_in_every_encryption_mode_and_reads_rows() {
    if !available("tsql", &["-C"]) {
        eprintln!("FreeTDS tsql is not installed (apt-get install freetds-bin); skipped");
        return;
    }
    let lab = Lab::start(&Scenario::parse(SCENARIO).unwrap())
        .await
        .unwrap();
    let e = lab.endpoint("SQL01").unwrap().clone();
    let query = "SELECT name, recovery_model_desc FROM sys.databases WHERE name = N'Sales'\n\
                 go\n\
                 SELECT SERVERPROPERTY('ProductVersion') AS v, CAST(2.5 AS decimal(5,2)) AS d\n\
                 go\n\
                 exit\n";
    // off: no TLS at all; request: the login only (the default); require: everything.
    for encryption in ["off", "request", "require"] {
        let (e, password) = (e.clone(), e.password.clone());
        let out = tokio::task::spawn_blocking(move || tsql(&e, encryption, &password, query))
            .await
            .unwrap();
        assert!(out.contains("Sales\tFULL"), "{encryption}: {out}");
        assert!(out.contains("15.0.4312.2\t2.50"), "{encryption}: {out}");
    }
    let refused = tokio::task::spawn_blocking(move || tsql(&e, "request", "wrong", "exit\n"))
        .await
        .unwrap();
    assert!(
        refused.contains("Msg 18456 (severity 14, state 1)")
            && refused.contains("Login failed for user 'sa'."),
        "{refused}"
    );
}
