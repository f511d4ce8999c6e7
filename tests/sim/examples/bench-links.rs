//! Lab benchmark for issue 4: many MI links replicating at once in one lab, on the
//! real clock. It sets every link up the documented way (T-SQL over tiberius on each
//! SQL Server, HTTPS to the lab's ARM), waits until every database is
//! LinkSynchronizing, then writes a row into each database in turn and measures how
//! long until that write's log position shows as hardened on both sides: in SQL
//! Server's view of the MI's replica, and in the MI's own view. It prints the set-up
//! time, the visibility percentiles per side, and the process's resident memory.
//!
//! cargo run --release -p ferry-sim --example bench-links -- [--instances 10]
//!     [--databases 10] [--managed 2] [--rounds 3] [--latency-ms 10]
//!
//! A write can be visible on the MI no sooner than the network delay after it.

use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context};
use clap::Parser;
use ferry_sim::measure::{percentile_ms, rss_mib};
use ferry_sim::scenario::azure::{DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET};
use ferry_sim::{Lab, Scenario};
use serde_json::{json, Value};
use tiberius::{AuthMethod, Config, EncryptionLevel};
use tokio::net::TcpStream;
use tokio_util::compat::{Compat, TokioAsyncWriteCompatExt};

#[allow(dead_code)]
#[path = "../tests/lab/https.rs"]
mod https;

type Client = tiberius::Client<Compat<TcpStream>>;

#[derive(Parser)]
struct Args {
    /// SQL Server instances.
    #[arg(long, default_value_t = 10)]
    instances: usize,
    /// Databases per instance, each with its own link.
    #[arg(long, default_value_t = 10)]
    databases: usize,
    /// Managed instances; the SQL Server instances are spread over them.
    #[arg(long, default_value_t = 2)]
    managed: usize,
    /// Writes measured per link.
    #[arg(long, default_value_t = 3)]
    rounds: usize,
    /// The network delay from each SQL Server to its MI, ms (the lab's default).
    #[arg(long, default_value_t = 10.0)]
    latency_ms: f64,
}

fn scenario(args: &Args) -> String {
    let mut toml = String::new();
    for i in 0..args.instances {
        toml += &format!(
            "[[instance]]\nname = \"SQL{i:02}\"\nversion = \"2022 CU13\"\nedition = \"Enterprise\"\nhadr = true\n"
        );
        for d in 0..args.databases {
            toml += &format!(
                r#"
[[instance.database]]
name = "db{d:02}"
data_mb = 4
backups = [{{ type = "D", hours_ago = 2.0 }}]
workload = {{ log_bytes_per_sec = 16384, transactions_per_sec = 5 }}

[[instance.database.table]]
name = "Orders"
rows = 100
columns = [{{ name = "id", type = "int", primary_key = true }}, {{ name = "amount", type = "int" }}]
"#
            );
        }
    }
    for m in 0..args.managed {
        toml += &format!(
            "\n[[managed_instance]]\nname = \"mi-{m:02}\"\nlink_bandwidth_mbps = 10000.0\nlink_latency_ms = {}\n",
            args.latency_ms
        );
    }
    toml + "\n[azure]\nspeed = 1000.0\n"
}

async fn connect(
    address: std::net::SocketAddr,
    user: &str,
    password: &str,
) -> anyhow::Result<Client> {
    let mut config = Config::new();
    config.host(address.ip());
    config.port(address.port());
    config.authentication(AuthMethod::sql_server(user, password));
    config.encryption(EncryptionLevel::Required);
    config.trust_cert();
    let tcp = TcpStream::connect(address).await?;
    tcp.set_nodelay(true)?;
    Ok(tiberius::Client::connect(config, tcp.compat_write()).await?)
}

async fn run(client: &mut Client, sql: &str) -> anyhow::Result<()> {
    client
        .simple_query(sql)
        .await?
        .into_results()
        .await
        .with_context(|| sql.to_string())?;
    Ok(())
}

