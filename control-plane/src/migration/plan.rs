//! The link's set-up, in the order mi-link.md §2 gives it; its teardown; the cutover,
//! planned or forced, and the rollback of a cutover cancelled before its failover. SQL Server's steps run on
//! the agent (consecutive ones in one `RunLinkSteps` command); Azure's run in the
//! control plane, which alone holds an Azure credential.

/// Where a step runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// On SQL Server, by the agent; the name is the agent's step name.
    Agent,
    /// On Azure, through ARM.
    Arm,
    /// In the control plane itself: the cutover's checks (gates, the MI over TDS).
    Control,
}

/// (name, side), in order.
pub const STEPS: [(&str, Side); 11] = [
    ("database", Side::Agent),
    ("master_key", Side::Agent),
    ("endpoint_certificate", Side::Agent),
    ("mirroring_endpoint", Side::Agent),
    (UPLOAD_CERTIFICATE, Side::Arm),
    (READ_MI_CERTIFICATE, Side::Arm),
    ("mi_certificate", Side::Agent),
    ("root_trust", Side::Agent),
    ("availability_group", Side::Agent),
    ("distributed_availability_group", Side::Agent),
    (CREATE_LINK, Side::Arm),
];

/// SQL Server's endpoint certificate uploaded to the MI as a server trust certificate.
pub const UPLOAD_CERTIFICATE: &str = "upload_certificate";
/// The MI's endpoint certificate read from Azure, for SQL Server to import.
pub const READ_MI_CERTIFICATE: &str = "read_mi_certificate";
/// The link resource (distributedAvailabilityGroups) created on the MI.
pub const CREATE_LINK: &str = "create_link";

/// Undoing the link (`ferry migrate cancel`), in order: Azure's side first (SQL
/// Server's distributed AG outlives it and is dropped next), then SQL Server's
/// groups; the certificates last, and only those Ferry made that no other migration
/// of the instance to the target uses (the control plane leaves the others out).
pub const TEARDOWN: [(&str, Side); 5] = [
    (DELETE_LINK, Side::Arm),
    (DROP_DISTRIBUTED_AG, Side::Agent),
    (DROP_AVAILABILITY_GROUP, Side::Agent),
    (DROP_MI_CERTIFICATE, Side::Agent),
    (DELETE_TRUST_CERTIFICATE, Side::Arm),
];

/// The link resource deleted on the MI.
pub const DELETE_LINK: &str = "delete_link";
/// SQL Server's distributed AG (the link's side there) and its `AG_<db>` dropped.
pub const DROP_DISTRIBUTED_AG: &str = "drop_distributed_availability_group";
pub const DROP_AVAILABILITY_GROUP: &str = "drop_availability_group";
/// The MI's certificate dropped on SQL Server.
pub const DROP_MI_CERTIFICATE: &str = "drop_mi_certificate";
/// SQL Server's certificate removed from the MI's server trust certificates.
pub const DELETE_TRUST_CERTIFICATE: &str = "delete_trust_certificate";

/// The cutover (mi-link.md §4.2), in order: synchronous commit on SQL Server's side
/// and then Azure's; the planned failover, made only once every gate holds
/// (`cutover::gates`); the database checked ONLINE and writable on the MI; its cutover
/// group's application hook run (`cutover::hook`); the MI's first full backup awaited; then the link removed on Azure's side and SQL Server's
/// distributed AG dropped (its `AG_<db>` and certificates stay, like the SSMS
/// wizard's "Remove link after successful failover").
pub const CUTOVER: [(&str, Side); 8] = [
    ("synchronous_commit", Side::Agent),
    (MI_SYNCHRONOUS_COMMIT, Side::Arm),
    (FAILOVER, Side::Arm),
    (VERIFY_ON_MI, Side::Control),
    (APPLICATION_HOOK, Side::Control),
    (MI_FULL_BACKUP, Side::Control),
    (DELETE_LINK, Side::Arm),
    (DROP_DISTRIBUTED_AG, Side::Agent),
];

/// A forced cutover (`ferry cutover ID --allow-data-loss --reason ...`, mi-link.md
/// §4.1, §4.4): no switch to synchronous commit and no wait for the link — ARM's
/// `ForcedAllowDataLoss` once the operator's approvers agree, the LSN gap recorded;
/// then the database checked on the MI, SQL Server's member of the distributed AG
/// set SECONDARY after a tail-log backup (so both sides are not primary: split
/// brain), and the rest as a planned cutover.
pub const FORCED_CUTOVER: [(&str, Side); 6] = [
    (FAILOVER, Side::Arm),
    (VERIFY_ON_MI, Side::Control),
    ("demote_sql_server", Side::Agent),
    (MI_FULL_BACKUP, Side::Control),
    (DELETE_LINK, Side::Arm),
    (DROP_DISTRIBUTED_AG, Side::Agent),
];

/// A cutover cancelled before its failover: both sides back to asynchronous commit.
pub const ROLLBACK: [(&str, Side); 2] = [
    (MI_ASYNCHRONOUS_COMMIT, Side::Arm),
    ("asynchronous_commit", Side::Agent),
];

pub const MI_SYNCHRONOUS_COMMIT: &str = "mi_synchronous_commit";
pub const MI_ASYNCHRONOUS_COMMIT: &str = "mi_asynchronous_commit";
/// ARM's planned failover, once the gates hold.
pub const FAILOVER: &str = "failover";
/// The database ONLINE and writable on the MI.
pub const VERIFY_ON_MI: &str = "verify_on_mi";
/// A cutover group's application hook, once every member is verified on its MI.
pub const APPLICATION_HOOK: &str = "application_hook";
/// The MI's first full backup of the database, before the link may go.
pub const MI_FULL_BACKUP: &str = "mi_full_backup";

/// The names of a list of steps.
pub fn names(steps: &[(&'static str, Side)]) -> Vec<&'static str> {
    steps.iter().map(|(name, _)| *name).collect()
}

pub fn side(name: &str) -> Option<Side> {
    STEPS
        .iter()
        .chain(TEARDOWN.iter())
        .chain(CUTOVER.iter())
        .chain(FORCED_CUTOVER.iter())
        .chain(ROLLBACK.iter())
        .find(|(n, _)| *n == name)
        .map(|(_, side)| *side)
}
