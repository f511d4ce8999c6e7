//! Independent clients against the lab: python-tds (PyPI `python-tds`). `.ci/run`
//! installs it; where it is missing the test says so and checks nothing else.
//! FreeTDS `tsql` does not connect yet (the lab closes the connection after its
//! PRELOGIN: "Unexpected EOF from the server"); see the session note.

use std::process::Command;

use ferry_sim::{Lab, Scenario};

const SCENARIO: &str = r#"
[[instance]]
name = "SQL01"
version = "2019 CU20"
[[instance.database]]
name = "Sales"
"#;

fn available(program: &str, probe: &[&str]) -> bool {
    Command::new(program)
        .args(probe)
        .output()
        .is_ok_and(|o| o.status.success())
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
