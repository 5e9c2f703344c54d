//! The OpenAPI support: the security schemes and per-operation requirements taken from the
//! guards, `guard_coverage`, and the bundled docs (Swagger UI with PKCE, ReDoc).
//!
//! Two halves: the `basic` demo as users run it (the built example against a running
//! `dev_tenant`, fetched over HTTP), and in-process apps with handlers of this file, whose
//! documents are checked against the very policies the guards enforce.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a failed set-up step is a failed test")]

use std::collections::BTreeMap;

use aad_auth::openapi::{AadAuthSecurity, BEARER_SCHEME, OAUTH2_SCHEME, guard_coverage};
use aad_auth::{AuthenticationState, GuardKind, api_auth_required, auth_required};
use actix_web::{App, HttpResponse, Responder, get, post};
use serde_json::{Value, json};
use utoipa::OpenApi;

use aad_auth_tests::example_processes::{start_basic, start_dev_tenant};
use aad_auth_tests::{Harness, get as call_get};

const GROUP: &str = "0b5e7c1d-3f4a-4b6c-8d9e-a0b1c2d3e4f5";

// ---- handlers of the in-process documents ----

/// Lists the items.
#[utoipa::path(responses((status = 200, description = "The items")))]
#[get("/items")]
#[api_auth_required(scopes("Items.Read"))]
async fn list_items() -> &'static str {
    "items"
}

/// Writes an item: either scope (one short, one a full URI) and either role.
#[utoipa::path(responses((status = 200, description = "Written")))]
#[post("/items")]
#[api_auth_required(allow_session, scopes("Items.Write", "api://other-api/Items.Sync"), roles("Admin", "Editor"))]
async fn write_item(state: AuthenticationState) -> impl Responder {
    HttpResponse::Ok().body(format!("written by {}", state.user().map(|u| u.oid.clone()).unwrap_or_default()))
}

/// Members of one group.
#[utoipa::path(responses((status = 200, description = "In the group")))]
#[get("/group")]
#[api_auth_required(groups("0b5e7c1d-3f4a-4b6c-8d9e-a0b1c2d3e4f5"))]
async fn in_group() -> &'static str {
    "in the group"
}

/// An HTML page for readers.
#[utoipa::path(responses((status = 200, description = "The report", content_type = "text/html")))]
#[get("/report")]
#[auth_required(roles("Reader"))]
async fn report_page() -> impl Responder {
    HttpResponse::Ok().content_type("text/html").body("<p>report</p>")
}

/// No guard: open to anyone.
#[utoipa::path(responses((status = 200, description = "Alive")))]
#[get("/health")]
async fn health() -> &'static str {
    "ok"
}

/// No guard, but documented as protected: the drift `guard_coverage` reports.
#[utoipa::path(responses((status = 200, description = "Claims")), security(("bearer" = [])))]
#[get("/claims")]
async fn claims_open() -> &'static str {
    "open to anyone"
}

/// Two guarded handlers named `twin` with the same policy: not ambiguous.
mod twin_a {
    use aad_auth::api_auth_required;
    use actix_web::get;

    /// The first twin.
    #[utoipa::path(responses((status = 200, description = "Twin")))]
    #[get("/twin/a")]
    #[api_auth_required(roles("Auditor"))]
    pub async fn twin() -> &'static str {
        "a"
    }
}

mod twin_b {
    use aad_auth::api_auth_required;
    use actix_web::get;

    /// The second twin (never documented; it only shares the name and policy).
    #[get("/twin/b")]
    #[api_auth_required(roles("Auditor"))]
    pub async fn twin() -> &'static str {
        "b"
    }
}

/// Two guarded handlers named `dup` with different policies: ambiguous.
mod dup_first {
    use aad_auth::api_auth_required;
    use actix_web::get;

    /// Needs scope `A`.
    #[utoipa::path(responses((status = 200, description = "First")))]
    #[get("/dup/first")]
    #[api_auth_required(scopes("A"))]
    pub async fn dup() -> &'static str {
        "first"
    }
}

mod dup_second {
    use aad_auth::api_auth_required;
    use actix_web::get;

