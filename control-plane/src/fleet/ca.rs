//! The control plane's certificate authority (rcgen). Created on first start in
//! `<data_dir>/ca/`, or loaded from files an operator provides. It issues:
//! - agent client certificates from a CSR (the agent's key never leaves its host);
//! - operator client certificates (key generated here, written for the CLI);
//! - this control plane's own server certificate, chained to the CA so that an enrolling
//!   agent can pin the CA by fingerprint.

use std::path::{Path, PathBuf};
use std::time::Duration;

use rcgen::{
    BasicConstraints, CertificateParams, CertificateSigningRequestParams, DistinguishedName,
    DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose, SanType, SerialNumber,
};
use rustls_pki_types::{pem::PemObject, CertificateDer, CertificateSigningRequestDer};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use super::identity::{AgentId, Peer, Role};

pub struct CertificateAuthority {
    cert_pem: String,
    cert_der: CertificateDer<'static>,
    issuer: Issuer<'static, KeyPair>,
    fingerprint: String,
}

/// A certificate this CA issued.
#[derive(Debug, Clone)]
pub struct Issued {
    pub cert_pem: String,
    /// Lower-case hex, as `serial_hex` writes it.
    pub serial: String,
    pub not_before_ms: i64,
    pub not_after_ms: i64,
}

#[derive(Debug, thiserror::Error)]
pub enum CaError {
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
    #[error("{path} is not a usable CA {what}: {reason}")]
    Invalid {
        path: PathBuf,
        what: &'static str,
        reason: String,
    },
    #[error("certificate generation failed: {0}")]
    Generate(#[from] rcgen::Error),
}

/// Why a CSR was refused. Nothing is stored when this happens.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CsrError {
    #[error("the CSR is not valid DER or its signature does not verify")]
    Malformed,
    #[error("the CSR's subject common name is {found:?} but the certificate is for {expected:?}")]
    SubjectMismatch { found: String, expected: String },
    #[error("the CSR asks for extensions (alternative names, CA rights, key usages); identities are assigned by the control plane, not requested")]
    RequestsExtensions,
}

impl CertificateAuthority {
    /// Loads the operator-provided CA, or the one in `dir`, or creates one there.
    pub fn load_or_create(dir: &Path, provided: Option<(&Path, &Path)>) -> Result<Self, CaError> {
        let (cert_path, key_path) = match provided {
            Some((cert, key)) => (cert.to_path_buf(), key.to_path_buf()),
            None => (dir.join("ca.pem"), dir.join("ca-key.pem")),
        };
        if provided.is_none() && !cert_path.exists() {
            Self::create(&cert_path, &key_path)?;
        }
        let cert_pem = read(&cert_path)?;
        let key_pem = read(&key_path)?;
        let key = KeyPair::from_pem(&key_pem).map_err(|e| CaError::Invalid {
            path: key_path.clone(),
            what: "key",
            reason: e.to_string(),
        })?;
        let invalid_cert = |reason: String| CaError::Invalid {
            path: cert_path.clone(),
            what: "certificate",
            reason,
        };
        let cert_der = CertificateDer::from_pem_slice(cert_pem.as_bytes())
            .map_err(|e| invalid_cert(e.to_string()))?;
        let issuer =
            Issuer::from_ca_cert_der(&cert_der, key).map_err(|e| invalid_cert(e.to_string()))?;
        let fingerprint = hex::encode(Sha256::digest(cert_der.as_ref()));
        Ok(Self {
            cert_pem,
            cert_der,
            issuer,
            fingerprint,
        })
    }

