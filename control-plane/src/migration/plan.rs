//! The link's set-up, in the order mi-link.md §2 gives it. SQL Server's steps run on
//! the agent (consecutive ones in one `RunLinkSteps` command); Azure's run in the
//! control plane, which alone holds an Azure credential.

/// Where a step runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// On SQL Server, by the agent; the name is the agent's step name.
    Agent,
    /// On Azure, through ARM.
    Arm,
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
    ("drop_distributed_availability_group", Side::Agent),
    ("drop_availability_group", Side::Agent),
    (DROP_MI_CERTIFICATE, Side::Agent),
    (DELETE_TRUST_CERTIFICATE, Side::Arm),
];

/// The link resource deleted on the MI.
pub const DELETE_LINK: &str = "delete_link";
/// The MI's certificate dropped on SQL Server.
pub const DROP_MI_CERTIFICATE: &str = "drop_mi_certificate";
/// SQL Server's certificate removed from the MI's server trust certificates.
pub const DELETE_TRUST_CERTIFICATE: &str = "delete_trust_certificate";

pub fn side(name: &str) -> Option<Side> {
    STEPS
        .iter()
        .chain(TEARDOWN.iter())
        .find(|(n, _)| *n == name)
        .map(|(_, side)| *side)
}
