//! [`TokenClient`]: discovery once, then the device code, client credentials and on-behalf-of
//! flows against the token endpoint, through the openidconnect/oauth2 crates where they have the
//! grant.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use openidconnect::core::{CoreClient, CoreTokenResponse};
use openidconnect::{
    AuthType, ClientId, DeviceAuthorizationResponse, DeviceAuthorizationUrl, DeviceCodeErrorResponseType,
    EndpointNotSet, EndpointSet, ErrorResponseType, ExtraDeviceAuthorizationFields, IssuerUrl, JsonWebKeySet,
    OAuth2TokenResponse, RequestTokenError, Scope, StandardErrorResponse, TokenUrl,
};
use serde::{Deserialize, Serialize};
use url::Url;

use super::config::ClientConfig;
use super::error::{ClientError, aadsts_code, sanitise_description};
use crate::config::{ConfigError, is_loopback};
use crate::credential::{ClientAuth, CredentialError};
use crate::http::{self, FetchError, describe, display_url, read_capped};
use crate::secret::{AccessToken, RefreshToken};

/// Every call to the identity provider gives up after this long.
pub const REQUEST_TIMEOUT: Duration = crate::http::TIMEOUT;
/// Discovery documents and token responses larger than this are refused.
const MAX_RESPONSE_BYTES: usize = 256 * 1024;
const JWT_BEARER: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";

/// An access token from one of the flows, with its lifetime.
///
/// `Debug` shows `[redacted]` for the token.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ClientToken {
    /// The access token, to send as `Authorization: Bearer ...`.
    pub access_token: AccessToken,
    /// `expires_in` of the token response.
    pub expires_in: Option<Duration>,
    /// When the token expires: the time of the response plus `expires_in`.
    pub expires_at: Option<SystemTime>,
    /// The scopes granted (`scope` of the response; empty when the response has none).
    pub scopes: Vec<String>,
    /// The refresh token of the response, when Entra sent one (a user's flows; Entra rotates
    /// it on each use, so keep the new one).
    pub refresh_token: Option<RefreshToken>,
}

impl ClientToken {
    /// Whether the token expires within `margin` from now (or has no known expiry): time to get
    /// a new one.
    ///
    /// ```no_run
    /// # async fn run(client: aad_auth::client::TokenClient) -> Result<(), aad_auth::client::ClientError> {
    /// use std::time::Duration;
    ///
    /// let mut token = client.client_credentials("api://my-api/.default").await?;
    /// // ... later:
    /// if token.expires_within(Duration::from_secs(300)) {
    ///     token = client.client_credentials("api://my-api/.default").await?;
    /// }
    /// # Ok(()) }
    /// ```
    pub fn expires_within(&self, margin: Duration) -> bool {
        self.expires_at.is_none_or(|at| SystemTime::now().checked_add(margin).is_none_or(|soon| at <= soon))
    }
}

/// What the user must do to finish a device-code sign-in: open `verification_uri` in any browser
/// and enter `user_code`. `message` is Entra's ready-made (localised) sentence saying so.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct DeviceCodePrompt {
    /// The code to enter, such as `ABCD-EFGH`.
    pub user_code: String,
    /// The page where it is entered (`https://microsoft.com/devicelogin` on Entra).
    pub verification_uri: String,
    /// The instruction to show, from Entra's `message` (composed when absent).
    pub message: String,
    /// How long the code stays valid.
    pub expires_in: Duration,
}

/// Entra's extra device authorization field.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
struct EntraDeviceFields {
    #[serde(default)]
    message: Option<String>,
}

impl ExtraDeviceAuthorizationFields for EntraDeviceFields {}

/// The `claims` member of an OAuth error answer (a claims challenge).
#[derive(Deserialize)]
struct ClaimsMember {
    claims: Option<String>,
}

/// The endpoints learnt from discovery.
#[derive(Debug)]
struct Endpoints {
    token: Url,
    device: Option<Url>,
}

#[derive(Deserialize)]
struct Discovery {
    token_endpoint: String,
    device_authorization_endpoint: Option<String>,
}

