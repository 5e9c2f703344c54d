//! Which app asks which tenant for tokens: [`ClientConfig`], from the same environment variables
//! as the API side ([`crate::AadAuthConfig`]).

use std::path::{Path, PathBuf};

use url::Url;

// The same names (and default host) as the API side's settings table.
use crate::config::credentials::CredentialSettings;
use crate::config::settings::{
    AAD_AUTHORITY_HOST, AAD_CA_FILE, AAD_CLIENT_ASSERTION_FILE, AAD_CLIENT_CERTIFICATE, AAD_CLIENT_ID,
    AAD_CLIENT_SECRET, AAD_MANAGED_IDENTITY, AAD_OPENID_CONFIG_URL, AAD_TENANT_ID, AZURE_FEDERATED_TOKEN_FILE,
    DEFAULT_AUTHORITY_HOST, IDENTITY_ENDPOINT, IDENTITY_HEADER,
};
use crate::config::{AadAuthConfig, ConfigError, Tenant, is_loopback};
use crate::credential::ClientCredential;
use crate::secret::{ClientSecret, IdentityHeader};

/// The calling app and its tenant: what the token helpers of [`crate::client`] need.
///
/// | variable | default | meaning |
/// |---|---|---|
/// | `AAD_CLIENT_ID` | required | the calling app's registration (client) id |
/// | `AAD_TENANT_ID` | required | tenant GUID or domain; `organizations`/`common` for a multi-tenant public client |
/// | `AAD_CLIENT_SECRET` | none | the calling app's secret (client credentials, on-behalf-of) |
/// | `AAD_CLIENT_CERTIFICATE` | none | instead of a secret: a PEM file with the app's certificate and RSA private key (`private_key_jwt`) |
/// | `AAD_CLIENT_ASSERTION_FILE` | none | instead of a secret: a federated assertion's file, read for every request (else `AZURE_FEDERATED_TOKEN_FILE` when nothing else is set) |
/// | `AAD_MANAGED_IDENTITY` | false | instead of a secret: the App Service / Container Apps managed identity (`IDENTITY_ENDPOINT`, `IDENTITY_HEADER`) |
/// | `AAD_AUTHORITY_HOST` | `https://login.microsoftonline.com` | national clouds, the local tenant; `http://` only for loopback hosts |
/// | `AAD_OPENID_CONFIG_URL` | `{host}/{tenant}/v2.0/.well-known/openid-configuration` | an explicit discovery document |
/// | `AAD_CA_FILE` | none | extra PEM root certificates to trust (corporate TLS inspection, the local tenant's https) |
///
/// At most one credential: two refuse to build, naming both. `Debug` never shows a secret, a
/// key or an assertion.
///
/// ```no_run
/// use aad_auth::client::ClientConfig;
///
/// # fn main() -> Result<(), aad_auth::ConfigError> {
/// let from_env = ClientConfig::from_env()?;
/// let in_code = ClientConfig::builder("11111111-2222-3333-4444-555555555555", "contoso.onmicrosoft.com")
///     .client_secret("from a vault")
///     .build()?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct ClientConfig {
    client_id: String,
    tenant: Tenant,
    credential: Option<ClientCredential>,
    authority_host: Url,
    openid_config_url: Option<Url>,
    ca_file: Option<PathBuf>,
    ca_pem: Option<Vec<u8>>,
}

