//! The protocol plumbing every endpoint shares: Entra-shaped errors, request parameters, how a
//! path names the tenant, and the configured faults. A leaf: it imports no endpoint module.
//!
//! Errors are `{error, error_description: "AADSTS...", error_codes, ...}`, HTTP 400, or 401 for
//! `invalid_client` (see [`OAuthError`]).

// Parses network input: no indexing, no unchecked arithmetic, no unwrap (README, Security notes).
#![cfg_attr(
    not(test),
    deny(clippy::indexing_slicing, clippy::arithmetic_side_effects, clippy::unwrap_used, clippy::expect_used)
)]

use std::collections::HashMap;
use std::time::Duration;

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse};
use serde_json::{Value, json};

use super::registry::random_guid;
use super::{Endpoint, Fault, Shared};
use crate::log_safe::clip;

/// Form bodies larger than this are refused.
pub(crate) const MAX_FORM_BYTES: usize = 64 * 1024;

/// An OAuth error, rendered the Entra way.
#[derive(Debug, Clone)]
pub(crate) struct OAuthError {
    pub(crate) status: u16,
    pub(crate) error: &'static str,
    pub(crate) code: u32,
    pub(crate) description: String,
    /// What a few errors add (boxed: errors travel in `Result`s and most have none).
    pub(crate) extras: Option<Box<ErrorExtras>>,
}

/// The members some Entra errors add.
#[derive(Debug, Clone, Default)]
pub(crate) struct ErrorExtras {
    /// Entra's `suberror` (`consent_required`), which MSAL reads to tell the user what to do.
    pub(crate) suberror: Option<&'static str>,
    /// A claims challenge (`claims`, a JSON text) the client sends back on an interactive
    /// request.
    pub(crate) claims: Option<String>,
}

impl OAuthError {
    /// An HTTP 400 error.
    pub(crate) fn bad_request(error: &'static str, code: u32, description: String) -> Self {
        Self { status: 400, error, code, description, extras: None }
    }

    /// An HTTP 400 `invalid_grant`.
    pub(crate) fn invalid_grant(code: u32, description: impl Into<String>) -> Self {
        Self::bad_request("invalid_grant", code, description.into())
    }

    /// An HTTP 400 `invalid_request`.
    pub(crate) fn invalid_request(code: u32, description: impl Into<String>) -> Self {
        Self::bad_request("invalid_request", code, description.into())
    }

    /// An HTTP 401 `invalid_client`.
    pub(crate) fn invalid_client(code: u32, description: impl Into<String>) -> Self {
        Self { status: 401, error: "invalid_client", code, description: description.into(), extras: None }
    }

    /// A missing required parameter.
    pub(crate) fn missing(name: &str) -> Self {
        Self::invalid_request(900_144, format!("The request body must contain the following parameter: '{name}'."))
    }

    /// Adds Entra's `suberror`.
    pub(crate) fn with_suberror(mut self, suberror: &'static str) -> Self {
        self.extras.get_or_insert_default().suberror = Some(suberror);
        self
    }

    /// Adds a claims challenge (`claims`).
    pub(crate) fn with_claims(mut self, claims: String) -> Self {
        self.extras.get_or_insert_default().claims = Some(claims);
        self
    }

    /// Entra's `suberror`, when there is one.
    #[cfg(test)]
    pub(crate) fn suberror(&self) -> Option<&'static str> {
        self.extras.as_ref().and_then(|extras| extras.suberror)
    }

    /// The JSON reply.
    pub(crate) fn response(&self) -> HttpResponse {
        let mut body = entra_body(self.error, self.code, &self.description);
        if let (Some(object), Some(extras)) = (body.as_object_mut(), &self.extras) {
            if let Some(suberror) = extras.suberror {
                object.insert("suberror".into(), json!(suberror));
            }
            if let Some(claims) = &extras.claims {
                object.insert("claims".into(), json!(claims));
            }
        }
        json_status(self.status, &body)
    }
}

/// Request parameters (query string or form body). The first occurrence of a name wins.
pub(crate) type Params = HashMap<String, String>;

pub(crate) fn parse_params(bytes: &[u8]) -> Params {
    let mut params = Params::new();
    for (name, value) in url::form_urlencoded::parse(bytes) {
        params.entry(name.into_owned()).or_insert_with(|| value.into_owned());
    }
    params
}

