//! The link's set-up, in the order mi-link.md §2 gives it; its teardown; the cutover,
//! planned or forced, and the rollback of a cutover cancelled before its failover. SQL Server's steps run on
//! the agent (consecutive ones in one `RunLinkSteps` command); Azure's run in the
//! control plane, which alone holds an Azure credential.

pub use ferry_proto::link_steps::{LinkStep, Side};

/// A step as the lists below hold it: its name and side.
const fn step(step: LinkStep) -> (&'static str, Side) {
    (step.name(), step.side())
}

/// (name, side), in order.
pub const STEPS: [(&str, Side); 11] = [
    step(LinkStep::Database),
    step(LinkStep::MasterKey),
    step(LinkStep::EndpointCertificate),
    step(LinkStep::MirroringEndpoint),
    step(LinkStep::UploadCertificate),
    step(LinkStep::ReadMiCertificate),
    step(LinkStep::MiCertificate),
    step(LinkStep::RootTrust),
    step(LinkStep::AvailabilityGroup),
    step(LinkStep::DistributedAvailabilityGroup),
    step(LinkStep::CreateLink),
];

/// SQL Server's endpoint certificate uploaded to the MI as a server trust certificate.
pub const UPLOAD_CERTIFICATE: &str = LinkStep::UploadCertificate.name();
/// The MI's endpoint certificate read from Azure, for SQL Server to import.
pub const READ_MI_CERTIFICATE: &str = LinkStep::ReadMiCertificate.name();
/// The link resource (distributedAvailabilityGroups) created on the MI.
pub const CREATE_LINK: &str = LinkStep::CreateLink.name();

/// Undoing the link (`ferry migrate cancel`), in order: Azure's side first (SQL
/// Server's distributed AG outlives it and is dropped next), then SQL Server's
/// groups; the certificates last, and only those Ferry made that no other migration
/// of the instance to the target uses (the control plane leaves the others out).
pub const TEARDOWN: [(&str, Side); 5] = [
    step(LinkStep::DeleteLink),
    step(LinkStep::DropDistributedAvailabilityGroup),
    step(LinkStep::DropAvailabilityGroup),
    step(LinkStep::DropMiCertificate),
    step(LinkStep::DeleteTrustCertificate),
];

/// The link resource deleted on the MI.
pub const DELETE_LINK: &str = LinkStep::DeleteLink.name();
/// SQL Server's distributed AG (the link's side there) and its `AG_<db>` dropped.
pub const DROP_DISTRIBUTED_AG: &str = LinkStep::DropDistributedAvailabilityGroup.name();
pub const DROP_AVAILABILITY_GROUP: &str = LinkStep::DropAvailabilityGroup.name();
/// The MI's certificate dropped on SQL Server.
pub const DROP_MI_CERTIFICATE: &str = LinkStep::DropMiCertificate.name();
/// SQL Server's certificate removed from the MI's server trust certificates.
pub const DELETE_TRUST_CERTIFICATE: &str = LinkStep::DeleteTrustCertificate.name();

/// The cutover (mi-link.md §4.2), in order: synchronous commit on SQL Server's side
/// and then Azure's; the planned failover, made only once every gate holds
/// (`cutover::gates`); the database checked ONLINE and writable on the MI; its cutover
/// group's application hook run (`cutover::hook`); the MI's first full backup awaited; then the link removed on Azure's side and SQL Server's
/// distributed AG dropped (its `AG_<db>` and certificates stay, like the SSMS
/// wizard's "Remove link after successful failover").
pub const CUTOVER: [(&str, Side); 8] = [
    step(LinkStep::SynchronousCommit),
    step(LinkStep::MiSynchronousCommit),
    step(LinkStep::Failover),
    step(LinkStep::VerifyOnMi),
    step(LinkStep::ApplicationHook),
    step(LinkStep::MiFullBackup),
    step(LinkStep::DeleteLink),
    step(LinkStep::DropDistributedAvailabilityGroup),
];

/// A forced cutover (`ferry cutover ID --allow-data-loss --reason ...`, mi-link.md
/// §4.1, §4.4): no switch to synchronous commit and no wait for the link — ARM's
/// `ForcedAllowDataLoss` once the operator's approvers agree, the LSN gap recorded;
/// then the database checked on the MI, SQL Server's member of the distributed AG
/// set SECONDARY after a tail-log backup (so both sides are not primary: split
/// brain), and the rest as a planned cutover.
pub const FORCED_CUTOVER: [(&str, Side); 6] = [
    step(LinkStep::Failover),
    step(LinkStep::VerifyOnMi),
    step(LinkStep::DemoteSqlServer),
    step(LinkStep::MiFullBackup),
    step(LinkStep::DeleteLink),
    step(LinkStep::DropDistributedAvailabilityGroup),
];

/// A cutover cancelled before its failover: both sides back to asynchronous commit.
pub const ROLLBACK: [(&str, Side); 2] = [
    step(LinkStep::MiAsynchronousCommit),
    step(LinkStep::AsynchronousCommit),
];

pub const MI_SYNCHRONOUS_COMMIT: &str = LinkStep::MiSynchronousCommit.name();
pub const MI_ASYNCHRONOUS_COMMIT: &str = LinkStep::MiAsynchronousCommit.name();
/// ARM's planned failover, once the gates hold.
pub const FAILOVER: &str = LinkStep::Failover.name();
/// The database ONLINE and writable on the MI.
pub const VERIFY_ON_MI: &str = LinkStep::VerifyOnMi.name();
/// A cutover group's application hook, once every member is verified on its MI.
pub const APPLICATION_HOOK: &str = LinkStep::ApplicationHook.name();
/// The MI's first full backup of the database, before the link may go.
pub const MI_FULL_BACKUP: &str = LinkStep::MiFullBackup.name();

/// The names of a list of steps.
pub fn names(steps: &[(&'static str, Side)]) -> Vec<&'static str> {
    steps.iter().map(|(name, _)| *name).collect()
}

pub fn side(name: &str) -> Option<Side> {
    LinkStep::parse(name).map(LinkStep::side)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_link_step_is_in_a_list_on_its_side() {
        let lists = [&STEPS[..], &TEARDOWN, &CUTOVER, &FORCED_CUTOVER, &ROLLBACK];
        for step in LinkStep::ALL {
            assert!(
                lists
                    .iter()
                    .any(|l| l.contains(&(step.name(), step.side()))),
                "{step:?} is in no list"
            );
        }
    }
}
