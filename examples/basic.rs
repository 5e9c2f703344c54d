//! The demo: the original library's test server, in Rust.
//!
//! ```text
//! cargo run --example basic
//! ```
//!
//! * `/`: greets the signed-in user, or a guest (no guard; the ambient `AuthenticationState`)
//! * `/hello`: `#[api_auth_required(allow_session, scopes("user_impersonation"))]` (a bearer token
//!   or a browser session, either with the delegated scope `user_impersonation`)
//! * `POST /notes` (JSON `{"text": "..."}`) and `GET /notes`: the caller's notes, kept in memory;
//!   `allow_session`, so that a browser, a bearer client and a cross-site page can all try a
//!   state-changing request (a cross-site POST with the cookie is refused, 403)
//! * `/test_auth_decorator?name=...`: bearer tokens only, with a query parameter
//! * `/test`: an HTML page behind `#[auth_required]` (anonymous browsers go to the login page)
//! * `/admin`: role `Admin`
//! * `/team`: `#[api_auth_required(allow_session, groups(..))]`, the group that the local tenant's
//!   `dave` holds among 250: his tokens carry a groups overage instead of `groups`, so the demo
//!   (`AAD_GROUPS_OVERAGE=graph` on its embedded tenant) asks the tenant's Microsoft Graph
//! * `/sensitive` (a page) and `/api/sensitive` (bearer or session): both need the Conditional
//!   Access authentication context `c1` (`auth_context("c1")`); a browser is sent through the
//!   login again asking Entra for it, an API caller gets 401 with the claims challenge
//!   (`examples/device_code_client` answers it). The local tenant grants it at once; in Entra a
//!   Conditional Access policy on `c1` decides (MFA, say)
//! * `/me/graph` (a page) and `/api/me/graph` (bearer tokens; JSON): the caller's Microsoft Graph
//!   profile (`displayName`, `userPrincipalName`), fetched with a Graph token from
//!   [`aad_auth::DownstreamTokens`]: for the browser session from its refresh token (the first
//!   visit goes through the login to consent to `User.Read`: incremental consent), for a bearer
//!   caller by on-behalf-of. With the local tenant, its own Graph answers
//! * `/.well-known/oauth-protected-resource`: the protected-resource metadata (RFC 9728)
//! * `/docs` (Swagger UI with PKCE sign-in), `/redoc`, `/openapi.json`; `/login`, `/me`, `/logout`
//!
//! Without `AAD_CLIENT_ID`, the demo starts a local Entra ID tenant (`aad_auth::testing`) and
//! runs against it offline; it honours the `DEV_TENANT_*` variables of `examples/dev_tenant`
//! (port 8400 by default; `DEV_TENANT_PORT=0` picks a free one). With `AAD_CLIENT_ID`,
//! `AAD_TENANT_ID`, `AAD_CLIENT_SECRET` and `SESSION_SECRET` set (environment or `.env`), it
//! runs against that tenant. `HOST` and `PORT` choose the address (default 127.0.0.1:8000).

use std::collections::HashMap;
use std::sync::Mutex;

#[path = "client_support/mod.rs"]
mod client_support;

use aad_auth::client::ClientConfig;
use aad_auth::testing::{Tenant, TenantBuilder};
use aad_auth::{AadAuth, AadAuthConfig, AuthenticationState, DownstreamTokens, api_auth_required, auth_required};
use actix_web::{App, HttpResponse, HttpServer, Responder, get, post, web};
use minijinja::HtmlEscape;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::OpenApi;

/// The API's documentation; the security requirements are added from the guards.
#[derive(OpenApi)]
#[openapi(
    info(title = "aad-auth demo", description = "The endpoints of `cargo run --example basic`."),
    paths(hello, add_note, list_notes, test_auth_decorator, admin, team, api_sensitive, api_graph_profile)
)]
struct ApiDoc;