#[derive(Debug)]
struct Inner {
    config: ClientConfig,
    http: reqwest::Client,
    endpoints: tokio::sync::OnceCell<Endpoints>,
}

/// Gets tokens for one app from one tenant: the device code flow (a console app signs a user
/// in), client credentials (a daemon acts as itself) and on-behalf-of (an API calls another API
/// as its caller).
///
/// Create it once and share it (it is cheap to clone): the discovery document is read at the
/// first request and kept. Every call has a 10 s timeout, follows no redirects, trusts the roots
/// of `AAD_CA_FILE` besides the system's, and honours `HTTPS_PROXY`/`NO_PROXY`. Tokens are not
/// cached: keep a [`ClientToken`] until [`ClientToken::expires_within`] says otherwise.
///
/// ```no_run
/// use aad_auth::client::{ClientConfig, TokenClient};
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let client = TokenClient::new(ClientConfig::from_env()?)?;
/// let token = client.client_credentials("api://my-api/.default").await?;
/// let answer = reqwest::Client::new()
///     .get("https://my-api.example.com/hello")
///     .bearer_auth(token.access_token.expose_secret())
///     .send()
///     .await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct TokenClient {
    inner: Arc<Inner>,
    device_code_timeout: Option<Duration>,
}

impl TokenClient {
    /// A client for `config`'s app and tenant. Nothing is fetched yet.
    ///
    /// # Errors
    /// [`ClientError::Config`] when the HTTP client cannot be built with `AAD_CA_FILE`'s
    /// certificates.
    pub fn new(config: ClientConfig) -> Result<Self, ClientError> {
        let http =
            http::client(config.ca_pem(), REQUEST_TIMEOUT, http::Redirects::Never).map_err(|error| match error {
                http::ClientBuildError::CaFile(reason) => ConfigError::File {
                    var: "AAD_CA_FILE",
                    path: config.ca_file().map(|p| p.display().to_string()).unwrap_or_default(),
                    reason,
                }
                .into(),
                http::ClientBuildError::Build(reason) => ClientError::Config(ConfigError::Conflict {
                    var: "AAD_CA_FILE",
                    message: format!("the HTTP client cannot be built: {reason}"),
                }),
            })?;
        Ok(Self {
            inner: Arc::new(Inner { config, http, endpoints: tokio::sync::OnceCell::new() }),
            device_code_timeout: None,
        })
    }

    /// A client that sends its requests through `http` (the app's outbound client, with the
    /// app's timeout and trusted roots), for the library's own token requests.
    pub(crate) fn with_http(config: ClientConfig, http: reqwest::Client) -> Self {
        Self {
            inner: Arc::new(Inner { config, http, endpoints: tokio::sync::OnceCell::new() }),
            device_code_timeout: None,
        }
    }

    /// Gives up on a device-code sign-in after `timeout` (default: when the code expires, 15
    /// minutes on Entra).
    #[must_use]
    pub fn with_device_code_timeout(mut self, timeout: Duration) -> Self {
        self.device_code_timeout = Some(timeout);
        self
    }

    /// The configuration.
    pub fn config(&self) -> &ClientConfig {
        &self.inner.config
    }

