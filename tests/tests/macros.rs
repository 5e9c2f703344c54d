//! What the guard macros do at run time, through real actix apps and tokens minted by the local
//! tenant: statuses, challenges, the redirect of pages, the any-of/all-of rules, the state the
//! handler receives, and the registrations the OpenAPI layer reads.
//!
//! Session-cookie cases (`allow_session` with a logged-in browser, `#[auth_required]` with a
//! session) need the browser-login layer and are not covered here yet.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use aad_auth::testing::Tenant;
use aad_auth::{AadAuth, AuthenticationState, GuardKind, api_auth_required, auth_required};
use actix_web::body::MessageBody;
use actix_web::dev::{Service, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderMap};
use actix_web::test::{self, TestRequest};
use actix_web::{App, HttpResponse, Responder, get, post, route, web};
use serde::Deserialize;

const GROUP_A: &str = "8f0c6a4e-1d2b-4c3a-9e8f-0a1b2c3d4e5f";
const GROUP_B: &str = "9a1d7b5f-2e3c-4d4b-8f90-1b2c3d4e5f60";

fn username(state: &AuthenticationState) -> String {
    state.user().and_then(|user| user.username.clone()).unwrap_or_else(|| "anonymous".into())
}

// ---- handlers, one per guard form ----

#[get("/me")]
#[api_auth_required]
async fn me(state: AuthenticationState) -> String {
    username(&state)
}

#[api_auth_required]
#[get("/me-below")]
async fn me_below(caller: aad_auth::AuthenticationState) -> String {
    caller.user().map(|user| user.oid.clone()).unwrap_or_default()
}

#[get("/no-state")]
#[api_auth_required]
async fn no_state() -> &'static str {
    "secret"
}

#[get("/scoped")]
#[api_auth_required(scopes("Items.Read", "Items.Write"))]
async fn scoped(state: AuthenticationState) -> String {
    username(&state)
}

#[get("/roles")]
#[api_auth_required(roles("Admin", "Editor"))]
async fn role_guarded(state: AuthenticationState) -> String {
    username(&state)
}

#[get("/groups")]
#[api_auth_required(groups("8f0c6a4e-1d2b-4c3a-9e8f-0a1b2c3d4e5f", "9a1d7b5f-2e3c-4d4b-8f90-1b2c3d4e5f60"))]
async fn group_guarded() -> &'static str {
    "in a group"
}

#[get("/all")]
#[api_auth_required(scopes("Items.Read"), roles("Admin"), groups("8f0c6a4e-1d2b-4c3a-9e8f-0a1b2c3d4e5f"))]
async fn all_lists(_: AuthenticationState) -> &'static str {
    "all hold"
}

#[derive(Deserialize)]
struct NewItem {
    name: String,
}

#[post("/items/{id}")]
#[api_auth_required(scopes("Items.Write"))]
async fn create_item(id: web::Path<u32>, state: AuthenticationState, item: web::Json<NewItem>) -> HttpResponse {
    HttpResponse::Created().body(format!("{}:{}:{}", id.into_inner(), item.into_inner().name, username(&state)))
}

#[get("/session-ok")]
#[api_auth_required(allow_session)]
async fn session_ok(state: AuthenticationState) -> String {
    username(&state)
}

#[route("/either", method = "GET", method = "POST")]
#[api_auth_required(roles("Reader"))]
async fn app_or_user(state: AuthenticationState) -> String {
    format!("app_only={}", state.is_app_only())
}

#[get("/page")]
#[auth_required]
async fn page(user: AuthenticationState) -> HttpResponse {
    HttpResponse::Ok().content_type("text/html").body(format!("<p>{}</p>", username(&user)))
}

#[get("/admin-page")]
#[auth_required(roles("Admin"))]
async fn admin_page() -> HttpResponse {
    HttpResponse::Ok().content_type("text/html").body("<h1>admin</h1>")
}

#[api_auth_required(scopes("user_impersonation"))]
async fn manual(state: AuthenticationState) -> String {
    username(&state)
}

