//! Every RPC of the operator API with every role, through the real control plane:
//! refused (PERMISSION_DENIED, naming the RPC and the role it needs) exactly when the
//! roles table (`api::roles`) says the role is not enough.

use ferry_control::api::roles::Rpc;
use ferry_control::fleet::identity::Role;
use ferry_proto::operator::v1::operator_client::OperatorClient;
use tonic::transport::Channel;

use super::cutover::issue_operator;
use super::*;

/// Calls `rpc` with an empty request.
async fn call(c: &mut OperatorClient<Channel>, rpc: Rpc) -> Result<(), tonic::Status> {
    match rpc {
        Rpc::CreateEnrollmentToken => c
            .create_enrollment_token(ferry_control::cli::request(Default::default()))
            .await
            .map(drop),
        Rpc::ListHosts => c
            .list_hosts(ferry_control::cli::request(Default::default()))
            .await
            .map(drop),
        Rpc::GetHost => c
            .get_host(ferry_control::cli::request(Default::default()))
            .await
            .map(drop),
        Rpc::RevokeHost => c
            .revoke_host(ferry_control::cli::request(Default::default()))
            .await
            .map(drop),
        Rpc::CreateCommand => c
            .create_command(ferry_control::cli::request(Default::default()))
            .await
            .map(drop),
        Rpc::ListCommands => c
            .list_commands(ferry_control::cli::request(Default::default()))
            .await
            .map(drop),
        Rpc::StartAssessment => c
            .start_assessment(ferry_control::cli::request(Default::default()))
            .await
            .map(drop),
        Rpc::GetAssessmentRun => c
            .get_assessment_run(ferry_control::cli::request(Default::default()))
            .await
            .map(drop),
        Rpc::GetAssessmentReport => c
            .get_assessment_report(ferry_control::cli::request(Default::default()))
            .await
            .map(drop),
        Rpc::ShowAssessment => c
            .show_assessment(ferry_control::cli::request(Default::default()))
            .await
            .map(drop),
        Rpc::DiffAssessments => c
            .diff_assessments(ferry_control::cli::request(Default::default()))
            .await
            .map(drop),
        Rpc::RecommendSku => c
            .recommend_sku(ferry_control::cli::request(Default::default()))
            .await
            .map(drop),
        Rpc::SetHostLabels => c
            .set_host_labels(ferry_control::cli::request(Default::default()))
            .await
            .map(drop),
        Rpc::AddTarget => c
            .add_target(ferry_control::cli::request(Default::default()))
            .await
            .map(drop),
        Rpc::ListTargets => c
            .list_targets(ferry_control::cli::request(Default::default()))
            .await
            .map(drop),
        Rpc::RemoveTarget => c
            .remove_target(ferry_control::cli::request(Default::default()))
            .await
            .map(drop),
        Rpc::TestConnection => c
            .test_connection(ferry_control::cli::request(Default::default()))
            .await
            .map(drop),
        Rpc::GetConnectionTests => c
            .get_connection_tests(ferry_control::cli::request(Default::default()))
            .await
            .map(drop),
        Rpc::StartMigration => c
            .start_migration(ferry_control::cli::request(Default::default()))
            .await
            .map(drop),
        Rpc::ListMigrations => c
            .list_migrations(ferry_control::cli::request(Default::default()))
            .await
            .map(drop),
        Rpc::GetMigration => c
            .get_migration(ferry_control::cli::request(Default::default()))
            .await
            .map(drop),
        Rpc::RetryMigration => c
            .retry_migration(ferry_control::cli::request(Default::default()))
            .await
            .map(drop),
        Rpc::CancelMigration => c
            .cancel_migration(ferry_control::cli::request(Default::default()))
            .await
            .map(drop),
        Rpc::StartCutover => c
            .start_cutover(ferry_control::cli::request(Default::default()))
            .await
            .map(drop),
        Rpc::StartWaveCutover => c
            .start_wave_cutover(ferry_control::cli::request(Default::default()))
            .await
            .map(drop),
        Rpc::CancelCutover => c
            .cancel_cutover(ferry_control::cli::request(Default::default()))
            .await
            .map(drop),
        Rpc::ApproveCutover => c
            .approve_cutover(ferry_control::cli::request(Default::default()))
            .await
            .map(drop),
        Rpc::ApplyPlan => c
            .apply_plan(ferry_control::cli::request(Default::default()))
            .await
            .map(drop),
        Rpc::ShowPlan => c
            .show_plan(ferry_control::cli::request(Default::default()))
            .await
            .map(drop),
        Rpc::ApproveWave => c
            .approve_wave(ferry_control::cli::request(Default::default()))
            .await
            .map(drop),
        Rpc::PauseWave => c
            .pause_wave(ferry_control::cli::request(Default::default()))
            .await
            .map(drop),
        Rpc::ResumeWave => c
            .resume_wave(ferry_control::cli::request(Default::default()))
            .await
            .map(drop),
        Rpc::ListAudit => c
            .list_audit(ferry_control::cli::request(Default::default()))
            .await
            .map(drop),
        Rpc::RenewOperatorCertificate => c
            .renew_operator_certificate(ferry_control::cli::request(Default::default()))
            .await
            .map(drop),
        Rpc::ListOperators => c
            .list_operators(ferry_control::cli::request(Default::default()))
            .await
            .map(drop),
        Rpc::RevokeOperator => c
            .revoke_operator(ferry_control::cli::request(Default::default()))
            .await
            .map(drop),
    }
}

#[tokio::test]
async fn every_rpc_refuses_exactly_the_roles_its_table_entry_excludes() {
    let dir = tempfile::tempdir().unwrap();
    let plane = ControlPlane::start(dir.path(), FAST_CONTROL_CONFIG).await;
    let mut checked = 0;
    for role in [Role::Viewer, Role::Operator, Role::Approver, Role::Admin] {
        let name = format!("as-{}", role.as_str());
        let credentials = issue_operator(&plane, dir.path(), &name, role.as_str()).await;
        let mut client = ferry_control::cli::connect(&plane.url(), &credentials)
            .await
            .unwrap();
        for rpc in Rpc::ALL {
            let answer = call(&mut client, rpc).await;
            let denied = matches!(&answer, Err(s) if s.code() == tonic::Code::PermissionDenied);
            assert_eq!(
                denied,
                !role.allows(rpc.role()),
                "{} as {}: {answer:?}",
                rpc.name(),
                role.as_str()
            );
            if let (true, Err(status)) = (denied, &answer) {
                assert!(
                    status.message().contains(rpc.name())
                        && status.message().contains(rpc.role().as_str()),
                    "{status:?}"
                );
            }
            checked += 1;
        }
    }
    assert_eq!(checked, 4 * Rpc::ALL.len());
    plane.stop().await;
}