impl ClientConfig {
    /// Reads `AAD_CLIENT_ID`, `AAD_TENANT_ID`, the credential (`AAD_CLIENT_SECRET`,
    /// `AAD_CLIENT_CERTIFICATE`, `AAD_CLIENT_ASSERTION_FILE`, `AZURE_FEDERATED_TOKEN_FILE`,
    /// `AAD_MANAGED_IDENTITY` with `IDENTITY_ENDPOINT` and `IDENTITY_HEADER`),
    /// `AAD_AUTHORITY_HOST`, `AAD_OPENID_CONFIG_URL` and `AAD_CA_FILE` from the process environment, after loading
    /// `.env` (current directory or a parent) when there is one; the environment wins over `.env`.
    ///
    /// # Errors
    /// A [`ConfigError`] naming every variable that is missing or malformed (never a secret's
    /// value).
    pub fn from_env() -> Result<Self, ConfigError> {
        if let Err(error) = dotenvy::dotenv()
            && !error.not_found()
        {
            return Err(ConfigError::File { var: ".env", path: ".env".into(), reason: error.to_string() });
        }
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the same variables through `lookup` (name → value) instead of the environment.
    ///
    /// # Errors
    /// As [`ClientConfig::from_env`].
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |name: &str| lookup(name).map(|value| value.trim().to_owned()).filter(|value| !value.is_empty());
        let mut problems = Vec::new();
        let managed_identity = match get(AAD_MANAGED_IDENTITY) {
            None => Default::default(),
            Some(value) => crate::config::settings::parse_managed_identity(&value).unwrap_or_else(|| {
                problems.push(ConfigError::invalid(
                    AAD_MANAGED_IDENTITY,
                    "true, false, or the client id (a GUID) of a user-assigned identity",
                    &value,
                ));
                Default::default()
            }),
        };
        let credentials = CredentialSettings {
            secret: get(AAD_CLIENT_SECRET).map(ClientSecret::new),
            certificate: get(AAD_CLIENT_CERTIFICATE).map(PathBuf::from),
            assertion_file: get(AAD_CLIENT_ASSERTION_FILE).map(PathBuf::from),
            federated_token_file: get(AZURE_FEDERATED_TOKEN_FILE).map(PathBuf::from),
            managed_identity,
            identity_endpoint: get(IDENTITY_ENDPOINT),
            identity_header: get(IDENTITY_HEADER).map(IdentityHeader::new),
        };
        ClientConfigBuilder {
            client_id: get(AAD_CLIENT_ID),
            tenant_id: get(AAD_TENANT_ID),
            credentials,
            authority_host: get(AAD_AUTHORITY_HOST),
            openid_config_url: get(AAD_OPENID_CONFIG_URL),
            ca_file: get(AAD_CA_FILE).map(PathBuf::from),
            problems,
        }
        .build()
    }

    /// Starts a configuration in code; the defaults are those of the environment variables.
    pub fn builder(client_id: impl Into<String>, tenant_id: impl Into<String>) -> ClientConfigBuilder {
        ClientConfigBuilder {
            client_id: Some(client_id.into()),
            tenant_id: Some(tenant_id.into()),
            credentials: CredentialSettings::default(),
            authority_host: None,
            openid_config_url: None,
            ca_file: None,
            problems: Vec::new(),
        }
    }

    /// The calling app's client id (`AAD_CLIENT_ID`).
    pub fn client_id(&self) -> &str {
        &self.client_id
    }

    /// The tenant (`AAD_TENANT_ID`).
    pub fn tenant(&self) -> &Tenant {
        &self.tenant
    }

    /// The calling app's secret (`AAD_CLIENT_SECRET`), when its credential is a secret.
    pub fn client_secret(&self) -> Option<&ClientSecret> {
        match &self.credential {
            Some(ClientCredential::Secret(secret)) => Some(secret),
            _ => None,
        }
    }

    /// The calling app's credential: a secret, a certificate, a federated assertion file or a
    /// managed identity (`None`: a public client).
    pub fn client_credential(&self) -> Option<&ClientCredential> {
        self.credential.as_ref()
    }

    /// The authority host without a trailing slash (`AAD_AUTHORITY_HOST`).
    pub fn authority_host(&self) -> &str {
        self.authority_host.as_str().trim_end_matches('/')
    }

    /// `{authority_host}/{tenant}`.
    pub fn authority(&self) -> String {
        format!("{}/{}", self.authority_host(), self.tenant.as_path_segment())
    }

    /// Where the discovery document is read from: `AAD_OPENID_CONFIG_URL`, or Entra's v2
    /// document of the authority.
    pub fn openid_config_url(&self) -> Url {
        self.openid_config_url.clone().unwrap_or_else(|| {
            let text = format!("{}/v2.0/.well-known/openid-configuration", self.authority());
            // The host was validated and the tenant segment is a GUID, a domain or a keyword.
            Url::parse(&text).unwrap_or_else(|_| self.authority_host.clone())
        })
    }

