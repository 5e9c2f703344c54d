//! Errors: [`Error`] for start-up, [`AuthError`] for requests. The mapping of [`AuthError`] to
//! HTTP (status, RFC 6750 `WWW-Authenticate`, one JSON body shape, or an HTML page for browsers)
//! lives here and nowhere else.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse};

use crate::config::ConfigError;
use crate::policy::Forbidden;
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
    /// No signing keys could be loaded yet: 503 with `Retry-After`.
    #[error("signing keys unavailable")]
    KeysUnavailable,
    /// The session store (Redis) cannot be reached: 503 with `Retry-After`. Only requests that
    /// need the session get it; bearer requests and anonymous pages are unaffected.
    #[error("session store unavailable")]
    SessionUnavailable,
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
            Self::MissingCredentials | Self::InvalidToken(_) => StatusCode::UNAUTHORIZED,
            Self::InvalidRequest(_) => StatusCode::BAD_REQUEST,
            Self::Forbidden(_) | Self::CrossOriginRequest => StatusCode::FORBIDDEN,
            Self::KeysUnavailable | Self::SessionUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            Self::LoginRequired => StatusCode::SEE_OTHER,
            Self::NotConfigured => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The RFC 6750 error code, when there is one.
    pub fn code(&self) -> Option<&'static str> {
        match self {
            Self::InvalidRequest(_) => Some("invalid_request"),
            Self::InvalidToken(_) => Some("invalid_token"),
            Self::Forbidden(_) => Some("insufficient_scope"),
            Self::KeysUnavailable | Self::SessionUnavailable => Some("temporarily_unavailable"),
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
            Self::KeysUnavailable => "The identity provider's signing keys are not available yet; retry shortly.",
            Self::SessionUnavailable => "The session store is not available; retry shortly.",
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

/// Seconds clients are told to wait while the signing keys load or the session store is away.
const RETRY_AFTER_SECONDS: &str = "5";

/// What the error response needs from the app.
pub(crate) struct ResponseContext<'a> {
    pub(crate) realm: &'a str,
    pub(crate) login_url: &'a str,
    pub(crate) pages: Option<&'a dyn ErrorPages>,
}

/// Renders HTML error pages for browsers (the login UI provides one).
pub(crate) trait ErrorPages: Send + Sync {
    /// A complete HTML error response (page headers and CSP included) for `status` with a fixed
    /// `title` and `description`.
    fn error_page(&self, status: StatusCode, title: &str, description: &str) -> HttpResponse;
}

/// Builds the HTTP response for an [`AuthError`].
pub(crate) fn respond(error: &AuthError, req: &HttpRequest, context: &ResponseContext<'_>) -> HttpResponse {
    let status = error.status();
    if let AuthError::LoginRequired = error {
        let target = crate::redirect::current_target(req);
        let location = format!(
            "{}?redirect={}",
            context.login_url,
            url::form_urlencoded::byte_serialize(target.as_bytes()).collect::<String>()
        );
        return HttpResponse::SeeOther()
            .insert_header((header::LOCATION, location))
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .finish();
    }
    let html = match context.pages {
        Some(pages) if prefers_html(req) => {
            Some(pages.error_page(status, status.canonical_reason().unwrap_or("Error"), error.description()))
        }
        _ => None,
    };
    let mut response = match html {
        Some(page) => page,
        None => HttpResponse::build(status).insert_header((header::CACHE_CONTROL, "no-store")).json(ErrorBody {
            error: error.code().unwrap_or(match error {
                AuthError::MissingCredentials => "unauthorized",
                _ => "server_error",
            }),
            error_description: error.description(),
            status: status.as_u16(),
        }),
    };
    if let Some(challenge) = challenge(error, context.realm) {
        response.headers_mut().insert(header::WWW_AUTHENTICATE, challenge);
    }
    if let AuthError::KeysUnavailable | AuthError::SessionUnavailable = error {
        response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static(RETRY_AFTER_SECONDS));
    }
    response
}

/// The one JSON error shape.
#[derive(serde::Serialize)]
struct ErrorBody<'a> {
    error: &'a str,
    error_description: &'a str,
    status: u16,
}

/// RFC 6750 §3: a bare `Bearer realm` when no credential was sent, with `error` and
/// `error_description` otherwise.
fn challenge(error: &AuthError, realm: &str) -> Option<HeaderValue> {
    let realm = quote(realm);
    let value = match error {
        AuthError::MissingCredentials => format!("Bearer realm=\"{realm}\""),
        AuthError::InvalidRequest(_) | AuthError::InvalidToken(_) | AuthError::Forbidden(_) => {
            format!(
                "Bearer realm=\"{realm}\", error=\"{}\", error_description=\"{}\"",
                error.code().unwrap_or_default(),
                quote(error.description())
            )
        }
        AuthError::KeysUnavailable => format!("Bearer realm=\"{realm}\""),
        AuthError::SessionUnavailable
        | AuthError::CrossOriginRequest
        | AuthError::LoginRequired
        | AuthError::NotConfigured => return None,
    };
    HeaderValue::from_str(&value).ok()
}

/// A quoted-string body: no quotes, backslashes or control characters.
fn quote(value: &str) -> String {
    value.chars().filter(|c| !c.is_control() && *c != '"' && *c != '\\').collect()
}

/// HTML only when the client lists `text/html` at least as high as anything else: browsers do,
/// `curl`, `fetch()` and API clients (`*/*`, `application/json`) do not. The User-Agent is never
/// consulted.
pub(crate) fn prefers_html(req: &HttpRequest) -> bool {
    let Some(accept) = req.headers().get(header::ACCEPT).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let mut html = 0.0_f32;
    let mut other = 0.0_f32;
    for item in accept.split(',') {
        let mut parts = item.split(';');
        let media = parts.next().unwrap_or_default().trim().to_ascii_lowercase();
        let q = parts
            .filter_map(|p| p.trim().strip_prefix("q="))
            .find_map(|q| q.trim().parse::<f32>().ok())
            .unwrap_or(1.0)
            .clamp(0.0, 1.0);
        if media == "text/html" || media == "application/xhtml+xml" {
            html = html.max(q);
        } else if media == "application/json" {
            other = other.max(q + 0.001);
        } else {
            other = other.max(q);
        }
    }
    html > 0.0 && html >= other
}

#[cfg(test)]
mod tests {
    use actix_web::test::TestRequest;

    use super::prefers_html;

    #[test]
    fn html_only_when_asked_for() {
        let browser = TestRequest::default()
            .insert_header(("accept", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"))
            .to_http_request();
        assert!(prefers_html(&browser));
        for accept in ["*/*", "application/json", "application/json, text/html;q=0.5", "text/html;q=0"] {
            let req = TestRequest::default().insert_header(("accept", accept)).to_http_request();
            assert!(!prefers_html(&req), "{accept}");
        }
        assert!(!prefers_html(&TestRequest::default().to_http_request()));
    }
}
