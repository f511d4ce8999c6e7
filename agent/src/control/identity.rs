//! The agent's identity, kept in `<state_dir>/identity/`: `identity.toml` (agent id,
//! name, control-plane URL), `ca.pem`, `cert.pem` and `key.pem` (owner-readable only).
//! Files are replaced atomically (write, then rename), so a crash during renewal leaves
//! either the old or the new certificate, never half of one.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use x509_parser::prelude::FromDer;

#[derive(Clone)]
pub struct Identity {
    pub agent_id: String,
    pub name: String,
    pub control_plane: String,
    pub ca_pem: String,
    pub cert_pem: String,
    pub key_pem: String,
}

#[derive(Serialize, Deserialize)]
struct IdentityFile {
    agent_id: String,
    name: String,
    control_plane: String,
}

#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    #[error("this agent is not enrolled ({path} is missing): run `ferry-agent enroll --control-plane URL --token TOKEN` first")]
    NotEnrolled { path: PathBuf },
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} is corrupt: {reason}")]
    Corrupt { path: PathBuf, reason: String },
}

impl std::fmt::Debug for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Identity")
            .field("agent_id", &self.agent_id)
            .field("name", &self.name)
            .field("control_plane", &self.control_plane)
            .finish_non_exhaustive()
    }
}

pub fn dir(state_dir: &Path) -> PathBuf {
    state_dir.join("identity")
}

impl Identity {
    pub fn load(state_dir: &Path) -> Result<Self, IdentityError> {
        let dir = dir(state_dir);
        let meta_path = dir.join("identity.toml");
        if !meta_path.exists() {
            return Err(IdentityError::NotEnrolled { path: meta_path });
        }
        let read = |name: &str| {
            let path = dir.join(name);
            std::fs::read_to_string(&path).map_err(|source| IdentityError::Read { path, source })
        };
        let meta: IdentityFile =
            toml::from_str(&read("identity.toml")?).map_err(|e| IdentityError::Corrupt {
                path: meta_path.clone(),
                reason: e.to_string(),
            })?;
        Ok(Self {
            agent_id: meta.agent_id,
            name: meta.name,
            control_plane: meta.control_plane,
            ca_pem: read("ca.pem")?,
            cert_pem: read("cert.pem")?,
            key_pem: read("key.pem")?,
        })
    }

    /// Writes every file; the metadata last, so its presence means "enrolled".
    pub fn save(&self, state_dir: &Path) -> Result<(), IdentityError> {
        let dir = dir(state_dir);
        std::fs::create_dir_all(&dir).map_err(|source| IdentityError::Write {
            path: dir.clone(),
            source,
        })?;
        write_atomic(&dir.join("key.pem"), &self.key_pem, true)?;
        write_atomic(&dir.join("ca.pem"), &self.ca_pem, false)?;
        write_atomic(&dir.join("cert.pem"), &self.cert_pem, false)?;
        let meta = IdentityFile {
            agent_id: self.agent_id.clone(),
            name: self.name.clone(),
            control_plane: self.control_plane.clone(),
        };
        let text = toml::to_string(&meta).map_err(|e| IdentityError::Corrupt {
            path: dir.join("identity.toml"),
            reason: e.to_string(),
        })?;
        write_atomic(&dir.join("identity.toml"), &text, false)
    }

    /// The certificate's validity window, in Unix milliseconds.
    pub fn validity_ms(&self) -> Result<(i64, i64), String> {
        certificate_validity_ms(&self.cert_pem)
    }
}

/// (not_before, not_after) of the first certificate in `pem`, in Unix milliseconds.
pub fn certificate_validity_ms(pem: &str) -> Result<(i64, i64), String> {
    use rustls_pki_types::pem::PemObject;
    let der = rustls_pki_types::CertificateDer::from_pem_slice(pem.as_bytes())
        .map_err(|e| format!("certificate PEM: {e}"))?;
    let (_, cert) = x509_parser::certificate::X509Certificate::from_der(&der)
        .map_err(|e| format!("certificate: {e}"))?;
    let validity = cert.validity();
    Ok((
        validity.not_before.timestamp() * 1000,
        validity.not_after.timestamp() * 1000,
    ))
}

fn write_atomic(path: &Path, contents: &str, private: bool) -> Result<(), IdentityError> {
    use std::io::Write;
    let tmp = path.with_extension("tmp");
    let write = || -> std::io::Result<()> {
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        if private {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let mut file = options.open(&tmp)?;
        file.write_all(contents.as_bytes())?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)
    };
    let _ = private;
    write().map_err(|source| IdentityError::Write {
        path: path.to_path_buf(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_keeps_the_key_private() {
        let dir = tempfile::tempdir().unwrap();
        let identity = Identity {
            agent_id: "id".into(),
            name: "host".into(),
            control_plane: "https://cp:7443".into(),
            ca_pem: "ca".into(),
            cert_pem: "cert".into(),
            key_pem: "key".into(),
        };
        assert!(matches!(
            Identity::load(dir.path()),
            Err(IdentityError::NotEnrolled { .. })
        ));
        identity.save(dir.path()).unwrap();
        let loaded = Identity::load(dir.path()).unwrap();
        assert_eq!(
            (loaded.agent_id.as_str(), loaded.key_pem.as_str()),
            ("id", "key")
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(super::dir(dir.path()).join("key.pem"))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o077, 0, "key.pem must not be readable by others");
        }
        assert!(!format!("{loaded:?}").contains("key"));
    }
}
