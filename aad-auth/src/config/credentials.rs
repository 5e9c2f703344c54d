//! Which credential the app proves itself with: at most one of `AAD_CLIENT_SECRET`,
//! `AAD_CLIENT_CERTIFICATE`, `AAD_CLIENT_ASSERTION_FILE` and `AAD_MANAGED_IDENTITY`; else
//! `AZURE_FEDERATED_TOKEN_FILE`, which AKS workload identity sets in every pod that uses it and
//! which therefore only counts when nothing else is configured. Shared by the API's
//! configuration and [`crate::client::ClientConfig`].

use std::path::PathBuf;

use url::Url;

use super::ConfigError;
use super::settings::{
    AAD_CLIENT_ASSERTION_FILE, AAD_CLIENT_CERTIFICATE, AZURE_FEDERATED_TOKEN_FILE, CREDENTIAL_VARIABLES,
    IDENTITY_ENDPOINT, IDENTITY_HEADER,
};
use super::validate::is_loopback;
use crate::credential::{AssertionFile, ClientCertificate, ClientCredential, ManagedIdentity};
use crate::secret::{ClientSecret, IdentityHeader};

/// `AAD_MANAGED_IDENTITY`: off, the system-assigned identity, or a user-assigned one by client id.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) enum ManagedIdentityChoice {
    #[default]
    Off,
    System,
    User(String),
}

/// The credential settings as read, before they are checked.
#[derive(Debug, Clone, Default)]
pub(crate) struct CredentialSettings {
    pub(crate) secret: Option<ClientSecret>,
    pub(crate) certificate: Option<PathBuf>,
    pub(crate) assertion_file: Option<PathBuf>,
    pub(crate) federated_token_file: Option<PathBuf>,
    pub(crate) managed_identity: ManagedIdentityChoice,
    pub(crate) identity_endpoint: Option<String>,
    pub(crate) identity_header: Option<IdentityHeader>,
}

impl CredentialSettings {
    /// The variables among [`CREDENTIAL_VARIABLES`] that are set.
    fn configured(&self) -> Vec<&'static str> {
        let set = [
            self.secret.is_some(),
            self.certificate.is_some(),
            self.assertion_file.is_some(),
            self.managed_identity != ManagedIdentityChoice::Off,
        ];
        CREDENTIAL_VARIABLES.iter().zip(set).filter(|(_, set)| *set).map(|(var, _)| *var).collect()
    }

    /// The credential, reading and checking its files; problems go to `problems`. Logs (once
    /// per configuration built, that is at start-up) when `AZURE_FEDERATED_TOKEN_FILE` is set
    /// but another credential is used.
    pub(crate) fn choose(self, problems: &mut Vec<ConfigError>) -> Option<ClientCredential> {
        let configured = self.configured();
        if configured.len() > 1 {
            problems.push(ConfigError::Exclusive {
                message: format!(
                    "more than one client credential is set; keep one of {}",
                    CREDENTIAL_VARIABLES.join(", ")
                ),
                vars: configured,
            });
            return None;
        }
        if let (Some(var), Some(path)) = (configured.first(), &self.federated_token_file) {
            tracing::info!(
                credential = var,
                ignored = %path.display(),
                "AZURE_FEDERATED_TOKEN_FILE is set (AKS workload identity) but {var} is configured: the app \
                 authenticates with {var}, not with the federated token"
            );
        }
        if let Some(secret) = self.secret {
            return Some(ClientCredential::Secret(secret));
        }
        if let Some(path) = self.certificate {
            return match ClientCertificate::from_file(&path) {
                Ok(certificate) => Some(ClientCredential::Certificate(certificate)),
                Err(reason) => {
                    problems.push(file_problem(AAD_CLIENT_CERTIFICATE, &path, reason));
                    None
                }
            };
        }
        if self.managed_identity != ManagedIdentityChoice::Off {
            return managed_identity(self.managed_identity, self.identity_endpoint, self.identity_header, problems);
        }
        let (var, path) = match (self.assertion_file, self.federated_token_file) {
            (Some(path), _) => (AAD_CLIENT_ASSERTION_FILE, path),
            (None, Some(path)) => (AZURE_FEDERATED_TOKEN_FILE, path),
            (None, None) => return None,
        };
        let file = AssertionFile::new(var, &path);
        match file.check() {
            Ok(()) => Some(ClientCredential::AssertionFile(file)),
            Err(reason) => {
                problems.push(file_problem(var, &path, reason));
                None
            }
        }
    }
}

fn file_problem(var: &'static str, path: &std::path::Path, reason: String) -> ConfigError {
    ConfigError::File { var, path: path.display().to_string(), reason }
}

fn managed_identity(
    choice: ManagedIdentityChoice,
    endpoint: Option<String>,
    header: Option<IdentityHeader>,
    problems: &mut Vec<ConfigError>,
) -> Option<ClientCredential> {
    const ENDPOINT_EXPECTED: &str = "the managed identity endpoint App Service or Container Apps sets (such as \
                                     http://localhost:42356/msi/token): an https URL, or http on localhost";
    let endpoint = match endpoint {
        None => {
            problems.push(ConfigError::Missing {
                var: IDENTITY_ENDPOINT,
                expected: "AAD_MANAGED_IDENTITY needs the managed identity endpoint, which App Service and Container \
                           Apps set when an identity is enabled on the app",
            });
            None
        }
        Some(text) => match Url::parse(&text) {
            Ok(url)
                if url.username().is_empty()
                    && url.password().is_none()
                    && (url.scheme() == "https" || (url.scheme() == "http" && is_loopback(&url))) =>
            {
                Some(url)
            }
            _ => {
                problems.push(ConfigError::invalid(IDENTITY_ENDPOINT, ENDPOINT_EXPECTED, &text));
                None
            }
        },
    };
    if header.is_none() {
        problems.push(ConfigError::Missing {
            var: IDENTITY_HEADER,
            expected: "AAD_MANAGED_IDENTITY needs the managed identity endpoint's secret header, which App Service \
                       and Container Apps set when an identity is enabled on the app",
        });
    }
    let client_id = match choice {
        ManagedIdentityChoice::User(client_id) => Some(client_id),
        ManagedIdentityChoice::System | ManagedIdentityChoice::Off => None,
    };
    Some(ClientCredential::ManagedIdentity(ManagedIdentity::new(endpoint?, header?, client_id)))
}
