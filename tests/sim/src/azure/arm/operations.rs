//! Long-running operations, as ARM runs them: the request is answered 201/202 with
//! `Azure-AsyncOperation` and `Location` URLs to poll; the change happens when the
//! operation completes, after a realistic delay divided by the lab's speed, on the lab
//! clock (so a test moves time instead of waiting).

use std::time::Duration;

use super::super::link::{Link, TrustCertificate};

/// What an operation does when it completes.
#[derive(Debug, Clone)]
pub enum Change {
    PutTrust {
        mi: String,
        certificate: TrustCertificate,
    },
    DeleteTrust {
        mi: String,
        name: String,
    },
    PutLink {
        mi: String,
        link: Box<Link>,
    },
    SetReplicationMode {
        mi: String,
        link: String,
        sync: bool,
    },
    DeleteLink {
        mi: String,
        link: String,
    },
}

/// How long Azure takes for each kind of change (before the lab's speed applies).
impl Change {
    pub fn duration(&self) -> Duration {
        Duration::from_secs(match self {
            Change::PutTrust { .. } | Change::DeleteTrust { .. } => 30,
            Change::PutLink { .. } => 90,
            Change::SetReplicationMode { .. } => 20,
            Change::DeleteLink { .. } => 45,
        })
    }

    /// The resource type the operation URLs are named after.
    pub fn kind(&self) -> &'static str {
        match self {
            Change::PutTrust { .. } | Change::DeleteTrust { .. } => "serverTrustCertificates",
            _ => "distributedAvailabilityGroups",
        }
    }

    pub fn is_delete(&self) -> bool {
        matches!(self, Change::DeleteTrust { .. } | Change::DeleteLink { .. })
    }
}

/// An operation's status. Every change the lab models succeeds once it is accepted
/// (the request is refused up front otherwise); a link's problems show in its state.
#[derive(Debug)]
pub enum Status {
    InProgress,
    Succeeded,
}

#[derive(Debug)]
pub struct Operation {
    pub id: String,
    pub change: Change,
    /// The resource the operation creates or changes (its ARM id).
    pub resource_id: String,
    pub started: String,
    pub completes_at: Duration,
    pub status: Status,
}

impl Status {
    pub fn name(&self) -> &'static str {
        match self {
            Status::InProgress => "InProgress",
            Status::Succeeded => "Succeeded",
        }
    }
}
