//! Long-running operations, as ARM runs them: the request is answered 202 with
//! `Azure-AsyncOperation` and `Location` URLs to poll; the change happens when the
//! operation completes, after a realistic delay divided by the lab's speed, on the lab
//! clock (so a test moves time instead of waiting).

use std::sync::Arc;
use std::time::Duration;

use super::super::link::{Failover, Link, TrustCertificate};
use super::super::ManagedInstance;
use super::{LINKS, TRUST};

/// What an operation does to its managed instance's resources when it completes.
#[derive(Clone)]
pub enum Change {
    PutTrust(TrustCertificate),
    DeleteTrust(String),
    PutLink(Box<Link>),
    SetReplicationMode {
        link: String,
        sync: bool,
    },
    Failover {
        link: String,
        kind: Failover,
    },
    DeleteLink(String),
    /// The managed instance's own compute and storage (Managed Instances - Update).
    Scale {
        vcores: u32,
        storage_gb: u32,
    },
}

impl Change {
    /// How long Azure takes for each kind of change (before the lab's speed applies).
    pub fn duration(&self) -> Duration {
        Duration::from_secs(match self {
            Change::PutTrust(_) | Change::DeleteTrust(_) => 30,
            Change::PutLink(_) => 90,
            Change::SetReplicationMode { .. } => 20,
            Change::Failover { .. } => 30,
            Change::DeleteLink(_) => 45,
            // Scaling a General Purpose instance takes hours; the lab's speed applies.
            Change::Scale { .. } => 3600,
        })
    }

    /// What the operation URLs are named after: the resource type the change is to.
    pub fn kind(&self) -> &'static str {
        match self {
            Change::PutTrust(_) | Change::DeleteTrust(_) => TRUST,
            Change::Scale { .. } => "managedInstance",
            _ => LINKS,
        }
    }

    /// The child resource the change is to (type and name); None for the managed
    /// instance itself.
    pub fn child(&self) -> Option<(&'static str, &str)> {
        Some((self.kind(), self.name()?))
    }

    /// The name of the child resource the change is to.
    pub fn name(&self) -> Option<&str> {
        match self {
            Change::PutTrust(c) => Some(&c.name),
            Change::PutLink(l) => Some(&l.name),
            Change::SetReplicationMode { link, .. } | Change::Failover { link, .. } => Some(link),
            Change::DeleteTrust(name) | Change::DeleteLink(name) => Some(name),
            Change::Scale { .. } => None,
        }
    }

    pub fn is_delete(&self) -> bool {
        matches!(self, Change::DeleteTrust(_) | Change::DeleteLink(_))
    }
}

/// An operation's status. Changes succeed once accepted (the request is refused up
/// front otherwise; a link's problems show in its state), except a planned failover,
/// which fails when the link is not ready for it when it runs.
pub enum Status {
    InProgress,
    Succeeded,
    /// ARM's error code and message.
    Failed(&'static str, String),
}

impl Status {
    pub fn name(&self) -> &'static str {
        match self {
            Status::InProgress => "InProgress",
            Status::Succeeded => "Succeeded",
            Status::Failed(..) => "Failed",
        }
    }
}

pub struct Operation {
    pub id: String,
    pub mi: Arc<ManagedInstance>,
    pub change: Change,
    /// The ARM id of the resource the change is to.
    pub resource_id: String,
    pub started: String,
    pub completes_at: Duration,
    pub status: Status,
}
