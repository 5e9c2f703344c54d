//! How the app proves itself to the token endpoint (a confidential client's credential): a
//! secret, a certificate (`private_key_jwt`), a federated assertion read from a file (AKS
//! workload identity, GitHub OIDC), or a managed identity's token (App Service / Container
//! Apps) used as a federated assertion.
//!
//! | kind | setting | what the token request carries |
//! |---|---|---|
//! | [`ClientCredential::Secret`] | `AAD_CLIENT_SECRET` | `client_secret` |
//! | [`ClientCredential::Certificate`] | `AAD_CLIENT_CERTIFICATE` | a client assertion signed RS256 with the certificate's key, header `x5t#S256` |
//! | [`ClientCredential::AssertionFile`] | `AAD_CLIENT_ASSERTION_FILE`, else `AZURE_FEDERATED_TOKEN_FILE` | the file's content, read afresh for every request (a projected token rotates) |
//! | [`ClientCredential::ManagedIdentity`] | `AAD_MANAGED_IDENTITY`, `IDENTITY_ENDPOINT`, `IDENTITY_HEADER` | the managed identity's token for `api://AzureADTokenExchange`, kept until shortly before it expires |
//!
//! Assertions go as `client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer`
//! and `client_assertion`. Every key and assertion is held in a redacted type
//! ([`ClientAssertion`], `[redacted]` in `Debug`), and the errors here name a variable, a path
//! or a URL, never a key or a token.

// Reads files and the managed identity endpoint's answers: no indexing, no unchecked
// arithmetic, no unwrap (README, Security notes).
#![cfg_attr(
    not(test),
    deny(clippy::indexing_slicing, clippy::arithmetic_side_effects, clippy::unwrap_used, clippy::expect_used)
)]

mod assertion_file;
mod certificate;
mod managed_identity;

pub use assertion_file::AssertionFile;
pub use certificate::ClientCertificate;
pub use managed_identity::ManagedIdentity;

use crate::secret::{ClientAssertion, ClientSecret};

/// `client_assertion_type` of a JWT client assertion (RFC 7523).
pub const CLIENT_ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// The audience Entra expects of a federated assertion, and the resource a managed identity
/// asks its token for.
pub const TOKEN_EXCHANGE_AUDIENCE: &str = "api://AzureADTokenExchange";

/// The app's credential for the token endpoint. `Debug` shows which kind and where it comes
/// from, never a key, a secret or an assertion.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum ClientCredential {
    /// A client secret (`AAD_CLIENT_SECRET`).
    Secret(ClientSecret),
    /// A certificate and its private key (`AAD_CLIENT_CERTIFICATE`).
    Certificate(ClientCertificate),
    /// A federated assertion read from a file at every use (`AAD_CLIENT_ASSERTION_FILE` or
    /// `AZURE_FEDERATED_TOKEN_FILE`).
    AssertionFile(AssertionFile),
    /// A managed identity's token, as a federated assertion (`AAD_MANAGED_IDENTITY`).
    ManagedIdentity(ManagedIdentity),
}

impl ClientCredential {
    /// The environment variable this credential came from (what a log line or an error names).
    pub fn variable(&self) -> &'static str {
        match self {
            Self::Secret(_) => "AAD_CLIENT_SECRET",
            Self::Certificate(_) => "AAD_CLIENT_CERTIFICATE",
            Self::AssertionFile(file) => file.variable(),
            Self::ManagedIdentity(_) => "AAD_MANAGED_IDENTITY",
        }
    }

    /// What to send for one token request to `token_endpoint` (the `aud` of a certificate's
    /// assertion): the secret, or a fresh (or still valid) assertion.
    pub(crate) async fn authenticate(
        &self,
        http: &reqwest::Client,
        client_id: &str,
        token_endpoint: &str,
    ) -> Result<ClientAuth, CredentialError> {
        match self {
            Self::Secret(secret) => Ok(ClientAuth::Secret(secret.clone())),
            Self::Certificate(certificate) => certificate
                .assertion(client_id, token_endpoint)
                .map(ClientAuth::Assertion)
                .map_err(|reason| CredentialError::File {
                    var: "AAD_CLIENT_CERTIFICATE",
                    path: certificate.path().display().to_string(),
                    reason,
                }),
            Self::AssertionFile(file) => file.read().await.map(ClientAuth::Assertion),
            Self::ManagedIdentity(identity) => identity.assertion(http).await.map(ClientAuth::Assertion),
        }
    }
}

/// How one token request authenticates the app.
#[derive(Debug, Clone)]
pub(crate) enum ClientAuth {
    /// `client_secret`.
    Secret(ClientSecret),
    /// `client_assertion_type` + `client_assertion`.
    Assertion(ClientAssertion),
}

impl ClientAuth {
    /// The form parameters that authenticate the request.
    pub(crate) fn form(&self) -> Vec<(&'static str, &str)> {
        match self {
            Self::Secret(secret) => vec![("client_secret", secret.expose_secret())],
            Self::Assertion(assertion) => {
                vec![("client_assertion_type", CLIENT_ASSERTION_TYPE), ("client_assertion", assertion.expose_secret())]
            }
        }
    }

    /// The value that must never appear in an error message.
    pub(crate) fn expose_secret(&self) -> &str {
        match self {
            Self::Secret(secret) => secret.expose_secret(),
            Self::Assertion(assertion) => assertion.expose_secret(),
        }
    }
}

/// A credential that could not be used for a request. Names a variable, a path or a URL, never
/// a key or a token.
#[derive(Debug, Clone, thiserror::Error)]
pub(crate) enum CredentialError {
    /// A file (the assertion file, the certificate) could not be read or used.
    #[error("{var}: cannot use {path}: {reason}")]
    File { var: &'static str, path: String, reason: String },
    /// The managed identity endpoint failed or answered nonsense.
    #[error("the managed identity endpoint {url} (IDENTITY_ENDPOINT) failed: {reason}")]
    Endpoint { url: String, reason: String },
}

/// A random `jti` (a GUID's layout).
fn random_id() -> Result<String, String> {
    let mut bytes = [0u8; 16];
    aws_lc_rs::rand::fill(&mut bytes).map_err(|_| "no system randomness".to_owned())?;
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    Ok(format!(
        "{}-{}-{}-{}-{}",
        hex.get(0..8).unwrap_or_default(),
        hex.get(8..12).unwrap_or_default(),
        hex.get(12..16).unwrap_or_default(),
        hex.get(16..20).unwrap_or_default(),
        hex.get(20..32).unwrap_or_default()
    ))
}

fn unix_now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |elapsed| elapsed.as_secs())
}

#[cfg(all(test, feature = "testing"))]
mod tests;
