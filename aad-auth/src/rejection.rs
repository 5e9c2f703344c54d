//! How a refused request is answered: the status, RFC 6750 `WWW-Authenticate` (every 401 with
//! RFC 9728's `resource_metadata`; a missing authentication context with Microsoft's claims
//! challenge), the one JSON body shape or, for browsers, an HTML page; and [`AuthRejection`],
//! the typed error the guards reject with. Every guard, the login routes' session failures and `AadAuth::error_response`
//! answer through [`respond`].

use std::cell::RefCell;
use std::fmt;

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, ResponseError};

use crate::error::AuthError;
use crate::ui::Pages;

/// Seconds clients are told to wait while the signing keys load or the session store is away.
const RETRY_AFTER_SECONDS: &str = "5";

/// What the error response needs from the app.
pub(crate) struct ResponseContext<'a> {
    /// The `realm` of the `WWW-Authenticate` challenge.
    pub(crate) realm: &'a str,
    /// Where `LoginRequired` sends the browser.
    pub(crate) login_url: &'a str,
    /// The OAuth login route, where `StepUpRequired` sends the browser (straight to Entra: the
    /// user is signed in already).
    pub(crate) step_up_url: &'a str,
    /// `authorization_uri` of the claims challenge: `{authority}/oauth2/v2.0/authorize`.
    pub(crate) authorize_url: &'a str,
    /// `client_id` of the claims challenge.
    pub(crate) client_id: &'a str,
    /// The protected-resource metadata URL, named by every 401 challenge; `None` for other
    /// statuses (it is computed only when needed).
    pub(crate) resource_metadata: Option<String>,
    /// The login UI's pages, for browsers; `None` (bearer-only) answers JSON to everyone.
    pub(crate) pages: Option<&'a Pages>,
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
    if let AuthError::ConsentThroughLogin(scopes) = error {
        let target = crate::redirect::current_target(req);
        let encode = |value: &str| url::form_urlencoded::byte_serialize(value.as_bytes()).collect::<String>();
        let location =
            format!("{}?redirect={}&scope={}", context.step_up_url, encode(&target), encode(&scopes.join(" ")));
        return HttpResponse::SeeOther()
            .insert_header((header::LOCATION, location))
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .finish();
    }
    if let AuthError::StepUpRequired(challenge) = error {
        let target = crate::redirect::current_target(req);
        let encode = |value: &str| url::form_urlencoded::byte_serialize(value.as_bytes()).collect::<String>();
        let location = format!(
            "{}?redirect={}&auth_context={}",
            context.step_up_url,
            encode(&target),
            encode(&challenge.joined())
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
        None => json_response(error),
    };
    if let Some(challenge) = challenge(error, context) {
        response.headers_mut().insert(header::WWW_AUTHENTICATE, challenge);
    }
    match error {
        AuthError::KeysUnavailable | AuthError::SessionUnavailable | AuthError::DownstreamUnavailable => {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static(RETRY_AFTER_SECONDS));
        }
        AuthError::GroupsUnavailable { retry_after } => {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(*retry_after));
        }
        _ => {}
    }
    response
}

/// The error a guard rejects a request with: the [`AuthError`] (why) and the response the
/// library answers with. An app can find it in an error handler and answer differently:
///
/// ```
/// use aad_auth::{AuthError, AuthRejection};
/// use actix_web::body::MessageBody;
/// use actix_web::dev::ServiceResponse;
/// use actix_web::middleware::{ErrorHandlerResponse, ErrorHandlers};
/// use actix_web::http::StatusCode;
/// use actix_web::HttpResponse;
///
/// /// Our own JSON shape for refused requests; everything else is left alone.
/// fn our_body<B: MessageBody + 'static>(res: ServiceResponse<B>) -> actix_web::Result<ErrorHandlerResponse<B>> {
///     let Some(why) = res.response().error().and_then(|e| e.as_error::<AuthRejection>()).map(|r| r.error().clone())
///     else {
///         return Ok(ErrorHandlerResponse::Response(res.map_into_left_body()));
///     };
///     let body = match &why {
///         AuthError::MissingCredentials => serde_json::json!({ "message": "sign in first" }),
///         other => serde_json::json!({ "message": other.description(), "code": other.code() }),
///     };
///     let (req, original) = res.into_parts();
///     let mut ours = HttpResponse::build(original.status()).json(body);
///     // Keep the RFC 6750 challenge and Retry-After the library set.
///     for name in [actix_web::http::header::WWW_AUTHENTICATE, actix_web::http::header::RETRY_AFTER] {
///         if let Some(value) = original.headers().get(&name) {
///             ours.headers_mut().insert(name, value.clone());
///         }
///     }
///     Ok(ErrorHandlerResponse::Response(ServiceResponse::new(req, ours).map_into_right_body()))
/// }
///
/// let app = actix_web::App::new().wrap(
///     ErrorHandlers::new().handler(StatusCode::UNAUTHORIZED, our_body).handler(StatusCode::FORBIDDEN, our_body),
/// );
/// # let _ = app;
/// ```
pub struct AuthRejection {
    error: AuthError,
    /// Taken by the first [`ResponseError::error_response`] call (actix makes one).
    response: RefCell<Option<HttpResponse>>,
}

