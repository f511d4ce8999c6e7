//! The lab's Azure (`[azure]`): the tenant and subscription its managed instances
//! live in, the service principals its token authority knows (with client secrets
//! and federated identities), and how fast its long-running operations complete.

use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AzureSpec {
    #[serde(default = "default_tenant")]
    pub tenant: String,
    #[serde(default = "default_subscription")]
    pub subscription: String,
    /// How much faster than Azure the lab's long-running operations complete (10 =
    /// a link that takes a minute to create takes six seconds).
    #[serde(default = "one")]
    pub speed: f64,
    /// Lifetime of the access tokens the authority issues, seconds.
    #[serde(default = "default_token_lifetime")]
    pub token_lifetime_secs: u64,
    #[serde(default = "default_principals", rename = "principal")]
    pub principals: Vec<PrincipalSpec>,
}

/// An application registration with its credentials (a client secret, federated
/// identities, or both), and the role it holds on the subscription.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrincipalSpec {
    pub client_id: String,
    #[serde(default)]
    pub client_secret: String,
    /// Workload identity federation: tokens from these issuers for these subjects
    /// sign the application in (`client_assertion`).
    #[serde(default, rename = "federated")]
    pub federated: Vec<FederatedSpec>,
    #[serde(default = "default_role")]
    pub role: Role,
}

/// A federated identity credential (Entra ID): the external token's issuer and
/// subject; its audience must be `api://AzureADTokenExchange`.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct FederatedSpec {
    #[serde(default = "default_issuer")]
    pub issuer: String,
    pub subject: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum Role {
    /// "SQL Managed Instance Contributor": everything the link needs (mi-link.md §1.5).
    Contributor,
    /// "Reader": GET only.
    Reader,
}

impl Default for AzureSpec {
    fn default() -> Self {
        AzureSpec {
            tenant: default_tenant(),
            subscription: default_subscription(),
            speed: 1.0,
            token_lifetime_secs: default_token_lifetime(),
            principals: default_principals(),
        }
    }
}

impl AzureSpec {
    pub fn validate(&self) -> Result<(), String> {
        for (field, value) in [
            ("tenant", &self.tenant),
            ("subscription", &self.subscription),
        ] {
            if uuid::Uuid::parse_str(value).is_err() {
                return Err(format!("azure.{field}: '{value}' is not a GUID"));
            }
        }
        if !self.speed.is_finite() || self.speed <= 0.0 {
            return Err(format!(
                "azure.speed: {} must be a number above 0 (1 = Azure's own pace)",
                self.speed
            ));
        }
        if self.token_lifetime_secs == 0 {
            return Err("azure.token_lifetime_secs: must be at least 1".into());
        }
        for (n, p) in self.principals.iter().enumerate() {
            if uuid::Uuid::parse_str(&p.client_id).is_err() {
                return Err(format!(
                    "azure.principal[{n}].client_id: '{}' is not a GUID",
                    p.client_id
                ));
            }
            if p.client_secret.is_empty() && p.federated.is_empty() {
                return Err(format!(
                    "azure.principal[{n}]: give it a client_secret or a federated identity ([[azure.principal.federated]] subject = \"...\")"
                ));
            }
            if let Some(f) = p.federated.iter().find(|f| f.subject.is_empty()) {
                return Err(format!(
                    "azure.principal[{n}].federated: the credential for issuer '{}' needs a subject",
                    f.issuer
                ));
            }
        }
        Ok(())
    }

    pub fn principal(&self, client_id: &str) -> Option<&PrincipalSpec> {
        self.principals
            .iter()
            .find(|p| p.client_id.eq_ignore_ascii_case(client_id))
    }
}

/// The lab's default tenant, subscription and application (well-formed GUIDs).
pub const DEFAULT_TENANT: &str = "0f3e2d1c-5a4b-4c3d-9e8f-70a1b2c3d4e5";
pub const DEFAULT_SUBSCRIPTION: &str = "5b1c9a7e-2d3f-4e6a-8b9c-0d1e2f3a4b5c";
pub const DEFAULT_CLIENT_ID: &str = "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d";
pub const DEFAULT_CLIENT_SECRET: &str = "Lab-Client-Secret~1";
/// The issuer of the lab's service account tokens (a Kubernetes cluster's OIDC
/// issuer in real life), and the subject the default application federates.
pub const DEFAULT_ISSUER: &str = "https://oidc.ferry-lab.invalid/";
pub const DEFAULT_SUBJECT: &str = "system:serviceaccount:ferry:ferry-control";
/// The audience Entra ID requires of a federated token.
pub const TOKEN_EXCHANGE_AUDIENCE: &str = "api://AzureADTokenExchange";

fn default_tenant() -> String {
    DEFAULT_TENANT.into()
}
fn default_subscription() -> String {
    DEFAULT_SUBSCRIPTION.into()
}
fn one() -> f64 {
    1.0
}
fn default_token_lifetime() -> u64 {
    3599
}
fn default_issuer() -> String {
    DEFAULT_ISSUER.into()
}
fn default_role() -> Role {
    Role::Contributor
}
fn default_principals() -> Vec<PrincipalSpec> {
    vec![PrincipalSpec {
        client_id: DEFAULT_CLIENT_ID.into(),
        client_secret: DEFAULT_CLIENT_SECRET.into(),
        federated: vec![FederatedSpec {
            issuer: DEFAULT_ISSUER.into(),
            subject: DEFAULT_SUBJECT.into(),
        }],
        role: Role::Contributor,
    }]
}
