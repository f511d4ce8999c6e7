//! The operator API. Each call checks the caller's role first, then validates its
//! fields; every state change is audited by the store in the same transaction.

use std::sync::Arc;

use ferry_proto::operator::v1 as op;
use ferry_proto::operator::v1::operator_server::Operator;
use ferry_proto::operator::v1::{
    AssessmentDetail, AssessmentDiff, AssessmentReport, AssessmentRun, CommandInfo,
    CreateCommandRequest, CreateEnrollmentTokenRequest, CreateEnrollmentTokenResponse,
    DiffAssessmentsRequest, GetAssessmentReportRequest, GetAssessmentRunRequest, GetHostRequest,
    Host, HostDetail, ListCommandsRequest, ListCommandsResponse, ListHostsRequest,
    ListHostsResponse, RecommendSkuRequest, RevokeHostRequest, RevokeHostResponse,
    SetHostLabelsRequest, ShowAssessmentRequest, SkuRecommendations, StartAssessmentRequest,
};
use tonic::{Request, Response, Status};

use super::limits::MAX_DESCRIPTION;
use super::roles::Rpc;
use super::{
    assessment, connection_test, convert, cutover, migration, operators, plan, sizing, targets,
};
use super::{authorize_operator, paging, ApiError, Context};
use crate::fleet::enrollment::{mint, secret_hash};
use crate::fleet::identity::AgentId;
use crate::fleet::labels::{self, Labels};
use crate::store::agents::{AgentRecord, AgentSummary};
use crate::store::commands::{CommandKind, CommandRecord};
use crate::store::inventory::InstanceRecord;
use crate::store::tokens::NewToken;
use crate::store::waves::RunningCutovers;
use ferry_proto::clock::now_ms;

pub struct OperatorApi(pub Arc<Context>);

impl OperatorApi {
    fn silence_ms(&self) -> i64 {
        (self.0.config.liveness.disconnected_after_secs * 1000) as i64
    }

    /// Approves, pauses or resumes a wave, as RPC `rpc` allows.
    async fn wave_change(
        &self,
        request: Request<op::WaveRequest>,
        rpc: Rpc,
        verb: plan::Verb,
    ) -> Result<Response<op::Plan>, Status> {
        let actor = authorize_operator(&self.0, &request, rpc).await?;
        let name = request.into_inner().name;
        Ok(Response::new(
            plan::change(&self.0, &actor, &name, verb).await?,
        ))
    }
}

/// A host's listing entry from its inventory and labels.
fn summarize(agent: AgentRecord, instances: &[InstanceRecord], labels: Labels) -> AgentSummary {
    AgentSummary {
        labels,
        instance_count: instances.len() as u32,
        database_count: instances.iter().map(|i| i.databases.len() as u32).sum(),
        agent,
    }
}

#[tonic::async_trait]
impl Operator for OperatorApi {
    async fn create_enrollment_token(
        &self,
        request: Request<CreateEnrollmentTokenRequest>,
    ) -> Result<Response<CreateEnrollmentTokenResponse>, Status> {
        let actor = authorize_operator(&self.0, &request, Rpc::CreateEnrollmentToken).await?;
        let request = request.into_inner();
        let limits = &self.0.config.enrollment;
        let ttl_secs = match u64::from(request.ttl_seconds) {
            0 => limits.default_token_ttl_secs,
            ttl if ttl > limits.max_token_ttl_secs => {
                return Err(ApiError::invalid(
                    "ttl_seconds",
                    format!(
                        "at most {} seconds (enrollment.max_token_ttl_secs)",
                        limits.max_token_ttl_secs
                    ),
                )
                .into())
            }
            ttl => ttl,
        };
        if request.description.len() > MAX_DESCRIPTION {
            return Err(ApiError::invalid(
                "description",
                format!("at most {MAX_DESCRIPTION} bytes"),
            )
            .into());
        }
        let token = mint(self.0.ca.fingerprint());
        let now = now_ms();
        let record = NewToken {
            id: token.id.clone(),
            secret_hash: secret_hash(&token),
            description: request.description,
            created_by: actor,
            created_at_ms: now,
            expires_at_ms: now + (ttl_secs * 1000) as i64,
        };
        self.0
            .store
            .insert_token(&record)
            .await
            .map_err(ApiError::from)?;
        Ok(Response::new(CreateEnrollmentTokenResponse {
            token: token.encode(),
            token_id: token.id,
            expires_unix_ms: record.expires_at_ms,
            ca_fingerprint_sha256: token.ca_fingerprint,
        }))
    }