/// Documented for the OpenAPI document.
#[utoipa::path(responses((status = 200, description = "The caller")))]
#[get("/documented")]
#[api_auth_required(scopes("user_impersonation"))]
async fn documented(state: AuthenticationState) -> impl Responder {
    username(&state)
}

fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(me)
        .service(me_below)
        .service(no_state)
        .service(scoped)
        .service(role_guarded)
        .service(group_guarded)
        .service(all_lists)
        .service(create_item)
        .service(session_ok)
        .service(app_or_user)
        .service(page)
        .service(admin_page)
        .service(documented)
        .service(web::resource("/manual").route(web::get().to(manual)));
}

// ---- harness ----

struct Fixture {
    tenant: Tenant,
    auth: AadAuth,
}

async fn fixture() -> Fixture {
    let tenant = Tenant::start().await;
    let auth = AadAuth::bearer_only(tenant.api_config().build().unwrap()).unwrap();
    Fixture { tenant, auth }
}

#[derive(Debug)]
struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    body: String,
}

impl Reply {
    fn header(&self, name: header::HeaderName) -> Option<&str> {
        self.headers.get(name).map(|value| value.to_str().unwrap())
    }

    fn challenge(&self) -> &str {
        self.header(header::WWW_AUTHENTICATE).unwrap_or_else(|| panic!("no WWW-Authenticate in {self:?}"))
    }
}

async fn send<S, R, B>(app: &S, req: R) -> Reply
where
    S: Service<R, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody,
{
    let res = test::call_service(app, req).await;
    let status = res.status();
    let headers = res.headers().clone();
    let body = test::read_body(res).await;
    Reply { status, headers, body: String::from_utf8_lossy(&body).into_owned() }
}

fn bearer(path: &str, token: &str) -> TestRequest {
    TestRequest::get().uri(path).insert_header((header::AUTHORIZATION, format!("Bearer {token}")))
}

fn realm(auth: &AadAuth) -> String {
    format!("Bearer realm=\"{}\"", auth.config().api_audience())
}

fn assert_unauthorized_without_error(reply: &Reply, auth: &AadAuth) {
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{reply:?}");
    // A bare challenge: the realm and, as on every 401, where the protected-resource metadata is.
    let expected =
        format!("{}, resource_metadata=\"http://localhost:8080/.well-known/oauth-protected-resource\"", realm(auth));
    assert_eq!(reply.challenge(), expected, "a missing token gets a bare challenge");
}

fn assert_invalid_token(reply: &Reply, auth: &AadAuth) {
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{reply:?}");
    let challenge = reply.challenge();
    assert!(challenge.starts_with(&format!("{}, ", realm(auth))), "{challenge}");
    assert!(challenge.contains("error=\"invalid_token\""), "{challenge}");
}

fn assert_insufficient_scope(reply: &Reply) {
    assert_eq!(reply.status, StatusCode::FORBIDDEN, "{reply:?}");
    assert!(reply.challenge().contains("error=\"insufficient_scope\""), "{reply:?}");
}

macro_rules! app {
    ($auth:expr) => {
        test::init_service(App::new().configure($auth.configure()).configure(routes)).await
    };
}

// ---- API guards ----

#[actix_web::test]
async fn no_token_is_401_with_a_bare_bearer_challenge_on_every_api_form() {
    let f = fixture().await;
    let app = app!(f.auth);
    for path in [
        "/me",
        "/me-below",
        "/no-state",
        "/scoped",
        "/roles",
        "/groups",
        "/all",
        "/session-ok",
        "/manual",
        "/documented",
    ] {
        let reply = send(&app, TestRequest::get().uri(path).to_request()).await;
        assert_unauthorized_without_error(&reply, &f.auth);
        assert!(!reply.body.contains("secret"), "{path}: the handler must not run");
    }
}

