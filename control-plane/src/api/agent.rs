//! `AgentService`: certificate renewal and the long-lived agent session.
//!
//! A session: the control plane greets the agent, redelivers commands sent earlier but
//! never acknowledged, then serves heartbeats (acknowledged at once, written to the
//! store in coalesced batches), reports (stored exactly once, then acknowledged) and
//! command acknowledgements, and pushes commands when woken. It ends when the agent
//! hangs up, goes silent past the liveness threshold, or is revoked.

use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use ferry_proto::agent::v1::agent_service_server::AgentService;
use ferry_proto::agent::v1::{
    agent_message, control_message, AgentMessage, CommandAck, ControlMessage, HeartbeatAck,
    RenewRequest, RenewResponse, Report, ReportAck, Welcome,
};
use futures::Stream;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status, Streaming};
use tracing::Instrument;

use super::convert::command_to_agent;
use super::limits::{MAX_CLOCK_AHEAD_MS, MAX_HELLO_TEXT};
use super::{authenticate_agent, ApiError, Context};
use crate::fleet::identity::AgentId;
use crate::fleet::liveness::AgentHello;
use crate::fleet::sessions::Close;
use crate::store::agents::{AgentRecord, Renewal, RenewalKind};
use crate::store::inventory::{IncomingReport, ReportBody};
use crate::store::refused_reports::RefusedReport;
use ferry_proto::clock::now_ms;

pub struct AgentApi(pub Arc<Context>);

type ControlStream = Pin<Box<dyn Stream<Item = Result<ControlMessage, Status>> + Send>>;

#[tonic::async_trait]
impl AgentService for AgentApi {
    async fn renew(
        &self,
        request: Request<RenewRequest>,
    ) -> Result<Response<RenewResponse>, Status> {
        let (agent, held) = authenticate_agent(&self.0, &request).await?;
        let presented = agent.serial(held).to_string();
        Ok(Response::new(
            renew(&self.0, &agent, &presented, request.into_inner()).await?,
        ))
    }

    type SessionStream = ControlStream;

    async fn session(
        &self,
        request: Request<Streaming<AgentMessage>>,
    ) -> Result<Response<ControlStream>, Status> {
        let agent = authenticate_agent(&self.0, &request).await?.0.id;
        let (tx, rx) = mpsc::channel(64);
        let session = run_session(self.0.clone(), agent, request.into_inner(), tx);
        tokio::spawn(session.instrument(tracing::Span::current()));
        Ok(Response::new(Box::pin(ReceiverStream::new(rx))))
    }
}

async fn renew(
    shared: &Context,
    record: &AgentRecord,
    presented: &str,
    request: RenewRequest,
) -> Result<RenewResponse, ApiError> {
    issue_renewal(
        shared,
        record,
        presented,
        &request.csr_der,
        RenewalKind::BeforeExpiry,
    )
    .await
}

/// Signs the agent's CSR and records the new certificate in place of `presented`.
pub async fn issue_renewal(
    shared: &Context,
    record: &AgentRecord,
    presented: &str,
    csr_der: &[u8],
    kind: RenewalKind,
) -> Result<RenewResponse, ApiError> {
    let agent = record.id;
    let ttl = Duration::from_secs(shared.config.certificates.agent_ttl_secs);
    let issued = shared.ca.issue_agent(csr_der, &record.name, agent, ttl)?;
    let renewal = Renewal {
        presented,
        serial: &issued.serial,
        not_after_ms: issued.not_after_ms,
        kind,
    };
    if !shared
        .store
        .record_renewal(agent, &renewal, now_ms())
        .await?
    {
        return Err(ApiError::PermissionDenied(format!(
            "agent {agent} has been revoked, or its certificate was renewed meanwhile"
        )));
    }
    tracing::info!(%agent, serial = %issued.serial, ?kind, "agent certificate renewed");
    Ok(RenewResponse {
        certificate_pem: issued.cert_pem,
        not_after_unix_ms: issued.not_after_ms,
    })
}

type Outbound = mpsc::Sender<Result<ControlMessage, Status>>;

