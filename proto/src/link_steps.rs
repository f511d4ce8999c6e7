//! The MI link's journaled steps, one vocabulary for the agent (which runs SQL Server's
//! steps by these names) and the control plane (which journals every step and runs
//! Azure's and its own). A step's name is what the journal stores and what a
//! `RunLinkSteps` command carries; its side says who runs it.

/// Where a step runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Side {
    /// On SQL Server, by the agent.
    Agent,
    /// On Azure, through ARM (the control plane alone holds an Azure credential).
    Arm,
    /// In the control plane itself: the cutover's checks (gates, the MI over TDS).
    Control,
}

/// Every step of the link's set-up, teardown, cutover (planned and forced) and a
/// cutover's rollback.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LinkStep {
    Database,
    MasterKey,
    EndpointCertificate,
    MirroringEndpoint,
    UploadCertificate,
    ReadMiCertificate,
    MiCertificate,
    RootTrust,
    AvailabilityGroup,
    DistributedAvailabilityGroup,
    CreateLink,
    DeleteLink,
    DropDistributedAvailabilityGroup,
    DropAvailabilityGroup,
    DropMiCertificate,
    DeleteTrustCertificate,
    SynchronousCommit,
    MiSynchronousCommit,
    Failover,
    VerifyOnMi,
    ApplicationHook,
    MiFullBackup,
    DemoteSqlServer,
    MiAsynchronousCommit,
    AsynchronousCommit,
}

impl LinkStep {
    pub const ALL: [LinkStep; 25] = [
        LinkStep::Database,
        LinkStep::MasterKey,
        LinkStep::EndpointCertificate,
        LinkStep::MirroringEndpoint,
        LinkStep::UploadCertificate,
        LinkStep::ReadMiCertificate,
        LinkStep::MiCertificate,
        LinkStep::RootTrust,
        LinkStep::AvailabilityGroup,
        LinkStep::DistributedAvailabilityGroup,
        LinkStep::CreateLink,
        LinkStep::DeleteLink,
        LinkStep::DropDistributedAvailabilityGroup,
        LinkStep::DropAvailabilityGroup,
        LinkStep::DropMiCertificate,
        LinkStep::DeleteTrustCertificate,
        LinkStep::SynchronousCommit,
        LinkStep::MiSynchronousCommit,
        LinkStep::Failover,
        LinkStep::VerifyOnMi,
        LinkStep::ApplicationHook,
        LinkStep::MiFullBackup,
        LinkStep::DemoteSqlServer,
        LinkStep::MiAsynchronousCommit,
        LinkStep::AsynchronousCommit,
    ];

    /// The name the journal stores and commands carry.
    pub const fn name(self) -> &'static str {
        match self {
            LinkStep::Database => "database",
            LinkStep::MasterKey => "master_key",
            LinkStep::EndpointCertificate => "endpoint_certificate",
            LinkStep::MirroringEndpoint => "mirroring_endpoint",
            LinkStep::UploadCertificate => "upload_certificate",
            LinkStep::ReadMiCertificate => "read_mi_certificate",
            LinkStep::MiCertificate => "mi_certificate",
            LinkStep::RootTrust => "root_trust",
            LinkStep::AvailabilityGroup => "availability_group",
            LinkStep::DistributedAvailabilityGroup => "distributed_availability_group",
            LinkStep::CreateLink => "create_link",
            LinkStep::DeleteLink => "delete_link",
            LinkStep::DropDistributedAvailabilityGroup => "drop_distributed_availability_group",
            LinkStep::DropAvailabilityGroup => "drop_availability_group",
            LinkStep::DropMiCertificate => "drop_mi_certificate",
            LinkStep::DeleteTrustCertificate => "delete_trust_certificate",
            LinkStep::SynchronousCommit => "synchronous_commit",
            LinkStep::MiSynchronousCommit => "mi_synchronous_commit",
            LinkStep::Failover => "failover",
            LinkStep::VerifyOnMi => "verify_on_mi",
            LinkStep::ApplicationHook => "application_hook",
            LinkStep::MiFullBackup => "mi_full_backup",
            LinkStep::DemoteSqlServer => "demote_sql_server",
            LinkStep::MiAsynchronousCommit => "mi_asynchronous_commit",
            LinkStep::AsynchronousCommit => "asynchronous_commit",
        }
    }

    /// Who runs it.
    pub const fn side(self) -> Side {
        match self {
            LinkStep::Database
            | LinkStep::MasterKey
            | LinkStep::EndpointCertificate
            | LinkStep::MirroringEndpoint
            | LinkStep::MiCertificate
            | LinkStep::RootTrust
            | LinkStep::AvailabilityGroup
            | LinkStep::DistributedAvailabilityGroup
            | LinkStep::DropDistributedAvailabilityGroup
            | LinkStep::DropAvailabilityGroup
            | LinkStep::DropMiCertificate
            | LinkStep::SynchronousCommit
            | LinkStep::DemoteSqlServer
            | LinkStep::AsynchronousCommit => Side::Agent,
            LinkStep::UploadCertificate
            | LinkStep::ReadMiCertificate
            | LinkStep::CreateLink
            | LinkStep::DeleteLink
            | LinkStep::DeleteTrustCertificate
            | LinkStep::MiSynchronousCommit
            | LinkStep::Failover
            | LinkStep::MiAsynchronousCommit => Side::Arm,
            LinkStep::VerifyOnMi | LinkStep::ApplicationHook | LinkStep::MiFullBackup => {
                Side::Control
            }
        }
    }

    /// The step of a stored or sent name; None for a name this build does not know
    /// (a newer peer's).
    pub fn parse(name: &str) -> Option<LinkStep> {
        LinkStep::ALL.into_iter().find(|step| step.name() == name)
    }
}

#[cfg(test)]
mod tests {
    use super::LinkStep;

    #[test]
    fn names_are_distinct_and_parse_back() {
        for step in LinkStep::ALL {
            assert_eq!(LinkStep::parse(step.name()), Some(step));
        }
        let mut names: Vec<_> = LinkStep::ALL.iter().map(|s| s.name()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), LinkStep::ALL.len());
        assert_eq!(LinkStep::parse("from_a_newer_release"), None);
    }
}