    async fn list_hosts(
        &self,
        request: Request<ListHostsRequest>,
    ) -> Result<Response<ListHostsResponse>, Status> {
        authorize_operator(&self.0, &request, Rpc::ListHosts).await?;
        let request = request.into_inner();
        let size = paging::size(request.page_size);
        let after = match paging::key(&request.page_token, 2)? {
            None => None,
            Some(key) => Some((key[0].clone(), paging::field::<AgentId>(&key[1])?)),
        };
        let hosts = self
            .0
            .store
            .list_agents_page(after.as_ref().map(|(name, id)| (name.as_str(), *id)), size)
            .await
            .map_err(ApiError::from)?;
        let now = now_ms();
        Ok(Response::new(ListHostsResponse {
            next_page_token: paging::next_token(&hosts, size, |h| {
                vec![h.agent.name.clone(), h.agent.id.to_string()]
            }),
            hosts: hosts
                .iter()
                .map(|h| convert::host(h, now, self.silence_ms()))
                .collect(),
        }))
    }

    async fn get_host(
        &self,
        request: Request<GetHostRequest>,
    ) -> Result<Response<HostDetail>, Status> {
        authorize_operator(&self.0, &request, Rpc::GetHost).await?;
        let agent = crate::service::lookup::find_host(&self.0, &request.get_ref().host).await?;
        let store = &self.0.store;
        let instances = store
            .list_instances(agent.id)
            .await
            .map_err(ApiError::from)?;
        let reports = store
            .count_reports(agent.id)
            .await
            .map_err(ApiError::from)?;
        let labels = store.host_labels(agent.id).await.map_err(ApiError::from)?;
        let refused = store
            .refused_reports(agent.id)
            .await
            .map_err(ApiError::from)?;
        let summary = summarize(agent, &instances, labels);
        Ok(Response::new(HostDetail {
            host: Some(convert::host(&summary, now_ms(), self.silence_ms())),
            instances: instances.iter().map(convert::instance).collect(),
            revoked_reason: summary.agent.revoked_reason.clone(),
            reports_received: reports,
            refused_reports: refused
                .into_iter()
                .map(|r| ferry_proto::operator::v1::RefusedReport {
                    report_id: r.report_id,
                    kind: r.kind,
                    reason: r.reason,
                    refused_unix_ms: r.refused_at_ms,
                })
                .collect(),
        }))
    }

    async fn revoke_host(
        &self,
        request: Request<RevokeHostRequest>,
    ) -> Result<Response<RevokeHostResponse>, Status> {
        let actor = authorize_operator(&self.0, &request, Rpc::RevokeHost).await?;
        let request = request.into_inner();
        if request.reason.trim().is_empty() || request.reason.len() > MAX_DESCRIPTION {
            return Err(ApiError::invalid(
                "reason",
                format!("say why, in 1 to {MAX_DESCRIPTION} bytes"),
            )
            .into());
        }
        let agent = crate::service::lookup::find_host(&self.0, &request.host).await?;
        if !self
            .0
            .store
            .revoke_agent(agent.id, &request.reason, &actor, now_ms())
            .await
            .map_err(ApiError::from)?
        {
            return Err(ApiError::FailedPrecondition(format!(
                "host {} is already revoked",
                agent.id
            ))
            .into());
        }
        self.0.sessions.close(agent.id, &request.reason);
        tracing::info!(agent = %agent.id, %actor, "agent revoked");
        Ok(Response::new(RevokeHostResponse {
            id: agent.id.to_string(),
        }))
    }

