//! Peer identities live in a URI subject-alternative name of the client certificate,
//! which only this control plane's CA issues:
//! `urn:ferry:agent:<uuid>` or `urn:ferry:operator:<role>:<name>`.

use std::fmt;
use std::str::FromStr;

use uuid::Uuid;
use x509_parser::extensions::GeneralName;
use x509_parser::prelude::FromDer;

const AGENT_PREFIX: &str = "urn:ferry:agent:";
const OPERATOR_PREFIX: &str = "urn:ferry:operator:";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AgentId(pub Uuid);

impl fmt::Display for AgentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl FromStr for AgentId {
    type Err = uuid::Error;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Uuid::parse_str(s).map(AgentId)
    }
}

/// What an operator may do. Approver is a separate duty from operator (whoever starts a
/// cutover should not be the only one approving it); admin may do everything.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Viewer,
    Operator,
    Approver,
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Operator => "operator",
            Role::Approver => "approver",
            Role::Admin => "admin",
        }
    }

    /// Whether this role may perform an action that needs `required`.
    pub fn allows(self, required: Role) -> bool {
        match (self, required) {
            (Role::Admin, _) => true,
            (_, Role::Viewer) => true,
            (Role::Operator, Role::Operator) => true,
            (Role::Approver, Role::Approver) => true,
            (Role::Viewer, _) | (Role::Operator, _) | (Role::Approver, _) => false,
        }
    }
}

impl FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "viewer" => Ok(Role::Viewer),
            "operator" => Ok(Role::Operator),
            "approver" => Ok(Role::Approver),
            "admin" => Ok(Role::Admin),
            other => Err(format!(
                "unknown role {other:?}: use viewer, operator, approver or admin"
            )),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Peer {
    Agent(AgentId),
    Operator { name: String, role: Role },
}

/// What Ferry reads from one of its certificates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateFacts {
    pub peer: Peer,
    pub serial: String,
    pub not_before_ms: i64,
    pub not_after_ms: i64,
}

/// Reads the first certificate in `pem` (not verified: for certificates this host
/// wrote or holds itself).
pub fn read_certificate_pem(pem: &str) -> Result<CertificateFacts, IdentityError> {
    use rustls_pki_types::pem::PemObject;
    let der = rustls_pki_types::CertificateDer::from_pem_slice(pem.as_bytes())
        .map_err(|_| IdentityError::Unparsable)?;
    read_certificate(&der)
}

/// Reads a DER certificate (verified by TLS, or this host's own).
pub fn read_certificate(der: &[u8]) -> Result<CertificateFacts, IdentityError> {
    let (_, cert) = x509_parser::certificate::X509Certificate::from_der(der)
        .map_err(|_| IdentityError::Unparsable)?;
    Ok(CertificateFacts {
        peer: Peer::from_certificate(der)?,
        serial: super::ca::serial_hex(cert.raw_serial()),
        not_before_ms: cert.validity().not_before.timestamp().saturating_mul(1000),
        not_after_ms: cert.validity().not_after.timestamp().saturating_mul(1000),
    })
}

/// Which of a peer's certificates a presented serial is: its current one, or the one
/// before its last renewal (still accepted, as the renewal's answer may have been lost,
/// until the current one is first used).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Held {
    Current,
    Previous,
}

impl Held {
    /// Which of the stored serials `presented` (as `ca::serial_hex` writes it) is.
    /// Serials stored before `serial_hex` may carry a leading zero byte; they compare
    /// equal.
    pub fn find(current: &str, previous: Option<&str>, presented: &str) -> Option<Held> {
        let same = |stored: &str| trim_zero_bytes(stored) == trim_zero_bytes(presented);
        if same(current) {
            Some(Held::Current)
        } else if previous.is_some_and(same) {
            Some(Held::Previous)
        } else {
            None
        }
    }

    /// The stored text of this certificate's serial.
    pub fn stored<'a>(self, current: &'a str, previous: Option<&'a str>) -> &'a str {
        match self {
            Held::Current => current,
            Held::Previous => previous.unwrap_or_default(),
        }
    }
}