    fn create(cert_path: &Path, key_path: &Path) -> Result<(), CaError> {
        let key = KeyPair::generate()?;
        let mut params = CertificateParams::default();
        params.distinguished_name = name("Ferry control-plane CA");
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let now = OffsetDateTime::now_utc();
        params.not_before = now - time::Duration::hours(1);
        params.not_after = now + time::Duration::days(3650);
        params.serial_number = Some(random_serial());
        let cert = params.self_signed(&key)?;
        if let Some(parent) = cert_path.parent() {
            std::fs::create_dir_all(parent).map_err(|source| CaError::Write {
                path: parent.to_path_buf(),
                source,
            })?;
        }
        write_private(key_path, &key.serialize_pem())?;
        std::fs::write(cert_path, cert.pem()).map_err(|source| CaError::Write {
            path: cert_path.to_path_buf(),
            source,
        })?;
        Ok(())
    }

    /// Lower-case hex SHA-256 of the CA certificate (DER): what enrollment tokens pin.
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    pub fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    pub fn cert_der(&self) -> &CertificateDer<'static> {
        &self.cert_der
    }

    /// Signs an agent's CSR. The CSR proves possession of the key and must name the
    /// agent exactly as it enrolls; everything else in the certificate is set here.
    pub fn issue_agent(
        &self,
        csr_der: &[u8],
        agent_name: &str,
        id: AgentId,
        ttl: Duration,
    ) -> Result<Issued, CsrIssueError> {
        self.sign_csr(csr_der, agent_name, Peer::agent_uri(id), ttl)
    }

    /// Signs an operator's CSR (a renewal), under the same rules as an agent's.
    pub fn issue_operator_csr(
        &self,
        csr_der: &[u8],
        name: &str,
        role: Role,
        ttl: Duration,
    ) -> Result<Issued, CsrIssueError> {
        self.sign_csr(csr_der, name, Peer::operator_uri(name, role), ttl)
    }

    /// Signs a CSR whose only content is the common name `name`, as a client
    /// certificate for `identity_uri`.
    fn sign_csr(
        &self,
        csr_der: &[u8],
        name: &str,
        identity_uri: String,
        ttl: Duration,
    ) -> Result<Issued, CsrIssueError> {
        let mut csr =
            CertificateSigningRequestParams::from_der(&CertificateSigningRequestDer::from(csr_der))
                .map_err(|_| CsrError::Malformed)?;
        let requested = &csr.params;
        let found = requested
            .distinguished_name
            .iter()
            .find(|(ty, _)| **ty == DnType::CommonName)
            .map(|(_, value)| dn_text(value))
            .unwrap_or_default();
        if found != name || requested.distinguished_name.iter().count() != 1 {
            return Err(CsrError::SubjectMismatch {
                found,
                expected: name.to_string(),
            }
            .into());
        }
        if !requested.subject_alt_names.is_empty()
            || requested.is_ca != IsCa::NoCa
            || !requested.key_usages.is_empty()
            || !requested.extended_key_usages.is_empty()
        {
            return Err(CsrError::RequestsExtensions.into());
        }
        csr.params = client_params(name, identity_uri, ttl)?;
        let cert = csr.signed_by(&self.issuer)?;
        Ok(issued(&csr.params, cert.pem()))
    }

    /// A client certificate and fresh key for an operator. Returns (certificate, key) PEM.
    pub fn issue_operator(
        &self,
        name: &str,
        role: Role,
        ttl: Duration,
    ) -> Result<(Issued, String), rcgen::Error> {
        let key = KeyPair::generate()?;
        let params = client_params(name, Peer::operator_uri(name, role), ttl)?;
        let cert = params.signed_by(&key, &self.issuer)?;
        Ok((issued(&params, cert.pem()), key.serialize_pem()))
    }

    /// This control plane's server certificate for `names` (DNS names or IPs). Returns
    /// (the certificate, its `cert_pem` the chain: leaf then CA; key PEM).
    pub fn issue_server(
        &self,
        names: &[String],
        ttl: Duration,
    ) -> Result<(Issued, String), rcgen::Error> {
        let key = KeyPair::generate()?;
        let mut params = leaf_params("ferry-control", ttl)?;
        params.subject_alt_names = names
            .iter()
            .map(|n| match n.parse::<std::net::IpAddr>() {
                Ok(ip) => Ok(SanType::IpAddress(ip)),
                Err(_) => n.clone().try_into().map(SanType::DnsName),
            })
            .collect::<Result<_, _>>()?;
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let cert = params.signed_by(&key, &self.issuer)?;
        let chain = format!("{}{}", cert.pem(), self.cert_pem);
        Ok((issued(&params, chain), key.serialize_pem()))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CsrIssueError {
    #[error(transparent)]
    Csr(#[from] CsrError),
    #[error("certificate generation failed: {0}")]
    Generate(#[from] rcgen::Error),
}

fn leaf_params(common_name: &str, ttl: Duration) -> Result<CertificateParams, rcgen::Error> {
    let mut params = CertificateParams::default();
    params.distinguished_name = name(common_name);
    let now = OffsetDateTime::now_utc();
    // Backdating tolerates clock skew between hosts; capped at a tenth of the lifetime
    // so that "renew at two thirds" still means two thirds for short-lived certificates.
    let backdate = Duration::from_secs(300).min(ttl / 10);
    params.not_before = now
        - time::Duration::try_from(backdate).map_err(|_| rcgen::Error::CouldNotParseCertificate)?;
    params.not_after =
        now + time::Duration::try_from(ttl).map_err(|_| rcgen::Error::CouldNotParseCertificate)?;
    params.serial_number = Some(random_serial());
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.use_authority_key_identifier_extension = true;
    Ok(params)
}

/// A client certificate whose only identity is `identity_uri` (see `identity`).
fn client_params(
    common_name: &str,
    identity_uri: String,
    ttl: Duration,
) -> Result<CertificateParams, rcgen::Error> {
    let mut params = leaf_params(common_name, ttl)?;
    params.subject_alt_names = vec![SanType::URI(identity_uri.try_into()?)];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    Ok(params)
}

fn issued(params: &CertificateParams, cert_pem: String) -> Issued {
    Issued {
        cert_pem,
        serial: params
            .serial_number
            .as_ref()
            .map(|s| serial_hex(&s.to_bytes()))
            .unwrap_or_default(),
        not_before_ms: (params.not_before.unix_timestamp_nanos() / 1_000_000) as i64,
        not_after_ms: (params.not_after.unix_timestamp_nanos() / 1_000_000) as i64,
    }
}

fn name(common_name: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, common_name);
    dn
}

fn dn_text(value: &rcgen::DnValue) -> String {
    match value {
        rcgen::DnValue::Utf8String(s) => s.clone(),
        rcgen::DnValue::PrintableString(s) => s.as_str().to_string(),
        rcgen::DnValue::Ia5String(s) => s.as_str().to_string(),
        rcgen::DnValue::TeletexString(s) => s.as_str().to_string(),
        // Never produced by Ferry's agent (and DnValue is non-exhaustive): compared as
        // empty, so they fail the name check.
        _ => String::new(),
    }
}

/// A certificate serial as Ferry stores and compares it: lower-case hex of the
/// integer's bytes without leading zero bytes, so the serial issued and the serial read
/// back from the DER certificate (which drops them) are the same text.
pub fn serial_hex(bytes: &[u8]) -> String {
    let first = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len());
    hex::encode(&bytes[first..])
}

fn random_serial() -> SerialNumber {
    let mut bytes: [u8; 16] = rand::random();
    bytes[0] &= 0x7f; // positive
    SerialNumber::from_slice(&bytes)
}

fn read(path: &Path) -> Result<String, CaError> {
    std::fs::read_to_string(path).map_err(|source| CaError::Read {
        path: path.to_path_buf(),
        source,
    })
}

/// Writes a private key readable by the owner only.
pub fn write_private(path: &Path, contents: &str) -> Result<(), CaError> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path).map_err(|source| CaError::Write {
        path: path.to_path_buf(),
        source,
    })?;
    file.write_all(contents.as_bytes())
        .map_err(|source| CaError::Write {
            path: path.to_path_buf(),
            source,
        })
}