    /// The extra trusted roots' file (`AAD_CA_FILE`).
    pub fn ca_file(&self) -> Option<&Path> {
        self.ca_file.as_deref()
    }

    pub(crate) fn ca_pem(&self) -> Option<&[u8]> {
        self.ca_pem.as_deref()
    }

    /// The same app in the tenant `tid` (a GUID): for an app-only token in a user's own tenant
    /// when the app is multi-tenant. An explicit discovery document names one tenant's endpoints,
    /// so it is kept only for the tenant already configured.
    pub(crate) fn for_tenant(&self, tid: &str) -> Self {
        if self.tenant.as_path_segment().eq_ignore_ascii_case(tid) {
            return self.clone();
        }
        Self { tenant: Tenant::Id(tid.to_ascii_lowercase()), openid_config_url: None, ..self.clone() }
    }
}

impl std::fmt::Debug for ClientConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientConfig")
            .field("client_id", &self.client_id)
            .field("tenant", &self.tenant)
            .field("credential", &self.credential)
            .field("authority_host", &self.authority_host())
            .field("openid_config_url", &self.openid_config_url.as_ref().map(Url::as_str))
            .field("ca_file", &self.ca_file)
            .finish_non_exhaustive()
    }
}

/// The same app, tenant, secret and trusted roots as an API's configuration: what an API needs
/// to call another API on behalf of its caller ([`crate::client::TokenClient::on_behalf_of`]).
impl From<&AadAuthConfig> for ClientConfig {
    fn from(config: &AadAuthConfig) -> Self {
        Self {
            client_id: config.client_id.clone(),
            tenant: config.tenant.clone(),
            credential: config.credential.clone(),
            authority_host: config.authority_host.clone(),
            openid_config_url: config.openid_config_url.clone(),
            ca_file: config.ca_file.clone(),
            ca_pem: config.ca_pem.clone(),
        }
    }
}

/// Builds a [`ClientConfig`] in code.
#[derive(Debug, Clone)]
#[must_use]
pub struct ClientConfigBuilder {
    client_id: Option<String>,
    tenant_id: Option<String>,
    credentials: CredentialSettings,
    authority_host: Option<String>,
    openid_config_url: Option<String>,
    ca_file: Option<PathBuf>,
    problems: Vec<ConfigError>,
}

impl ClientConfigBuilder {
    /// The calling app's secret (`AAD_CLIENT_SECRET`; default none: a public client).
    pub fn client_secret(mut self, secret: impl Into<String>) -> Self {
        self.credentials.secret = Some(ClientSecret::new(secret));
        self
    }

    /// A PEM file with the calling app's certificate and RSA private key
    /// (`AAD_CLIENT_CERTIFICATE`; default none).
    pub fn client_certificate(mut self, pem_file: impl Into<PathBuf>) -> Self {
        self.credentials.certificate = Some(pem_file.into());
        self
    }

    /// A federated assertion's file, read for every request (`AAD_CLIENT_ASSERTION_FILE`;
    /// default none).
    pub fn client_assertion_file(mut self, file: impl Into<PathBuf>) -> Self {
        self.credentials.assertion_file = Some(file.into());
        self
    }

    /// The App Service / Container Apps managed identity at `endpoint` (`IDENTITY_ENDPOINT`)
    /// with the secret `header` (`IDENTITY_HEADER`) as the credential (`AAD_MANAGED_IDENTITY`);
    /// `user_assigned`: a user-assigned identity's client id.
    pub fn managed_identity(
        mut self,
        endpoint: impl Into<String>,
        header: impl Into<String>,
        user_assigned: Option<String>,
    ) -> Self {
        self.credentials.managed_identity = match user_assigned {
            Some(client_id) => crate::config::credentials::ManagedIdentityChoice::User(client_id),
            None => crate::config::credentials::ManagedIdentityChoice::System,
        };
        self.credentials.identity_endpoint = Some(endpoint.into());
        self.credentials.identity_header = Some(IdentityHeader::new(header));
        self
    }

    /// The authority host (`AAD_AUTHORITY_HOST`; default `https://login.microsoftonline.com`).
    pub fn authority_host(mut self, host: impl Into<String>) -> Self {
        self.authority_host = Some(host.into());
        self
    }