fn trim_zero_bytes(mut hex: &str) -> &str {
    while hex.len() > 2 && hex.starts_with("00") {
        hex = &hex[2..];
    }
    hex
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum IdentityError {
    #[error("the client certificate could not be parsed")]
    Unparsable,
    #[error("the client certificate carries no Ferry identity")]
    NoIdentity,
    #[error("the client certificate's Ferry identity is malformed: {0}")]
    Malformed(String),
}

impl Peer {
    pub fn agent_uri(id: AgentId) -> String {
        format!("{AGENT_PREFIX}{id}")
    }

    pub fn operator_uri(name: &str, role: Role) -> String {
        format!("{OPERATOR_PREFIX}{}:{name}", role.as_str())
    }

    /// Reads the identity from a DER certificate that TLS has already verified.
    pub fn from_certificate(der: &[u8]) -> Result<Self, IdentityError> {
        let (_, cert) = x509_parser::certificate::X509Certificate::from_der(der)
            .map_err(|_| IdentityError::Unparsable)?;
        let san = cert
            .subject_alternative_name()
            .map_err(|_| IdentityError::Unparsable)?
            .ok_or(IdentityError::NoIdentity)?;
        let mut found = None;
        for name in &san.value.general_names {
            if let GeneralName::URI(uri) = name {
                if uri.starts_with("urn:ferry:") {
                    if found.is_some() {
                        return Err(IdentityError::Malformed("more than one identity".into()));
                    }
                    found = Some(Self::parse_uri(uri)?);
                }
            }
        }
        found.ok_or(IdentityError::NoIdentity)
    }

    /// The serial of a DER certificate, as the CA records it (`ca::serial_hex`).
    pub fn certificate_serial(der: &[u8]) -> Result<String, IdentityError> {
        let (_, cert) = x509_parser::certificate::X509Certificate::from_der(der)
            .map_err(|_| IdentityError::Unparsable)?;
        Ok(super::ca::serial_hex(cert.raw_serial()))
    }

    fn parse_uri(uri: &str) -> Result<Self, IdentityError> {
        if let Some(id) = uri.strip_prefix(AGENT_PREFIX) {
            return id
                .parse()
                .map(Peer::Agent)
                .map_err(|_| IdentityError::Malformed(uri.to_string()));
        }
        if let Some(rest) = uri.strip_prefix(OPERATOR_PREFIX) {
            let (role, name) = rest
                .split_once(':')
                .ok_or_else(|| IdentityError::Malformed(uri.to_string()))?;
            let role = role.parse().map_err(IdentityError::Malformed)?;
            if name.is_empty() {
                return Err(IdentityError::Malformed(uri.to_string()));
            }
            return Ok(Peer::Operator {
                name: name.to_string(),
                role,
            });
        }
        Err(IdentityError::Malformed(uri.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_matrix() {
        assert!(Role::Viewer.allows(Role::Viewer));
        assert!(!Role::Viewer.allows(Role::Operator));
        assert!(Role::Operator.allows(Role::Operator));
        assert!(!Role::Operator.allows(Role::Admin));
        assert!(!Role::Operator.allows(Role::Approver));
        assert!(!Role::Approver.allows(Role::Operator));
        assert!(Role::Admin.allows(Role::Approver));
    }

    #[test]
    fn parses_identity_uris() {
        let id = AgentId(Uuid::new_v4());
        assert_eq!(Peer::parse_uri(&Peer::agent_uri(id)), Ok(Peer::Agent(id)));
        assert_eq!(
            Peer::parse_uri(&Peer::operator_uri("alice", Role::Approver)),
            Ok(Peer::Operator {
                name: "alice".into(),
                role: Role::Approver
            })
        );
        assert!(Peer::parse_uri("urn:ferry:agent:not-a-uuid").is_err());
        assert!(Peer::parse_uri("urn:ferry:operator:root:bob").is_err());
    }
}