#[actix_web::test]
async fn the_handler_receives_the_caller() {
    let f = fixture().await;
    let app = app!(f.auth);
    let alice = f.tenant.users()[0].clone();
    let token = f.tenant.token().for_user(&alice).sign();

    let reply = send(&app, bearer("/me", &token).to_request()).await;
    assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
    assert_eq!(reply.body, alice.username);

    let reply = send(&app, bearer("/me-below", &token).to_request()).await;
    assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
    assert_eq!(reply.body, alice.oid, "state typed as a path, guard written under #[get]");

    let bob = f.tenant.users()[1].clone();
    let reply = send(&app, bearer("/manual", &f.tenant.token().for_user(&bob).sign()).to_request()).await;
    assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
    assert_eq!(reply.body, bob.username, "registered with web::resource().route()");

    let reply = send(&app, bearer("/documented", &token).to_request()).await;
    assert_eq!((reply.status, reply.body.as_str()), (StatusCode::OK, alice.username.as_str()), "under utoipa::path");
}

#[actix_web::test]
async fn a_handler_without_the_state_parameter_is_guarded_all_the_same() {
    let f = fixture().await;
    let app = app!(f.auth);
    let reply = send(&app, TestRequest::get().uri("/no-state").to_request()).await;
    assert_unauthorized_without_error(&reply, &f.auth);
    let reply = send(&app, bearer("/no-state", &f.tenant.token().expired().sign()).to_request()).await;
    assert_invalid_token(&reply, &f.auth);
    let reply = send(&app, bearer("/no-state", &f.tenant.token().member().sign()).to_request()).await;
    assert_eq!((reply.status, reply.body.as_str()), (StatusCode::OK, "secret"));
}

#[actix_web::test]
async fn bad_tokens_are_401_invalid_token() {
    let f = fixture().await;
    let app = app!(f.auth);
    let good = f.tenant.token().member().sign();
    let mut tampered = good.clone().into_bytes();
    let last = tampered.len() - 3;
    tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).unwrap();
    let bad = [
        ("expired", f.tenant.token().member().expired().sign()),
        ("wrong audience", f.tenant.token().member().wrong_audience().sign()),
        ("other tenant", f.tenant.token().member().other_tenant().sign()),
        ("not a jwt", "not-a-token".to_owned()),
        ("bad signature", tampered),
    ];
    for (what, token) in &bad {
        for path in ["/me", "/scoped", "/no-state"] {
            let reply = send(&app, bearer(path, token).to_request()).await;
            assert_invalid_token(&reply, &f.auth);
            assert!(!reply.body.contains("secret"), "{what} on {path}");
        }
    }
}

#[actix_web::test]
async fn scopes_any_of_one_suffices_none_is_403() {
    let f = fixture().await;
    let app = app!(f.auth);
    let token = |scopes: &[&str]| f.tenant.token().member().scopes(scopes.iter().copied()).sign();
    for granted in
        [&["Items.Read"][..], &["Items.Write"], &["user_impersonation", "Items.Write"], &["Items.Read", "Items.Write"]]
    {
        let reply = send(&app, bearer("/scoped", &token(granted)).to_request()).await;
        assert_eq!(reply.status, StatusCode::OK, "{granted:?}: {reply:?}");
    }
    for granted in [&["user_impersonation"][..], &["Items.ReadWrite"], &["items.read"], &["Items"]] {
        let reply = send(&app, bearer("/scoped", &token(granted)).to_request()).await;
        assert_insufficient_scope(&reply);
    }
}

#[actix_web::test]
async fn roles_any_of_one_suffices_none_is_403() {
    let f = fixture().await;
    let app = app!(f.auth);
    for roles in [&["Admin"][..], &["Editor"], &["Reader", "Editor"]] {
        let reply =
            send(&app, bearer("/roles", &f.tenant.token().member().roles(roles.iter().copied()).sign()).to_request())
                .await;
        assert_eq!(reply.status, StatusCode::OK, "{roles:?}: {reply:?}");
    }
    for roles in [&[][..], &["Reader"], &["admin"]] {
        let reply =
            send(&app, bearer("/roles", &f.tenant.token().member().roles(roles.iter().copied()).sign()).to_request())
                .await;
        assert_insufficient_scope(&reply);
    }
}