    /// Device code flow (a console or headless app signs a user in on another device): asks for
    /// a code, hands it to `prompt` (print [`DeviceCodePrompt::message`]), then polls the token
    /// endpoint at the interval Entra asks for until the user has signed in.
    ///
    /// `scopes` name one API: `api://{api}/user_impersonation`, or `{api client id}/.default`
    /// (the form that avoids AADSTS90009 for a token to the app itself). The app is normally a
    /// public client (no `AAD_CLIENT_SECRET`); `organizations` or `common` as the tenant let
    /// users of any tenant sign in. While polling, a token endpoint that cannot be reached is
    /// retried with a growing interval (at most 10 s, as RFC 8628 asks) until the code expires or
    /// [`TokenClient::with_device_code_timeout`] passes.
    ///
    /// ```no_run
    /// # async fn run(client: aad_auth::client::TokenClient) -> Result<(), aad_auth::client::ClientError> {
    /// let token = client
    ///     .device_code(["api://my-api/user_impersonation"], |prompt| eprintln!("{}", prompt.message))
    ///     .await?;
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// [`ClientError::Declined`], [`ClientError::Expired`], [`ClientError::Refused`] (a wrong
    /// client id or scope), [`ClientError::Unreachable`], [`ClientError::Discovery`] (no
    /// `device_authorization_endpoint`).
    pub async fn device_code<I, S, F>(&self, scopes: I, prompt: F) -> Result<ClientToken, ClientError>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
        F: FnOnce(&DeviceCodePrompt),
    {
        self.device_code_with_claims(scopes, None, prompt).await
    }

    /// [`TokenClient::device_code`] answering a claims challenge: `claims` (the decoded JSON of
    /// an API's `insufficient_claims` challenge, see [`claims_challenge`](super::claims_challenge))
    /// goes to Entra with the device-code request and the token requests, so that the new token
    /// satisfies the Conditional Access authentication context the API asked for.
    ///
    /// ```no_run
    /// # async fn run(client: aad_auth::client::TokenClient, www_authenticate: &str) -> Result<(), aad_auth::client::ClientError> {
    /// if let Some(claims) = aad_auth::client::claims_challenge(www_authenticate) {
    ///     let token = client
    ///         .device_code_with_claims(["api://my-api/user_impersonation"], Some(&claims), |p| eprintln!("{}", p.message))
    ///         .await?;
    /// }
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// As [`TokenClient::device_code`].
    pub async fn device_code_with_claims<I, S, F>(
        &self,
        scopes: I,
        claims: Option<&str>,
        prompt: F,
    ) -> Result<ClientToken, ClientError>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
        F: FnOnce(&DeviceCodePrompt),
    {
        const FLOW: &str = "device code";
        let endpoints = self.endpoints().await?;
        let device_url = endpoints.device.clone().ok_or_else(|| ClientError::Discovery {
            url: display_url(&self.inner.config.openid_config_url()),
            reason: "it has no device_authorization_endpoint: this authority does not offer the device code flow"
                .into(),
        })?;
        let client = self
            .oauth_client(&endpoints.token)
            .set_device_authorization_url(DeviceAuthorizationUrl::from_url(device_url))
            .disable_openid_scope();
        let send = TokenSender(&self.inner.http);
        let mut request =
            client.exchange_device_code().add_scopes(scopes.into_iter().map(|scope| Scope::new(scope.into())));
        if let Some(claims) = claims {
            request = request.add_extra_param("claims", claims.to_owned());
        }
        let details: DeviceAuthorizationResponse<EntraDeviceFields> =
            request.request_async(&send).await.map_err(|error| self.request_error(FLOW, error, None))?;
        let user_code = details.user_code().secret().clone();
        let verification_uri = details.verification_uri().to_string();
        let message = details.extra_fields().message.clone().unwrap_or_else(|| {
            format!("To sign in, use a web browser to open the page {verification_uri} and enter the code {user_code} to authenticate.")
        });
        prompt(&DeviceCodePrompt { user_code, verification_uri, message, expires_in: details.expires_in() });

        let timeout = self.device_code_timeout.map_or(details.expires_in(), |limit| limit.min(details.expires_in()));
        let mut poll = client.exchange_device_access_token(&details);
        if let Some(claims) = claims {
            poll = poll.add_extra_param("claims", claims.to_owned());
        }
        let response = poll.request_async(&send, tokio::time::sleep, Some(timeout)).await;
        match response {
            Ok(response) => Ok(token(&response)),
            Err(RequestTokenError::ServerResponse(error)) => match error.error() {
                DeviceCodeErrorResponseType::AccessDenied => Err(ClientError::Declined),
                DeviceCodeErrorResponseType::ExpiredToken => Err(ClientError::Expired),
                other if other.as_ref() == "authorization_declined" => Err(ClientError::Declined),
                _ => Err(self.refused(FLOW, &error, &[])),
            },
            Err(error) => Err(self.request_error(FLOW, error, None)),
        }
    }

