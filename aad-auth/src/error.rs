//! Errors: [`Error`] for start-up, [`AuthError`] for requests. How an [`AuthError`] becomes an
//! HTTP response is `crate::rejection`'s job.

use actix_web::http::StatusCode;

use crate::config::ConfigError;
use crate::policy::Forbidden;
use crate::step_up::ClaimsChallenge;
use crate::token::TokenError;

/// A start-up error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The configuration is incomplete or invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// A component could not be set up (for example the HTTP client or the template engine).
    #[error("cannot set up {component}: {reason}")]
    Setup {
        /// The component.
        component: &'static str,
        /// Why.
        reason: String,
    },
}

/// Why a request was not let through.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// No credential: 401 with a bare `Bearer` challenge.
    #[error("no credentials")]
    MissingCredentials,
    /// A malformed request (two `Authorization` headers, a token sent twice): 400.
    #[error("invalid request: {0}")]
    InvalidRequest(&'static str),
    /// A bearer token that failed validation: 401 `invalid_token`.
    #[error("invalid token: {0}")]
    InvalidToken(TokenError),
    /// Authenticated but not allowed: 403 `insufficient_scope`.
    #[error("forbidden: {0}")]
    Forbidden(Forbidden),
    /// The token (or the session's) lacks a Conditional Access authentication context the
    /// route requires (`acrs`): 401 with Microsoft's claims challenge
    /// (`error="insufficient_claims"`, `claims="<base64>"`), which a client answers by asking
    /// Entra again with those claims (msal: `claims_challenge`).
    #[error("insufficient claims: one of the authentication contexts {0} is required")]
    InsufficientClaims(ClaimsChallenge),
    /// A browser session on a page route without a required authentication context: 303
    /// through the login, asking Entra for it, and back to the page.
    #[error("step-up required: one of the authentication contexts {0}")]
    StepUpRequired(ClaimsChallenge),
    /// No signing keys could be loaded yet: 503 with `Retry-After`.
    #[error("signing keys unavailable")]
    KeysUnavailable,
    /// The session store (Redis) cannot be reached: 503 with `Retry-After`. Only requests that
    /// need the session get it; bearer requests and anonymous pages are unaffected.
    #[error("session store unavailable")]
    SessionUnavailable,
    /// The route requires a group, the caller's token has a groups overage, and Microsoft Graph
    /// could not confirm the membership (unreachable, 5xx, too slow, throttling, the app's token
    /// or permission refused): 503 with `Retry-After: retry_after` seconds. Never a silent allow.
    #[error("group membership unavailable (Microsoft Graph)")]
    GroupsUnavailable {
        /// Seconds the client should wait (Graph's own `Retry-After` when it throttled us).
        retry_after: u32,
    },
    /// A cookie-authenticated unsafe request from another origin (cross-site request forgery):
    /// 403 `cross_origin_request`; the handler does not run.
    #[error("cross-origin request")]
    CrossOriginRequest,
    /// An anonymous browser on a page route: 303 to the login UI.
    #[error("login required")]
    LoginRequired,
    /// [`crate::AadAuth::configure`] was not applied to the app: 500.
    #[error("aad-auth is not configured on this app")]
    NotConfigured,
    /// A downstream token ([`crate::DownstreamTokens`]) needs the user's consent to these scopes,
    /// or another interaction with Entra (`consent_required`, `interaction_required`, or a
    /// refresh token Entra no longer accepts): 401 `consent_required` naming the scopes, which a
    /// client answers by asking the user for them interactively.
    #[error("consent required for {}", .0.join(" "))]
    ConsentRequired(Vec<String>),
    /// [`AuthError::ConsentRequired`] for a browser session on a page: 303 through the login,
    /// asking Entra for the scopes (incremental consent), and back to the page.
    #[error("consent through the login required for {}", .0.join(" "))]
    ConsentThroughLogin(Vec<String>),
    /// Entra answered an on-behalf-of request with a claims challenge (Conditional Access on the
    /// downstream API): 401 `insufficient_claims` with Entra's `claims`, for the caller to pass
    /// to its token request, as Microsoft.Identity.Web does.
    #[error("the downstream API's Conditional Access requires more claims")]
    DownstreamClaims(DownstreamClaims),
    /// Entra could not be reached for a downstream token, or answered nonsense: 503 with
    /// `Retry-After`.
    #[error("the identity provider is unavailable for a downstream token")]
    DownstreamUnavailable,
    /// Entra refused the app's own downstream token request (a credential, scope or
    /// permission problem of the app, logged at error): 502.
    #[error("the identity provider refused the app's downstream token request")]
    DownstreamRefused,
}

/// The claims JSON of an on-behalf-of answer's claims challenge, as Entra sent it: a JSON
/// object of at most 4 KiB (checked when it is received), passed on to the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DownstreamClaims(String);

