//! What wraps every session-backed route of the login (outside actix-session's middleware):
//!
//! * **Redis unreachable**: a session-store failure while serving the request
//!   (`session::failure`) turns the answer into 503 with `Retry-After`
//!   ([`AuthError::SessionUnavailable`]), rather than actix-session's bare 500 or a page that
//!   pretends the user is signed out.
//! * **Development cookies**: `Secure` is dropped from this response's cookies only in
//!   development mode and only when the request's public origin is `http://` on a loopback host
//!   (where browsers would never send a `Secure` cookie back). Everywhere else cookies are built
//!   `Secure` and stay so.

use actix_web::HttpResponse;
use actix_web::body::{EitherBody, MessageBody};
use actix_web::cookie::Cookie;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderValue};
use actix_web::middleware::Next;
use actix_web::web;

use super::Login;
use crate::error::AuthError;

/// The middleware (`actix_web::middleware::from_fn`) around each session-backed route.
pub(crate) async fn session_route<B: MessageBody + 'static>(
    req: ServiceRequest,
    next: Next<B>,
) -> Result<ServiceResponse<EitherBody<B>>, actix_web::Error> {
    let request = req.request().clone();
    let (result, failed) = crate::session::watch(next.call(req)).await;
    let login = request.app_data::<web::Data<Login>>().cloned();
    if failed {
        let response = match &login {
            Some(login) => login.auth.error_response(&AuthError::SessionUnavailable, &request),
            None => HttpResponse::ServiceUnavailable().finish(),
        };
        return Ok(ServiceResponse::new(request, response).map_into_right_body());
    }
    let mut response = result?;
    if let Some(login) = login
        && login.auth.config().dev_mode()
        && crate::public_origin::is_http_loopback(login.auth.config(), &request)
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