    /// Client credentials flow (a daemon or service acts as itself): an app-only token carrying
    /// the app roles granted to the calling app. Needs a client credential (`AAD_CLIENT_SECRET`,
    /// `AAD_CLIENT_CERTIFICATE`, a federated assertion file or a managed identity).
    ///
    /// `scope` must be `{application ID URI or client id of the API}/.default`.
    ///
    /// ```no_run
    /// # async fn run(client: aad_auth::client::TokenClient) -> Result<(), aad_auth::client::ClientError> {
    /// let token = client.client_credentials("api://my-api/.default").await?;
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// [`ClientError::Config`] without a credential, or with an assertion file that cannot be
    /// read; [`ClientError::Refused`] (a wrong secret: `invalid_client`, AADSTS7000215; a
    /// certificate the app does not have: AADSTS700027), [`ClientError::Unreachable`] (the token
    /// endpoint, or the managed identity endpoint), [`ClientError::Discovery`].
    pub async fn client_credentials(&self, scope: &str) -> Result<ClientToken, ClientError> {
        const FLOW: &str = "client credentials";
        self.require_credential(FLOW)?;
        let endpoints = self.endpoints().await?;
        let auth = self.client_auth(&endpoints.token).await?;
        let client = self.oauth_client(&endpoints.token);
        let send = TokenSender(&self.inner.http);
        let mut request = client.exchange_client_credentials().add_scope(Scope::new(scope.to_owned()));
        if let ClientAuth::Assertion(_) = &auth {
            for (name, value) in auth.form() {
                request = request.add_extra_param(name, value.to_owned());
            }
        }
        match request.request_async(&send).await {
            Ok(response) => Ok(token(&response)),
            Err(error) => Err(self.request_error(FLOW, error, Some(auth.expose_secret()))),
        }
    }