fn page(title: &str, body: &str) -> HttpResponse {
    HttpResponse::Ok().content_type("text/html; charset=utf-8").body(format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><link rel=\"icon\" href=\"data:,\"><title>{title}</title></head>\
         <body><h1>{title}</h1>{body}<p><a href=\"/docs/\">API docs</a> · <a href=\"/me\">Me</a> · \
         <a href=\"/test\">Protected page</a> · <a href=\"/me/graph\">Graph profile</a> · <a href=\"/logout\">Sign out</a></p></body></html>"
    ))
}

/// Greets the signed-in user, or a guest.
#[get("/")]
async fn home(auth_state: AuthenticationState) -> impl Responder {
    match auth_state.user() {
        Some(user) => page(&format!("Hello, {}", HtmlEscape(user.display_name())), "<p>You are signed in.</p>"),
        None => page("Hello, guest", "<p><a href=\"/login\">Sign in</a> to see more.</p>"),
    }
}

/// Says hello to a signed-in user (a bearer token or a browser session) who holds the delegated
/// scope `user_impersonation`; an app-only token has no scopes and gets 403.
#[utoipa::path(responses((status = 200, description = "A greeting", body = Object, example = json!({"hello": "world"}))))]
#[get("/hello")]
#[api_auth_required(allow_session, scopes("user_impersonation"))]
async fn hello() -> impl Responder {
    HttpResponse::Ok().json(json!({ "hello": "world" }))
}

/// Notes longer than this are refused (400).
const MAX_NOTE_CHARS: usize = 1000;
/// Notes kept per caller; the oldest goes first.
const MAX_NOTES: usize = 50;

/// Every caller's notes, by `tid/oid`; in memory, so they end with the process.
#[derive(Default)]
struct Notes(Mutex<HashMap<String, Vec<String>>>);

/// A new note.
#[derive(Deserialize, utoipa::ToSchema)]
struct NewNote {
    /// The note's text (at most 1000 characters).
    text: String,
}

fn notes_key(auth_state: &AuthenticationState) -> Option<String> {
    auth_state.user().map(|user| format!("{}/{}", user.tid, user.oid))
}

/// Adds a note for the caller (bearer token or browser session; a cross-site request with the
/// session cookie is refused before the body is read).
#[utoipa::path(
    request_body = NewNote,
    responses(
        (status = 201, description = "The caller's notes, the new one last", body = Object, example = json!({"notes": ["buy milk"]})),
        (status = 400, description = "The note is empty or too long"),
    )
)]
#[post("/notes")]
#[api_auth_required(allow_session)]
async fn add_note(auth_state: AuthenticationState, notes: web::Data<Notes>, note: web::Json<NewNote>) -> HttpResponse {
    let text = note.into_inner().text;
    if text.trim().is_empty() || text.chars().count() > MAX_NOTE_CHARS {
        return HttpResponse::BadRequest().json(json!({
            "error": "invalid_note",
            "error_description": format!("a note is 1 to {MAX_NOTE_CHARS} characters"),
        }));
    }
    let Some(key) = notes_key(&auth_state) else { return HttpResponse::Unauthorized().finish() };
    let mut all = notes.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let mine = all.entry(key).or_default();
    mine.push(text);
    if mine.len() > MAX_NOTES {
        mine.remove(0);
    }
    HttpResponse::Created().json(json!({ "notes": mine }))
}

/// The caller's notes.
#[utoipa::path(responses((status = 200, description = "The caller's notes", body = Object, example = json!({"notes": ["buy milk"]}))))]
#[get("/notes")]
#[api_auth_required(allow_session)]
async fn list_notes(auth_state: AuthenticationState, notes: web::Data<Notes>) -> HttpResponse {
    let Some(key) = notes_key(&auth_state) else { return HttpResponse::Unauthorized().finish() };
    let all = notes.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    HttpResponse::Ok().json(json!({ "notes": all.get(&key).cloned().unwrap_or_default() }))
}

/// The query of `/test_auth_decorator`.
#[derive(Deserialize, Serialize, utoipa::IntoParams)]
struct NameQuery {
    /// Who to greet.
    name: Option<String>,
}