#[actix_web::test]
async fn groups_any_of_one_suffices_none_is_403() {
    let f = fixture().await;
    let app = app!(f.auth);
    for groups in [&[GROUP_A][..], &[GROUP_B], &["00000000-0000-0000-0000-000000000001", GROUP_B]] {
        let reply = send(
            &app,
            bearer("/groups", &f.tenant.token().member().groups(groups.iter().copied()).sign()).to_request(),
        )
        .await;
        assert_eq!(reply.status, StatusCode::OK, "{groups:?}: {reply:?}");
    }
    for groups in [&[][..], &["00000000-0000-0000-0000-000000000001"]] {
        let reply = send(
            &app,
            bearer("/groups", &f.tenant.token().member().groups(groups.iter().copied()).sign()).to_request(),
        )
        .await;
        assert_insufficient_scope(&reply);
    }
    let overage = f.tenant.token().member().groups_overage().sign();
    assert_insufficient_scope(&send(&app, bearer("/groups", &overage).to_request()).await);
}

#[actix_web::test]
async fn every_list_must_hold() {
    let f = fixture().await;
    let app = app!(f.auth);
    let token = |scopes: &[&str], roles: &[&str], groups: &[&str]| {
        f.tenant
            .token()
            .member()
            .scopes(scopes.iter().copied())
            .roles(roles.iter().copied())
            .groups(groups.iter().copied())
            .sign()
    };
    let reply = send(&app, bearer("/all", &token(&["Items.Read"], &["Admin"], &[GROUP_A])).to_request()).await;
    assert_eq!((reply.status, reply.body.as_str()), (StatusCode::OK, "all hold"));
    for (scopes, roles, groups) in [
        (&["user_impersonation"][..], &["Admin"][..], &[GROUP_A][..]),
        (&["Items.Read"], &["Reader"], &[GROUP_A]),
        (&["Items.Read"], &["Admin"], &[GROUP_B]),
        (&["Items.Read"], &[], &[]),
    ] {
        let reply = send(&app, bearer("/all", &token(scopes, roles, groups)).to_request()).await;
        assert_insufficient_scope(&reply);
    }
}

#[actix_web::test]
async fn other_extractors_still_work_and_run_after_the_guard() {
    let f = fixture().await;
    let app = app!(f.auth);
    let alice = f.tenant.users()[0].clone();
    let token = f.tenant.token().for_user(&alice).scopes(["Items.Write"]).sign();
    let req = TestRequest::post()
        .uri("/items/42")
        .insert_header((header::AUTHORIZATION, format!("Bearer {token}")))
        .set_json(serde_json::json!({ "name": "widget" }));
    let reply = send(&app, req.to_request()).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{reply:?}");
    assert_eq!(reply.body, format!("42:widget:{}", alice.username));

    // No token and a body that is not JSON: the guard answers first, not the JSON extractor.
    let req = TestRequest::post()
        .uri("/items/42")
        .insert_header((header::CONTENT_TYPE, "application/json"))
        .set_payload("{not json");
    assert_unauthorized_without_error(&send(&app, req.to_request()).await, &f.auth);
    // A wrong path segment without a token is also a 401, not the extractor's 404.
    let req = TestRequest::post().uri("/items/not-a-number").set_json(serde_json::json!({ "name": "x" }));
    assert_unauthorized_without_error(&send(&app, req.to_request()).await, &f.auth);
    // With a token but without the scope: 403 before the body is looked at.
    let token = f.tenant.token().member().scopes(["Items.Read"]).sign();
    let req = TestRequest::post()
        .uri("/items/42")
        .insert_header((header::AUTHORIZATION, format!("Bearer {token}")))
        .insert_header((header::CONTENT_TYPE, "application/json"))
        .set_payload("{not json");
    assert_insufficient_scope(&send(&app, req.to_request()).await);
}