    /// On-behalf-of flow (an API calls a downstream API as its caller): exchanges the caller's
    /// access token (`assertion`, issued for this app) for a token to the downstream API's
    /// `scopes` (for example `api://downstream/.default`). Needs a client credential (a secret,
    /// a certificate, a federated assertion file or a managed identity).
    ///
    /// oauth2 has no builder for this grant (`urn:ietf:params:oauth:grant-type:jwt-bearer` with
    /// `requested_token_use=on_behalf_of`), so the form is posted here; the reply is read with
    /// openidconnect's token response type.
    ///
    /// ```no_run
    /// # async fn run(client: aad_auth::client::TokenClient, incoming: aad_auth::secret::AccessToken)
    /// # -> Result<(), aad_auth::client::ClientError> {
    /// let downstream = client.on_behalf_of(&incoming, ["api://downstream-api/.default"]).await?;
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// [`ClientError::Config`] without a credential; [`ClientError::Refused`] (an assertion that
    /// is not a user token for this app: `invalid_grant`, AADSTS50013), [`ClientError::Unreachable`],
    /// [`ClientError::InvalidResponse`].
    pub async fn on_behalf_of<I, S>(&self, assertion: &AccessToken, scopes: I) -> Result<ClientToken, ClientError>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        const FLOW: &str = "on-behalf-of";
        self.require_credential(FLOW)?;
        let endpoints = self.endpoints().await?;
        let auth = self.client_auth(&endpoints.token).await?;
        let scope = scopes.into_iter().map(Into::into).collect::<Vec<String>>().join(" ");
        let mut form = vec![("grant_type", JWT_BEARER), ("client_id", self.inner.config.client_id())];
        form.extend(auth.form());
        form.extend([
            ("assertion", assertion.expose_secret()),
            ("scope", scope.as_str()),
            ("requested_token_use", "on_behalf_of"),
        ]);
        let shown = display_url(&endpoints.token);
        let mut response = self
            .inner
            .http
            .post(endpoints.token.clone())
            .header(reqwest::header::ACCEPT, "application/json")
            .form(&form)
            .send()
            .await
            .map_err(|error| ClientError::Unreachable { url: shown.clone(), reason: describe(&error) })?;
        let status = response.status();
        let body = read_capped(&mut response, &shown, MAX_RESPONSE_BYTES).await.map_err(fetch_error)?;
        if status.is_success() {
            let parsed: CoreTokenResponse =
                serde_json::from_slice(&body).map_err(|e| ClientError::InvalidResponse {
                    url: shown.clone(),
                    reason: format!("not a token response ({:?} error)", e.classify()),
                })?;
            return Ok(token(&parsed));
        }
        // Conditional Access on the downstream API: Entra names the claims the caller's token
        // needs in a `claims` member beside the OAuth error.
        if let Some(claims) = serde_json::from_slice::<ClaimsMember>(&body).ok().and_then(|member| member.claims) {
            return Err(ClientError::ClaimsChallenge { flow: FLOW, claims });
        }
        match serde_json::from_slice::<StandardErrorResponse<openidconnect::core::CoreErrorResponseType>>(&body) {
            Ok(error) => Err(self.refused(FLOW, &error, &[assertion.expose_secret(), auth.expose_secret()])),
            Err(_) => Err(ClientError::InvalidResponse {
                url: shown,
                reason: format!("HTTP {} without an OAuth error", status.as_u16()),
            }),
        }
    }

    /// Refresh-token grant: a new access token for `scopes` (any resource the user has consented
    /// to: Entra's refresh tokens are multi-resource) from a user's refresh token, with the
    /// rotated refresh token in [`ClientToken::refresh_token`]. A confidential app authenticates
    /// with its credential; a public client sends none.
    ///
    /// ```no_run
    /// # async fn run(client: aad_auth::client::TokenClient, refresh: aad_auth::secret::RefreshToken)
    /// # -> Result<(), aad_auth::client::ClientError> {
    /// let graph = client.refresh_token(&refresh, ["https://graph.microsoft.com/User.Read"]).await?;
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// [`ClientError::Refused`] (`invalid_grant` for a refresh token Entra no longer accepts or
    /// scopes without consent, AADSTS65001; `interaction_required`), [`ClientError::Unreachable`],
    /// [`ClientError::InvalidResponse`].
    pub async fn refresh_token<I, S>(&self, refresh_token: &RefreshToken, scopes: I) -> Result<ClientToken, ClientError>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        const FLOW: &str = "refresh token";
        let endpoints = self.endpoints().await?;
        // A public client has no credential to send.
        let auth = match self.inner.config.client_credential() {
            Some(_) => Some(self.client_auth(&endpoints.token).await?),
            None => None,
        };
        let client = self.oauth_client(&endpoints.token);
        let send = TokenSender(&self.inner.http);
        let refresh = openidconnect::RefreshToken::new(refresh_token.expose_secret().to_owned());
        let mut request = client
            .exchange_refresh_token(&refresh)
            .add_scopes(scopes.into_iter().map(|scope| Scope::new(scope.into())));
        if let Some(auth @ ClientAuth::Assertion(_)) = &auth {
            for (name, value) in auth.form() {
                request = request.add_extra_param(name, value.to_owned());
            }
        }
        match request.request_async(&send).await {
            Ok(response) => Ok(token(&response)),
            Err(error) => Err(self.request_error(FLOW, error, Some(refresh_token.expose_secret()))),
        }
    }

    fn require_credential(&self, flow: &'static str) -> Result<(), ClientError> {
        match self.inner.config.client_credential() {
            Some(_) => Ok(()),
            None => Err(ClientError::Config(ConfigError::Conflict {
                var: "AAD_CLIENT_SECRET",
                message: format!(
                    "the {flow} flow needs the calling app's credential; set AAD_CLIENT_SECRET (or \
                     AAD_CLIENT_CERTIFICATE, AAD_CLIENT_ASSERTION_FILE or AAD_MANAGED_IDENTITY)"
                ),
            })),
        }
    }

    /// What authenticates one request to `token_url`: the secret, or a fresh client assertion.
    async fn client_auth(&self, token_url: &Url) -> Result<ClientAuth, ClientError> {
        let config = &self.inner.config;
        let Some(credential) = config.client_credential() else {
            return Err(ClientError::Config(ConfigError::Missing {
                var: "AAD_CLIENT_SECRET",
                expected: "a client credential",
            }));
        };
        credential
            .authenticate(&self.inner.http, config.client_id(), token_url.as_str())
            .await
            .map_err(credential_error)
    }

    /// An oauth2 client for the token endpoint; the secret, if any, goes in the request body
    /// (`client_secret_post`, as Entra documents).
    fn oauth_client(
        &self,
        token_url: &Url,
    ) -> CoreClient<EndpointNotSet, EndpointNotSet, EndpointNotSet, EndpointNotSet, EndpointSet, EndpointNotSet> {
        let config = &self.inner.config;
        // The issuer is not used (no id_token is verified here); a placeholder keeps multi-tenant
        // templates out of openidconnect's way.
        let issuer = IssuerUrl::from_url(token_url.clone());
        let mut client =
            CoreClient::new(ClientId::new(config.client_id().to_owned()), issuer, JsonWebKeySet::default())
                .set_token_uri(TokenUrl::from_url(token_url.clone()))
                .set_auth_type(AuthType::RequestBody);
        if let Some(secret) = config.client_secret() {
            client = client.set_client_secret(openidconnect::ClientSecret::new(secret.expose_secret().to_owned()));
        }
        client
    }

    /// The token and device endpoints, from the discovery document (read once).
    async fn endpoints(&self) -> Result<&Endpoints, ClientError> {
        self.inner
            .endpoints
            .get_or_try_init(|| async { discover(&self.inner.http, &self.inner.config.openid_config_url()).await })
            .await
    }

    fn refused<T: ErrorResponseType + AsRef<str> + std::fmt::Display>(
        &self,
        flow: &'static str,
        error: &StandardErrorResponse<T>,
        sent: &[&str],
    ) -> ClientError {
        let mut secrets: Vec<&str> = Vec::new();
        if let Some(secret) = self.inner.config.client_secret() {
            secrets.push(secret.expose_secret());
        }
        secrets.extend(sent);
        let description = error.error_description().map(|text| sanitise_description(text, &secrets));
        let code = description.as_deref().and_then(aadsts_code);
        let error_code: String =
            error.error().as_ref().chars().filter(|c| c.is_ascii_graphic()).take(64).collect::<String>();
        ClientError::Refused { flow, error: error_code, description, code }
    }

    fn request_error<T: ErrorResponseType + AsRef<str> + std::fmt::Display + 'static>(
        &self,
        flow: &'static str,
        error: RequestTokenError<FetchError, StandardErrorResponse<T>>,
        sent: Option<&str>,
    ) -> ClientError {
        match error {
            RequestTokenError::ServerResponse(error) => self.refused(flow, &error, sent.as_slice()),
            RequestTokenError::Request(error) => fetch_error(error),
            RequestTokenError::Parse(error, _) => ClientError::InvalidResponse {
                url: "the token endpoint".into(),
                reason: format!("not a token response (at {})", error.path()),
            },
            RequestTokenError::Other(reason) => ClientError::InvalidResponse {
                url: "the token endpoint".into(),
                reason: sanitise_description(&reason, &[]),
            },
        }
    }
}

