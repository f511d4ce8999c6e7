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
pub const STEPS: [(&str, Side); 10] = [
    ("database", Side::Agent),
    ("master_key", Side::Agent),
    ("endpoint_certificate", Side::Agent),
    ("mirroring_endpoint", Side::Agent),
    (UPLOAD_CERTIFICATE, Side::Arm),
    (READ_MI_CERTIFICATE, Side::Arm),
    ("mi_certificate", Side::Agent),
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

pub fn side(name: &str) -> Option<Side> {
    STEPS
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, side)| *side)
}