    /// Needs role `B`.
    #[utoipa::path(responses((status = 200, description = "Second")))]
    #[get("/dup/second")]
    #[api_auth_required(roles("B"))]
    pub async fn dup() -> &'static str {
        "second"
    }
}

/// Every operation linked to exactly one guard policy, or unguarded and documented as open.
#[derive(OpenApi)]
#[openapi(
    info(title = "Covered <API>", description = "In-process test document"),
    paths(list_items, write_item, in_group, report_page, health, twin_a::twin)
)]
struct CoveredDoc;

/// An operation documented as protected without a guard, and an ambiguous name.
#[derive(OpenApi)]
#[openapi(paths(list_items, claims_open, dup_first::dup, dup_second::dup))]
struct BrokenDoc;

// ---- in-process helpers ----

/// `GET path` on an app mounting `auth` (with `doc`) and every handler of this file.
macro_rules! app {
    ($auth:expr) => {
        actix_web::test::init_service(
            App::new()
                .configure($auth.configure())
                .service(list_items)
                .service(write_item)
                .service(in_group)
                .service(report_page)
                .service(health)
                .service(claims_open)
                .service(twin_a::twin)
                .service(twin_b::twin)
                .service(dup_first::dup)
                .service(dup_second::dup),
        )
        .await
    };
}

/// The served `/openapi.json` of an app.
async fn served_doc<S, B>(app: &S) -> Value
where
    S: actix_web::dev::Service<
            actix_http::Request,
            Response = actix_web::dev::ServiceResponse<B>,
            Error = actix_web::Error,
        >,
    B: actix_web::body::MessageBody,
{
    let reply = call_get(app, "/openapi.json", None).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(reply.content_type.as_deref(), Some("application/json"));
    serde_json::from_str(&reply.body).expect("the document is JSON")
}

/// The `/openapi.json` served by an app mounting `h`'s `AadAuth` with `doc`.
async fn document_served_with(h: &Harness, doc: utoipa::openapi::OpenApi) -> Value {
    let auth = h.auth_with_openapi(doc);
    let app = app!(auth);
    served_doc(&app).await
}

/// The `x-aad-auth` extension a policy must produce.
fn extension_of(policy: &aad_auth::Policy) -> Value {
    json!({
        "kind": match policy.kind() { GuardKind::Api => "api", _ => "page" },
        "allow_session": policy.allows_session(),
        "scopes": policy.required_scopes(),
        "roles": policy.required_roles(),
        "groups": policy.required_groups(),
    })
}

/// The registered policy of the handler `name` in `module` (a suffix of `module_path!()`).
fn registered(module: &str, name: &str) -> &'static aad_auth::Policy {
    aad_auth::guard_registrations()
        .find(|r| r.handler == name && r.module.ends_with(module))
        .map(|r| (r.policy)())
        .unwrap_or_else(|| panic!("{module}::{name} is not registered"))
}

/// The text between `start` and the next `end` after it.
fn between<'a>(text: &'a str, start: &str, end: &str) -> &'a str {
    let from = text.find(start).unwrap_or_else(|| panic!("`{start}` not found in:\n{text}")) + start.len();
    let to = text[from..].find(end).unwrap_or_else(|| panic!("`{end}` not found after `{start}`")) + from;
    &text[from..to]
}

// ---- in-process: the document follows the guards ----

#[actix_web::test]
async fn schemes_come_from_the_authority_and_every_required_scope() {
    let h = Harness::new().await;
    let client = h.auth.config().client_id().to_owned();
    let doc = document_served_with(&h, CoveredDoc::openapi()).await;

    let schemes = &doc["components"]["securitySchemes"];
    let flow = &schemes[OAUTH2_SCHEME]["flows"]["authorizationCode"];
    assert_eq!(schemes[OAUTH2_SCHEME]["type"], "oauth2", "{schemes}");
    assert_eq!(flow["authorizationUrl"], format!("{}/oauth2/v2.0/authorize", h.tenant.authority()));
    assert_eq!(flow["tokenUrl"], format!("{}/oauth2/v2.0/token", h.tenant.authority()));
    let scopes: BTreeMap<String, String> = serde_json::from_value(flow["scopes"].clone()).expect("scopes map");
    let expected: BTreeMap<String, String> = [
        (format!("{client}/.default"), "Sign in and call this API"),
        (format!("api://{client}/Items.Read"), "Required by some operations"),
        (format!("api://{client}/Items.Write"), "Required by some operations"),
        ("api://other-api/Items.Sync".to_owned(), "Required by some operations"),
    ]
    .into_iter()
    .map(|(k, v)| (k, v.to_owned()))
    .collect();
    assert_eq!(scopes, expected);
    assert_eq!(schemes[BEARER_SCHEME], json!({ "type": "http", "scheme": "bearer", "bearerFormat": "JWT" }));
    assert_eq!(schemes.as_object().map(|o| o.len()), Some(2), "{schemes}");
    assert!(doc.get("security").is_none(), "no document-wide requirement: {doc}");
}

