//! What wraps every session-backed route of the crate (outside actix-session's middleware):
//!
//! * **Redis unreachable**: any failure of the session store, the token cache or the idle clock
//!   while serving the request turns the answer into 503 with `Retry-After`
//!   ([`AuthError::SessionUnavailable`]), rather than actix-session's bare 500 or a page that
//!   pretends the user is signed out. Failures are reported through a task-local flag, because
//!   actix-session's middleware turns store errors into opaque 500s.
//! * **Development cookies**: `Secure` is dropped from this response's cookies only in
//!   development mode and only when the request's public origin is `http://` on a loopback host
//!   (where browsers would never send a `Secure` cookie back). Everywhere else cookies are built
//!   `Secure` and stay so.

use std::cell::Cell;
use std::fmt::Display;

use actix_web::HttpResponse;
use actix_web::body::{EitherBody, MessageBody};
use actix_web::cookie::Cookie;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderValue};
use actix_web::middleware::Next;

use crate::aad::AadAuth;
use crate::error::AuthError;

tokio::task_local! {
    static STORE_FAILED: Cell<bool>;
}

/// The session store could not be reached (already logged).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct StoreUnavailable;

/// Logs a store failure and marks the current request, if it runs inside [`session_route`].
pub(crate) fn report(what: &'static str, error: &dyn Display) -> StoreUnavailable {
    tracing::warn!(error = %error, "{what}");
    // Outside a session route (a guard in the app's own handlers) there is no flag: the caller
    // answers with the error it gets back.
    let _ = STORE_FAILED.try_with(|failed| failed.set(true));
    StoreUnavailable
}

/// The middleware (`actix_web::middleware::from_fn`) around each session-backed route.
pub(crate) async fn session_route<B: MessageBody + 'static>(
    req: ServiceRequest,
    next: Next<B>,
) -> Result<ServiceResponse<EitherBody<B>>, actix_web::Error> {
    let request = req.request().clone();
    let (result, failed) = STORE_FAILED
        .scope(Cell::new(false), async move {
            let result = next.call(req).await;
            (result, STORE_FAILED.with(Cell::get))
        })
        .await;
    let auth = request.app_data::<AadAuth>().cloned();
    if failed {
        let response = match &auth {
            Some(auth) => auth.error_response(&AuthError::SessionUnavailable, &request),
            None => HttpResponse::ServiceUnavailable().finish(),
        };
        return Ok(ServiceResponse::new(request, response).map_into_right_body());
    }
    let mut response = result?;
    if let Some(auth) = auth
        && auth.config().dev_mode()
        && crate::public_origin::is_http_loopback(auth.config(), &request)
    {
        drop_secure(response.response_mut());
    }
    Ok(response.map_into_left_body())
}

/// Rewrites every `Set-Cookie` of the response without `Secure`.
fn drop_secure<B>(response: &mut actix_web::HttpResponse<B>) {
    let headers = response.headers_mut();
    let cookies: Vec<String> = headers
        .get_all(header::SET_COOKIE)
        .filter_map(|value| value.to_str().ok())
        .filter_map(|value| Cookie::parse(value.to_owned()).ok())
        .map(|mut cookie| {
            cookie.set_secure(false);
            cookie.to_string()
        })
        .collect();
    headers.remove(header::SET_COOKIE);
    for cookie in cookies {
        if let Ok(value) = HeaderValue::from_str(&cookie) {
            headers.append(header::SET_COOKIE, value);
        }
    }
}