/// Bearer tokens only (a session cookie is not enough), with a query parameter.
#[utoipa::path(params(NameQuery), responses((status = 200, description = "The caller and the name")))]
#[get("/test_auth_decorator")]
#[api_auth_required]
async fn test_auth_decorator(auth_state: AuthenticationState, query: web::Query<NameQuery>) -> impl Responder {
    let user = auth_state.user();
    HttpResponse::Ok().json(json!({
        "hello": query.name.as_deref().unwrap_or("world"),
        "caller": user.map(|u| u.display_name().to_owned()),
        "app_only": auth_state.is_app_only(),
    }))
}

/// An HTML page for signed-in users.
#[get("/test")]
#[auth_required]
async fn test(auth_state: AuthenticationState) -> impl Responder {
    let name = auth_state.user().map(|u| HtmlEscape(u.display_name()).to_string()).unwrap_or_default();
    page("Protected page", &format!("<p id=\"user\">Signed in as {name}</p>"))
}

/// Only for holders of the `Admin` app role.
#[utoipa::path(responses((status = 200, description = "Welcome, administrator")))]
#[get("/admin")]
#[api_auth_required(allow_session, roles("Admin"))]
async fn admin(auth_state: AuthenticationState) -> impl Responder {
    let name = auth_state.user().map(|u| u.display_name().to_owned());
    HttpResponse::Ok().json(json!({ "admin": name }))
}

/// The local tenant's `OVERAGE_TEAM_GROUP` (the guard takes a literal), checked at compile time.
const TEAM_GROUP: &str = "7d3e1f0a-2b4c-4d5e-8f60-71829304a5b6";
const _: () = assert!(same(TEAM_GROUP, aad_auth::testing::OVERAGE_TEAM_GROUP));

const fn same(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

/// Members of the team group only. Someone in more groups than a token lists (an overage) is
/// looked up in Microsoft Graph (`AAD_GROUPS_OVERAGE=graph`).
#[utoipa::path(responses(
    (status = 200, description = "Welcome, team member"),
    (status = 503, description = "Microsoft Graph could not confirm the membership; retry after Retry-After")
))]
#[get("/team")]
#[api_auth_required(allow_session, groups("7d3e1f0a-2b4c-4d5e-8f60-71829304a5b6"))]
async fn team(auth_state: AuthenticationState) -> impl Responder {
    let name = auth_state.user().map(|u| u.display_name().to_owned());
    HttpResponse::Ok().json(json!({ "team": name, "group": TEAM_GROUP }))
}

/// A page that needs the Conditional Access authentication context `c1`: a session without it
/// goes through the login again, which asks Entra for it, and comes back here.
#[get("/sensitive")]
#[auth_required(auth_context("c1"))]
async fn sensitive(auth_state: AuthenticationState) -> impl Responder {
    let name = auth_state.user().map(|u| HtmlEscape(u.display_name()).to_string()).unwrap_or_default();
    let contexts = auth_state.user().map(|u| HtmlEscape(&u.acrs.join(", ")).to_string()).unwrap_or_default();
    page(
        "Sensitive page",
        &format!("<p id=\"user\">Signed in as {name}</p><p id=\"acrs\">Authentication contexts: {contexts}</p>"),
    )
}

/// An API that needs the authentication context `c1`; without it, 401 with Microsoft's claims
/// challenge.
#[utoipa::path(responses((status = 200, description = "The caller and the authentication contexts", body = Object, example = json!({"caller": "Ada", "acrs": ["c1"]}))))]
#[get("/api/sensitive")]
#[api_auth_required(allow_session, auth_context("c1"))]
async fn api_sensitive(auth_state: AuthenticationState) -> impl Responder {
    let user = auth_state.user();
    HttpResponse::Ok().json(json!({
        "caller": user.map(|u| u.display_name().to_owned()),
        "acrs": user.map(|u| u.acrs.clone()).unwrap_or_default(),
    }))
}