#[actix_web::test]
async fn each_operation_carries_exactly_its_guards_requirement() {
    let h = Harness::new().await;
    let client = h.auth.config().client_id().to_owned();
    let doc = document_served_with(&h, CoveredDoc::openapi()).await;
    let op = |path: &str, method: &str| doc["paths"][path][method].clone();

    let items = op("/items", "get");
    assert_eq!(items["security"], json!([{ "entra_id": [format!("api://{client}/Items.Read")] }, { "bearer": [] }]));
    assert_eq!(
        items["x-aad-auth"],
        json!({ "kind": "api", "allow_session": false, "scopes": ["Items.Read"], "roles": [], "groups": [] })
    );

    // Any of the scopes (a full URI kept as written), any of the roles.
    let write = op("/items", "post");
    assert_eq!(
        write["security"],
        json!([
            { "entra_id": [format!("api://{client}/Items.Write"), "api://other-api/Items.Sync"] },
            { "bearer": [] }
        ])
    );
    assert_eq!(
        write["x-aad-auth"],
        json!({
            "kind": "api",
            "allow_session": true,
            "scopes": ["Items.Write", "api://other-api/Items.Sync"],
            "roles": ["Admin", "Editor"],
            "groups": []
        })
    );

    let group = op("/group", "get");
    assert_eq!(group["security"], json!([{ "entra_id": [] }, { "bearer": [] }]));
    assert_eq!(
        group["x-aad-auth"],
        json!({ "kind": "api", "allow_session": false, "scopes": [], "roles": [], "groups": [GROUP] })
    );

    let report = op("/report", "get");
    assert_eq!(report["security"], json!([{ "entra_id": [] }, { "bearer": [] }]));
    assert_eq!(
        report["x-aad-auth"],
        json!({ "kind": "page", "allow_session": true, "scopes": [], "roles": ["Reader"], "groups": [] })
    );

    // Same name, same policy in two modules: still linked.
    let twin = op("/twin/a", "get");
    assert_eq!(twin["x-aad-auth"]["roles"], json!(["Auditor"]), "{twin}");

    // Guarded operations document the 401 and 403 answers next to their own.
    for (path, method) in [("/items", "get"), ("/items", "post"), ("/group", "get"), ("/report", "get")] {
        let responses = &doc["paths"][path][method]["responses"];
        assert!(responses["200"].is_object(), "{path}: {responses}");
        assert!(responses["401"]["description"].as_str().is_some_and(|d| d.contains("WWW-Authenticate")), "{path}");
        assert!(responses["403"]["description"].as_str().is_some_and(|d| d.contains("insufficient_scope")), "{path}");
    }

    // The unguarded operation stays open.
    let open = op("/health", "get");
    assert!(open.is_object(), "{doc}");
    assert!(open.get("security").is_none(), "{open}");
    assert!(open.get("x-aad-auth").is_none(), "{open}");
    assert!(open["responses"].get("401").is_none(), "{open}");
}

#[actix_web::test]
async fn the_extension_equals_the_registered_policy_for_every_operation() {
    let h = Harness::new().await;
    let doc = document_served_with(&h, CoveredDoc::openapi()).await;
    let expected = [
        ("/items", "post", registered("openapi", "write_item")),
        ("/items", "get", registered("openapi", "list_items")),
        ("/group", "get", registered("openapi", "in_group")),
        ("/report", "get", registered("openapi", "report_page")),
        ("/twin/a", "get", registered("twin_a", "twin")),
    ];
    for (path, method, policy) in expected {
        let operation = &doc["paths"][path][method];
        assert_eq!(operation["x-aad-auth"], extension_of(policy), "{method} {path}");
    }
    assert_eq!(registered("openapi", "report_page").kind(), GuardKind::Page);
    assert_eq!(registered("openapi", "write_item").required_roles(), ["Admin", "Editor"]);
}