async fn first_row(client: &mut Client, sql: &str) -> anyhow::Result<tiberius::Row> {
    client
        .simple_query(sql)
        .await?
        .into_row()
        .await?
        .ok_or_else(|| anyhow!("no row: {sql}"))
}

/// One LSN (numeric(25,0)) from the first row.
async fn lsn(client: &mut Client, sql: &str) -> anyhow::Result<i128> {
    let row = first_row(client, sql).await?;
    Ok(row
        .get::<tiberius::numeric::Numeric, _>(0)
        .map_or(0, |n| n.value()))
}

struct Azure<'a> {
    lab: &'a Lab,
    token: String,
}

impl Azure<'_> {
    async fn call(&self, method: &str, mi: &str, path: &str, body: Option<Value>) -> https::Answer {
        let azure = self
            .lab
            .azure
            .as_ref()
            .expect("the scenario has managed instances");
        let url = format!(
            "{}subscriptions/{}/resourceGroups/ferry-lab/providers/Microsoft.Sql/managedInstances/{mi}{path}?api-version=2024-05-01-preview",
            azure.arm, azure.subscription
        );
        let auth = [("authorization", format!("Bearer {}", self.token))];
        let body = body.map(|b| ("application/json", b.to_string().into_bytes()));
        https::call(&azure.ca_pem, method, &url, &auth, body).await
    }

    /// Starts a long-running operation and polls it until it has succeeded.
    async fn complete(
        &self,
        method: &str,
        mi: &str,
        path: &str,
        body: Value,
    ) -> anyhow::Result<()> {
        let started = self.call(method, mi, path, Some(body)).await;
        if started.status != 202 {
            bail!("{method} {path}: {} {}", started.status, started.json);
        }
        let azure = self
            .lab
            .azure
            .as_ref()
            .expect("the scenario has managed instances");
        let status = started.header("azure-asyncoperation").to_string();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let auth = [("authorization", format!("Bearer {}", self.token))];
            let answer = https::call(&azure.ca_pem, "GET", &status, &auth, None).await;
            match answer.json["status"].as_str() {
                Some("Succeeded") => return Ok(()),
                Some("InProgress") if Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                _ => bail!("{method} {path}: {}", answer.json),
            }
        }
    }
}