    async fn create_command(
        &self,
        request: Request<CreateCommandRequest>,
    ) -> Result<Response<CommandInfo>, Status> {
        let actor = authorize_operator(&self.0, &request, Rpc::CreateCommand).await?;
        let request = request.into_inner();
        let kind: CommandKind = request
            .kind
            .parse()
            .map_err(|e: String| ApiError::invalid("kind", e))?;
        if kind == CommandKind::TestConnection {
            return Err(ApiError::invalid(
                "kind",
                format!(
                    "connection tests name a target: `ferry target test <target> --host {}`",
                    request.host
                ),
            )
            .into());
        }
        if kind == CommandKind::CountRows || kind == CommandKind::ReadLinkStatus {
            return Err(ApiError::invalid(
                "kind",
                "the driver sends these while a cutover waits for its gates: `ferry cutover ID`",
            )
            .into());
        }
        if kind == CommandKind::RunLinkSteps {
            return Err(ApiError::invalid(
                "kind",
                "link steps run as part of a migration: `ferry migrate start --host HOST --database DB --target MI`",
            )
            .into());
        }
        if kind == CommandKind::RunAssessment {
            return Err(ApiError::invalid(
                "kind",
                format!(
                    "assessments run as part of a run: `ferry assess run --host {}`",
                    request.host
                ),
            )
            .into());
        }
        let agent = crate::service::lookup::find_live_host(&self.0, &request.host).await?;
        let limits = &self.0.config.commands;
        let ttl_secs = match u64::from(request.ttl_seconds) {
            0 => limits.default_ttl_secs,
            ttl if ttl > limits.max_ttl_secs => {
                return Err(ApiError::invalid(
                    "ttl_seconds",
                    format!(
                        "at most {} seconds (commands.max_ttl_secs)",
                        limits.max_ttl_secs
                    ),
                )
                .into())
            }
            ttl => ttl,
        };
        let now = now_ms();
        let command = CommandRecord::pending(
            agent.id,
            kind,
            &actor,
            now,
            now + (ttl_secs * 1000) as i64,
            &crate::context::trace_context(),
        );
        self.0
            .store
            .create_command(&command)
            .await
            .map_err(ApiError::from)?;
        self.0.sessions.wake(agent.id);
        Ok(Response::new(convert::command(&command)))
    }

    async fn list_commands(
        &self,
        request: Request<ListCommandsRequest>,
    ) -> Result<Response<ListCommandsResponse>, Status> {
        authorize_operator(&self.0, &request, Rpc::ListCommands).await?;
        let request = request.into_inner();
        let agent = match request.host.as_str() {
            "" => None,
            key => Some(crate::service::lookup::find_host(&self.0, key).await?.id),
        };
        let size = paging::size(request.limit);
        let after = match paging::key(&request.page_token, 2)? {
            None => None,
            Some(key) => Some((paging::field::<i64>(&key[0])?, key[1].clone())),
        };
        let commands = self
            .0
            .store
            .commands_page(
                agent,
                after.as_ref().map(|(at, id)| (*at, id.as_str())),
                size,
            )
            .await
            .map_err(ApiError::from)?;
        Ok(Response::new(ListCommandsResponse {
            next_page_token: paging::next_token(&commands, size, |c| {
                vec![c.created_at_ms.to_string(), c.id.clone()]
            }),
            commands: commands.iter().map(convert::command).collect(),
        }))
    }

    async fn start_assessment(
        &self,
        request: Request<StartAssessmentRequest>,
    ) -> Result<Response<AssessmentRun>, Status> {
        let actor = authorize_operator(&self.0, &request, Rpc::StartAssessment).await?;
        let run = assessment::start(&self.0, actor, request.into_inner()).await?;
        Ok(Response::new(run))
    }