#[actix_web::test]
async fn the_runtime_enforces_what_the_document_says() {
    let h = Harness::new().await;
    let auth = h.auth_with_openapi(CoveredDoc::openapi());
    let app = app!(auth);

    let read = h.tenant.token().member().scopes(["Items.Read"]).sign();
    let other = h.tenant.token().member().scopes(["Items.Other"]).sign();
    assert_eq!(call_get(&app, "/items", None).await.status, 401);
    assert_eq!(call_get(&app, "/items", Some(&read)).await.status, 200);
    assert_eq!(call_get(&app, "/items", Some(&other)).await.status, 403);

    // Any of the roles, with any of the scopes.
    let post = |token: String| {
        actix_web::test::TestRequest::post().uri("/items").insert_header(("authorization", format!("Bearer {token}")))
    };
    let editor = h.tenant.token().member().scopes(["Items.Write"]).roles(["Editor"]).sign();
    let admin_sync = h.tenant.token().member().scopes(["api://other-api/Items.Sync"]).roles(["Admin"]).sign();
    let reader = h.tenant.token().member().scopes(["Items.Write"]).roles(["Reader"]).sign();
    assert_eq!(aad_auth_tests::call(&app, post(editor)).await.status, 200);
    assert_eq!(aad_auth_tests::call(&app, post(reader)).await.status, 403);
    // The second scope, written as a full URI, is matched as a whole `scp` value.
    let reply = aad_auth_tests::call(&app, post(admin_sync)).await;
    assert_eq!(reply.status, 200, "{reply:?}");

    // The open operation is open; the one merely documented as protected is open too (the drift
    // `guard_coverage` reports).
    assert_eq!(call_get(&app, "/health", None).await.body, "ok");
    assert_eq!(call_get(&app, "/claims", None).await.body, "open to anyone");
}

#[actix_web::test]
async fn the_modifier_alone_gives_the_served_document() {
    let h = Harness::new().await;
    let served = document_served_with(&h, CoveredDoc::openapi()).await;

    let mut doc = CoveredDoc::openapi();
    assert!(doc.components.as_ref().is_none_or(|c| c.security_schemes.is_empty()), "the raw document has no schemes");
    utoipa::Modify::modify(&AadAuthSecurity::from_config(h.auth.config()), &mut doc);
    assert_eq!(serde_json::to_value(&doc).unwrap(), served);
}

// ---- in-process: guard_coverage ----

#[test]
fn guard_coverage_is_empty_for_a_fully_covered_document() {
    assert_eq!(guard_coverage(&CoveredDoc::openapi()), Vec::<String>::new());
}

#[test]
fn guard_coverage_names_unguarded_protected_and_ambiguous_operations() {
    assert_eq!(
        guard_coverage(&BrokenDoc::openapi()),
        [
            "/claims (claims_open): documented with a security requirement but not guarded",
            "/dup/first (dup): several guarded handlers share this name with different policies",
            "/dup/second (dup): several guarded handlers share this name with different policies",
        ]
    );
}

#[actix_web::test]
async fn ambiguous_operations_get_no_requirement_and_declared_ones_are_kept() {
    let h = Harness::new().await;
    let client = h.auth.config().client_id().to_owned();
    let doc = document_served_with(&h, BrokenDoc::openapi()).await;

    for path in ["/dup/first", "/dup/second"] {
        let operation = &doc["paths"][path]["get"];
        assert!(operation.is_object(), "{path}: {doc}");
        assert!(operation.get("security").is_none(), "{path}: {operation}");
        assert!(operation.get("x-aad-auth").is_none(), "{path}: {operation}");
    }
    // Written by hand, left alone (and reported by guard_coverage).
    assert_eq!(doc["paths"]["/claims"]["get"]["security"], json!([{ "bearer": [] }]));
    assert!(doc["paths"]["/claims"]["get"].get("x-aad-auth").is_none());
    // The scope of the ambiguous `dup` is not advertised; the linked operation's is.
    let scopes = &doc["components"]["securitySchemes"][OAUTH2_SCHEME]["flows"]["authorizationCode"]["scopes"];
    assert!(scopes.get(format!("api://{client}/A")).is_none(), "{scopes}");
    assert!(scopes.get(format!("api://{client}/Items.Read")).is_some(), "{scopes}");
}