    /// An explicit discovery document (`AAD_OPENID_CONFIG_URL`).
    pub fn openid_config_url(mut self, url: impl Into<String>) -> Self {
        self.openid_config_url = Some(url.into());
        self
    }

    /// Extra PEM root certificates to trust (`AAD_CA_FILE`).
    pub fn ca_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.ca_file = Some(path.into());
        self
    }

    /// Checks every value and reads the CA file.
    ///
    /// # Errors
    /// A [`ConfigError`] naming every variable that is missing or malformed.
    pub fn build(self) -> Result<ClientConfig, ConfigError> {
        let mut problems = self.problems;
        let credential = self.credentials.choose(&mut problems);
        let client_id = match self.client_id.map(|id| id.trim().to_owned()).filter(|id| !id.is_empty()) {
            Some(id) if id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') => id,
            Some(id) => {
                problems.push(ConfigError::invalid(AAD_CLIENT_ID, "the calling app's client id, a GUID", &id));
                String::new()
            }
            None => {
                problems.push(ConfigError::Missing {
                    var: AAD_CLIENT_ID,
                    expected: "the application (client) id of the calling app's registration, a GUID",
                });
                String::new()
            }
        };
        let tenant = match self.tenant_id.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
            Some(value) => Tenant::parse(value).unwrap_or_else(|| {
                problems.push(ConfigError::invalid(
                    AAD_TENANT_ID,
                    "a tenant GUID, a tenant domain, `organizations`, `common` or `consumers`",
                    value,
                ));
                Tenant::Common
            }),
            None => {
                problems.push(ConfigError::Missing {
                    var: AAD_TENANT_ID,
                    expected: "the directory (tenant) id or domain, or `organizations`/`common` for a multi-tenant \
                               public client",
                });
                Tenant::Common
            }
        };
        let host_text = self.authority_host.as_deref().map(str::trim).unwrap_or(DEFAULT_AUTHORITY_HOST);
        let authority_host = match secure_url(host_text) {
            Some(url)
                if url.query().is_none() && url.fragment().is_none() && url.path().trim_matches('/').is_empty() =>
            {
                Some(url)
            }
            _ => {
                problems.push(ConfigError::invalid(
                    AAD_AUTHORITY_HOST,
                    "a scheme and host only, such as https://login.microsoftonline.com (http:// only for \
                     localhost/127.0.0.1)",
                    host_text,
                ));
                None
            }
        };
        let openid_config_url = self.openid_config_url.as_deref().and_then(|text| {
            let url = secure_url(text);
            if url.is_none() {
                problems.push(ConfigError::invalid(
                    AAD_OPENID_CONFIG_URL,
                    "an absolute https:// URL (http:// only for localhost/127.0.0.1)",
                    text,
                ));
            }
            url
        });
        let ca_pem = self.ca_file.as_ref().and_then(|path| {
            let problem =
                |reason: String| ConfigError::File { var: AAD_CA_FILE, path: path.display().to_string(), reason };
            match std::fs::read(path) {
                Ok(bytes) if reqwest::Certificate::from_pem_bundle(&bytes).is_ok_and(|certs| !certs.is_empty()) => {
                    Some(bytes)
                }
                Ok(_) => {
                    problems.push(problem("no PEM certificate (-----BEGIN CERTIFICATE-----) in it".into()));
                    None
                }
                Err(error) => {
                    problems.push(problem(error.to_string()));
                    None
                }
            }
        });
        ConfigError::collect(problems)?;
        let Some(authority_host) = authority_host else {
            return Err(ConfigError::invalid(AAD_AUTHORITY_HOST, "an absolute https:// URL", host_text));
        };
        Ok(ClientConfig {
            client_id,
            tenant,
            credential,
            authority_host,
            openid_config_url,
            ca_file: self.ca_file,
            ca_pem,
        })
    }
}

/// An http(s) URL; http only for loopback hosts.
fn secure_url(text: &str) -> Option<Url> {
    match Url::parse(text) {
        Ok(url) if url.scheme() == "https" && url.host().is_some() => Some(url),
        Ok(url) if url.scheme() == "http" && is_loopback(&url) => Some(url),
        _ => None,
    }
}