    async fn get_assessment_run(
        &self,
        request: Request<GetAssessmentRunRequest>,
    ) -> Result<Response<AssessmentRun>, Status> {
        authorize_operator(&self.0, &request, Rpc::GetAssessmentRun).await?;
        let run = assessment::get(&self.0, request.get_ref()).await?;
        Ok(Response::new(run))
    }

    async fn get_assessment_report(
        &self,
        request: Request<GetAssessmentReportRequest>,
    ) -> Result<Response<AssessmentReport>, Status> {
        authorize_operator(&self.0, &request, Rpc::GetAssessmentReport).await?;
        let report = assessment::report(&self.0, request.into_inner()).await?;
        Ok(Response::new(report))
    }

    async fn show_assessment(
        &self,
        request: Request<ShowAssessmentRequest>,
    ) -> Result<Response<AssessmentDetail>, Status> {
        authorize_operator(&self.0, &request, Rpc::ShowAssessment).await?;
        let detail = assessment::show(&self.0, request.into_inner()).await?;
        Ok(Response::new(detail))
    }

    async fn diff_assessments(
        &self,
        request: Request<DiffAssessmentsRequest>,
    ) -> Result<Response<AssessmentDiff>, Status> {
        authorize_operator(&self.0, &request, Rpc::DiffAssessments).await?;
        let diff = assessment::diff(&self.0, request.into_inner()).await?;
        Ok(Response::new(diff))
    }

    async fn recommend_sku(
        &self,
        request: Request<RecommendSkuRequest>,
    ) -> Result<Response<SkuRecommendations>, Status> {
        authorize_operator(&self.0, &request, Rpc::RecommendSku).await?;
        let found = sizing::recommend_sku(&self.0, request.into_inner()).await?;
        Ok(Response::new(found))
    }

    async fn set_host_labels(
        &self,
        request: Request<SetHostLabelsRequest>,
    ) -> Result<Response<Host>, Status> {
        let actor = authorize_operator(&self.0, &request, Rpc::SetHostLabels).await?;
        let request = request.into_inner();
        let agent = crate::service::lookup::find_live_host(&self.0, &request.host).await?;
        let set: Labels = request.set.into_iter().collect();
        if set.len() + request.remove.len() > labels::MAX_LABELS {
            return Err(ApiError::invalid(
                "set",
                format!("at most {} labels per host", labels::MAX_LABELS),
            )
            .into());
        }
        for key in &request.remove {
            labels::check_key(key).map_err(|e| ApiError::invalid("remove", e))?;
        }
        for (key, value) in &set {
            labels::check_key(key).map_err(|e| ApiError::invalid("set", e))?;
            labels::check_value(key, value).map_err(|e| ApiError::invalid("set", e))?;
        }
        let store = &self.0.store;
        let labels = store
            .set_host_labels(agent.id, &set, &request.remove, &actor, now_ms())
            .await
            .map_err(ApiError::from)?;
        let instances = store
            .list_instances(agent.id)
            .await
            .map_err(ApiError::from)?;
        let host = summarize(agent, &instances, labels);
        Ok(Response::new(convert::host(
            &host,
            now_ms(),
            self.silence_ms(),
        )))
    }
    async fn add_target(
        &self,
        request: Request<op::AddTargetRequest>,
    ) -> Result<Response<op::Target>, Status> {
        let actor = authorize_operator(&self.0, &request, Rpc::AddTarget).await?;
        let added = targets::add_target(&self.0, request.into_inner(), &actor).await?;
        Ok(Response::new(added))
    }

    async fn list_targets(
        &self,
        request: Request<op::ListTargetsRequest>,
    ) -> Result<Response<op::ListTargetsResponse>, Status> {
        authorize_operator(&self.0, &request, Rpc::ListTargets).await?;
        let listed = targets::list_targets(&self.0, request.into_inner()).await?;
        Ok(Response::new(listed))
    }