// ---- in-process: the docs UIs ----

#[actix_web::test]
async fn swagger_settings_use_pkce_the_client_and_the_public_base() {
    let h = Harness::with(|config| config.public_base_url("https://api.example.test/")).await;
    let client = h.auth.config().client_id().to_owned();
    let auth = h.auth_with_openapi(CoveredDoc::openapi());
    let app = app!(auth);

    let moved = call_get(&app, "/docs", None).await;
    assert_eq!(moved.status, 308, "{moved:?}");
    let index = call_get(&app, "/docs/", None).await;
    assert_eq!(index.status, 200);
    assert!(index.content_type.as_deref().is_some_and(|t| t.starts_with("text/html")), "{:?}", index.content_type);

    let script = call_get(&app, "/docs/swagger-initializer.js", None).await;
    assert_eq!(script.status, 200);
    let oauth: Value = serde_json::from_str(between(&script.body, "ui.initOAuth(", ");")).expect("initOAuth JSON");
    assert_eq!(
        oauth,
        json!({ "clientId": client, "scopes": [format!("{client}/.default")], "usePkceWithAuthorizationCodeGrant": true })
    );
    assert_eq!(
        between(&script.body, "\"oauth2RedirectUrl\": \"", "\""),
        "https://api.example.test/docs/oauth2-redirect"
    );

    let redoc = call_get(&app, "/redoc", None).await;
    assert_eq!(redoc.status, 200);
    assert!(redoc.body.contains("<title>Covered &lt;API&gt; · ReDoc</title>"), "the title is escaped: {}", redoc.body);
}

#[actix_web::test]
async fn without_a_document_nothing_is_served() {
    let h = Harness::new().await;
    let app = app!(h.auth);
    for path in ["/openapi.json", "/docs/", "/docs/oauth2-redirect", "/redoc", "/redoc/redoc.standalone.js"] {
        assert_eq!(call_get(&app, path, None).await.status, 404, "{path}");
    }
}

// ---- the `basic` demo, over HTTP ----

/// A body fetched from the running demo.
#[derive(Debug)]
struct Fetched {
    status: u16,
    content_type: String,
    location: Option<String>,
    body: String,
}

fn fetch_all(urls: &[String]) -> Vec<Fetched> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let http =
        reqwest::Client::builder().no_proxy().redirect(reqwest::redirect::Policy::none()).build().expect("client");
    runtime.block_on(async {
        let mut all = Vec::new();
        for url in urls {
            let response = http.get(url).send().await.unwrap_or_else(|e| panic!("GET {url}: {e}"));
            let header = |name: reqwest::header::HeaderName| {
                response.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_owned)
            };
            let content_type = header(reqwest::header::CONTENT_TYPE).unwrap_or_default();
            let location = header(reqwest::header::LOCATION);
            let status = response.status().as_u16();
            let body = response.text().await.unwrap_or_else(|e| panic!("body of {url}: {e}"));
            all.push(Fetched { status, content_type, location, body });
        }
        all
    })
}

/// The tenant's discovery document, over https with its certificate.
fn discovery(tenant: &aad_auth_tests::example_processes::DevTenant) -> Value {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let ca = std::fs::read(tenant.get("ca_cert")).expect("the tenant's certificate");
    let http = reqwest::Client::builder()
        .no_proxy()
        .add_root_certificate(reqwest::Certificate::from_pem(&ca).expect("PEM"))
        .build()
        .expect("client");
    let url = tenant.get("openid_config_url");
    runtime.block_on(async {
        let response = http.get(&url).send().await.unwrap_or_else(|e| panic!("GET {url}: {e}"));
        assert_eq!(response.status(), 200, "{url}");
        response.json().await.expect("discovery JSON")
    })
}

