//! One file per step of the link's set-up on SQL Server, each with `inspect` (what is
//! in place) and `apply` (make the missing part):
//!
//! - [`database`]: FULL recovery and a full backup (verified; recovery changed only
//!   when allowed; a backup is never taken by Ferry).
//! - [`master_key`]: the master database's key, its password kept on this host.
//! - [`certificate`]: the endpoint certificate `Cert_<server>_endpoint`.
//! - [`endpoint`]: the database mirroring endpoint, created or (when allowed) fixed.
//! - [`mi_certificate`]: the MI's endpoint certificate, imported under the MI's FQDN.
//! - [`root_trust`]: Azure's root CAs imported and trusted as issuers for
//!   `*.database.windows.net` (the PEMs in `roots/`).
//! - [`availability_group`]: `AG_<db>` with this instance as its one replica.
//! - [`distributed`]: the distributed AG (the link) between `AG_<db>` and the MI.
//! - [`teardown`]: dropping them again (`ferry migrate cancel`).
//! - [`commit_mode`]: the distributed AG switched to synchronous commit for a cutover
//!   (and back when it is cancelled before the failover).
//! - [`demote`]: after a forced failover, SQL Server's member set SECONDARY (split
//!   brain ended) after a copy-only tail-log backup.

pub mod availability_group;
pub mod certificate;
pub mod commit_mode;
pub mod database;
pub mod demote;
pub mod distributed;
pub mod endpoint;
pub mod master_key;
pub mod mi_certificate;
pub mod root_trust;
pub mod teardown;
