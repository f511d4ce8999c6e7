//! Fuzzing, on the stable toolchain (`ferry_tests::fuzz`), of what crosses Ferry's
//! trust boundaries and the lab's front ends. Each target's inputs are mutations of
//! well-formed seeds; a target may refuse an input (a clear error) but must not panic.
//! Prints, per target, iterations, accepted, refused and panics (each with its input
//! in hex; the run is reproducible from `--seed`); exits 1 on any panic.
//!
//! - `wire`: bytes an agent sends (`AgentMessage`: every report kind, hello, heartbeat,
//!   acks), decoded as the session decodes them, each report converted into the
//!   store's types as the control plane converts it.
//! - `tds-prelogin`, `tds-login`, `tds-rpc`: the lab's TDS decoders (PRELOGIN options,
//!   LOGIN7 records, RPC requests).
//! - `tsql`: the lab's T-SQL batch parser, on the agent's own queries and the link's
//!   set-up statements.
//!
//! `cargo run --release -p ferry-tests --bin fuzz -- --iterations 1000000`

use clap::Parser;
use ferry_control::store::inventory::IncomingReport;
use ferry_proto::agent::v1 as wire;
use ferry_tests::fuzz::{campaign, Verdict};
use prost::Message;

#[derive(Parser)]
struct Args {
    /// Inputs per target.
    #[arg(long, default_value_t = 1_000_000)]
    iterations: u64,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Only these targets (default: all).
    #[arg(long = "target")]
    targets: Vec<String>,
}