#[test]
fn basic_serves_a_document_with_the_tenants_endpoints_and_the_guards() {
    let tenant = start_dev_tenant();
    let basic = start_basic(&tenant);
    let client = tenant.get("api_client_id");
    let authority = format!("{}/{}", tenant.get("authority_host").trim_end_matches('/'), tenant.get("tenant_id"));

    let [fetched] = <[Fetched; 1]>::try_from(fetch_all(&[format!("{}/openapi.json", basic.base_url)])).unwrap();
    assert_eq!(fetched.status, 200, "{fetched:?}\nstderr:\n{}", basic.process.stderr());
    assert_eq!(fetched.content_type, "application/json");
    let doc: Value = serde_json::from_str(&fetched.body).expect("JSON");
    assert_eq!(doc["info"]["title"], "aad-auth demo");

    // The schemes: the tenant's v2 endpoints (as its discovery document names them) and the
    // configured scope.
    let schemes = &doc["components"]["securitySchemes"];
    let flow = &schemes["entra_id"]["flows"]["authorizationCode"];
    assert_eq!(schemes["entra_id"]["type"], "oauth2");
    assert_eq!(flow["authorizationUrl"], format!("{authority}/oauth2/v2.0/authorize"), "{schemes}");
    assert_eq!(flow["tokenUrl"], format!("{authority}/oauth2/v2.0/token"), "{schemes}");
    let discovered = discovery(&tenant);
    assert_eq!(flow["authorizationUrl"], discovered["authorization_endpoint"]);
    assert_eq!(flow["tokenUrl"], discovered["token_endpoint"]);
    assert_eq!(
        flow["scopes"],
        json!({
            format!("{client}/.default"): "Sign in and call this API",
            format!("api://{client}/user_impersonation"): "Required by some operations",
        })
    );
    assert_eq!(schemes["bearer"], json!({ "type": "http", "scheme": "bearer", "bearerFormat": "JWT" }));

    // Exactly the documented operations, each guarded, and the (open) protected-resource metadata.
    let mut paths: Vec<&str> = doc["paths"].as_object().expect("paths").keys().map(String::as_str).collect();
    assert_eq!(
        paths,
        [
            "/.well-known/oauth-protected-resource",
            "/admin",
            "/api/me/graph",
            "/api/sensitive",
            "/hello",
            "/notes",
            "/team",
            "/test_auth_decorator"
        ]
    );
    let metadata = &doc["paths"]["/.well-known/oauth-protected-resource"]["get"];
    assert!(metadata.get("security").is_none() && metadata["responses"]["200"].is_object(), "{metadata}");
    paths.retain(|path| !path.starts_with("/.well-known/"));
    let sensitive = &doc["paths"]["/api/sensitive"]["get"];
    assert_eq!(sensitive["x-aad-auth"]["auth_context"], json!(["c1"]));
    assert!(
        sensitive["description"].as_str().is_some_and(|d| d.contains("authentication context `c1`")),
        "{sensitive}"
    );
    let either = json!([{ "entra_id": [] }, { "bearer": [] }]);
    let hello = &doc["paths"]["/hello"]["get"];
    assert_eq!(hello["operationId"], "hello");
    assert_eq!(
        hello["security"],
        json!([{ "entra_id": [format!("api://{client}/user_impersonation")] }, { "bearer": [] }])
    );
    assert_eq!(
        hello["x-aad-auth"],
        json!({ "kind": "api", "allow_session": true, "scopes": ["user_impersonation"], "roles": [], "groups": [] })
    );
    assert_eq!(hello["responses"]["200"]["content"]["application/json"]["example"], json!({ "hello": "world" }));

    let add_note = &doc["paths"]["/notes"]["post"];
    assert_eq!(add_note["security"], either);
    assert_eq!(add_note["x-aad-auth"]["allow_session"], true);
    assert!(add_note["requestBody"]["content"]["application/json"].is_object(), "{add_note}");

    let decorator = &doc["paths"]["/test_auth_decorator"]["get"];
    assert_eq!(decorator["security"], either);
    assert_eq!(
        decorator["x-aad-auth"],
        json!({ "kind": "api", "allow_session": false, "scopes": [], "roles": [], "groups": [] }),
        "bearer only"
    );
    assert_eq!(decorator["parameters"][0]["name"], "name");
    assert_eq!(decorator["parameters"][0]["in"], "query");

    let admin = &doc["paths"]["/admin"]["get"];
    assert_eq!(admin["security"], either);
    assert_eq!(
        admin["x-aad-auth"],
        json!({ "kind": "api", "allow_session": true, "scopes": [], "roles": ["Admin"], "groups": [] })
    );
    let team = &doc["paths"]["/team"]["get"];
    assert_eq!(team["x-aad-auth"]["groups"], json!([aad_auth::testing::OVERAGE_TEAM_GROUP]), "{team}");
    assert!(team["responses"]["503"].is_object(), "{team}");
    for path in paths {
        let responses = &doc["paths"][path]["get"]["responses"];
        assert!(responses["401"].is_object() && responses["403"].is_object(), "{path}: {responses}");
    }
    // No guarded operation is open; `/`, `/test` and `/sensitive` are not documented.
    assert!(doc["paths"].get("/").is_none() && doc["paths"].get("/test").is_none());
}

