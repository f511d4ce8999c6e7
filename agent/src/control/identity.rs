//! The agent's identity, kept in one file, `<state_dir>/identity/identity.toml`
//! (owner-readable only): agent id, name, control-plane URL, and the CA, certificate
//! and key in PEM. It is replaced whole and atomically (written aside, synced, renamed
//! over the old, the folder synced), so a crash during renewal leaves the old identity
//! or the new one, never a new key with the old certificate. Identities written by
//! earlier agents (the PEMs in `ca.pem`, `cert.pem`, `key.pem` beside it) are read,
//! and folded into the one file at the next renewal.

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
    /// Absent in an earlier agent's file: then in `ca.pem`, `cert.pem`, `key.pem`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pem: Option<Pems>,
}

#[derive(Serialize, Deserialize)]
struct Pems {
    ca: String,
    certificate: String,
    key: String,
}

/// The files an earlier agent kept the PEMs in, beside `identity.toml`.
const OLD_PEM_FILES: [&str; 3] = ["ca.pem", "cert.pem", "key.pem"];

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
        let pems = match meta.pem {
            Some(pems) => pems,
            None => Pems {
                ca: read("ca.pem")?,
                certificate: read("cert.pem")?,
                key: read("key.pem")?,
            },
        };
        Ok(Self {
            agent_id: meta.agent_id,
            name: meta.name,
            control_plane: meta.control_plane,
            ca_pem: pems.ca,
            cert_pem: pems.certificate,
            key_pem: pems.key,
        })
    }

    /// Replaces the identity whole, atomically; an earlier agent's PEM files go once
    /// the new file is in place.
    pub fn save(&self, state_dir: &Path) -> Result<(), IdentityError> {
        let dir = dir(state_dir);
        create_private_dir(&dir)?;
        let file = IdentityFile {
            agent_id: self.agent_id.clone(),
            name: self.name.clone(),
            control_plane: self.control_plane.clone(),
            pem: Some(Pems {
                ca: self.ca_pem.clone(),
                certificate: self.cert_pem.clone(),
                key: self.key_pem.clone(),
            }),
        };
        let path = dir.join("identity.toml");
        let text = toml::to_string(&file).map_err(|e| IdentityError::Corrupt {
            path: path.clone(),
            reason: e.to_string(),
        })?;
        write_atomic(&path, &text)?;
        for old in OLD_PEM_FILES {
            let _ = std::fs::remove_file(dir.join(old));
        }
        Ok(())
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

/// The identity's folder, created owner-only (0700).
fn create_private_dir(dir: &Path) -> Result<(), IdentityError> {
    ferry_proto::private_files::create_dir(dir).map_err(|source| IdentityError::Write {
        path: dir.to_path_buf(),
        source,
    })
}

/// Writes `contents` beside `path` (owner-only), syncs it, renames it over `path` and
/// syncs the folder, so `path` holds the old contents or the new, whole.
fn write_atomic(path: &Path, contents: &str) -> Result<(), IdentityError> {
    use std::io::Write;
    let tmp = path.with_extension("tmp");
    let write = || -> std::io::Result<()> {
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let mut file = options.open(&tmp)?;
        file.write_all(contents.as_bytes())?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)?;
        if let Some(dir) = path.parent() {
            std::fs::File::open(dir)?.sync_all()?;
        }
        Ok(())
    };
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
            let identity_dir = super::dir(dir.path());
            let mode = |path: &Path| std::fs::metadata(path).unwrap().permissions().mode();
            assert_eq!(
                mode(&identity_dir.join("identity.toml")) & 0o077,
                0,
                "the key's file must not be readable by others"
            );
            assert_eq!(mode(&identity_dir) & 0o077, 0, "nor its folder");
        }
        assert!(!format!("{loaded:?}").contains("key"));
    }
}

#[cfg(test)]
mod earlier_layout {
    use super::*;

    /// An identity an earlier agent wrote (the PEMs in their own files) loads, and the
    /// next save folds it into one file and removes the loose key.
    #[test]
    fn an_earlier_agents_identity_loads_and_is_folded_into_one_file() {
        let dir = tempfile::tempdir().unwrap();
        let identity_dir = super::dir(dir.path());
        std::fs::create_dir_all(&identity_dir).unwrap();
        std::fs::write(
            identity_dir.join("identity.toml"),
            "agent_id = \"id\"\nname = \"host\"\ncontrol_plane = \"https://cp:7443\"\n",
        )
        .unwrap();
        for (file, text) in [("ca.pem", "ca"), ("cert.pem", "cert"), ("key.pem", "key")] {
            std::fs::write(identity_dir.join(file), text).unwrap();
        }
        let loaded = Identity::load(dir.path()).unwrap();
        assert_eq!(
            (
                loaded.ca_pem.as_str(),
                loaded.cert_pem.as_str(),
                loaded.key_pem.as_str()
            ),
            ("ca", "cert", "key")
        );
        let renewed = Identity {
            cert_pem: "cert2".into(),
            key_pem: "key2".into(),
            ..loaded
        };
        renewed.save(dir.path()).unwrap();
        assert!(!identity_dir.join("key.pem").exists());
        let again = Identity::load(dir.path()).unwrap();
        assert_eq!(
            (again.cert_pem.as_str(), again.key_pem.as_str()),
            ("cert2", "key2")
        );
    }
}