/// openidconnect's HTTP client for the token requests: a type rather than a closure, so that the
/// flows' futures are `Send` (with a closure capturing `&reqwest::Client` the compiler cannot
/// show it for every lifetime, and the library's own client-credentials calls, made from
/// futures shared between workers, need it).
struct TokenSender<'a>(&'a reqwest::Client);

impl<'c> openidconnect::AsyncHttpClient<'c> for TokenSender<'_> {
    type Error = FetchError;
    type Future = std::pin::Pin<
        Box<dyn std::future::Future<Output = Result<openidconnect::HttpResponse, FetchError>> + Send + 'c>,
    >;

    fn call(&'c self, request: openidconnect::HttpRequest) -> Self::Future {
        Box::pin(http::send_token_request(self.0, request, MAX_RESPONSE_BYTES))
    }
}

fn token(response: &CoreTokenResponse) -> ClientToken {
    let expires_in = response.expires_in();
    ClientToken {
        access_token: AccessToken::new(response.access_token().secret().clone()),
        expires_in,
        expires_at: expires_in.and_then(|lifetime| SystemTime::now().checked_add(lifetime)),
        scopes: response.scopes().map(|scopes| scopes.iter().map(|s| s.to_string()).collect()).unwrap_or_default(),
        refresh_token: response.refresh_token().map(|token| RefreshToken::new(token.secret().clone())),
    }
}

