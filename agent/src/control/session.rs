//! The agent's side of the session: dial out over mTLS, say hello, then until the
//! connection breaks: send heartbeats (and give up on a control plane that stops
//! acknowledging them), send outbox reports (a bounded window in flight; each is marked
//! acknowledged only when the control plane confirms it stored it), and acknowledge and
//! run commands. Reconnects with jittered exponential backoff. A revoked or unknown
//! agent stops: retrying cannot help it.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ferry_proto::agent::v1::agent_service_client::AgentServiceClient;
use ferry_proto::agent::v1::{
    agent_message, control_message, AgentMessage, CommandAck, ControlMessage, Heartbeat, Hello,
    ReportAck,
};
use ferry_proto::transport::{self, ChannelOptions, ControlPlaneUrl};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tokio_util::sync::CancellationToken;
use tonic::Code;

use super::backoff::Backoff;
use super::renew::read_identity;
use crate::Agent;
use ferry_proto::clock::now_ms;

/// Reports sent but not yet acknowledged, at most.
const WINDOW: usize = 64;
/// Heartbeat acknowledgements missed before the connection is presumed dead.
const MISSED_ACKS: u32 = 3;

#[derive(Debug, thiserror::Error)]
pub enum Fatal {
    #[error("the control plane refused this agent: {0} (enroll again with a new token: `ferry-agent enroll`)")]
    Refused(String),
    #[error("the agent's identity is unusable: {0}")]
    Identity(String),
}

#[derive(Debug)]
enum Ended {
    Retry(String),
    Fatal(Fatal),
}

impl From<tonic::Status> for Ended {
    fn from(status: tonic::Status) -> Self {
        match status.code() {
            Code::PermissionDenied | Code::Unauthenticated => {
                Ended::Fatal(Fatal::Refused(status.message().to_string()))
            }
            _ => Ended::Retry(format!("{:?}: {}", status.code(), status.message())),
        }
    }
}

/// Keeps a session up until cancelled; returns only on cancellation or a fatal refusal.
pub async fn run(agent: Arc<Agent>, cancel: CancellationToken) -> Result<(), Fatal> {
    let mut backoff = Backoff::new(
        Duration::from_millis(500),
        Duration::from_secs(agent.config.max_backoff_secs),
    );
    loop {
        let ended = tokio::select! {
            ended = serve(&agent, &mut backoff) => ended,
            _ = cancel.cancelled() => return Ok(()),
        };
        match ended {
            Ended::Fatal(fatal) => return Err(fatal),
            Ended::Retry(why) => {
                let delay = backoff.next_delay();
                tracing::warn!(reason = %why, retry_in = ?delay, "control-plane session down");
                tokio::select! {
                    _ = tokio::time::sleep(delay) => {}
                    _ = cancel.cancelled() => return Ok(()),
                }
            }
        }
    }
}

async fn serve(agent: &Arc<Agent>, backoff: &mut Backoff) -> Ended {
    let identity = read_identity(&agent.identity);
    let url = match ControlPlaneUrl::parse(&identity.control_plane) {
        Ok(url) => url,
        Err(e) => return Ended::Fatal(Fatal::Identity(e.to_string())),
    };
    let tls = match transport::mtls_client_config(
        &identity.ca_pem,
        &identity.cert_pem,
        &identity.key_pem,
    ) {
        Ok(tls) => tls,
        Err(e) => return Ended::Fatal(Fatal::Identity(e.to_string())),
    };
    let channel = match transport::connect(&url, tls, ChannelOptions::default()).await {
        Ok(channel) => channel,
        Err(e) => return Ended::Retry(transport::error_chain(&e)),
    };
    let (tx, rx) = mpsc::channel::<AgentMessage>(WINDOW * 2);
    let hello = agent_message::Body::Hello(Hello {
        agent_version: env!("CARGO_PKG_VERSION").to_string(),
        hostname: crate::host_name(),
        os: std::env::consts::OS.to_string(),
    });
    if tx.send(AgentMessage { body: Some(hello) }).await.is_err() {
        return Ended::Retry("session stream closed".into());
    }
    let mut request = tonic::Request::new(ReceiverStream::new(rx));
    ferry_proto::telemetry::inject(request.metadata_mut());
    let mut client = AgentServiceClient::new(channel)
        .max_decoding_message_size(transport::MAX_AGENT_MESSAGE)
        .max_encoding_message_size(transport::MAX_AGENT_MESSAGE);
    let mut inbound = match client.session(request).await {
        Ok(response) => response.into_inner(),
        Err(status) => return status.into(),
    };
    tracing::info!(control_plane = %url, "control-plane session open");

    let mut state = SessionState {
        tx,
        inflight: HashSet::new(),
        last_sent_seq: 0,
    };
    let mut interval = Duration::from_secs(agent.config.heartbeat_interval_secs);
    let mut heartbeat = tokio::time::interval(interval);
    let mut seq = 0u64;
    let mut last_ack = Instant::now();
    // The last heartbeat sent, and the round trip of the last one acknowledged (carried
    // by the next, for the control plane's heartbeat latency).
    let mut in_flight: Option<(u64, Instant)> = None;
    let mut round_trip_us = 0u32;
    let mut sweep = tokio::time::interval(Duration::from_secs(5));
    if let Err(ended) = state.send_pending(agent).await {
        return ended;
    }
    loop {
        let step = tokio::select! {
            message = inbound.message() => match message {
                Ok(Some(ControlMessage { body: Some(body) })) => {
                    match body {
                        control_message::Body::Welcome(welcome) => {
                            backoff.reset();
                            if welcome.heartbeat_interval_ms > 0 {
                                interval = Duration::from_millis(u64::from(welcome.heartbeat_interval_ms));
                                heartbeat = tokio::time::interval(interval);
                            }
                            Ok(())
                        }
                        control_message::Body::HeartbeatAck(ack) => {
                            last_ack = Instant::now();
                            if let Some((_, at)) = in_flight.take_if(|(sent, _)| *sent == ack.seq) {
                                round_trip_us = at.elapsed().as_micros().min(u128::from(u32::MAX)) as u32;
                            }
                            Ok(())
                        }
                        control_message::Body::ReportAck(ack) => state.acknowledged(agent, &ack).await,
                        control_message::Body::Command(command) => {
                            let ack = agent_message::Body::CommandAck(CommandAck { command_id: command.command_id.clone() });
                            let sent = state.send(ack).await;
                            tokio::spawn(agent.clone().execute(command));
                            sent
                        }
                    }
                }
                Ok(Some(ControlMessage { body: None })) => Ok(()),
                Ok(None) => Err(Ended::Retry("the control plane closed the session".into())),
                Err(status) => Err(status.into()),
            },
            _ = heartbeat.tick() => {
                if last_ack.elapsed() > interval * MISSED_ACKS + Duration::from_secs(1) {
                    Err(Ended::Retry(format!("no heartbeat acknowledged for {:?}", last_ack.elapsed())))
                } else {
                    seq += 1;
                    // The backlog rides on the heartbeat; a failed count says nothing.
                    let pending = agent.outbox.pending().await.unwrap_or(0);
                    agent.metrics.backlog(pending);
                    let outbox_reports = pending.min(u32::MAX as u64) as u32;
                    let vitals = crate::metrics::vitals();
                    let beat = Heartbeat {
                        seq,
                        sent_unix_ms: now_ms(),
                        outbox_reports,
                        resident_bytes: vitals.resident_bytes.unwrap_or(0),
                        cpu_seconds: vitals.cpu_seconds.unwrap_or(-1.0),
                        sql_errors: vitals.sql_errors,
                        round_trip_us,
                    };
                    in_flight = Some((seq, Instant::now()));
                    state.send(agent_message::Body::Heartbeat(beat)).await
                }
            }
            _ = agent.outbox.appended() => state.send_pending(agent).await,
            _ = sweep.tick() => state.send_pending(agent).await,
        };
        if let Err(ended) = step {
            return ended;
        }
    }
}