async fn token(lab: &Lab) -> anyhow::Result<String> {
    let azure = lab
        .azure
        .as_ref()
        .expect("the scenario has managed instances");
    let form = format!(
        "client_id={DEFAULT_CLIENT_ID}&client_secret={DEFAULT_CLIENT_SECRET}&grant_type=client_credentials&scope=https%3A%2F%2Fmanagement.azure.com%2F.default"
    );
    let url = format!("{}{}/oauth2/v2.0/token", azure.authority, azure.tenant);
    let body = Some(("application/x-www-form-urlencoded", form.into_bytes()));
    let answer = https::call(&azure.ca_pem, "POST", &url, &[], body).await;
    answer.json["access_token"]
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| anyhow!("no token: {}", answer.json))
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// mi-link.md §2.1 and §2.2 for every database of SQL Server `i`, linked to `mi`.
async fn set_up(
    lab: &Lab,
    azure: &Azure<'_>,
    i: usize,
    databases: usize,
    mi: &str,
) -> anyhow::Result<Client> {
    let name = format!("SQL{i:02}");
    let endpoint = lab.endpoint(&name).ok_or_else(|| anyhow!("no {name}"))?;
    let mut sql = connect(endpoint.address, &endpoint.login, &endpoint.password).await?;
    let port = free_port()?;
    let cert = format!("Cert_{name}_endpoint");
    run(
        &mut sql,
        "CREATE MASTER KEY ENCRYPTION BY PASSWORD = 'Strong-Passw0rd!'",
    )
    .await?;
    run(&mut sql, &format!("CREATE CERTIFICATE [{cert}] WITH SUBJECT = 'Certificate for {cert}', EXPIRY_DATE = '2030-01-01'")).await?;
    run(&mut sql, &format!(
        "CREATE ENDPOINT database_mirroring_endpoint STATE = STARTED AS TCP (LISTENER_PORT = {port}, LISTENER_IP = ALL)
         FOR DATABASE_MIRRORING (ROLE = ALL, AUTHENTICATION = CERTIFICATE [{cert}], ENCRYPTION = REQUIRED ALGORITHM AES)"
    )).await?;
    let encoded = first_row(&mut sql, &format!("SELECT CERTENCODED(CERT_ID(N'{cert}'))")).await?;
    let blob = format!(
        "0x{}",
        hex::encode_upper(encoded.get::<&[u8], _>(0).unwrap_or_default())
    );
    azure
        .complete(
            "PUT",
            mi,
            &format!("/serverTrustCertificates/{cert}"),
            json!({"properties": {"publicBlob": blob}}),
        )
        .await?;
    let fqdn = lab
        .managed_instance(mi)
        .ok_or_else(|| anyhow!("no {mi}"))?
        .fqdn
        .clone();
    let got = azure
        .call("GET", mi, "/endpointCertificates/DATABASE_MIRRORING", None)
        .await;
    let key = got.json["properties"]["publicBlob"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    run(
        &mut sql,
        &format!("CREATE CERTIFICATE [{fqdn}] FROM BINARY = 0x{key}"),
    )
    .await?;
    for d in 0..databases {
        let (db, ag, dag) = (
            format!("db{d:02}"),
            format!("AG_{name}_{d:02}"),
            format!("DAG_{name}_{d:02}"),
        );
        run(&mut sql, &format!(
            "CREATE AVAILABILITY GROUP [{ag}] WITH (CLUSTER_TYPE = NONE) FOR DATABASE [{db}]
             REPLICA ON N'{name}' WITH (ENDPOINT_URL = 'TCP://127.0.0.1:{port}', AVAILABILITY_MODE = SYNCHRONOUS_COMMIT,
               FAILOVER_MODE = MANUAL, SEEDING_MODE = AUTOMATIC)"
        )).await?;
        run(&mut sql, &format!(
            "CREATE AVAILABILITY GROUP [{dag}] WITH (DISTRIBUTED) AVAILABILITY GROUP ON
               N'{ag}' WITH (LISTENER_URL = 'TCP://127.0.0.1:{port}', AVAILABILITY_MODE = ASYNCHRONOUS_COMMIT,
                 FAILOVER_MODE = MANUAL, SEEDING_MODE = AUTOMATIC, SESSION_TIMEOUT = 20),
               N'{ag}_MI' WITH (LISTENER_URL = 'tcp://{fqdn}:5022;Server=[{mi}]', AVAILABILITY_MODE = ASYNCHRONOUS_COMMIT,
                 FAILOVER_MODE = MANUAL, SEEDING_MODE = AUTOMATIC)"
        )).await?;
        let link = json!({"properties": {
            "databases": [{"databaseName": db}],
            "partnerEndpoint": format!("TCP://127.0.0.1:{port}"),
            "instanceAvailabilityGroupName": format!("{ag}_MI"),
            "partnerAvailabilityGroupName": ag,
        }});
        azure
            .complete(
                "PUT",
                mi,
                &format!("/distributedAvailabilityGroups/{dag}"),
                link,
            )
            .await?;
    }
    Ok(sql)
}

/// Waits until every link of every MI reports LinkSynchronizing.
async fn synchronizing(azure: &Azure<'_>, managed: &[String], links: usize) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        let mut ready = 0;
        for mi in managed {
            let list = azure
                .call("GET", mi, "/distributedAvailabilityGroups", None)
                .await;
            for link in list.json["value"].as_array().into_iter().flatten() {
                let databases = link["properties"]["databases"]
                    .as_array()
                    .into_iter()
                    .flatten();
                ready += databases
                    .filter(|d| d["replicaState"] == "LinkSynchronizing")
                    .count();
            }
        }
        if ready == links {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("{ready} of {links} links synchronizing after 300 s");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Queries `client` until `sql` returns an LSN at or past `target`; the time since `from`.
async fn visible(
    client: &mut Client,
    sql: &str,
    target: i128,
    from: Instant,
) -> anyhow::Result<Duration> {
    let deadline = from + Duration::from_secs(10);
    while lsn(client, sql).await? < target {
        if Instant::now() > deadline {
            bail!("not visible within 10 s: {sql}");
        }
    }
    Ok(from.elapsed())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if args.instances == 0 || args.databases == 0 || args.managed == 0 || args.rounds == 0 {
        bail!("--instances, --databases, --managed and --rounds must each be at least 1");
    }
    let links = args.instances * args.databases;
    let started = Instant::now();
    let lab = Lab::start(&Scenario::parse(&scenario(&args)).map_err(|e| anyhow!(e))?).await?;
    let azure = Azure {
        token: token(&lab).await?,
        lab: &lab,
    };
    let managed: Vec<String> = (0..args.managed).map(|m| format!("mi-{m:02}")).collect();
    let mut sql = Vec::new();
    for i in 0..args.instances {
        sql.push(set_up(&lab, &azure, i, args.databases, &managed[i % args.managed]).await?);
    }
    let set_up_time = started.elapsed();
    synchronizing(&azure, &managed, links).await?;
    println!(
        "{links} links over {} SQL Server instances and {} managed instances: set up in {:.1} s, all synchronizing after {:.1} s, RSS {:.0} MiB",
        args.instances, args.managed, set_up_time.as_secs_f64(), started.elapsed().as_secs_f64(), rss_mib()
    );
    let mut mis = Vec::new();
    for mi in &lab.managed {
        let address = std::net::SocketAddr::new(mi.ip.into(), 1433);
        mis.push(connect(address, &mi.spec.admin_login, &mi.spec.admin_password).await?);
    }
    let (mut on_sql, mut on_mi) = (Vec::new(), Vec::new());
    let mut id = 10_000_000;
    for _ in 0..args.rounds {
        for i in 0..args.instances {
            for d in 0..args.databases {
                id += 1;
                let db = format!("db{d:02}");
                let client = &mut sql[i];
                run(
                    client,
                    &format!("INSERT INTO [{db}].dbo.Orders (id, amount) VALUES ({id}, 1)"),
                )
                .await?;
                let wrote = Instant::now();
                let view = |local: u8| {
                    format!(
                        "SELECT drs.{} FROM sys.dm_hadr_database_replica_states drs
                     JOIN sys.databases db ON db.database_id = drs.database_id
                     JOIN sys.availability_groups ag ON ag.group_id = drs.group_id
                     WHERE ag.is_distributed = 1 AND db.name = '{db}' AND drs.is_local = {local}",
                        if local == 1 {
                            "end_of_log_lsn"
                        } else {
                            "last_hardened_lsn"
                        }
                    )
                };
                let target = lsn(client, &view(1)).await?;
                let mi_view = format!(
                    "SELECT drs.last_hardened_lsn FROM sys.dm_hadr_database_replica_states drs
                     JOIN sys.databases db ON db.database_id = drs.database_id
                     WHERE db.name = '{db}' AND drs.is_local = 1"
                );
                let sql_view = view(0);
                let (a, b) = tokio::join!(
                    visible(client, &sql_view, target, wrote),
                    visible(&mut mis[i % args.managed], &mi_view, target, wrote)
                );
                on_sql.push(a?);
                on_mi.push(b?);
            }
        }
    }
    for (side, times) in [
        ("SQL Server's view of the MI", &mut on_sql),
        ("the MI's own view", &mut on_mi),
    ] {
        times.sort();
        println!(
            "write -> hardened LSN visible in {side}: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms ({} writes)",
            percentile_ms(times, 0.5), percentile_ms(times, 0.99), percentile_ms(times, 1.0), times.len()
        );
    }
    println!("RSS {:.0} MiB", rss_mib());
    Ok(())
}