/// A credential that failed before the request: a file is a configuration problem, the
/// managed identity endpoint an unreachable service.
fn credential_error(error: CredentialError) -> ClientError {
    match error {
        CredentialError::File { var, path, reason } => ClientError::Config(ConfigError::File { var, path, reason }),
        CredentialError::Endpoint { url, reason } => ClientError::Unreachable { url, reason },
    }
}

fn fetch_error(error: FetchError) -> ClientError {
    match error {
        FetchError::Transport { url, reason } => ClientError::Unreachable { url, reason },
        FetchError::Status { url, status } => ClientError::InvalidResponse { url, reason: format!("HTTP {status}") },
        FetchError::TooLarge { url, limit } => {
            ClientError::InvalidResponse { url, reason: format!("more than {limit} bytes") }
        }
        FetchError::Invalid { url, reason } => ClientError::InvalidResponse { url, reason },
    }
}

/// Reads the discovery document and checks its endpoints: https (http for loopback hosts only)
/// and on the discovery document's own host, so that a secret is never posted elsewhere.
async fn discover(http: &reqwest::Client, url: &Url) -> Result<Endpoints, ClientError> {
    let shown = display_url(url);
    let mut response = http
        .get(url.clone())
        .header(reqwest::header::ACCEPT, "application/json")
        .send()
        .await
        .map_err(|error| ClientError::Unreachable { url: shown.clone(), reason: describe(&error) })?;
    let status = response.status();
    if !status.is_success() {
        let hint = if status.as_u16() == 400 || status.as_u16() == 404 {
            " (check AAD_TENANT_ID and AAD_AUTHORITY_HOST)"
        } else {
            ""
        };
        return Err(ClientError::Discovery { url: shown, reason: format!("HTTP {}{hint}", status.as_u16()) });
    }
    let body = read_capped(&mut response, &shown, MAX_RESPONSE_BYTES).await.map_err(fetch_error)?;
    let document: Discovery = serde_json::from_slice(&body)
        .map_err(|e| ClientError::Discovery { url: shown.clone(), reason: format!("not a discovery document: {e}") })?;
    let check = |name: &str, value: &str| -> Result<Url, ClientError> {
        let problem =
            |reason: String| ClientError::Discovery { url: shown.clone(), reason: format!("{name}: {reason}") };
        let endpoint = Url::parse(value).map_err(|_| problem("not a URL".into()))?;
        if !(endpoint.scheme() == "https" || (endpoint.scheme() == "http" && is_loopback(&endpoint))) {
            return Err(problem("must be https".into()));
        }
        if endpoint.host_str() != url.host_str() || endpoint.port_or_known_default() != url.port_or_known_default() {
            return Err(problem(format!(
                "is on {} but the document is on {}",
                endpoint.host_str().unwrap_or("?"),
                url.host_str().unwrap_or("?")
            )));
        }
        Ok(endpoint)
    };
    Ok(Endpoints {
        token: check("token_endpoint", &document.token_endpoint)?,
        device: document
            .device_authorization_endpoint
            .as_deref()
            .map(|value| check("device_authorization_endpoint", value))
            .transpose()?,
    })
}
