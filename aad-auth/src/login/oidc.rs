//! The authorization-code client (openidconnect crate): the authorize URL with PKCE, state and
//! nonce, the code exchange and refresh. Discovery and keys come from the crate's own key store;
//! the id_token is verified by the crate's validator.

use std::borrow::Cow;

use openidconnect::core::{CoreAuthenticationFlow, CoreClient, CoreTokenResponse};
use openidconnect::{
    AuthType, AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointNotSet, EndpointSet, IssuerUrl,
    JsonWebKeySet, Nonce, OAuth2TokenResponse, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, RefreshToken,
    RequestTokenError, Scope, TokenResponse, TokenUrl,
};
use url::Url;

use crate::authority::ProviderMetadata;
use crate::config::AadAuthConfig;
use crate::credential::ClientAuth;
use crate::http::{self, FetchError};

/// Token responses larger than this are refused (Entra's are a few KiB).
const MAX_TOKEN_RESPONSE_BYTES: usize = 256 * 1024;

type Client = CoreClient<EndpointSet, EndpointNotSet, EndpointNotSet, EndpointNotSet, EndpointSet, EndpointNotSet>;

/// A login about to be sent to the authorize endpoint.
pub(crate) struct Authorization {
    pub(crate) url: Url,
    pub(crate) state: String,
    pub(crate) nonce: String,
    pub(crate) verifier: String,
}

/// Tokens from the token endpoint.
pub(crate) struct Tokens {
    pub(crate) access_token: String,
    pub(crate) refresh_token: Option<String>,
    pub(crate) id_token: Option<String>,
    pub(crate) expires_in: Option<u64>,
    pub(crate) scope: String,
}

/// Why the token endpoint did not give tokens.
#[derive(Debug)]
pub(crate) enum ExchangeError {
    /// The identity provider refused (an OAuth error such as `invalid_grant`).
    Refused(String),
    /// The identity provider could not be reached or answered nonsense.
    Upstream(String),
}

fn client(config: &AadAuthConfig, metadata: &ProviderMetadata, redirect_uri: &str) -> Result<Client, String> {
    let authorization =
        metadata.authorization_endpoint.clone().ok_or("the discovery document has no authorization_endpoint")?;
    let token = metadata.token_endpoint.clone().ok_or("the discovery document has no token_endpoint")?;
    // The issuer is not used for verification here (our validator does it); a placeholder keeps
    // multi-tenant templates, which are not valid URLs for openidconnect, out of its way.
    let issuer = IssuerUrl::from_url(Url::parse(config.authority_host()).map_err(|e| e.to_string())?);
    let mut client = CoreClient::new(ClientId::new(config.client_id().to_owned()), issuer, JsonWebKeySet::default())
        .set_auth_uri(AuthUrl::from_url(authorization))
        .set_token_uri(TokenUrl::from_url(token))
        .set_redirect_uri(RedirectUrl::new(redirect_uri.to_owned()).map_err(|e| e.to_string())?)
        .set_auth_type(AuthType::RequestBody);
    if let Some(secret) = config.client_secret() {
        client = client.set_client_secret(ClientSecret::new(secret.expose_secret().to_owned()));
    }
    Ok(client)
}

/// The scopes of a login: OpenID Connect's, `offline_access` for a refresh token, and the
/// configured API scopes.
fn scopes(config: &AadAuthConfig) -> Vec<String> {
    let mut scopes: Vec<String> = ["openid", "profile", "offline_access"].iter().map(|s| (*s).to_owned()).collect();
    for scope in config.scopes() {
        if !scopes.contains(scope) {
            scopes.push(scope.clone());
        }
    }
    scopes
}

/// The authorize URL with a fresh state, nonce and PKCE (S256) verifier; `claims` (a step-up's
/// claims request, built by `step_up` from validated ids) as the `claims` parameter;
/// `extra_scopes` (incremental consent, checked by the caller) after the configured scopes, so
/// that the login's access token stays this API's.
pub(crate) fn authorize(
    config: &AadAuthConfig,
    metadata: &ProviderMetadata,
    redirect_uri: &str,
    claims: Option<String>,
    extra_scopes: &[String],
) -> Result<Authorization, String> {
    let client = client(config, metadata, redirect_uri)?;
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let mut request = client
        .authorize_url(CoreAuthenticationFlow::AuthorizationCode, CsrfToken::new_random, Nonce::new_random)
        .set_pkce_challenge(challenge)
        .add_extra_param("response_mode", "query");
    let mut all = scopes(config);
    for scope in extra_scopes {
        if !all.contains(scope) {
            all.push(scope.clone());
        }
    }
    for scope in all {
        if scope != "openid" {
            request = request.add_scope(Scope::new(scope));
        }
    }
    if let Some(prompt) = config.prompt() {
        request = request.add_extra_param("prompt", prompt.to_owned());
    }
    if let Some(hint) = config.domain_hint() {
        request = request.add_extra_param("domain_hint", hint.to_owned());
    }
    if let Some(claims) = claims {
        request = request.add_extra_param("claims", claims);
    }
    let (url, state, nonce) = request.url();
    Ok(Authorization {
        url,
        state: state.secret().clone(),
        nonce: nonce.secret().clone(),
        verifier: verifier.secret().clone(),
    })
}