impl AuthRejection {
    pub(crate) fn new(error: AuthError, response: HttpResponse) -> Self {
        Self { error, response: RefCell::new(Some(response)) }
    }

    /// Why the request was refused.
    pub fn error(&self) -> &AuthError {
        &self.error
    }
}

impl fmt::Debug for AuthRejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthRejection").field("error", &self.error).finish_non_exhaustive()
    }
}

impl fmt::Display for AuthRejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.error, f)
    }
}

impl ResponseError for AuthRejection {
    fn status_code(&self) -> StatusCode {
        self.error.status()
    }

    fn error_response(&self) -> HttpResponse {
        // Asked twice (not by actix): the JSON answer, without the first answer's headers.
        self.response.borrow_mut().take().unwrap_or_else(|| json_response(&self.error))
    }
}

/// The one JSON error shape as a response: the error's status, `no-store`.
fn json_response(error: &AuthError) -> HttpResponse {
    let status = error.status();
    HttpResponse::build(status).insert_header((header::CACHE_CONTROL, "no-store")).json(ErrorBody {
        error: error.code().unwrap_or(match error {
            AuthError::MissingCredentials => "unauthorized",
            _ => "server_error",
        }),
        error_description: error.description(),
        status: status.as_u16(),
    })
}

/// The one JSON error shape.
#[derive(serde::Serialize)]
struct ErrorBody<'a> {
    error: &'a str,
    error_description: &'a str,
    status: u16,
}

/// RFC 6750 §3: a bare `Bearer realm` when no credential was sent, with `error` and
/// `error_description` otherwise; a missing authentication context as Microsoft's claims
/// challenge (`authorization_uri`, `client_id`, `error="insufficient_claims"`, `claims`). Every
/// 401 ends with `resource_metadata` (RFC 9728 §5.1).
fn challenge(error: &AuthError, context: &ResponseContext<'_>) -> Option<HeaderValue> {
    let realm = quote(context.realm);
    let mut value = match error {
        AuthError::MissingCredentials => format!("Bearer realm=\"{realm}\""),
        AuthError::InvalidRequest(_) | AuthError::InvalidToken(_) | AuthError::Forbidden(_) => {
            format!(
                "Bearer realm=\"{realm}\", error=\"{}\", error_description=\"{}\"",
                error.code().unwrap_or_default(),
                quote(error.description())
            )
        }
        AuthError::InsufficientClaims(claims) => claims_challenge(&realm, context, &claims.claims_base64()),
        AuthError::DownstreamClaims(claims) => claims_challenge(&realm, context, &claims.claims_base64()),
        AuthError::ConsentRequired(scopes) => format!(
            "Bearer realm=\"{realm}\", error=\"consent_required\", error_description=\"{}\", scope=\"{}\"",
            quote(error.description()),
            quote(&scopes.join(" "))
        ),
        AuthError::KeysUnavailable => format!("Bearer realm=\"{realm}\""),
        AuthError::StepUpRequired(_)
        | AuthError::ConsentThroughLogin(_)
        | AuthError::DownstreamUnavailable
        | AuthError::DownstreamRefused
        | AuthError::SessionUnavailable
        | AuthError::GroupsUnavailable { .. }
        | AuthError::CrossOriginRequest
        | AuthError::LoginRequired
        | AuthError::NotConfigured => return None,
    };
    if error.status() == StatusCode::UNAUTHORIZED
        && let Some(url) = &context.resource_metadata
    {
        value.push_str(&format!(", resource_metadata=\"{}\"", quote(url)));
    }
    HeaderValue::from_str(&value).ok()
}

/// Microsoft's claims challenge: where to ask, for which app, and the claims (base64).
fn claims_challenge(realm: &str, context: &ResponseContext<'_>, claims_base64: &str) -> String {
    format!(
        "Bearer realm=\"{realm}\", authorization_uri=\"{}\", client_id=\"{}\", error=\"insufficient_claims\", \
         claims=\"{claims_base64}\"",
        quote(context.authorize_url),
        quote(context.client_id),
    )
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
