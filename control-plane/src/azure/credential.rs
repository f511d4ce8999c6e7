//! The azure_identity credential `[azure] credential` chooses, on the control plane's
//! HTTPS client and authority host. The client secret is read from its file here and
//! kept only inside the credential. Its token refreshes are counted ([`Counted`]).

use std::sync::Arc;

use azure_core::cloud::{CloudConfiguration, CustomConfiguration};
use azure_core::credentials::{Secret, TokenCredential};
use azure_core::http::{ClientOptions, Transport};
use azure_identity::{
    ClientAssertionCredentialOptions, ClientSecretCredential, ClientSecretCredentialOptions,
    DeveloperToolsCredential, ManagedIdentityCredential, ManagedIdentityCredentialOptions,
    UserAssignedId, WorkloadIdentityCredential, WorkloadIdentityCredentialOptions,
};

use crate::config::{AzureCredential, AzureSettings};

/// The credential, or None when Azure is not configured.
pub fn build(
    settings: &AzureSettings,
    http: reqwest::Client,
) -> Result<Option<Arc<dyn TokenCredential>>, String> {
    let options = || {
        let mut cloud = CustomConfiguration::default();
        cloud.authority_host = settings.authority_host.clone();
        ClientOptions {
            transport: Some(Transport::new(Arc::new(http.clone()))),
            cloud: Some(Arc::new(CloudConfiguration::from(cloud))),
            ..Default::default()
        }
    };
    let failed = |e: azure_core::Error| format!("azure.credential: {e}");
    let credential: Arc<dyn TokenCredential> = match settings.credential {
        AzureCredential::None => return Ok(None),
        AzureCredential::ClientSecret => {
            let (Some(tenant), Some(client), Some(file)) = (
                &settings.tenant_id,
                &settings.client_id,
                &settings.client_secret_file,
            ) else {
                return Err(
                    "azure.credential: client_secret needs tenant_id, client_id and client_secret_file"
                        .into(),
                );
            };
            let secret = ferry_proto::private_files::read_secret(file)
                .map_err(|e| format!("azure.client_secret_file: {e}"))?;
            ClientSecretCredential::new(
                tenant,
                client.clone(),
                Secret::new(secret.trim().to_string()),
                Some(ClientSecretCredentialOptions {
                    client_options: options(),
                }),
            )
            .map_err(failed)?
        }
        AzureCredential::ManagedIdentity => {
            ManagedIdentityCredential::new(Some(ManagedIdentityCredentialOptions {
                user_assigned_id: settings.client_id.clone().map(UserAssignedId::ClientId),
                client_options: options(),
            }))
            .map_err(failed)?
        }
        AzureCredential::WorkloadIdentity => {
            WorkloadIdentityCredential::new(Some(WorkloadIdentityCredentialOptions {
                credential_options: ClientAssertionCredentialOptions {
                    client_options: options(),
                },
                client_id: settings.client_id.clone(),
                tenant_id: settings.tenant_id.clone(),
                ..Default::default()
            }))
            .map_err(failed)?
        }
        AzureCredential::Developer => DeveloperToolsCredential::new(None).map_err(failed)?,
    };
    Ok(Some(Arc::new(Counted {
        inner: credential,
        expires_on: std::sync::atomic::AtomicI64::new(i64::MIN),
    })))
}

/// The chosen credential, counting the tokens it fetches from Entra ID
/// (`ferry.azure.token.refreshes` by outcome): azure_identity caches a token until
/// shortly before it expires, so a token with a new expiry is a refresh, and an error
/// is a failed one.
#[derive(Debug)]
struct Counted {
    inner: Arc<dyn TokenCredential>,
    /// The expiry (Unix seconds) of the token last handed out.
    expires_on: std::sync::atomic::AtomicI64,
}

#[async_trait::async_trait]
impl TokenCredential for Counted {
    async fn get_token(
        &self,
        scopes: &[&str],
        options: Option<azure_core::credentials::TokenRequestOptions<'_>>,
    ) -> azure_core::Result<azure_core::credentials::AccessToken> {
        use std::sync::atomic::Ordering;
        let token = self.inner.get_token(scopes, options).await;
        match &token {
            Ok(token) => {
                let expires = token.expires_on.unix_timestamp();
                if self.expires_on.swap(expires, Ordering::Relaxed) != expires {
                    super::metrics::token_refresh(true);
                }
            }
            Err(_) => super::metrics::token_refresh(false),
        }
        token
    }
}