async fn run_session(
    shared: Arc<Context>,
    agent: AgentId,
    mut inbound: Streaming<AgentMessage>,
    tx: Outbound,
) {
    let guard = shared.sessions.register(agent);
    let mut close = guard.handle.close.subscribe();
    if close.borrow().is_some() {
        // Closed before it started (the replica is already stopping).
        close.mark_changed();
    }
    let silence = Duration::from_secs(shared.config.liveness.disconnected_after_secs);
    tracing::info!(%agent, "agent session opened");
    let welcome = control_message::Body::Welcome(Welcome {
        agent_id: agent.to_string(),
        heartbeat_interval_ms: (shared.config.liveness.heartbeat_interval_secs * 1000) as u32,
    });
    let mut outcome = send(&tx, welcome).await;
    if outcome.is_ok() {
        outcome = deliver_commands(&shared, agent, true, &tx).await;
    }
    // Only what the agent sends moves this; waking to deliver commands does not.
    let mut silent_after = tokio::time::Instant::now() + silence;
    while outcome.is_ok() {
        tokio::select! {
            message = tokio::time::timeout_at(silent_after, inbound.message()) => {
                outcome = match message {
                    Ok(Ok(Some(message))) => {
                        silent_after = tokio::time::Instant::now() + silence;
                        handle(&shared, agent, message, &tx).await
                    }
                    Ok(Ok(None)) => Err(SessionEnd::AgentClosed),
                    Ok(Err(status)) => Err(SessionEnd::Transport(status.message().to_string())),
                    Err(_) => Err(SessionEnd::Silent),
                };
            }
            _ = guard.handle.commands.notified() => {
                outcome = deliver_commands(&shared, agent, false, &tx).await;
            }
            _ = close.changed() => {
                let closing = close.borrow().clone();
                match closing {
                    Some(Close::Revoked(reason)) => {
                        let status = Status::permission_denied(format!("agent {agent} has been revoked: {reason}"));
                        let _ = tx.send(Err(status)).await;
                        outcome = Err(SessionEnd::Revoked);
                    }
                    Some(Close::ShuttingDown) => {
                        let status = Status::unavailable("the control plane is shutting down; reconnect");
                        let _ = tx.send(Err(status)).await;
                        outcome = Err(SessionEnd::ShuttingDown);
                    }
                    Some(Close::Replaced) => {
                        let status = Status::aborted(format!("a newer session of agent {agent} opened; this one closes"));
                        let _ = tx.send(Err(status)).await;
                        outcome = Err(SessionEnd::Replaced);
                    }
                    None => {}
                }
            }
        }
    }
    shared.metrics.session_ended(agent);
    match outcome {
        Err(SessionEnd::Failed(e)) => {
            let _ = tx.send(Err(e.into())).await;
            tracing::warn!(%agent, "agent session ended with an error");
        }
        Err(SessionEnd::Transport(error)) => tracing::info!(%agent, %error, "agent session broken"),
        Err(end) => tracing::info!(%agent, ?end, "agent session closed"),
        Ok(()) => {}
    }
}

#[derive(Debug)]
enum SessionEnd {
    AgentClosed,
    Silent,
    Revoked,
    ShuttingDown,
    Replaced,
    Transport(String),
    Failed(ApiError),
}

impl From<ApiError> for SessionEnd {
    fn from(e: ApiError) -> Self {
        SessionEnd::Failed(e)
    }
}

async fn send(tx: &Outbound, body: control_message::Body) -> Result<(), SessionEnd> {
    tx.send(Ok(ControlMessage { body: Some(body) }))
        .await
        .map_err(|_| SessionEnd::AgentClosed)
}

async fn handle(
    shared: &Context,
    agent: AgentId,
    message: AgentMessage,
    tx: &Outbound,
) -> Result<(), SessionEnd> {
    let now = now_ms();
    match message.body {
        None => Err(ApiError::invalid("body", "missing").into()),
        Some(agent_message::Body::Hello(hello)) => {
            let clip = |s: &str| s.chars().take(MAX_HELLO_TEXT).collect::<String>();
            // Written with the next batch of heartbeats, not here: see `fleet::liveness`.
            let hello = AgentHello {
                agent_version: clip(&hello.agent_version),
                hostname: clip(&hello.hostname),
                os: clip(&hello.os),
                at_ms: now,
            };
            shared.heartbeats.record_hello(agent, hello);
            Ok(())
        }
        Some(agent_message::Body::Heartbeat(heartbeat)) => {
            shared.heartbeats.record(agent, now);
            shared.metrics.heartbeat(agent, &heartbeat, now);
            send(
                tx,
                control_message::Body::HeartbeatAck(HeartbeatAck { seq: heartbeat.seq }),
            )
            .await
        }
        Some(agent_message::Body::Report(report)) => {
            shared.heartbeats.record(agent, now);
            let report_id = report.report_id.clone();
            let kind = wire_kind(&report);
            let refused = match store_report(shared, agent, report, now).await {
                Ok(()) => String::new(),
                // A report that breaks a bound is refused alone, with why; the session
                // and the reports behind it go on. Anything else (the store failing)
                // ends the session, and the agent sends the report again later.
                Err(ApiError::InvalidArgument { field, problem }) => {
                    let reason = format!("field `{field}`: {problem}");
                    tracing::warn!(%agent, report = %report_id, kind, %reason, "report refused");
                    let refusal = RefusedReport {
                        report_id: report_id.clone(),
                        kind: kind.to_string(),
                        reason: reason.clone(),
                        refused_at_ms: now,
                    };
                    shared
                        .store
                        .record_refused_report(agent, &refusal)
                        .await
                        .map_err(ApiError::from)?;
                    reason
                }
                Err(e) => return Err(e.into()),
            };
            send(
                tx,
                control_message::Body::ReportAck(ReportAck { report_id, refused }),
            )
            .await
        }
        Some(agent_message::Body::CommandAck(CommandAck { command_id })) => {
            shared
                .store
                .ack_command(agent, &command_id, now)
                .await
                .map_err(ApiError::from)?;
            Ok(())
        }
    }
}