#[actix_web::test]
async fn allow_session_still_accepts_bearer_and_answers_401_not_a_redirect() {
    let f = fixture().await;
    let app = app!(f.auth);
    let reply = send(&app, bearer("/session-ok", &f.tenant.token().member().sign()).to_request()).await;
    assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
    let browser = TestRequest::get().uri("/session-ok").insert_header((header::ACCEPT, "text/html")).to_request();
    let reply = send(&app, browser).await;
    assert_unauthorized_without_error(&reply, &f.auth);
    assert!(reply.header(header::LOCATION).is_none(), "an API route never redirects");
}

#[actix_web::test]
async fn app_only_tokens_pass_on_their_roles() {
    let f = fixture().await;
    let app = app!(f.auth);
    let app_token = f.tenant.token().app_only().sign();
    for method in [TestRequest::get(), TestRequest::post()] {
        let req = method.uri("/either").insert_header((header::AUTHORIZATION, format!("Bearer {app_token}")));
        let reply = send(&app, req.to_request()).await;
        assert_eq!((reply.status, reply.body.as_str()), (StatusCode::OK, "app_only=true"), "#[route] with two methods");
    }
    // The app holds `Reader`, not `Admin` or `Editor`.
    assert_insufficient_scope(&send(&app, bearer("/roles", &app_token).to_request()).await);
}

// ---- page guards ----

#[actix_web::test]
async fn an_anonymous_browser_on_a_page_is_sent_to_the_login_ui_with_the_path_kept() {
    let f = fixture().await;
    let app = app!(f.auth);
    for (path, expected) in [
        ("/page", "/login?redirect=%2Fpage"),
        ("/page?tab=2&q=a%20b", "/login?redirect=%2Fpage%3Ftab%3D2%26q%3Da%2520b"),
        ("/admin-page", "/login?redirect=%2Fadmin-page"),
    ] {
        let req = TestRequest::get()
            .uri(path)
            .insert_header((header::ACCEPT, "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"));
        let reply = send(&app, req.to_request()).await;
        assert_eq!(reply.status, StatusCode::SEE_OTHER, "{path}: {reply:?}");
        assert_eq!(reply.header(header::LOCATION), Some(expected), "{path}");
        assert!(!reply.body.contains("<p>") && !reply.body.contains("admin</h1>"), "{path}: the handler must not run");
    }
}

#[actix_web::test]
async fn a_page_takes_a_bearer_token_too_and_checks_its_roles() {
    let f = fixture().await;
    let app = app!(f.auth);
    let alice = f.tenant.users()[0].clone();
    let reply = send(&app, bearer("/page", &f.tenant.token().for_user(&alice).sign()).to_request()).await;
    assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
    assert_eq!(reply.body, format!("<p>{}</p>", alice.username));

    let admin = f.tenant.token().member().roles(["Admin"]).sign();
    let reply = send(&app, bearer("/admin-page", &admin).to_request()).await;
    assert_eq!(reply.status, StatusCode::OK, "{reply:?}");

    let not_admin = f.tenant.token().member().roles(["Reader"]).sign();
    let reply = send(&app, bearer("/admin-page", &not_admin).to_request()).await;
    assert_insufficient_scope(&reply);
    assert!(reply.header(header::LOCATION).is_none(), "a signed-in caller without the role is not sent to log in");
}

// ---- registrations for the OpenAPI layer ----

