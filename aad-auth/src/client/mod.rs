//! Getting tokens to call a protected API: the original library's "authenticating a client".
//!
//! | flow | who | helper | needs |
//! |---|---|---|---|
//! | device code | a person at a console or on a device without a browser | [`device_code`], [`TokenClient::device_code`] | a public client registration (allow public client flows) |
//! | client credentials | a daemon or service acting as itself (app-only token with app roles) | [`client_credentials`], [`TokenClient::client_credentials`] | a client credential (`AAD_CLIENT_SECRET`, a certificate, a federated assertion, a managed identity: [`crate::credential`]); the API's app roles granted to the app |
//! | on-behalf-of | an API calling a downstream API as its caller | [`on_behalf_of`], [`TokenClient::on_behalf_of`] | a client credential; the caller's token issued for this API |
//!
//! Configuration comes from the same variables as the API side ([`ClientConfig::from_env`]:
//! `AAD_AUTHORITY_HOST`, `AAD_TENANT_ID`, `AAD_CLIENT_ID`, `AAD_CLIENT_SECRET` or another
//! credential, `AAD_CA_FILE`),
//! here describing the *calling* app. The token endpoint is found through Entra's v2 discovery
//! document; requests go through the `openidconnect`/`oauth2` crates (10 s timeouts, no
//! redirects, `AAD_CA_FILE` roots). Errors ([`ClientError`]) name the setting to fix and never
//! contain a secret or a token; tokens are [`AccessToken`]s, whose
//! `Debug` and `Display` print `[redacted]`.
//!
//! Scopes name one API. For an API's own delegated scope use `api://{api client id}/{scope}`;
//! for everything granted to the caller (and always in the client credentials flow) use
//! `{api client id or application ID URI}/.default`. An app asking for a token to *itself* must
//! use the `{client id}/.default` form, or Entra answers AADSTS90009.
//!
//! Runnable examples, against the local tenant (`examples/dev_tenant`) or Azure:
//! `examples/device_code_client.rs`, `examples/daemon_client.rs`, `examples/on_behalf_of.rs`.
//!
//! ```no_run
//! use aad_auth::client::{self, ClientConfig};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! // AAD_CLIENT_ID of a public client, AAD_TENANT_ID, ...
//! let config = ClientConfig::from_env()?;
//! let token = client::device_code(&config, ["api://my-api/user_impersonation"], |prompt| {
//!     eprintln!("{}", prompt.message);
//! })
//! .await?;
//! let hello = reqwest::Client::new()
//!     .get("https://my-api.example.com/hello")
//!     .bearer_auth(token.access_token.expose_secret())
//!     .send()
//!     .await?;
//! # Ok(()) }
//! ```

// Parses network input: no indexing, no unchecked arithmetic, no unwrap (README, Security notes).
#![cfg_attr(
    not(test),
    deny(clippy::indexing_slicing, clippy::arithmetic_side_effects, clippy::unwrap_used, clippy::expect_used)
)]

mod challenge;
mod config;
mod error;
#[cfg(all(test, feature = "testing"))]
mod tests;
mod token_client;

pub use challenge::claims_challenge;
pub use config::{ClientConfig, ClientConfigBuilder};
pub use error::ClientError;
pub use token_client::{ClientToken, DeviceCodePrompt, REQUEST_TIMEOUT, TokenClient};

use crate::secret::AccessToken;

/// Device code flow in one call: see [`TokenClient::device_code`]. `prompt` receives the code
/// and the message to show the user.
///
/// ```no_run
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let config = aad_auth::client::ClientConfig::from_env()?;
/// let token = aad_auth::client::device_code(&config, ["api://my-api/.default"], |prompt| {
///     println!("{}", prompt.message)
/// })
/// .await?;
/// # Ok(()) }
/// ```
///
/// # Errors
/// As [`TokenClient::device_code`].
pub async fn device_code<I, S, F>(config: &ClientConfig, scopes: I, prompt: F) -> Result<ClientToken, ClientError>
where
    I: IntoIterator<Item = S>,
    S: Into<String>,
    F: FnOnce(&DeviceCodePrompt),
{
    TokenClient::new(config.clone())?.device_code(scopes, prompt).await
}

/// Client credentials flow in one call: see [`TokenClient::client_credentials`].
///
/// ```no_run
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let config = aad_auth::client::ClientConfig::from_env()?;
/// let token = aad_auth::client::client_credentials(&config, "api://my-api/.default").await?;
/// # Ok(()) }
/// ```
///
/// # Errors
/// As [`TokenClient::client_credentials`].
pub async fn client_credentials(config: &ClientConfig, scope: &str) -> Result<ClientToken, ClientError> {
    TokenClient::new(config.clone())?.client_credentials(scope).await
}

/// On-behalf-of flow in one call: see [`TokenClient::on_behalf_of`]. An API serving many
/// requests should keep one [`TokenClient`] instead (discovery is then read once).
///
/// ```no_run
/// # async fn run(incoming: aad_auth::secret::AccessToken) -> Result<(), Box<dyn std::error::Error>> {
/// let config = aad_auth::client::ClientConfig::from_env()?;
/// let token = aad_auth::client::on_behalf_of(&config, &incoming, ["api://downstream/.default"]).await?;
/// # Ok(()) }
/// ```
///
/// # Errors
/// As [`TokenClient::on_behalf_of`].
pub async fn on_behalf_of<I, S>(
    config: &ClientConfig,
    assertion: &AccessToken,
    scopes: I,
) -> Result<ClientToken, ClientError>
where
    I: IntoIterator<Item = S>,
    S: Into<String>,
{
    TokenClient::new(config.clone())?.on_behalf_of(assertion, scopes).await
}
