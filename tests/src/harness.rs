//! The in-process harness: a local tenant, an app guarded in several ways, and a small reply
//! type with table-row checks.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::sync::Arc;

use aad_auth::config::AadAuthConfigBuilder;
use aad_auth::testing::{ManualClock, Tenant};
use aad_auth::{AadAuth, AuthenticationState, Policy, RequireAuth};
use actix_web::body::MessageBody;
use actix_web::dev::{Service, ServiceResponse};
use actix_web::{App, HttpResponse, test, web};
use serde_json::json;

/// A tenant and an app configured against it, sharing one manual clock.
pub struct Harness {
    pub tenant: Tenant,
    pub auth: AadAuth,
    pub clock: Arc<ManualClock>,
}

impl Harness {
    pub async fn new() -> Self {
        Self::with(|config| config).await
    }

    pub async fn with(adjust: impl FnOnce(AadAuthConfigBuilder) -> AadAuthConfigBuilder) -> Self {
        let clock = Arc::new(ManualClock::new());
        let tenant = Tenant::builder().clock(clock.clone()).start().await;
        let config = adjust(tenant.api_config()).build().expect("valid test configuration");
        let auth = AadAuth::builder(config).clock(clock.clone()).bearer_only().build().expect("auth builds");
        Self { tenant, auth, clock }
    }

    /// Another `AadAuth` like this one's (same configuration and clock) that serves `doc`.
    pub fn auth_with_openapi(&self, doc: utoipa::openapi::OpenApi) -> AadAuth {
        AadAuth::builder(self.auth.config().clone())
            .clock(self.clock.clone())
            .bearer_only()
            .openapi(doc)
            .build()
            .expect("auth builds")
    }
}

/// The guarded test app: `/api` (bearer), `/scoped` (scope `user_impersonation`), `/admin`
/// (role Admin), `/reader` (role Reader), `/open` (no guard; reports the ambient state).
pub async fn app(
    auth: &AadAuth,
) -> impl Service<actix_http::Request, Response = ServiceResponse<impl MessageBody>, Error = actix_web::Error> {
    test::init_service(
        App::new()
            .configure(auth.configure())
            .service(web::scope("/api").wrap(RequireAuth::new(Policy::api())).route("", web::get().to(whoami)))
            .service(
                web::scope("/scoped")
                    .wrap(RequireAuth::new(Policy::api().scopes(["user_impersonation"])))
                    .route("", web::get().to(whoami)),
            )
            .service(
                web::scope("/admin")
                    .wrap(RequireAuth::new(Policy::api().roles(["Admin"])))
                    .route("", web::get().to(whoami)),
            )
            .service(
                web::scope("/reader")
                    .wrap(RequireAuth::new(Policy::api().roles(["Reader"])))
                    .route("", web::get().to(whoami)),
            )
            .route("/open", web::get().to(whoami)),
    )
    .await
}

async fn whoami(state: AuthenticationState) -> HttpResponse {
    let user = state.user();
    HttpResponse::Ok().json(json!({
        "authenticated": state.is_authenticated(),
        "oid": user.map(|u| u.oid.clone()),
        "tid": user.map(|u| u.tid.clone()),
        "username": user.and_then(|u| u.username.clone()),
        "scopes": user.map(|u| u.scopes.clone()),
        "roles": user.map(|u| u.roles.clone()),
        "is_app": state.is_app_only(),
        "is_guest": state.is_guest(),
        "source": state.source().map(|s| format!("{s:?}")),
        "claims": state.claims().map(|c| c.len()),
    }))
}

/// What came back.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub challenge: Option<String>,
    pub retry_after: Option<String>,
    pub content_type: Option<String>,
    pub body: String,
}

impl Reply {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or(serde_json::Value::Null)
    }

    /// The `error` attribute of the `WWW-Authenticate` challenge.
    pub fn error_code(&self) -> Option<String> {
        let challenge = self.challenge.as_deref()?;
        let start = challenge.find("error=\"")? + 7;
        let end = challenge[start..].find('"')? + start;
        Some(challenge[start..end].to_owned())
    }
}

pub async fn call<S, B>(app: &S, request: test::TestRequest) -> Reply
where
    S: Service<actix_http::Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody,
{
    let response = test::call_service(app, request.to_request()).await;
    let header = |name: &str| response.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let status = response.status().as_u16();
    let challenge = header("www-authenticate");
    let retry_after = header("retry-after");
    let content_type = header("content-type");
    let body = test::read_body(response).await;
    Reply { status, challenge, retry_after, content_type, body: String::from_utf8_lossy(&body).into_owned() }
}

/// `GET path` with an optional bearer token.
pub async fn get<S, B>(app: &S, path: &str, token: Option<&str>) -> Reply
where
    S: Service<actix_http::Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody,
{
    let mut request = test::TestRequest::get().uri(path);
    if let Some(token) = token {
        request = request.insert_header(("authorization", format!("Bearer {token}")));
    }
    call(app, request).await
}

/// Checks one table row; returns a failure line instead of panicking so that a table reports
/// every failing row at once. Every row also checks D15: the error body never echoes the token
/// and never carries a panic or a backtrace.
pub fn expect_row(name: &str, reply: &Reply, status: u16, code: Option<&str>, token: &str) -> Option<String> {
    let mut problems = Vec::new();
    if reply.status != status {
        problems.push(format!("status {} (expected {status})", reply.status));
    }
    if reply.error_code().as_deref() != code {
        problems.push(format!("error {:?} (expected {code:?}) in {:?}", reply.error_code(), reply.challenge));
    }
    if token.len() > 16 && reply.body.contains(token) {
        problems.push("the body echoes the token".into());
    }
    if reply.body.contains("panicked") || reply.body.contains("stack backtrace") {
        problems.push("the body carries a panic".into());
    }
    (!problems.is_empty()).then(|| format!("{name}: {}", problems.join("; ")))
}

/// Fails the test with every failing row.
pub fn assert_rows(failures: Vec<String>) {
    assert!(failures.is_empty(), "{} row(s) failed:\n  {}", failures.len(), failures.join("\n  "));
}

/// Splits a compact token into its three segments.
pub fn segments(token: &str) -> (String, String, String) {
    let mut parts = token.split('.').map(str::to_owned);
    (parts.next().unwrap(), parts.next().unwrap(), parts.next().unwrap_or_default())
}

pub fn b64(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

pub fn unb64(text: &str) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(text).unwrap()
}
