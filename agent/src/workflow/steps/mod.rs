//! One file per step of the link's set-up on SQL Server, each with `inspect` (what is
//! in place) and `apply` (make the missing part):
//!
//! - [`database`]: FULL recovery and a full backup (verified; recovery changed only
//!   when allowed; a backup is never taken by Ferry).
//! - [`master_key`]: the master database's key, its password kept on this host.
//! - [`certificate`]: the endpoint certificate `Cert_<server>_endpoint`.
//! - [`endpoint`]: the database mirroring endpoint, created or (when allowed) fixed.

pub mod certificate;
pub mod database;
pub mod endpoint;
pub mod master_key;