#[actix_web::test]
async fn every_guarded_handler_is_registered_with_its_policy() {
    let module = module_path!();
    let find = |name: &str| {
        aad_auth::guard_registrations()
            .find(|registration| registration.module == module && registration.handler == name)
            .map(|registration| (registration.policy)())
            .unwrap_or_else(|| panic!("{name} is not registered"))
    };
    let names = [
        "me",
        "me_below",
        "no_state",
        "scoped",
        "role_guarded",
        "group_guarded",
        "all_lists",
        "create_item",
        "session_ok",
        "app_or_user",
        "page",
        "admin_page",
        "manual",
        "documented",
    ];
    for name in names {
        find(name);
    }
    let count = aad_auth::guard_registrations().filter(|registration| registration.module == module).count();
    assert_eq!(count, names.len(), "one registration per guarded handler");

    let api = find("me");
    assert_eq!((api.kind(), api.allows_session()), (GuardKind::Api, false));
    assert!(api.required_scopes().is_empty() && api.required_roles().is_empty() && api.required_groups().is_empty());
    assert_eq!(find("scoped").required_scopes(), ["Items.Read", "Items.Write"]);
    assert_eq!(find("role_guarded").required_roles(), ["Admin", "Editor"]);
    assert_eq!(find("group_guarded").required_groups(), [GROUP_A, GROUP_B]);
    let all = find("all_lists");
    assert_eq!(
        (all.required_scopes(), all.required_roles(), all.required_groups()),
        (&["Items.Read".to_owned()][..], &["Admin".to_owned()][..], &[GROUP_A.to_owned()][..])
    );
    assert!(find("session_ok").allows_session());
    let plain_page = find("page");
    assert_eq!((plain_page.kind(), plain_page.allows_session()), (GuardKind::Page, true));
    assert_eq!(find("admin_page").required_roles(), ["Admin"]);
}

/// The app's own body for refused requests, from the typed rejection (`AuthRejection`), keeping
/// the library's status and challenge.
fn rewrite_refusal<B: MessageBody + 'static>(
    res: ServiceResponse<B>,
) -> actix_web::Result<actix_web::middleware::ErrorHandlerResponse<B>> {
    use actix_web::middleware::ErrorHandlerResponse;
    let Some(why) =
        res.response().error().and_then(|e| e.as_error::<aad_auth::AuthRejection>()).map(|r| r.error().clone())
    else {
        return Ok(ErrorHandlerResponse::Response(res.map_into_left_body()));
    };
    let (req, original) = res.into_parts();
    let mut ours = HttpResponse::build(original.status()).json(serde_json::json!({ "why": why.to_string() }));
    if let Some(challenge) = original.headers().get(header::WWW_AUTHENTICATE) {
        ours.headers_mut().insert(header::WWW_AUTHENTICATE, challenge.clone());
    }
    Ok(ErrorHandlerResponse::Response(ServiceResponse::new(req, ours).map_into_right_body()))
}

#[actix_web::test]
async fn an_app_sees_why_a_guard_refused_and_answers_its_own_way() {
    let f = fixture().await;
    let handlers = || {
        actix_web::middleware::ErrorHandlers::new()
            .handler(StatusCode::UNAUTHORIZED, rewrite_refusal)
            .handler(StatusCode::FORBIDDEN, rewrite_refusal)
    };
    let app = test::init_service(
        App::new().wrap(handlers()).configure(f.auth.configure()).configure(routes).service(
            web::scope("/mw")
                .wrap(aad_auth::RequireAuth::new(aad_auth::Policy::api().roles(["Admin"])))
                .route("", web::get().to(|| async { "admin" })),
        ),
    )
    .await;
    let plain = f.tenant.token().member().roles(Vec::<String>::new()).sign();
    // (path, token, status, the AuthError's Display) for the macro guard and the middleware.
    let rows: [(&str, Option<&str>, u16, &str); 4] = [
        ("/me", None, 401, "no credentials"),
        ("/roles", Some(&plain), 403, "forbidden: none of the required roles"),
        ("/mw", None, 401, "no credentials"),
        ("/mw", Some(&plain), 403, "forbidden: none of the required roles"),
    ];
    for (path, token, status, why) in rows {
        let mut request = TestRequest::get().uri(path);
        if let Some(token) = token {
            request = request.insert_header((header::AUTHORIZATION, format!("Bearer {token}")));
        }
        let response = test::call_service(&app, request.to_request()).await;
        assert_eq!(response.status().as_u16(), status, "{path}");
        assert!(response.headers().contains_key(header::WWW_AUTHENTICATE), "{path}: the challenge is kept");
        let body: serde_json::Value = test::read_body_json(response).await;
        assert_eq!(body, serde_json::json!({ "why": why }), "{path}");
    }
}
