//! Who may call what: every RPC of the operator API and the least role it needs, in
//! one table ([`Rpc::role`]). Handlers name their RPC; a test walks every RPC with
//! every role through the real binaries.
//!
//! Viewers read everything; operators run the journey (assess, test, migrate, cut over,
//! plans and waves); approvers approve cutovers and waves; admins can do all of it,
//! revoke hosts, and list and revoke operators. Every operator renews their own
//! certificate.

use crate::fleet::identity::Role;

/// The operator API's RPCs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Rpc {
    CreateEnrollmentToken,
    ListHosts,
    GetHost,
    RevokeHost,
    CreateCommand,
    ListCommands,
    StartAssessment,
    GetAssessmentRun,
    GetAssessmentReport,
    ShowAssessment,
    DiffAssessments,
    RecommendSku,
    SetHostLabels,
    AddTarget,
    ListTargets,
    RemoveTarget,
    TestConnection,
    GetConnectionTests,
    StartMigration,
    ListMigrations,
    GetMigration,
    RetryMigration,
    CancelMigration,
    StartCutover,
    StartWaveCutover,
    CancelCutover,
    ApproveCutover,
    ApplyPlan,
    ShowPlan,
    ApproveWave,
    PauseWave,
    ResumeWave,
    ListAudit,
    RenewOperatorCertificate,
    ListOperators,
    RevokeOperator,
}

impl Rpc {
    pub const ALL: [Rpc; 36] = [
        Rpc::CreateEnrollmentToken,
        Rpc::ListHosts,
        Rpc::GetHost,
        Rpc::RevokeHost,
        Rpc::CreateCommand,
        Rpc::ListCommands,
        Rpc::StartAssessment,
        Rpc::GetAssessmentRun,
        Rpc::GetAssessmentReport,
        Rpc::ShowAssessment,
        Rpc::DiffAssessments,
        Rpc::RecommendSku,
        Rpc::SetHostLabels,
        Rpc::AddTarget,
        Rpc::ListTargets,
        Rpc::RemoveTarget,
        Rpc::TestConnection,
        Rpc::GetConnectionTests,
        Rpc::StartMigration,
        Rpc::ListMigrations,
        Rpc::GetMigration,
        Rpc::RetryMigration,
        Rpc::CancelMigration,
        Rpc::StartCutover,
        Rpc::StartWaveCutover,
        Rpc::CancelCutover,
        Rpc::ApproveCutover,
        Rpc::ApplyPlan,
        Rpc::ShowPlan,
        Rpc::ApproveWave,
        Rpc::PauseWave,
        Rpc::ResumeWave,
        Rpc::ListAudit,
        Rpc::RenewOperatorCertificate,
        Rpc::ListOperators,
        Rpc::RevokeOperator,
    ];

    /// The least role the RPC needs.
    pub fn role(self) -> Role {
        match self {
            Rpc::ListHosts
            | Rpc::GetHost
            | Rpc::ListCommands
            | Rpc::GetAssessmentRun
            | Rpc::GetAssessmentReport
            | Rpc::ShowAssessment
            | Rpc::DiffAssessments
            | Rpc::RecommendSku
            | Rpc::ListTargets
            | Rpc::GetConnectionTests
            | Rpc::ListMigrations
            | Rpc::GetMigration
            | Rpc::ShowPlan
            | Rpc::ListAudit
            | Rpc::RenewOperatorCertificate => Role::Viewer,
            Rpc::CreateEnrollmentToken
            | Rpc::CreateCommand
            | Rpc::StartAssessment
            | Rpc::SetHostLabels
            | Rpc::AddTarget
            | Rpc::RemoveTarget
            | Rpc::TestConnection
            | Rpc::StartMigration
            | Rpc::RetryMigration
            | Rpc::CancelMigration
            | Rpc::StartCutover
            | Rpc::StartWaveCutover
            | Rpc::CancelCutover
            | Rpc::ApplyPlan
            | Rpc::PauseWave
            | Rpc::ResumeWave => Role::Operator,
            Rpc::ApproveCutover | Rpc::ApproveWave => Role::Approver,
            Rpc::RevokeHost | Rpc::ListOperators | Rpc::RevokeOperator => Role::Admin,
        }
    }

    /// The RPC's name in the contract (`ferry.operator.v1.Operator/<name>`).
    pub fn name(self) -> &'static str {
        match self {
            Rpc::CreateEnrollmentToken => "CreateEnrollmentToken",
            Rpc::ListHosts => "ListHosts",
            Rpc::GetHost => "GetHost",
            Rpc::RevokeHost => "RevokeHost",
            Rpc::CreateCommand => "CreateCommand",
            Rpc::ListCommands => "ListCommands",
            Rpc::StartAssessment => "StartAssessment",
            Rpc::GetAssessmentRun => "GetAssessmentRun",
            Rpc::GetAssessmentReport => "GetAssessmentReport",
            Rpc::ShowAssessment => "ShowAssessment",
            Rpc::DiffAssessments => "DiffAssessments",
            Rpc::RecommendSku => "RecommendSku",
            Rpc::SetHostLabels => "SetHostLabels",
            Rpc::AddTarget => "AddTarget",
            Rpc::ListTargets => "ListTargets",
            Rpc::RemoveTarget => "RemoveTarget",
            Rpc::TestConnection => "TestConnection",
            Rpc::GetConnectionTests => "GetConnectionTests",
            Rpc::StartMigration => "StartMigration",
            Rpc::ListMigrations => "ListMigrations",
            Rpc::GetMigration => "GetMigration",
            Rpc::RetryMigration => "RetryMigration",
            Rpc::CancelMigration => "CancelMigration",
            Rpc::StartCutover => "StartCutover",
            Rpc::StartWaveCutover => "StartWaveCutover",
            Rpc::CancelCutover => "CancelCutover",
            Rpc::ApproveCutover => "ApproveCutover",
            Rpc::ApplyPlan => "ApplyPlan",
            Rpc::ShowPlan => "ShowPlan",
            Rpc::ApproveWave => "ApproveWave",
            Rpc::PauseWave => "PauseWave",
            Rpc::ResumeWave => "ResumeWave",
            Rpc::ListAudit => "ListAudit",
            Rpc::RenewOperatorCertificate => "RenewOperatorCertificate",
            Rpc::ListOperators => "ListOperators",
            Rpc::RevokeOperator => "RevokeOperator",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Rpc;

    /// The table covers the contract: every RPC the .proto declares, once.
    #[test]
    fn every_rpc_of_the_contract_is_in_the_table() {
        let proto = include_str!("../../../proto/ferry/operator/v1/operator.proto");
        let declared: Vec<&str> = proto
            .lines()
            .filter_map(|l| l.trim().strip_prefix("rpc "))
            .filter_map(|l| l.split('(').next())
            .collect();
        let mut named: Vec<&str> = Rpc::ALL.iter().map(|r| r.name()).collect();
        let mut declared_sorted = declared.clone();
        declared_sorted.sort_unstable();
        named.sort_unstable();
        assert_eq!(named, declared_sorted);
    }
}
