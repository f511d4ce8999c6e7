//! A RunLinkSteps command: connect to the instance, run the named steps in order until
//! one does not complete, then read what the control plane needs for Azure (the
//! endpoint certificate, the listener URL) and report it all as a LinkSteps.

use std::time::{Duration, Instant};

use ferry_proto::agent::v1::{link_step, LinkStep, LinkSteps, RunLinkSteps};
use ferry_proto::clock::now_ms;

use crate::config::{AgentConfig, InstanceConfig};
use crate::network::{self, resolve, LINK_PORT};
use crate::sql;
use crate::workflow::names::endpoint_certificate;
use crate::workflow::steps::certificate::encoded;
use crate::workflow::{listener_url, Context, Link, Outcome, Step};

pub async fn run(config: &AgentConfig, command_id: &str, request: RunLinkSteps) -> LinkSteps {
    let mut report = LinkSteps {
        command_id: command_id.to_string(),
        migration_id: request.migration_id.clone(),
        ..Default::default()
    };
    if let Err(error) = run_steps(config, &request, &mut report).await {
        tracing::warn!(migration = %request.migration_id, %error, "link steps could not run");
        report.error = error;
    }
    report
}

async fn run_steps(
    config: &AgentConfig,
    request: &RunLinkSteps,
    report: &mut LinkSteps,
) -> Result<(), String> {
    let steps = request
        .steps
        .iter()
        .map(|name| {
            Step::parse(name).ok_or_else(|| format!("unknown step {name:?}: upgrade ferry-agent"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    if request.database.is_empty() || request.link_name.is_empty() || request.mi_fqdn.is_empty() {
        return Err("the command names no database, link or managed instance".into());
    }
    let instance = config.instance(&request.instance)?;
    let timeout = Duration::from_secs(instance.query_timeout_secs);
    let mut conn = sql::connect(instance)
        .await
        .map_err(|e| format!("connecting to {}: {e}", instance.name))?;
    let (server_name, major_version) = server(&mut conn, timeout)
        .await
        .map_err(|e| format!("reading the server's name and version: {e}"))?;
    let address = address(config, instance, &request.mi_fqdn).await?;
    let mut ctx = Context {
        conn: &mut conn,
        timeout,
        server_name,
        database: request.database.clone(),
        endpoint_port: instance.endpoint_port.unwrap_or(LINK_PORT),
        state_dir: config.state_dir.clone(),
        allow_recovery_change: request.allow_recovery_change,
        allow_endpoint_change: request.allow_endpoint_change,
        major_version,
        encrypted: instance.encryption == crate::config::Encryption::Required,
        link: Some(Link {
            name: request.link_name.clone(),
            mi_name: request.mi_name.clone(),
            mi_fqdn: request.mi_fqdn.clone(),
            mi_certificate: request.mi_certificate.clone(),
            address,
        }),
    };
    for step in steps {
        let started_unix_ms = now_ms();
        let clock = Instant::now();
        let span = tracing::info_span!("tsql.step", step = step.name(), database = %ctx.database);
        let ran = tracing::Instrument::instrument(step.run(&mut ctx), span).await;
        let (outcome, detail) = match ran {
            Ok(Outcome::AlreadyDone(d)) => (link_step::Outcome::AlreadyDone, d),
            Ok(Outcome::Applied(d)) => (link_step::Outcome::Applied, d),
            Ok(Outcome::Blocked(d)) => (link_step::Outcome::Blocked, d),
            Err(e) => (link_step::Outcome::Failed, e.to_string()),
        };
        tracing::info!(step = step.name(), outcome = outcome.as_str_name(), %detail, "link step");
        report.steps.push(LinkStep {
            name: step.name().into(),
            outcome: outcome.into(),
            detail,
            started_unix_ms,
            duration_ms: i64::try_from(clock.elapsed().as_millis()).unwrap_or(i64::MAX),
        });
        if matches!(
            outcome,
            link_step::Outcome::Blocked | link_step::Outcome::Failed
        ) {
            break;
        }
    }
    let name = endpoint_certificate(&ctx.server_name);
    report.certificate = encoded(&mut ctx, &name)
        .await
        .ok()
        .flatten()
        .unwrap_or_default();
    report.certificate_name = name;
    report.listener_url = listener_url(&mut ctx).await.unwrap_or_default();
    Ok(())
}

/// @@SERVERNAME (the name the docs build the certificate's from) and the major version.
async fn server(
    conn: &mut sql::Connection,
    timeout: Duration,
) -> Result<(String, u32), sql::SqlError> {
    let q = "server name and version";
    let rows = sql::rows(
        conn,
        q,
        "SELECT CAST(@@SERVERNAME AS nvarchar(256)) AS name,
                CAST(SERVERPROPERTY('ProductMajorVersion') AS int) AS major",
        timeout,
    )
    .await?;
    let row = rows.first().ok_or_else(|| sql::SqlError::Query {
        query: q,
        reason: "no row".into(),
    })?;
    let major = u32::try_from(sql::int(row, q, "major")?).unwrap_or_default();
    Ok((sql::text(row, q, "name")?, major))
}

/// Where the MI reaches this instance: the configured link address, else the address
/// this host routes to the MI from.
async fn address(
    config: &AgentConfig,
    instance: &InstanceConfig,
    fqdn: &str,
) -> Result<std::net::IpAddr, String> {
    let resolved = match instance.link_address {
        Some(_) => Err(String::new()),
        None => {
            let timeout = Duration::from_secs(config.network.timeout_secs);
            resolve::resolve(fqdn, &config.network.hosts, timeout).await
        }
    };
    network::link_address(instance, fqdn, &resolved).map(|found| found.ip)
}
