//! The operator's credentials folder (`cert.pem`, `key.pem`, `ca.pem`) and their
//! renewal. Operator certificates are short-lived: once two thirds of one's lifetime
//! has passed, the CLI renews it (a fresh key, same name and role) before the command
//! it was asked to run, and the next run uses the new pair.
//!
//! The pair is replaced so a crash leaves a usable one: the new key and certificate are
//! written beside the old as `key.pem.new` and `cert.pem.new` (synced), then the key is
//! renamed into place, then the certificate. Reading finishes what a crash left: with
//! both `.new` files present nothing was renamed yet and they are dropped; with only
//! `cert.pem.new` the key was renamed and the certificate is renamed after it.

use std::path::{Path, PathBuf};

use ferry_proto::operator::v1 as op;
use ferry_proto::operator::v1::operator_client::OperatorClient;
use tonic::transport::Channel;

use super::{request, CliError};
use crate::fleet::identity::{read_certificate_pem, Peer};
use ferry_proto::clock::now_ms;

pub struct Credentials {
    pub ca_pem: String,
    pub cert_pem: String,
    pub key_pem: String,
}

fn io_error(path: PathBuf) -> impl FnOnce(std::io::Error) -> CliError {
    move |source| CliError::Credentials { path, source }
}

/// Reads the credentials in `dir`, first finishing a replacement a crash interrupted.
pub fn load(dir: &Path) -> Result<Credentials, CliError> {
    let (cert_new, key_new) = (dir.join("cert.pem.new"), dir.join("key.pem.new"));
    match (cert_new.exists(), key_new.exists()) {
        (true, true) => {
            std::fs::remove_file(&cert_new).map_err(io_error(cert_new.clone()))?;
            std::fs::remove_file(&key_new).map_err(io_error(key_new))?;
        }
        (true, false) => {
            std::fs::rename(&cert_new, dir.join("cert.pem")).map_err(io_error(cert_new))?
        }
        _ => {}
    }
    let read = |name: &str| {
        let path = dir.join(name);
        std::fs::read_to_string(&path).map_err(io_error(path))
    };
    Ok(Credentials {
        ca_pem: read("ca.pem")?,
        cert_pem: read("cert.pem")?,
        key_pem: read("key.pem")?,
    })
}

/// Replaces the certificate and key in `dir` as one (see the module's notes).
fn replace(dir: &Path, cert_pem: &str, key_pem: &str) -> Result<(), CliError> {
    let (cert_new, key_new) = (dir.join("cert.pem.new"), dir.join("key.pem.new"));
    ferry_proto::private_files::write_secret(&key_new, key_pem)
        .map_err(io_error(key_new.clone()))?;
    std::fs::write(&cert_new, cert_pem).map_err(io_error(cert_new.clone()))?;
    for file in [&key_new, &cert_new] {
        std::fs::File::open(file)
            .and_then(|f| f.sync_all())
            .map_err(io_error(file.to_path_buf()))?;
    }
    std::fs::rename(&key_new, dir.join("key.pem")).map_err(io_error(key_new))?;
    std::fs::rename(&cert_new, dir.join("cert.pem")).map_err(io_error(cert_new))?;
    #[cfg(unix)]
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_error(dir.to_path_buf()))?;
    Ok(())
}

/// Renews the operator certificate in `dir` if two thirds of its lifetime have passed.
/// Returns the new expiry when it renewed.
pub async fn renew_if_due(
    client: &mut OperatorClient<Channel>,
    dir: &Path,
) -> Result<Option<i64>, CliError> {
    let credentials = load(dir)?;
    let facts = read_certificate_pem(&credentials.cert_pem)
        .map_err(|e| CliError::Usage(format!("{}: {e}", dir.join("cert.pem").display())))?;
    let Peer::Operator { name, .. } = facts.peer else {
        return Err(CliError::Usage(format!(
            "{} is not an operator's certificate",
            dir.join("cert.pem").display()
        )));
    };
    let due = facts.not_before_ms + (facts.not_after_ms - facts.not_before_ms) * 2 / 3;
    if now_ms() < due {
        return Ok(None);
    }
    let key = rcgen::KeyPair::generate()
        .map_err(|e| CliError::Usage(format!("generating a key failed: {e}")))?;
    let mut params = rcgen::CertificateParams::default();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, name.as_str());
    let csr = params
        .serialize_request(&key)
        .map_err(|e| CliError::Usage(format!("making the certificate request failed: {e}")))?;
    let renewed = client
        .renew_operator_certificate(request(op::RenewOperatorCertificateRequest {
            csr_der: csr.der().to_vec(),
        }))
        .await?
        .into_inner();
    replace(dir, &renewed.certificate_pem, &key.serialize_pem())?;
    Ok(Some(renewed.not_after_unix_ms))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn folder(cert: &str, key: &str) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for (name, text) in [("ca.pem", "ca"), ("cert.pem", cert), ("key.pem", key)] {
            std::fs::write(dir.path().join(name), text).unwrap();
        }
        dir
    }

    #[test]
    fn a_replacement_swaps_both_files() {
        let dir = folder("old cert", "old key");
        replace(dir.path(), "new cert", "new key").unwrap();
        let loaded = load(dir.path()).unwrap();
        assert_eq!(
            (loaded.cert_pem.as_str(), loaded.key_pem.as_str()),
            ("new cert", "new key")
        );
        assert!(!dir.path().join("cert.pem.new").exists());
    }

    #[test]
    fn a_crash_before_any_rename_keeps_the_old_pair() {
        let dir = folder("old cert", "old key");
        std::fs::write(dir.path().join("cert.pem.new"), "new cert").unwrap();
        std::fs::write(dir.path().join("key.pem.new"), "new key").unwrap();
        let loaded = load(dir.path()).unwrap();
        assert_eq!(
            (loaded.cert_pem.as_str(), loaded.key_pem.as_str()),
            ("old cert", "old key")
        );
        assert!(!dir.path().join("key.pem.new").exists());
    }

    #[test]
    fn a_crash_between_the_renames_is_finished() {
        // The key was renamed into place; the certificate was not.
        let dir = folder("old cert", "new key");
        std::fs::write(dir.path().join("cert.pem.new"), "new cert").unwrap();
        let loaded = load(dir.path()).unwrap();
        assert_eq!(
            (loaded.cert_pem.as_str(), loaded.key_pem.as_str()),
            ("new cert", "new key")
        );
    }
}
