//! What a link partner sees of this instance: the facts a managed instance checks when
//! its side of the MI link connects here (mi-link.md §2.1, §7). Read-only; the link's
//! rules live with the managed instance (`crate::azure::link`). The one change made
//! here is the lab's certificate-expiry fault (`crate::faults`).

use std::net::SocketAddr;

use rusqlite::{params, OptionalExtension};

use crate::engine::cached::Cached;

use super::{Catalog, Instance};

/// The mirroring endpoint a connection to an address reaches.
#[derive(Debug, Clone)]
pub struct EndpointFacts {
    pub started: bool,
    /// `connection_auth_desc` names CERTIFICATE.
    pub certificate_auth: bool,
    /// Encryption enabled with an AES algorithm.
    pub aes: bool,
    /// The endpoint's certificate (DER), when it authenticates with one.
    pub certificate: Option<Vec<u8>>,
}

/// A member of a distributed availability group, as the DAG lists it.
#[derive(Debug, Clone)]
pub struct MemberFacts {
    pub name: String,
    pub listener_url: String,
}

/// A database the link would seed.
#[derive(Debug, Clone)]
pub struct DatabaseFacts {
    pub full_recovery: bool,
    /// A full backup that is not COPY_ONLY exists (the start of a log chain).
    pub full_backup: bool,
}

impl Instance {
    /// The mirroring endpoint listening on `address`, if this instance has one.
    pub fn mirroring_endpoint_at(&self, address: SocketAddr) -> Option<EndpointFacts> {
        let catalog = self.definitions();
        let id = catalog.endpoint_at(address)?;
        catalog
            .conn
            .one(
                "SELECT e.state_desc, e.connection_auth_desc, e.is_encryption_enabled, e.encryption_algorithm_desc, c.\"$der\"
                 FROM \"sys.database_mirroring_endpoints\" e
                 LEFT JOIN \"sys.certificates\" c ON c.\"$database_id\" = 1 AND c.certificate_id = e.certificate_id
                 WHERE e.endpoint_id = ?1",
                [id],
                |r| {
                    let state: String = r.get(0)?;
                    let auth: String = r.get(1)?;
                    let encrypted: bool = r.get(2)?;
                    let algorithm: Option<String> = r.get(3)?;
                    Ok(EndpointFacts {
                        started: state == "STARTED",
                        certificate_auth: auth.contains("CERTIFICATE"),
                        aes: encrypted && algorithm.is_some_and(|a| a.starts_with("AES")),
                        certificate: r.get(4)?,
                    })
                },
            )
            .ok()
    }

    /// Ends the validity of master's certificate `name` now (the lab's fault: the
    /// certificate expired): `sys.certificates.expiry_date` says so, and its DER is
    /// returned for the partner's check. None if there is no such certificate.
    pub fn expire_certificate(&self, name: &str) -> Option<Vec<u8>> {
        let now = self.now_text();
        let catalog = self.definitions();
        catalog
            .conn
            .one(
                "UPDATE \"sys.certificates\" SET expiry_date = ?2
                 WHERE \"$database_id\" = 1 AND name = ?1 RETURNING \"$der\"",
                params![name, now],
                |r| r.get(0),
            )
            .optional()
            .ok()
            .flatten()
    }

    /// The public certificate (DER) named `name` in master, if any.
    pub fn master_certificate(&self, name: &str) -> Option<Vec<u8>> {
        self.definitions()
            .conn
            .one(
                "SELECT \"$der\" FROM \"sys.certificates\" WHERE \"$database_id\" = 1 AND name = ?1",
                [name],
                |r| r.get(0),
            )
            .optional()
            .ok()
            .flatten()
    }

    /// The members of distributed availability group `name`; None if there is none.
    pub fn distributed_group_members(&self, name: &str) -> Option<Vec<MemberFacts>> {
        let catalog = self.definitions();
        let group = group_id(&catalog, name, true)?;
        catalog
            .conn
            .prepare_cached("SELECT replica_server_name, endpoint_url FROM \"sys.availability_replicas\" WHERE group_id = ?1")
            .and_then(|mut s| {
                s.query_map([&group], |r| {
                    Ok(MemberFacts {
                        name: r.get(0)?,
                        listener_url: r.get::<_, Option<String>>(1)?.unwrap_or_default(),
                    })
                })?
                .collect()
            })
            .ok()
    }

    /// The databases of availability group `name` (not distributed); None if there
    /// is no such group.
    pub fn group_databases(&self, name: &str) -> Option<Vec<String>> {
        let catalog = self.definitions();
        let group = group_id(&catalog, name, false)?;
        catalog
            .conn
            .prepare_cached("SELECT database_name FROM \"sys.availability_databases_cluster\" WHERE group_id = ?1")
            .and_then(|mut s| s.query_map([&group], |r| r.get(0))?.collect())
            .ok()
    }

    pub fn database_facts(&self, name: &str) -> Option<DatabaseFacts> {
        let catalog = self.definitions();
        let full_recovery: bool = catalog
            .conn
            .one(
                "SELECT recovery_model = 1 FROM \"sys.databases\" WHERE name = ?1",
                [name],
                |r| r.get(0),
            )
            .ok()?;
        let full_backup: bool = catalog
            .conn
            .one(
                "SELECT EXISTS (SELECT 1 FROM \"msdb.dbo.backupset\" WHERE database_name = ?1 AND type = 'D' AND is_copy_only = 0)",
                params![name],
                |r| r.get(0),
            )
            .ok()?;
        Some(DatabaseFacts {
            full_recovery,
            full_backup,
        })
    }
}

/// The id of availability group `name`, distributed or not.
fn group_id(catalog: &Catalog, name: &str, distributed: bool) -> Option<String> {
    catalog
        .conn
        .one(
            "SELECT group_id FROM \"sys.availability_groups\" WHERE name = ?1 AND is_distributed = ?2",
            params![name, distributed],
            |r| r.get(0),
        )
        .ok()
}
