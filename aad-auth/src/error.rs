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
}

impl AuthError {
    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::MissingCredentials | Self::InvalidToken(_) | Self::InsufficientClaims(_) => StatusCode::UNAUTHORIZED,
            Self::InvalidRequest(_) => StatusCode::BAD_REQUEST,
            Self::Forbidden(_) | Self::CrossOriginRequest => StatusCode::FORBIDDEN,
            Self::KeysUnavailable | Self::SessionUnavailable | Self::GroupsUnavailable { .. } => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            Self::LoginRequired | Self::StepUpRequired(_) => StatusCode::SEE_OTHER,
            Self::NotConfigured => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The RFC 6750 error code, when there is one.
    pub fn code(&self) -> Option<&'static str> {
        match self {
            Self::InvalidRequest(_) => Some("invalid_request"),
            Self::InvalidToken(_) => Some("invalid_token"),
            Self::Forbidden(_) => Some("insufficient_scope"),
            Self::InsufficientClaims(_) | Self::StepUpRequired(_) => Some("insufficient_claims"),
            Self::KeysUnavailable | Self::SessionUnavailable | Self::GroupsUnavailable { .. } => {
                Some("temporarily_unavailable")
            }
            Self::CrossOriginRequest => Some("cross_origin_request"),
            Self::MissingCredentials | Self::LoginRequired | Self::NotConfigured => None,
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
        }
    }

    pub(crate) fn from_token(error: TokenError) -> Self {
        match error {
            TokenError::KeysUnavailable => Self::KeysUnavailable,
            other => Self::InvalidToken(other),
        }
    }
}