/// A parameter that is present and not blank.
pub(crate) fn param<'a>(params: &'a Params, name: &str) -> Option<&'a str> {
    params.get(name).map(String::as_str).filter(|value| !value.trim().is_empty())
}

/// Whether the body is a form (`application/x-www-form-urlencoded`).
pub(crate) fn is_form(req: &HttpRequest) -> bool {
    req.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .is_some_and(|mime| mime.trim().eq_ignore_ascii_case("application/x-www-form-urlencoded"))
}

/// A JSON reply that no cache keeps (token and device-code replies).
pub(crate) fn json_no_store(status: actix_web::http::StatusCode, body: &Value) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header((header::CACHE_CONTROL, "no-store, no-cache"))
        .insert_header((header::PRAGMA, "no-cache"))
        .json(body)
}

/// How a path names the tenant.
pub(crate) enum TenantPath {
    /// This tenant (by id or domain).
    Own,
    /// `common` / `organizations` / `consumers`: the `{tenantid}` template.
    Multi(&'static str),
}

/// How `segment` names the tenant, or `None` when it names another one.
pub(crate) fn resolve_tenant(shared: &Shared, segment: &str) -> Option<TenantPath> {
    if segment.eq_ignore_ascii_case(&shared.tenant_id) || segment.eq_ignore_ascii_case(&shared.domain) {
        return Some(TenantPath::Own);
    }
    match segment.to_ascii_lowercase().as_str() {
        "common" => Some(TenantPath::Multi("common")),
        "organizations" => Some(TenantPath::Multi("organizations")),
        "consumers" => Some(TenantPath::Multi("consumers")),
        _ => None,
    }
}

/// An Entra-shaped error reply.
pub(crate) fn entra_error(status: u16, error: &str, code: u32, description: &str) -> HttpResponse {
    json_status(status, &entra_body(error, code, description))
}

/// The body of every Entra error: `error`, `error_description` (`AADSTS{code}: ...` with the
/// trace and correlation ids and the time), `error_codes`, `timestamp`, `trace_id`,
/// `correlation_id`.
fn entra_body(error: &str, code: u32, description: &str) -> Value {
    let trace = random_guid();
    let correlation = random_guid();
    let timestamp = httpdate_now();
    json!({
        "error": error,
        "error_description": format!("AADSTS{code}: {description} Trace ID: {trace} Correlation ID: {correlation} Timestamp: {timestamp}"),
        "error_codes": [code],
        "timestamp": timestamp,
        "trace_id": trace,
        "correlation_id": correlation,
    })
}

fn json_status(status: u16, body: &Value) -> HttpResponse {
    HttpResponse::build(
        actix_web::http::StatusCode::from_u16(status).unwrap_or(actix_web::http::StatusCode::BAD_REQUEST),
    )
    .json(body)
}

fn httpdate_now() -> String {
    let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    format!("{secs}")
}

/// The reply to a path that names no tenant Entra would know.
pub(crate) fn tenant_not_found(segment: &str) -> HttpResponse {
    let shown = clip(segment);
    entra_error(400, "invalid_tenant", 90002, &format!("Tenant '{shown}' not found."))
}

/// Applies a configured fault; `None` means answer normally.
pub(crate) async fn fault_response(shared: &Shared, endpoint: Endpoint) -> Option<HttpResponse> {
    shared.count(endpoint);
    match shared.fault(endpoint)? {
        Fault::Status(status) => {
            Some(entra_error(status, "temporarily_unavailable", 50_001, "The service is temporarily unavailable."))
        }
        Fault::Garbage => Some(HttpResponse::Ok().content_type("application/json").body("<html>not json{")),
        Fault::Throttled(wait) => {
            let mut response = entra_error(429, "temporarily_unavailable", 50_196, "The request was throttled.");
            response.headers_mut().insert(header::RETRY_AFTER, header::HeaderValue::from(wait.as_secs()));
            Some(response)
        }
        Fault::Slow(delay) => {
            tokio::time::sleep(delay).await;
            None
        }
        Fault::Hang => {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            None
        }
        Fault::EmptyKeys | Fault::PartialKeys | Fault::PartialKeysOnce => None,
    }
}