struct SessionState {
    tx: mpsc::Sender<AgentMessage>,
    inflight: HashSet<String>,
    last_sent_seq: i64,
}

impl SessionState {
    async fn send(&self, body: agent_message::Body) -> Result<(), Ended> {
        self.tx
            .send(AgentMessage { body: Some(body) })
            .await
            .map_err(|_| Ended::Retry("session stream closed".into()))
    }

    /// A report stored, or refused: either way it is not sent again (a refused one is
    /// kept as a dead letter, with why), and the reports behind it go on.
    async fn acknowledged(&mut self, agent: &Agent, ack: &ReportAck) -> Result<(), Ended> {
        let report_id = ack.report_id.as_str();
        let recorded = if ack.refused.is_empty() {
            agent.outbox.mark_acked(report_id).await
        } else {
            tracing::error!(report = %report_id, reason = %ack.refused, "the control plane refused a report; kept as a dead letter (`ferry-agent status`)");
            agent.outbox.mark_refused(report_id, &ack.refused).await
        };
        recorded.map_err(|e| Ended::Retry(e.to_string()))?;
        self.inflight.remove(report_id);
        self.send_pending(agent).await
    }

    /// Sends unacknowledged reports not yet sent on this session, up to the window.
    async fn send_pending(&mut self, agent: &Agent) -> Result<(), Ended> {
        let room = WINDOW.saturating_sub(self.inflight.len());
        if room == 0 {
            return Ok(());
        }
        let pending = agent
            .outbox
            .unacked(self.last_sent_seq, room as u32)
            .await
            .map_err(|e| Ended::Retry(e.to_string()))?;
        for item in pending {
            self.last_sent_seq = item.seq;
            // Larger than a message may be, it would end the session and come first
            // again every time: kept as a dead letter instead, and the rest go on.
            if let Some(why) = too_large(&item.report) {
                tracing::error!(report = %item.report.report_id, %why, "a report too large to send; kept as a dead letter (`ferry-agent status`)");
                agent
                    .outbox
                    .mark_refused(&item.report.report_id, &why)
                    .await
                    .map_err(|e| Ended::Retry(e.to_string()))?;
                continue;
            }
            self.inflight.insert(item.report.report_id.clone());
            self.send(agent_message::Body::Report(item.report)).await?;
        }
        Ok(())
    }
}

/// Why `report` cannot be sent: larger than a message may be (with room for its
/// envelope).
fn too_large(report: &ferry_proto::agent::v1::Report) -> Option<String> {
    use prost::Message;
    let size = report.encoded_len();
    (size + 1024 > transport::MAX_AGENT_MESSAGE).then(|| {
        format!(
            "{size} bytes, more than the {} a message may carry",
            transport::MAX_AGENT_MESSAGE
        )
    })
}

#[cfg(test)]
mod tests {
    use ferry_proto::agent::v1::{report, CommandResult, Report};

    #[test]
    fn a_report_larger_than_a_message_is_not_sent() {
        let report = |bytes: usize| Report {
            report_id: "r".into(),
            body: Some(report::Body::CommandResult(CommandResult {
                error_message: "x".repeat(bytes),
                ..Default::default()
            })),
            ..Default::default()
        };
        assert!(super::too_large(&report(1000)).is_none());
        let why = super::too_large(&report(super::transport::MAX_AGENT_MESSAGE)).unwrap();
        assert!(why.contains("more than"), "{why}");
    }
}