    async fn remove_target(
        &self,
        request: Request<op::RemoveTargetRequest>,
    ) -> Result<Response<op::RemoveTargetResponse>, Status> {
        let actor = authorize_operator(&self.0, &request, Rpc::RemoveTarget).await?;
        let removed = targets::remove_target(&self.0, request.into_inner(), &actor).await?;
        Ok(Response::new(removed))
    }

    async fn test_connection(
        &self,
        request: Request<op::TestConnectionRequest>,
    ) -> Result<Response<op::ConnectionTests>, Status> {
        let actor = authorize_operator(&self.0, &request, Rpc::TestConnection).await?;
        let started = connection_test::test(&self.0, &actor, request.into_inner()).await?;
        Ok(Response::new(started))
    }

    async fn get_connection_tests(
        &self,
        request: Request<op::GetConnectionTestsRequest>,
    ) -> Result<Response<op::ConnectionTests>, Status> {
        authorize_operator(&self.0, &request, Rpc::GetConnectionTests).await?;
        Ok(Response::new(
            connection_test::get(&self.0, request.into_inner()).await?,
        ))
    }

    async fn start_migration(
        &self,
        request: Request<op::StartMigrationRequest>,
    ) -> Result<Response<op::StartMigrationResponse>, Status> {
        let actor = authorize_operator(&self.0, &request, Rpc::StartMigration).await?;
        Ok(Response::new(
            migration::start(&self.0, &actor, request.into_inner()).await?,
        ))
    }

    async fn list_migrations(
        &self,
        request: Request<op::ListMigrationsRequest>,
    ) -> Result<Response<op::Migrations>, Status> {
        authorize_operator(&self.0, &request, Rpc::ListMigrations).await?;
        Ok(Response::new(
            migration::list(&self.0, request.into_inner()).await?,
        ))
    }

    async fn get_migration(
        &self,
        request: Request<op::GetMigrationRequest>,
    ) -> Result<Response<op::Migration>, Status> {
        authorize_operator(&self.0, &request, Rpc::GetMigration).await?;
        Ok(Response::new(
            migration::get(&self.0, &request.into_inner().id).await?,
        ))
    }

    async fn retry_migration(
        &self,
        request: Request<op::GetMigrationRequest>,
    ) -> Result<Response<op::Migration>, Status> {
        let actor = authorize_operator(&self.0, &request, Rpc::RetryMigration).await?;
        Ok(Response::new(
            migration::retry(&self.0, &actor, &request.into_inner().id).await?,
        ))
    }

    async fn cancel_migration(
        &self,
        request: Request<op::GetMigrationRequest>,
    ) -> Result<Response<op::Migration>, Status> {
        let actor = authorize_operator(&self.0, &request, Rpc::CancelMigration).await?;
        Ok(Response::new(
            migration::cancel(&self.0, &actor, &request.into_inner().id).await?,
        ))
    }

    async fn start_cutover(
        &self,
        request: Request<op::StartCutoverRequest>,
    ) -> Result<Response<op::Migration>, Status> {
        let actor = authorize_operator(&self.0, &request, Rpc::StartCutover).await?;
        Ok(Response::new(
            cutover::start(&self.0, &actor, request.into_inner()).await?,
        ))
    }

    async fn start_wave_cutover(
        &self,
        request: Request<op::StartWaveCutoverRequest>,
    ) -> Result<Response<op::WaveCutover>, Status> {
        let actor = authorize_operator(&self.0, &request, Rpc::StartWaveCutover).await?;
        Ok(Response::new(
            cutover::start_wave(&self.0, &actor, request.into_inner()).await?,
        ))
    }

    async fn renew_operator_certificate(
        &self,
        request: Request<op::RenewOperatorCertificateRequest>,
    ) -> Result<Response<op::OperatorCertificate>, Status> {
        Ok(Response::new(operators::renew(&self.0, request).await?))
    }