/// The kind of a report as sent, for the record of a refusal.
fn wire_kind(report: &Report) -> &'static str {
    use ferry_proto::agent::v1::report::Body;
    match &report.body {
        None => "none",
        Some(Body::Inventory(_)) => "inventory",
        Some(Body::CommandResult(_)) => "command_result",
        Some(Body::Assessment(_)) => "assessment",
        Some(Body::ConnectionTest(_)) => "connection_test",
        Some(Body::LinkSteps(_)) => "link_steps",
        Some(Body::LinkStatus(_)) => "link_status",
        Some(Body::Load(_)) => "load",
        Some(Body::RowCounts(_)) => "row_counts",
    }
}

async fn store_report(
    shared: &Context,
    agent: AgentId,
    report: Report,
    now: i64,
) -> Result<(), ApiError> {
    let parent = ferry_proto::telemetry::from_map(&report.trace_context);
    let span = ferry_proto::telemetry::child_span(
        tracing::info_span!("report.store", report = %report.report_id),
        parent,
    );
    store_report_now(shared, agent, report, now)
        .instrument(span)
        .await
}

async fn store_report_now(
    shared: &Context,
    agent: AgentId,
    report: Report,
    now: i64,
) -> Result<(), ApiError> {
    let mut report = IncomingReport::try_from(report)?;
    // A time far in the future (a host's clock ahead, or a forged one) would make
    // every later report look older and be ignored (the inventory and the link's
    // readings keep the newest): refused, naming the clock to fix.
    let future = |field: &'static str, at_ms: i64| {
        if at_ms > now + MAX_CLOCK_AHEAD_MS {
            return Err(ApiError::invalid(
                field,
                format!(
                    "{} s ahead of the control plane's clock (at most {} s): set the host's clock right (NTP)",
                    (at_ms - now) / 1000,
                    MAX_CLOCK_AHEAD_MS / 1000
                ),
            ));
        }
        Ok(())
    };
    future("report.produced_unix_ms", report.produced_at_ms)?;
    // A report older than the receipts kept may have been stored and its receipt
    // forgotten since (`crate::retention`): refused, not stored twice.
    let oldest = shared.config.retention.oldest_report_ms(now);
    if report.produced_at_ms < oldest {
        return Err(ApiError::invalid(
            "report.produced_unix_ms",
            format!(
                "{} days old, older than [retention] history_days ({}) allows: a report this old may already be stored; not stored again",
                (now - report.produced_at_ms) / 86_400_000,
                shared.config.retention.history_days
            ),
        ));
    }
    match &mut report.body {
        ReportBody::Load { keep_after_ms, .. } => {
            *keep_after_ms = now - i64::from(shared.config.sizing.history_days) * 86_400_000;
        }
        ReportBody::LinkStatus(status) => {
            future("report.link_status.observed_unix_ms", status.observed_ms)?
        }
        ReportBody::Inventory(_)
        | ReportBody::CommandResult { .. }
        | ReportBody::Assessment { .. }
        | ReportBody::ConnectionTest { .. }
        | ReportBody::LinkSteps(_)
        | ReportBody::RowCounts(_) => {}
    }
    let fresh = shared.store.record_report(agent, &report, now).await?;
    if fresh {
        let kind = [opentelemetry::KeyValue::new("kind", report.body.kind())];
        shared.metrics.reports.add(1, &kind);
        let lag_ms = (now - report.produced_at_ms).max(0);
        shared
            .metrics
            .report_lag
            .record(lag_ms as f64 / 1000.0, &kind);
    } else {
        tracing::debug!(%agent, report = %report.report_id, "report redelivered; already stored");
    }
    Ok(())
}

async fn deliver_commands(
    shared: &Context,
    agent: AgentId,
    redeliver: bool,
    tx: &Outbound,
) -> Result<(), SessionEnd> {
    let commands = shared
        .store
        .take_deliverable_commands(agent, redeliver, now_ms())
        .await
        .map_err(ApiError::from)?;
    for command in &commands {
        let wire = match command_to_agent(command) {
            Ok(wire) => wire,
            Err(e) => {
                tracing::error!(%agent, command = %command.id, error = %e, "command not delivered");
                continue;
            }
        };
        tracing::debug!(%agent, command = %command.id, kind = %command.kind, "delivering command");
        send(tx, control_message::Body::Command(wire)).await?;
    }
    Ok(())
}