/// Microsoft Graph's `/v1.0/me`, called with the caller's delegated token for `User.Read`.
struct Graph {
    http: reqwest::Client,
    /// `{graph}/v1.0/me`.
    me: url::Url,
    /// `{graph}/User.Read`: Graph named by its origin, as for a national cloud.
    scope: String,
}

/// The part of Graph's user the demo shows.
#[derive(Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
struct Profile {
    display_name: Option<String>,
    user_principal_name: Option<String>,
}

impl Graph {
    fn new(config: &AadAuthConfig) -> Result<Self, Box<dyn std::error::Error>> {
        let origin = config
            .graph_url()
            .map_or_else(|| "https://graph.microsoft.com".to_owned(), |url| url.origin().ascii_serialization());
        let http = client_support::api_http(&ClientConfig::from(config)).map_err(|failure| failure.to_string())?;
        Ok(Self { http, me: url::Url::parse(&format!("{origin}/v1.0/me"))?, scope: format!("{origin}/User.Read") })
    }

    /// The caller's profile: a token from `tokens` (which answers consent and sign-in needs
    /// itself), then Graph. Graph's own refusals are a 502 here.
    async fn profile(&self, tokens: &DownstreamTokens) -> actix_web::Result<Profile> {
        let token = tokens.for_user([self.scope.as_str()]).await?;
        let answer = self
            .http
            .get(self.me.clone())
            .bearer_auth(token.expose_secret())
            .send()
            .await
            .map_err(|_| actix_web::error::ErrorBadGateway("Microsoft Graph cannot be reached"))?;
        if !answer.status().is_success() {
            tracing::warn!(status = answer.status().as_u16(), "Microsoft Graph refused /v1.0/me");
            return Err(actix_web::error::ErrorBadGateway("Microsoft Graph refused the request"));
        }
        answer.json().await.map_err(|_| actix_web::error::ErrorBadGateway("Microsoft Graph answered nonsense"))
    }
}

/// The signed-in user's Graph profile, as a page. The first visit of a session goes through the
/// login, which asks the user to consent to `User.Read`, and comes back here.
#[get("/me/graph")]
#[auth_required]
async fn graph_profile_page(tokens: DownstreamTokens, graph: web::Data<Graph>) -> actix_web::Result<HttpResponse> {
    let profile = graph.profile(&tokens).await?;
    let shown = |value: &Option<String>| HtmlEscape(value.as_deref().unwrap_or("")).to_string();
    Ok(page(
        "Your Microsoft Graph profile",
        &format!(
            "<p id=\"displayName\">{}</p><p id=\"userPrincipalName\">{}</p>",
            shown(&profile.display_name),
            shown(&profile.user_principal_name)
        ),
    ))
}

/// The caller's Graph profile, by on-behalf-of with the caller's token. Without consent to
/// Graph's `User.Read`: 401 `consent_required` naming the scope.
#[utoipa::path(responses(
    (status = 200, description = "The caller's Microsoft Graph profile", body = Object,
     example = json!({"displayName": "Alice Example", "userPrincipalName": "alice@contoso.example"})),
    (status = 401, description = "No token, or consent to Graph's User.Read is needed (consent_required)"),
    (status = 502, description = "Microsoft Graph refused or could not be reached")
))]
#[get("/api/me/graph")]
#[api_auth_required]
async fn api_graph_profile(tokens: DownstreamTokens, graph: web::Data<Graph>) -> actix_web::Result<HttpResponse> {
    Ok(HttpResponse::Ok().json(graph.profile(&tokens).await?))
}