/// The client assertion of one token request, when the app's credential is not a secret (the
/// secret is set on the client by [`client`]). A credential that cannot be used (an assertion
/// file gone, the managed identity endpoint down) is an upstream failure, named without its
/// content.
async fn assertion(
    config: &AadAuthConfig,
    metadata: &ProviderMetadata,
    http_client: &reqwest::Client,
) -> Result<Vec<(&'static str, String)>, ExchangeError> {
    let Some(credential) = config.client_credential() else {
        return Ok(Vec::new());
    };
    let token = metadata
        .token_endpoint
        .as_ref()
        .ok_or_else(|| ExchangeError::Upstream("the discovery document has no token_endpoint".to_owned()))?;
    match credential.authenticate(http_client, config.client_id(), token.as_str()).await {
        Ok(auth @ ClientAuth::Assertion(_)) => {
            Ok(auth.form().into_iter().map(|(name, value)| (name, value.to_owned())).collect())
        }
        Ok(ClientAuth::Secret(_)) => Ok(Vec::new()),
        Err(error) => Err(ExchangeError::Upstream(error.to_string())),
    }
}

/// Redeems an authorization code (with the PKCE verifier and the byte-identical redirect URI).
pub(crate) async fn exchange_code(
    config: &AadAuthConfig,
    metadata: &ProviderMetadata,
    http_client: &reqwest::Client,
    code: &str,
    verifier: &str,
    redirect_uri: &str,
) -> Result<Tokens, ExchangeError> {
    let client = client(config, metadata, redirect_uri).map_err(ExchangeError::Upstream)?;
    let send = |request| http::send_token_request(http_client, request, MAX_TOKEN_RESPONSE_BYTES);
    let mut request = client
        .exchange_code(AuthorizationCode::new(code.to_owned()))
        .set_pkce_verifier(PkceCodeVerifier::new(verifier.to_owned()))
        .set_redirect_uri(Cow::Owned(
            RedirectUrl::new(redirect_uri.to_owned()).map_err(|e| ExchangeError::Upstream(e.to_string()))?,
        ));
    for (name, value) in assertion(config, metadata, http_client).await? {
        request = request.add_extra_param(name, value);
    }
    tokens(request.request_async(&send).await)
}

/// Uses a refresh token.
pub(crate) async fn refresh(
    config: &AadAuthConfig,
    metadata: &ProviderMetadata,
    http_client: &reqwest::Client,
    refresh_token: &str,
    redirect_uri: &str,
) -> Result<Tokens, ExchangeError> {
    let client = client(config, metadata, redirect_uri).map_err(ExchangeError::Upstream)?;
    let send = |request| http::send_token_request(http_client, request, MAX_TOKEN_RESPONSE_BYTES);
    let refresh_token = RefreshToken::new(refresh_token.to_owned());
    let mut request = client.exchange_refresh_token(&refresh_token);
    for scope in scopes(config) {
        request = request.add_scope(Scope::new(scope));
    }
    for (name, value) in assertion(config, metadata, http_client).await? {
        request = request.add_extra_param(name, value);
    }
    tokens(request.request_async(&send).await)
}

type Response = Result<
    CoreTokenResponse,
    RequestTokenError<FetchError, openidconnect::StandardErrorResponse<openidconnect::core::CoreErrorResponseType>>,
>;

fn tokens(response: Response) -> Result<Tokens, ExchangeError> {
    match response {
        Ok(response) => Ok(Tokens {
            access_token: response.access_token().secret().clone(),
            refresh_token: response.refresh_token().map(|t| t.secret().clone()),
            id_token: response.id_token().map(ToString::to_string),
            expires_in: response.expires_in().map(|d| d.as_secs()),
            scope: response
                .scopes()
                .map(|s| s.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(" "))
                .unwrap_or_default(),
        }),
        Err(RequestTokenError::ServerResponse(error)) => Err(ExchangeError::Refused(error.error().as_ref().to_owned())),
        Err(RequestTokenError::Request(error)) => Err(ExchangeError::Upstream(error.to_string())),
        Err(RequestTokenError::Parse(error, _)) => {
            Err(ExchangeError::Upstream(format!("unreadable token response: {}", error.path())))
        }
        Err(RequestTokenError::Other(error)) => Err(ExchangeError::Upstream(error)),
    }
}