    async fn list_operators(
        &self,
        request: Request<op::ListOperatorsRequest>,
    ) -> Result<Response<op::Operators>, Status> {
        Ok(Response::new(operators::list(&self.0, request).await?))
    }

    async fn revoke_operator(
        &self,
        request: Request<op::RevokeOperatorRequest>,
    ) -> Result<Response<op::OperatorInfo>, Status> {
        Ok(Response::new(operators::revoke(&self.0, request).await?))
    }

    async fn list_audit(
        &self,
        request: Request<op::ListAuditRequest>,
    ) -> Result<Response<op::AuditEvents>, Status> {
        authorize_operator(&self.0, &request, Rpc::ListAudit).await?;
        let request = request.into_inner();
        let size = paging::size(request.limit);
        let before = match paging::key(&request.page_token, 1)? {
            None => None,
            Some(key) => Some(paging::field::<i64>(&key[0])?),
        };
        let events = self
            .0
            .store
            .audit_page(&request.target, before, size)
            .await
            .map_err(ApiError::from)?;
        Ok(Response::new(op::AuditEvents {
            next_page_token: paging::next_token(&events, size, |(id, _)| vec![id.to_string()]),
            events: events
                .into_iter()
                .map(|(_, e)| op::AuditEvent {
                    at_unix_ms: e.at_ms,
                    actor: e.actor,
                    action: e.action,
                    target: e.target,
                    detail: e.detail,
                })
                .collect(),
        }))
    }

    async fn apply_plan(
        &self,
        request: Request<op::ApplyPlanRequest>,
    ) -> Result<Response<op::Plan>, Status> {
        let actor = authorize_operator(&self.0, &request, Rpc::ApplyPlan).await?;
        // Only an admin's plan may change what a running cutover needs.
        let running = match super::peer(&request)? {
            crate::fleet::identity::Peer::Operator {
                role: crate::fleet::identity::Role::Admin,
                ..
            } => RunningCutovers::MayChange,
            _ => RunningCutovers::Refuse,
        };
        let toml = request.into_inner().plan_toml;
        Ok(Response::new(
            plan::apply(&self.0, (&actor, running), &toml).await?,
        ))
    }

    async fn show_plan(
        &self,
        request: Request<op::ShowPlanRequest>,
    ) -> Result<Response<op::Plan>, Status> {
        authorize_operator(&self.0, &request, Rpc::ShowPlan).await?;
        Ok(Response::new(plan::show(&self.0).await?))
    }

    async fn approve_wave(
        &self,
        request: Request<op::WaveRequest>,
    ) -> Result<Response<op::Plan>, Status> {
        self.wave_change(request, Rpc::ApproveWave, plan::Verb::Approve)
            .await
    }

    async fn pause_wave(
        &self,
        request: Request<op::WaveRequest>,
    ) -> Result<Response<op::Plan>, Status> {
        self.wave_change(request, Rpc::PauseWave, plan::Verb::Pause)
            .await
    }

    async fn resume_wave(
        &self,
        request: Request<op::WaveRequest>,
    ) -> Result<Response<op::Plan>, Status> {
        self.wave_change(request, Rpc::ResumeWave, plan::Verb::Resume)
            .await
    }

    async fn approve_cutover(
        &self,
        request: Request<op::GetMigrationRequest>,
    ) -> Result<Response<op::Migration>, Status> {
        let actor = authorize_operator(&self.0, &request, Rpc::ApproveCutover).await?;
        Ok(Response::new(
            cutover::approve(&self.0, &actor, &request.into_inner().id).await?,
        ))
    }

    async fn cancel_cutover(
        &self,
        request: Request<op::GetMigrationRequest>,
    ) -> Result<Response<op::Migration>, Status> {
        let actor = authorize_operator(&self.0, &request, Rpc::CancelCutover).await?;
        Ok(Response::new(
            cutover::cancel(&self.0, &actor, &request.into_inner().id).await?,
        ))
    }
}