/// The configuration: from the environment, or, without `AAD_CLIENT_ID`, from a local tenant
/// started here (kept alive by the returned handle).
async fn configuration() -> Result<(AadAuthConfig, Option<Tenant>), Box<dyn std::error::Error>> {
    dotenvy_load();
    if std::env::var("AAD_CLIENT_ID").is_ok_and(|v| !v.trim().is_empty()) {
        return Ok((AadAuthConfig::from_env()?, None));
    }
    let tenant = TenantBuilder::from_dev_env()?.start().await;
    let api = tenant.api_app();
    let ca_file = tenant.ca_cert_path().map(|p| p.display().to_string());
    let provided = move |name: &str| -> Option<String> {
        match name {
            "AAD_CLIENT_ID" => Some(api.client_id.clone()),
            "AAD_CLIENT_SECRET" => api.client_secret.clone(),
            "AAD_TENANT_ID" => None,
            "AAD_CA_FILE" => ca_file.clone(),
            _ => None,
        }
    };
    let tenant_id = tenant.tenant_id().to_owned();
    let host = tenant.authority_host().to_owned();
    let config = AadAuthConfig::from_lookup(|name| {
        std::env::var(name).ok().filter(|v| !v.trim().is_empty()).or_else(|| match name {
            "AAD_TENANT_ID" => Some(tenant_id.clone()),
            "AAD_AUTHORITY_HOST" => Some(host.clone()),
            "AUTH_DEV_MODE" => Some("true".into()),
            // `/team`: dave's overage is resolved through the tenant's own Graph.
            "AAD_GROUPS_OVERAGE" => Some("graph".into()),
            "APP_NAME" => Some("aad-auth demo".into()),
            _ => provided(name),
        })
    })?;
    Ok((config, Some(tenant)))
}

/// `.env` is read by `AadAuthConfig::from_env`; load it here too so that the choice between the
/// local tenant and a real one sees it.
fn dotenvy_load() {
    let _ = dotenvy::dotenv();
}

#[actix_web::main]
async fn main() -> std::process::ExitCode {
    aad_auth_examples::exit_status("basic", run().await)
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    aad_auth_examples::init_logging("info,actix_server=warn");
    let host = std::env::var("HOST").unwrap_or_else(|_| "127.0.0.1".into());
    let port: u16 = std::env::var("PORT").ok().map(|p| p.parse()).transpose()?.unwrap_or(8000);

    let (config, tenant) = configuration().await?;
    let auth = AadAuth::builder(config).openapi(ApiDoc::openapi()).build()?;
    let notes = web::Data::new(Notes::default());
    let graph = web::Data::new(Graph::new(auth.config())?);
    let server = HttpServer::new({
        let auth = auth.clone();
        move || {
            App::new()
                .configure(auth.configure())
                .app_data(notes.clone())
                .app_data(graph.clone())
                .service(home)
                .service(hello)
                .service(add_note)
                .service(list_notes)
                .service(test_auth_decorator)
                .service(test)
                .service(admin)
                .service(team)
                .service(sensitive)
                .service(api_sensitive)
                .service(graph_profile_page)
                .service(api_graph_profile)
        }
    })
    .bind((host.as_str(), port))?;
    let address = server.addrs().first().map(ToString::to_string).unwrap_or_else(|| format!("{host}:{port}"));

    println!("aad-auth demo: open http://{address}/");
    println!("  API docs (Swagger UI, sign in with Authorize): http://{address}/docs/");
    match &tenant {
        Some(tenant) => {
            println!("  Local Entra ID tenant (offline, no Azure): {}", tenant.authority());
            println!("  Test users (pick one on the sign-in page):");
            for user in tenant.users() {
                let mut notes = Vec::new();
                if !user.roles.is_empty() {
                    notes.push(format!("roles: {}", user.roles.join(", ")));
                }
                if user.guest {
                    notes.push("guest".into());
                }
                if user.groups.len() > aad_auth::testing::GROUPS_OVERAGE_LIMIT {
                    notes.push(format!("{} groups (overage)", user.groups.len()));
                }
                let notes = if notes.is_empty() { String::new() } else { format!(" ({})", notes.join("; ")) };
                println!("    {} — {}{notes}", user.username, user.name);
            }
        }
        None => println!("  Tenant: {}", auth.config().authority()),
    }
    server.run().await?;
    drop(tenant);
    Ok(())
}