type Target = (&'static str, Vec<Vec<u8>>, fn(&[u8]) -> Verdict);

fn main() {
    let args = Args::parse();
    let targets: Vec<Target> = vec![
        (
            "wire",
            seeds().iter().map(Message::encode_to_vec).collect(),
            agent_message,
        ),
        ("tds-prelogin", vec![prelogin()], |input| {
            verdict(ferry_sim::tds::prelogin::client_encryption(input).is_ok())
        }),
        ("tds-login", vec![login7()], |input| {
            verdict(ferry_sim::tds::login::parse(input).is_ok())
        }),
        ("tds-rpc", rpc_seeds(), |input| {
            verdict(ferry_sim::tds::rpc::parse(input).is_ok())
        }),
        ("tsql", tsql_seeds(), |input| {
            verdict(ferry_sim::engine::parses(&String::from_utf8_lossy(input)))
        }),
    ];
    let mut panicked = false;
    for (name, seeds, target) in targets {
        if !args.targets.is_empty() && !args.targets.iter().any(|t| t == name) {
            continue;
        }
        let done = campaign(&seeds, (args.iterations, args.seed), target);
        println!("fuzz {name:<13} {done}");
        for input in done.panics.iter().take(10) {
            println!("  panicked on {input}");
        }
        panicked |= !done.panics.is_empty();
    }
    if panicked {
        std::process::exit(1);
    }
}

fn verdict(ok: bool) -> Verdict {
    if ok {
        Verdict::Accepted
    } else {
        Verdict::Refused
    }
}

/// An agent's message as the session takes it: decoded, and a report converted.
fn agent_message(input: &[u8]) -> Verdict {
    let Ok(message) = wire::AgentMessage::decode(input) else {
        return Verdict::Refused;
    };
    match message.body {
        Some(wire::agent_message::Body::Report(report)) => {
            verdict(IncomingReport::try_from(report).is_ok())
        }
        _ => Verdict::Accepted,
    }
}

/// A client's PRELOGIN: VERSION, ENCRYPTION (on), INSTOPT, THREADID, MARS, terminator.
fn prelogin() -> Vec<u8> {
    let options: [(u8, Vec<u8>); 5] = [
        (0x00, vec![16, 0, 0x11, 0x3f, 0, 0]),
        (0x01, vec![1]),
        (0x02, vec![0]),
        (0x03, vec![0, 0, 0x12, 0x34]),
        (0x04, vec![0]),
    ];
    let mut header = Vec::new();
    let mut data: Vec<u8> = Vec::new();
    let data_at = options.len() * 5 + 1;
    for (token, value) in &options {
        header.push(*token);
        header.extend(((data_at + data.len()) as u16).to_be_bytes());
        header.extend((value.len() as u16).to_be_bytes());
        data.extend(value);
    }
    header.push(0xFF);
    header.extend(data);
    header
}

/// A LOGIN7 record (TDS 7.4) with host, user, password, app, server, library and
/// database set, as the fixed part's offsets point at them.
fn login7() -> Vec<u8> {
    let utf16 = |s: &str| {
        s.encode_utf16()
            .flat_map(u16::to_le_bytes)
            .collect::<Vec<u8>>()
    };
    let password: Vec<u8> = utf16("Secr3t!pass")
        .into_iter()
        .map(|b| b.rotate_left(4) ^ 0xA5)
        .collect();
    let fields: [(usize, Vec<u8>, usize); 9] = [
        (36, utf16("sql01"), 5),
        (40, utf16("ferry"), 5),
        (44, password, 11),
        (48, utf16("ferry-agent"), 11),
        (52, utf16("127.0.0.1"), 9),
        (56, Vec::new(), 0),
        (60, utf16("tiberius"), 8),
        (64, Vec::new(), 0),
        (68, utf16("master"), 6),
    ];
    let mut record = vec![0u8; 94];
    let mut data: Vec<u8> = Vec::new();
    for (slot, bytes, chars) in &fields {
        let offset = (94 + data.len()) as u16;
        record[*slot..*slot + 2].copy_from_slice(&offset.to_le_bytes());
        record[*slot + 2..*slot + 4].copy_from_slice(&(*chars as u16).to_le_bytes());
        data.extend(bytes);
    }
    record[4..8].copy_from_slice(&0x7400_0004u32.to_le_bytes());
    record[8..12].copy_from_slice(&4096u32.to_le_bytes());
    record[27] = 0x10;
    record.extend(data);
    let length = record.len() as u32;
    record[0..4].copy_from_slice(&length.to_le_bytes());
    record
}

/// RPC requests: sp_executesql by its well-known id with a statement and a parameter,
/// and a procedure called by name; each after an ALL_HEADERS block.
fn rpc_seeds() -> Vec<Vec<u8>> {
    let utf16 = |s: &str| {
        s.encode_utf16()
            .flat_map(u16::to_le_bytes)
            .collect::<Vec<u8>>()
    };
    let headers = {
        // ALL_HEADERS: total length, then one transaction descriptor header.
        let mut h = Vec::new();
        h.extend(22u32.to_le_bytes());
        h.extend(18u32.to_le_bytes());
        h.extend(2u16.to_le_bytes());
        h.extend([0u8; 8]);
        h.extend(1u32.to_le_bytes());
        h
    };
    let nvarchar = |out: &mut Vec<u8>, name: &str, value: &str| {
        out.push(name.encode_utf16().count() as u8);
        out.extend(utf16(name));
        out.push(0); // status
        out.push(0xE7); // NVARCHAR
        out.extend(8000u16.to_le_bytes());
        out.extend([0x09, 0x04, 0xD0, 0x00, 0x34]); // collation
        let bytes = utf16(value);
        out.extend((bytes.len() as u16).to_le_bytes());
        out.extend(bytes);
    };
    let mut by_id = headers.clone();
    by_id.extend(0xFFFFu16.to_le_bytes());
    by_id.extend(10u16.to_le_bytes()); // sp_executesql
    by_id.extend(0u16.to_le_bytes()); // option flags
    nvarchar(
        &mut by_id,
        "",
        "SELECT name FROM sys.databases WHERE database_id = @p1",
    );
    nvarchar(&mut by_id, "", "@p1 int");
    by_id.push(3);
    by_id.extend(utf16("@p1"));
    by_id.push(0);
    by_id.extend([0x26, 4, 4]); // INTN(4), 4 bytes
    by_id.extend(5i32.to_le_bytes());
    let mut by_name = headers;
    let name = "sp_server_info";
    by_name.extend((name.encode_utf16().count() as u16).to_le_bytes());
    by_name.extend(utf16(name));
    by_name.extend(0u16.to_le_bytes());
    vec![by_id, by_name]
}

/// The agent's own queries and the statements that set up a link.
fn tsql_seeds() -> Vec<Vec<u8>> {
    let queries = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../agent/src/sql/queries");
    let mut seeds: Vec<Vec<u8>> = Vec::new();
    for folder in std::fs::read_dir(&queries).into_iter().flatten().flatten() {
        let files = std::fs::read_dir(folder.path())
            .into_iter()
            .flatten()
            .flatten();
        for file in std::iter::once(folder).chain(files) {
            if file.path().extension().is_some_and(|e| e == "sql") {
                if let Ok(text) = std::fs::read(file.path()) {
                    seeds.push(text);
                }
            }
        }
    }
    seeds.extend(
        [
            "IF NOT EXISTS (SELECT * FROM sys.symmetric_keys WHERE name = '##MS_DatabaseMasterKey##') CREATE MASTER KEY ENCRYPTION BY PASSWORD = N'p@ss''word1';",
            "CREATE ENDPOINT [Hadr_endpoint] STATE = STARTED AS TCP (LISTENER_PORT = 5022, LISTENER_IP = ALL) FOR DATABASE_MIRRORING (ROLE = ALL, AUTHENTICATION = CERTIFICATE [ferry_cert], ENCRYPTION = REQUIRED ALGORITHM AES);",
            "CREATE AVAILABILITY GROUP [AG_Sales] WITH (CLUSTER_TYPE = NONE) FOR DATABASE [Sales] REPLICA ON N'sql01' WITH (ENDPOINT_URL = 'TCP://sql01:5022', AVAILABILITY_MODE = SYNCHRONOUS_COMMIT, FAILOVER_MODE = MANUAL, SEEDING_MODE = AUTOMATIC);",
            "DECLARE @n int = 5; SET NOCOUNT ON; BEGIN TRAN; SELECT TOP (@n) name FROM sys.tables ORDER BY name; COMMIT; WAITFOR DELAY '00:00:00.010'; PRINT 'done';",
            "BACKUP LOG [Sales] TO DISK = N'/var/opt/mssql/backup/Sales_tail.trn' WITH NORECOVERY, INIT;",
        ]
        .map(|s| s.as_bytes().to_vec()),
    );
    seeds
}

/// Well-formed messages of every kind an agent sends, with their fields set.
fn seeds() -> Vec<wire::AgentMessage> {
    use wire::agent_message::Body;
    use wire::report::Body as Report;
    let report = |body: Report| {
        Body::Report(wire::Report {
            report_id: "0b0c6f1e-4a2b-4f7e-9a55-2f0d2f1c9a10".into(),
            produced_unix_ms: 1_765_000_000_000,
            trace_context: [(
                "traceparent".to_string(),
                "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".to_string(),
            )]
            .into(),
            body: Some(body),
        })
    };
    let check = || wire::CheckResult {
        check_id: "MI-LINK-HADR-DISABLED".into(),
        scope: "instance".into(),
        severity: "blocker".into(),
        title: "Always On availability groups are enabled".into(),
        remedy: "Enable Always On in SQL Server Configuration Manager".into(),
        status: wire::CheckStatus::Found as i32,
        findings: vec![wire::Finding {
            database: "Sales".into(),
            message: "HADR is disabled".into(),
            evidence: vec![wire::Evidence {
                key: "IsHadrEnabled".into(),
                value: "0".into(),
            }],
            objects: vec!["dbo.Orders".into()],
        }],
        ..Default::default()
    };
    let bodies = vec![
        Body::Hello(wire::Hello {
            agent_version: "0.1.0".into(),
            hostname: "sql01".into(),
            os: "linux".into(),
        }),
        Body::Heartbeat(wire::Heartbeat {
            seq: 7,
            sent_unix_ms: 1_765_000_000_000,
            outbox_reports: 3,
            resident_bytes: 12 << 20,
            cpu_seconds: 1.5,
            sql_errors: 2,
            round_trip_us: 800,
        }),
        Body::CommandAck(wire::CommandAck {
            command_id: "c-1".into(),
        }),
        report(Report::Inventory(wire::Inventory {
            instances: vec![wire::InstanceInventory {
                name: "MSSQLSERVER".into(),
                product_version: "16.0.4135.4".into(),
                databases: vec![wire::DatabaseInventory {
                    name: "Sales".into(),
                    database_id: 5,
                    state: "ONLINE".into(),
                    recovery_model: "FULL".into(),
                    size_bytes: 1 << 30,
                    ..Default::default()
                }],
                ..Default::default()
            }],
        })),
        report(Report::CommandResult(wire::CommandResult {
            command_id: "c-1".into(),
            ok: false,
            error_code: "AGENT-LINK-STATUS".into(),
            error_message: "SQL Server error 18456".into(),
        })),
        report(Report::Assessment(wire::Assessment {
            command_id: "c-2".into(),
            instances: vec![wire::InstanceAssessment {
                name: "MSSQLSERVER".into(),
                reachable: true,
                databases: vec![wire::AssessedDatabase {
                    name: "Sales".into(),
                    size_bytes: 1 << 30,
                    state: "ONLINE".into(),
                }],
                results: vec![check()],
                ..Default::default()
            }],
        })),
        report(Report::Load(wire::LoadReport {
            windows: vec![wire::LoadWindow {
                instance: "MSSQLSERVER".into(),
                start_unix_ms: 1_765_000_000_000,
                end_unix_ms: 1_765_000_600_000,
                samples: 20,
                cpu_count: 8,
                ..Default::default()
            }],
        })),
        report(Report::ConnectionTest(wire::ConnectionTest {
            command_id: "c-3".into(),
            instances: vec![wire::InstanceConnection {
                name: "SALES".into(),
                error: "no instance named SALES is configured on this host".into(),
                ..Default::default()
            }],
            ..Default::default()
        })),
        report(Report::ConnectionTest(wire::ConnectionTest {
            command_id: "c-3b".into(),
            instances: vec![wire::InstanceConnection {
                name: "MSSQLSERVER".into(),
                results: vec![check()],
                duration_ms: 40,
                ..Default::default()
            }],
            ..Default::default()
        })),
        report(Report::LinkSteps(wire::LinkSteps {
            command_id: "c-4".into(),
            migration_id: "m-1".into(),
            steps: vec![wire::LinkStep {
                name: "create_ag".into(),
                outcome: wire::link_step::Outcome::Applied as i32,
                detail: "created".into(),
                ..Default::default()
            }],
            ..Default::default()
        })),
        report(Report::LinkStatus(wire::LinkStatus {
            instance: "MSSQLSERVER".into(),
            observed_unix_ms: 1_765_000_000_000,
            databases: vec![wire::LinkDatabaseStatus {
                link_name: "DAG_Sales".into(),
                database: "Sales".into(),
                connected_state: "CONNECTED".into(),
                ..Default::default()
            }],
        })),
        report(Report::RowCounts(wire::RowCounts {
            command_id: "c-5".into(),
            migration_id: "m-1".into(),
            tables: vec![wire::TableRows {
                schema: "dbo".into(),
                name: "Orders".into(),
                rows: 500,
            }],
            end_of_log_before: "34000000001200001".into(),
            end_of_log_after: "34000000001200001".into(),
            counted_unix_ms: 1_765_000_000_000,
            ..Default::default()
        })),
    ];
    bodies
        .into_iter()
        .map(|body| wire::AgentMessage { body: Some(body) })
        .collect()
}