#[test]
fn basic_serves_swagger_with_pkce_and_redoc_without_a_cdn() {
    let tenant = start_dev_tenant();
    let basic = start_basic(&tenant);
    let client = tenant.get("api_client_id");
    let base = &basic.base_url;
    let urls: Vec<String> = ["/docs", "/docs/", "/docs/swagger-initializer.js", "/docs/oauth2-redirect", "/redoc"]
        .iter()
        .map(|path| format!("{base}{path}"))
        .collect();
    let [moved, index, initializer, redirect, redoc] = <[Fetched; 5]>::try_from(fetch_all(&urls)).unwrap();

    assert_eq!((moved.status, moved.location.as_deref()), (308, Some("/docs/")), "{moved:?}");

    assert_eq!(index.status, 200, "{index:?}\nstderr:\n{}", basic.process.stderr());
    assert!(index.content_type.starts_with("text/html"), "{}", index.content_type);
    assert!(index.body.contains("swagger-initializer.js"), "{}", index.body);
    assert!(!index.body.contains("https://"), "Swagger UI is bundled: {}", index.body);

    assert_eq!(initializer.status, 200);
    let oauth: Value = serde_json::from_str(between(&initializer.body, "ui.initOAuth(", ");")).expect("initOAuth JSON");
    assert_eq!(oauth["usePkceWithAuthorizationCodeGrant"], true, "{oauth}");
    assert_eq!(oauth["clientId"], client.as_str(), "{oauth}");
    assert_eq!(oauth["scopes"], json!([format!("{client}/.default")]), "{oauth}");
    assert!(oauth.get("clientSecret").is_none(), "never a secret in the page: {oauth}");
    assert!(!initializer.body.contains(&tenant.get("api_client_secret")), "the client secret leaked");
    assert_eq!(between(&initializer.body, "\"oauth2RedirectUrl\": \"", "\""), format!("{base}/docs/oauth2-redirect"));
    assert!(initializer.body.contains("\"/openapi.json\""), "{}", initializer.body);

    assert_eq!(redirect.status, 200, "{redirect:?}");
    assert!(redirect.content_type.starts_with("text/html"), "{}", redirect.content_type);
    assert!(redirect.body.contains("swaggerUIRedirectOauth2"), "{}", redirect.body);

    assert_eq!(redoc.status, 200, "{redoc:?}");
    assert!(redoc.content_type.starts_with("text/html"), "{}", redoc.content_type);
    assert!(!redoc.body.contains("https://cdn") && !redoc.body.contains("//cdn."), "{}", redoc.body);
    assert!(redoc.body.contains("spec-url=\"/openapi.json\""), "{}", redoc.body);
    let src = between(&redoc.body, "<script src=\"", "\"");
    assert!(src.starts_with('/'), "a local script: {src}");
    let [script] = <[Fetched; 1]>::try_from(fetch_all(&[format!("{base}{src}")])).unwrap();
    assert_eq!(script.status, 200, "{src}");
    assert!(script.content_type.starts_with("application/javascript"), "{}", script.content_type);
    assert!(
        script.body.len() > 500_000 && script.body.contains("Redoc"),
        "the bundled ReDoc ({} bytes)",
        script.body.len()
    );
}