impl DownstreamClaims {
    /// Most claims requests are under 200 bytes; larger answers are not passed on.
    const MAX_LEN: usize = 4096;

    /// `claims` when it is a JSON object of at most 4 KiB.
    pub(crate) fn from_entra(claims: &str) -> Option<Self> {
        (claims.len() <= Self::MAX_LEN
            && serde_json::from_str::<serde_json::Value>(claims).is_ok_and(|value| value.is_object()))
        .then(|| Self(claims.to_owned()))
    }

    /// The claims JSON.
    pub fn claims_json(&self) -> &str {
        &self.0
    }

    /// The claims JSON in base64 (with padding), as the `claims` of a `WWW-Authenticate`
    /// challenge.
    pub fn claims_base64(&self) -> String {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD.encode(&self.0)
    }
}

impl AuthError {
    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::MissingCredentials
            | Self::InvalidToken(_)
            | Self::InsufficientClaims(_)
            | Self::ConsentRequired(_)
            | Self::DownstreamClaims(_) => StatusCode::UNAUTHORIZED,
            Self::InvalidRequest(_) => StatusCode::BAD_REQUEST,
            Self::Forbidden(_) | Self::CrossOriginRequest => StatusCode::FORBIDDEN,
            Self::KeysUnavailable
            | Self::SessionUnavailable
            | Self::GroupsUnavailable { .. }
            | Self::DownstreamUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            Self::LoginRequired | Self::StepUpRequired(_) | Self::ConsentThroughLogin(_) => StatusCode::SEE_OTHER,
            Self::NotConfigured => StatusCode::INTERNAL_SERVER_ERROR,
            Self::DownstreamRefused => StatusCode::BAD_GATEWAY,
        }
    }

    /// The RFC 6750 error code, when there is one.
    pub fn code(&self) -> Option<&'static str> {
        match self {
            Self::InvalidRequest(_) => Some("invalid_request"),
            Self::InvalidToken(_) => Some("invalid_token"),
            Self::Forbidden(_) => Some("insufficient_scope"),
            Self::InsufficientClaims(_) | Self::StepUpRequired(_) | Self::DownstreamClaims(_) => {
                Some("insufficient_claims")
            }
            Self::KeysUnavailable
            | Self::SessionUnavailable
            | Self::GroupsUnavailable { .. }
            | Self::DownstreamUnavailable => Some("temporarily_unavailable"),
            Self::CrossOriginRequest => Some("cross_origin_request"),
            Self::ConsentRequired(_) | Self::ConsentThroughLogin(_) => Some("consent_required"),
            Self::MissingCredentials | Self::LoginRequired | Self::NotConfigured | Self::DownstreamRefused => None,
        }
    }

    /// A short, fixed explanation; never contains request data.
    pub fn description(&self) -> &'static str {
        match self {
            Self::MissingCredentials => {
                "Authentication is required: send an access token as `Authorization: Bearer <token>`."
            }
            Self::InvalidRequest(reason) => reason,
            Self::InvalidToken(error) => error.description(),
            Self::Forbidden(reason) => reason.description(),
            Self::InsufficientClaims(_) | Self::StepUpRequired(_) => {
                "This operation requires a stronger sign-in (a Conditional Access authentication context): ask the \
                 identity provider for a new token with the claims of the WWW-Authenticate challenge."
            }
            Self::KeysUnavailable => "The identity provider's signing keys are not available yet; retry shortly.",
            Self::SessionUnavailable => "The session store is not available; retry shortly.",
            Self::GroupsUnavailable { .. } => {
                "Group membership could not be confirmed with Microsoft Graph; retry after the time in Retry-After."
            }
            Self::CrossOriginRequest => {
                "This request changes state with the session cookie but does not come from this site."
            }
            Self::LoginRequired => "Sign-in is required.",
            Self::NotConfigured => "Authentication is not configured on this server.",
            Self::ConsentRequired(_) | Self::ConsentThroughLogin(_) => {
                "This operation calls another API for the user, and the user has not consented to the scopes it needs \
                 (named in the WWW-Authenticate challenge's `scope`): ask for them interactively, then retry."
            }
            Self::DownstreamClaims(_) => {
                "The API this operation calls requires a stronger sign-in (Conditional Access): ask the identity \
                 provider for a new token with the claims of the WWW-Authenticate challenge, then retry."
            }
            Self::DownstreamUnavailable => {
                "The identity provider cannot be reached for a token to another API; retry shortly."
            }
            Self::DownstreamRefused => {
                "The identity provider refused this app's request for a token to another API; this is a problem of \
                 the server's configuration."
            }
        }
    }

    pub(crate) fn from_token(error: TokenError) -> Self {
        match error {
            TokenError::KeysUnavailable => Self::KeysUnavailable,
            other => Self::InvalidToken(other),
        }
    }
}
