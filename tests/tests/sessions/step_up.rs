//! Conditional Access step-up (`auth_context`) and the protected-resource metadata (RFC 9728):
//! the metadata document, `resource_metadata` on every 401 (never on a 403), Microsoft's exact
//! claims challenge, a browser session stepped up through the login and back, the emulator's
//! answers to `claims` and `resource`, and a generic OAuth client that knows only a client id.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use aad_auth::testing::Tenant;
use aad_auth::{AuthError, AuthenticationState, Policy, RequireAuth, api_auth_required, auth_required};
use aad_auth_tests::site::{Browser, Site, login_config};
use aad_auth_tests::{Harness, call, get as call_get};
use actix_web::{App, HttpResponse, get, test, web};
use base64::Engine as _;
use serde_json::{Value, json};

const ONE: &str = r#"{"access_token":{"acrs":{"essential":true,"value":"c1"}}}"#;
const WELL_KNOWN: &str = "/.well-known/oauth-protected-resource";

/// A parameter of a `WWW-Authenticate` challenge (values here never hold quotes).
fn param(challenge: &str, name: &str) -> Option<String> {
    let start = challenge.find(&format!(" {name}=\""))? + name.len() + 3;
    let end = challenge[start..].find('"')? + start;
    Some(challenge[start..end].to_owned())
}

/// The decoded `claims` of a challenge.
fn claims(challenge: &str) -> Value {
    let encoded = param(challenge, "claims").expect("a claims parameter");
    let json = base64::engine::general_purpose::STANDARD.decode(encoded).expect("standard base64");
    serde_json::from_slice(&json).expect("JSON claims")
}

async fn whoami(state: AuthenticationState) -> HttpResponse {
    HttpResponse::Ok().json(json!({
        "source": state.source().map(|s| format!("{s:?}")),
        "acrs": state.user().map(|u| u.acrs.clone()),
    }))
}

fn guarded(cfg: &mut web::ServiceConfig) {
    let routes = [
        ("/api/one", Policy::api().allow_session().auth_context(["c1"])),
        ("/api/several", Policy::api().auth_context(["c1", "c2"])),
        ("/api/no-such-role", Policy::api().roles(["NoSuchRole"])),
        ("/page", Policy::page()),
        ("/sensitive", Policy::page().auth_context(["c1"])),
    ];
    for (path, policy) in routes {
        cfg.service(web::scope(path).wrap(RequireAuth::new(policy)).route("", web::get().to(whoami)));
    }
}

#[actix_web::test]
async fn every_401_names_the_metadata_and_a_403_does_not() {
    let harness = Harness::new().await;
    let app = test::init_service(App::new().configure(harness.auth.configure()).configure(guarded)).await;
    let metadata = format!("\"http://localhost:8080{WELL_KNOWN}\"");
    let plain = harness.tenant.token().member().scopes(["user_impersonation"]).sign();
    let json = |path: &str, token: Option<&str>| {
        let mut request = test::TestRequest::get().uri(path).insert_header(("accept", "application/json"));
        if let Some(token) = token {
            request = request.insert_header(("authorization", format!("Bearer {token}")));
        }
        request
    };
    for (what, path, token, code) in [
        ("no credentials", "/api/one", None, None),
        ("an invalid token", "/api/one", Some("abc.def.ghi"), Some("invalid_token")),
        ("a token without the context", "/api/one", Some(plain.as_str()), Some("insufficient_claims")),
        ("no credentials on a page (not a browser)", "/page", None, None),
    ] {
        let reply = call(&app, json(path, token)).await;
        assert_eq!(reply.status, 401, "{what}: {reply:?}");
        assert_eq!(reply.error_code().as_deref(), code, "{what}");
        let challenge = reply.challenge.clone().expect("a challenge");
        assert!(challenge.ends_with(&format!(", resource_metadata={metadata}")), "{what}: {challenge}");
    }
    let forbidden = call(&app, json("/api/no-such-role", Some(&plain))).await;
    assert_eq!(forbidden.status, 403, "{forbidden:?}");
    assert!(!forbidden.challenge.clone().unwrap_or_default().contains("resource_metadata"), "{forbidden:?}");

    // AAD_RESOURCE_URL decides the URL: the well-known segment before its path.
    let harness = Harness::with(|config| config.resource_url("https://api.example/mcp/")).await;
    let app = test::init_service(App::new().configure(harness.auth.configure()).configure(guarded)).await;
    let reply = call_get(&app, "/api/one", None).await;
    assert_eq!(
        param(&reply.challenge.unwrap(), "resource_metadata").as_deref(),
        Some("https://api.example/.well-known/oauth-protected-resource/mcp")
    );
}

#[actix_web::test]
async fn the_claims_challenge_is_microsofts_exact_header() {
    let harness = Harness::new().await;
    let app = test::init_service(App::new().configure(harness.auth.configure()).configure(guarded)).await;
    let tenant = &harness.tenant;
    let client_id = tenant.api_app().client_id;
    let plain = tenant.token().member().sign();

    let reply = call_get(&app, "/api/one", Some(&plain)).await;
    assert_eq!(reply.status, 401);
    let encoded = base64::engine::general_purpose::STANDARD.encode(ONE);
    assert_eq!(
        reply.challenge.as_deref(),
        Some(
            format!(
                "Bearer realm=\"api://{client_id}\", authorization_uri=\"{}/oauth2/v2.0/authorize\", \
                 client_id=\"{client_id}\", error=\"insufficient_claims\", claims=\"{encoded}\", \
                 resource_metadata=\"http://localhost:8080{WELL_KNOWN}\"",
                tenant.authority()
            )
            .as_str()
        )
    );
    assert_eq!(claims(reply.challenge.as_deref().unwrap()), serde_json::from_str::<Value>(ONE).unwrap());
    let body = reply.json();
    assert_eq!(body["error"], "insufficient_claims");
    assert_eq!(body["status"], 401);
    assert_eq!(body.as_object().unwrap().len(), 3, "the one error shape: {body}");

    let several = call_get(&app, "/api/several", Some(&plain)).await;
    assert_eq!(
        claims(several.challenge.as_deref().unwrap()),
        json!({"access_token": {"acrs": {"essential": true, "values": ["c1", "c2"]}}})
    );

    // Any one of the listed contexts satisfies the route; another one does not.
    for (acrs, path, status) in
        [(&["c1"][..], "/api/one", 200), (&["c2"], "/api/several", 200), (&["c3"], "/api/several", 401)]
    {
        let token = tenant.token().member().acrs(acrs).sign();
        let reply = call_get(&app, path, Some(&token)).await;
        assert_eq!(reply.status, status, "{acrs:?} on {path}: {reply:?}");
        if status == 200 {
            assert_eq!(reply.json()["acrs"], json!(acrs));
        }
    }

    // Apps match the typed error without the macros.
    let request =
        test::TestRequest::get().insert_header(("authorization", format!("Bearer {plain}"))).to_http_request();
    match harness.auth.authorize(&request, &Policy::api().auth_context(["c7"])).await {
        Err(AuthError::InsufficientClaims(challenge)) => assert_eq!(challenge.ids(), ["c7"]),
        other => panic!("expected InsufficientClaims, got {other:?}"),
    }
    assert!(Policy::api().try_auth_context(["c100"]).is_err());
}

#[utoipa::path(responses((status = 200, description = "Sensitive")))]
#[get("/api/documented")]
#[api_auth_required(auth_context("c3"))]
async fn documented() -> HttpResponse {
    HttpResponse::Ok().finish()
}

#[derive(utoipa::OpenApi)]
#[openapi(paths(documented))]
struct ApiDoc;

#[actix_web::test]
async fn the_metadata_document() {
    use utoipa::OpenApi as _;
    let harness = Harness::with(|config| config.app_name("Step-up demo")).await;
    let auth = harness.auth_with_openapi(ApiDoc::openapi());
    let app = test::init_service(App::new().configure(auth.configure()).service(documented)).await;
    let client_id = harness.tenant.api_app().client_id;

    let request = test::TestRequest::get().uri(WELL_KNOWN).insert_header(("host", "api.test:8443"));
    let reply = call(&app, request).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    let document = reply.json();
    assert_eq!(document["resource"], "http://api.test:8443");
    assert_eq!(document["authorization_servers"], json!([harness.tenant.issuer()]));
    let scopes = document["scopes_supported"].as_array().unwrap();
    assert_eq!(scopes.first(), Some(&json!(format!("api://{client_id}/.default"))), "AAD_SCOPES first: {scopes:?}");
    assert!(scopes.iter().all(|s| s.as_str().unwrap().starts_with(&format!("api://{client_id}/"))), "{scopes:?}");
    assert_eq!(document["bearer_methods_supported"], json!(["header"]));
    assert_eq!(document["resource_name"], "Step-up demo");
    assert_eq!(document["resource_documentation"], "http://api.test:8443/docs");
    let response = test::call_service(&app, test::TestRequest::get().uri(WELL_KNOWN).to_request()).await;
    let header = |name: &str| response.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
    assert_eq!(header("access-control-allow-origin").as_deref(), Some("*"));
    assert_eq!(header("cache-control").as_deref(), Some("public, max-age=3600"));
    let preflight = test::TestRequest::default()
        .method(actix_web::http::Method::OPTIONS)
        .uri(WELL_KNOWN)
        .insert_header(("origin", "https://inspector.example"))
        .insert_header(("access-control-request-headers", "mcp-protocol-version"));
    let response = test::call_service(&app, preflight.to_request()).await;
    assert_eq!(response.status(), 204);
    assert_eq!(response.headers().get("access-control-allow-headers").unwrap(), "mcp-protocol-version");

    // The docs: the operation says it needs the context, and the metadata route is listed.
    let openapi = call_get(&app, "/openapi.json", None).await.json();
    let description = openapi["paths"]["/api/documented"]["get"]["description"].as_str().unwrap_or_default();
    assert!(description.contains("authentication context `c3`"), "{description}");
    assert!(description.contains("insufficient_claims"), "{description}");
    assert_eq!(openapi["paths"]["/api/documented"]["get"]["x-aad-auth"]["auth_context"], json!(["c3"]));
    assert!(openapi["paths"][WELL_KNOWN]["get"].is_object(), "{}", openapi["paths"]);

    // Behind a proxy with a base path, the route carries the path (the proxy forwards it as is).
    let harness = Harness::with(|config| config.public_base_url("https://app.example/base")).await;
    let app = test::init_service(App::new().configure(harness.auth.configure())).await;
    let based = call_get(&app, &format!("{WELL_KNOWN}/base"), None).await;
    assert_eq!(based.status, 200, "{based:?}");
    assert_eq!(based.json()["resource"], "https://app.example/base");
    assert!(based.json().get("resource_documentation").is_none(), "no docs mounted");
    assert_eq!(call_get(&app, WELL_KNOWN, None).await.status, 404);
}

#[get("/macro/page")]
#[auth_required(auth_context("c1"))]
async fn macro_page() -> HttpResponse {
    HttpResponse::Ok().body("sensitive page")
}

fn site_routes(cfg: &mut web::ServiceConfig) {
    guarded(cfg);
    cfg.service(macro_page);
}

#[actix_web::test]
async fn a_session_steps_up_through_the_login_and_comes_back() {
    let tenant = Tenant::builder().dev_defaults().auto_user("first").start().await;
    let config = login_config(tenant.api_config()).build().unwrap();
    let site = Site::start_with(config, None, site_routes).await;
    for page in ["/sensitive", "/macro/page"] {
        let browser = Browser::new();
        let hops = browser.follow(&site.url("/oauth/aad/login"), 6).await;
        assert!(hops.iter().any(|hop| hop.url.contains("/oauth/aad/redirect")), "{hops:#?}");

        // The session has no acrs yet: an API route answers the claims challenge.
        let api = browser.send(browser.client.get(site.url("/api/one")).header("accept", "application/json")).await;
        assert_eq!(api.status, 401, "{api:?}");
        let challenge = api.header("www-authenticate").unwrap();
        assert_eq!(param(&challenge, "error").as_deref(), Some("insufficient_claims"));
        assert_eq!(claims(&challenge), serde_json::from_str::<Value>(ONE).unwrap());

        // A page goes through the login, which asks Entra for the context, and back.
        let hops = browser.follow(&site.url(page), 8).await;
        let first = &hops[0];
        assert_eq!(first.status, 303, "{first:?}");
        let expected = format!("/oauth/aad/login?redirect={}&auth_context=c1", urlencode(page));
        assert_eq!(first.location(), Some(expected));
        let authorize = hops.iter().find(|hop| hop.url.contains("/oauth2/v2.0/authorize")).expect("Entra's authorize");
        let sent = url::Url::parse(&authorize.url).unwrap();
        let claims_param = sent.query_pairs().find(|(k, _)| k == "claims").map(|(_, v)| v.into_owned());
        assert_eq!(
            serde_json::from_str::<Value>(&claims_param.expect("a claims parameter")).unwrap(),
            serde_json::from_str::<Value>(ONE).unwrap(),
            "the decoded claims of the authorize request"
        );
        let last = hops.last().unwrap();
        assert_eq!((last.status, last.url.as_str()), (200, site.url(page).as_str()), "{hops:#?}");

        // The new session carries the context: the API route lets it through.
        let api = browser.send(browser.client.get(site.url("/api/one")).header("accept", "application/json")).await;
        assert_eq!(api.status, 200, "{api:?}");
        assert_eq!(api.json(), json!({"source": "Session", "acrs": ["c1"]}));
    }

    // A tenant where c1 has no policy issues no acrs: the step-up stops with a page instead of
    // sending the browser round again.
    let bare = Tenant::builder().dev_defaults().auto_user("first").auth_contexts(["c2"]).start().await;
    let site = Site::start_with(login_config(bare.api_config()).build().unwrap(), None, site_routes).await;
    let browser = Browser::new();
    browser.follow(&site.url("/oauth/aad/login"), 6).await;
    let hops = browser.follow(&site.url("/sensitive"), 8).await;
    let last = hops.last().unwrap();
    assert_eq!(last.status, 403, "{hops:#?}");
    assert!(last.url.contains("/oauth/aad/redirect"), "stopped at the callback: {hops:#?}");
    assert!(last.body.contains("Stronger sign-in not obtained"), "{}", last.body);

    // The login route builds the claims itself, from ids it checks.
    for bad in [r#"{"access_token":{}}"#, "c0", "c1,x"] {
        let url = format!("{}?auth_context={}", site.url("/oauth/aad/login"), urlencode(bad));
        assert_eq!(Browser::new().get(&url).await.status, 400, "{bad}");
    }
}

fn urlencode(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

/// RFC 9728 §3.1: the URL a client builds from a resource identifier.
fn well_known_of(resource: &str) -> String {
    let url = url::Url::parse(resource).unwrap();
    format!("{}{WELL_KNOWN}{}", url.origin().ascii_serialization(), url.path().trim_end_matches('/'))
}

/// A generic OAuth client that knows only a client id: the 401's `resource_metadata`, the
/// metadata (`resource` checked per RFC 9728 §3.3), the authorization server's OpenID discovery
/// (`issuer` checked), a device-code token with the advertised scope, and the call.
#[actix_web::test]
async fn a_generic_oauth_client_finds_its_way_from_the_401() {
    let tenant = Tenant::builder().dev_defaults().auto_user("first").start().await;
    let config = login_config(tenant.api_config()).build().unwrap();
    let site = Site::start_with(config, None, |cfg| {
        cfg.service(
            web::scope("/api/notes")
                .wrap(RequireAuth::new(Policy::api().scopes(["user_impersonation"])))
                .route("", web::get().to(whoami)),
        );
    })
    .await;
    let client_id = tenant.public_app().client_id;
    let http = reqwest::Client::new();
    let api = site.url("/api/notes");

    let refused = http.get(&api).send().await.unwrap();
    assert_eq!(refused.status(), 401);
    let challenge = refused.headers()["www-authenticate"].to_str().unwrap().to_owned();
    let metadata_url = param(&challenge, "resource_metadata").expect("resource_metadata");
    let metadata: Value = http.get(&metadata_url).send().await.unwrap().json().await.unwrap();
    let resource = metadata["resource"].as_str().unwrap();
    assert_eq!(well_known_of(resource), metadata_url, "§3.3: the resource the URL was built from");
    assert!(api.starts_with(resource), "the resource covers the URL called: {resource}");

    let issuer = metadata["authorization_servers"][0].as_str().unwrap();
    let discovery: Value =
        http.get(format!("{issuer}/.well-known/openid-configuration")).send().await.unwrap().json().await.unwrap();
    assert_eq!(discovery["issuer"], issuer, "the authorization server is the issuer it names");
    let scope = metadata["scopes_supported"][0].as_str().unwrap();
    let device: Value = http
        .post(discovery["device_authorization_endpoint"].as_str().unwrap())
        .form(&[("client_id", client_id.as_str()), ("scope", scope)])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token: Value = http
        .post(discovery["token_endpoint"].as_str().unwrap())
        .form(&[
            ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
            ("client_id", client_id.as_str()),
            ("device_code", device["device_code"].as_str().unwrap()),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let access_token = token["access_token"].as_str().unwrap_or_else(|| panic!("no token: {token}"));
    let called = http.get(&api).bearer_auth(access_token).send().await.unwrap();
    assert_eq!(called.status(), 200);
}

/// Posts a form to one of the tenant's endpoints; (status, JSON).
async fn post(url: &str, form: &[(&str, &str)]) -> (u16, Value) {
    let response = reqwest::Client::new().post(url).form(form).send().await.unwrap();
    (response.status().as_u16(), response.json().await.unwrap_or(Value::Null))
}

fn payload(token: &str) -> Value {
    serde_json::from_slice(&aad_auth_tests::unb64(&aad_auth_tests::segments(token).1)).unwrap()
}

#[actix_web::test]
async fn the_emulator_answers_claims_and_resource_as_entra_does() {
    let tenant = Tenant::builder().dev_defaults().auto_user("first").start().await;
    let api = tenant.api_app().client_id;
    let public = tenant.public_app().client_id;
    let scope = format!("{api}/.default offline_access");
    let endpoint = |name: &str| format!("{}/oauth2/v2.0/{name}", tenant.authority());
    let two = r#"{"access_token":{"acrs":{"essential":true,"values":["c1","c2"]}}}"#;

    // Device code with claims: the token carries acrs; a refresh keeps them and adds more.
    let (_, device) =
        post(&endpoint("devicecode"), &[("client_id", &public), ("scope", &scope), ("claims", ONE)]).await;
    let grant = "urn:ietf:params:oauth:grant-type:device_code";
    let device_code = device["device_code"].as_str().unwrap();
    let (status, tokens) =
        post(&endpoint("token"), &[("grant_type", grant), ("client_id", &public), ("device_code", device_code)]).await;
    assert_eq!(status, 200, "{tokens}");
    assert_eq!(payload(tokens["access_token"].as_str().unwrap())["acrs"], json!(["c1"]));
    let refresh = tokens["refresh_token"].as_str().unwrap();
    let (status, refreshed) = post(
        &endpoint("token"),
        &[("grant_type", "refresh_token"), ("client_id", &public), ("refresh_token", refresh), ("claims", two)],
    )
    .await;
    assert_eq!(status, 200, "{refreshed}");
    assert_eq!(payload(refreshed["access_token"].as_str().unwrap())["acrs"], json!(["c1", "c2"]));
    // Without claims, no acrs at all.
    let (_, device) = post(&endpoint("devicecode"), &[("client_id", &public), ("scope", &scope)]).await;
    let (_, plain) = post(
        &endpoint("token"),
        &[("grant_type", grant), ("client_id", &public), ("device_code", device["device_code"].as_str().unwrap())],
    )
    .await;
    assert!(payload(plain["access_token"].as_str().unwrap()).get("acrs").is_none());
    // Malformed claims are refused, not ignored.
    let (status, error) =
        post(&endpoint("devicecode"), &[("client_id", &public), ("scope", &scope), ("claims", "c1")]).await;
    assert_eq!((status, error["error"].as_str()), (400, Some("invalid_request")), "{error}");

    // `resource` (RFC 8707) naming anything but the scopes' resource: AADSTS9010010.
    let mcp_resource = "http://127.0.0.1:9/mcp";
    let (status, error) =
        post(&endpoint("devicecode"), &[("client_id", &public), ("scope", &scope), ("resource", mcp_resource)]).await;
    assert_eq!((status, error["error"].as_str()), (400, Some("invalid_target")), "{error}");
    assert!(error["error_description"].as_str().unwrap().starts_with("AADSTS9010010:"), "{error}");
    assert_eq!(error["error_codes"], json!([9_010_010]));
    let secret = tenant.api_app().client_secret.unwrap();
    let (status, error) = post(
        &endpoint("token"),
        &[
            ("grant_type", "client_credentials"),
            ("client_id", &api),
            ("client_secret", &secret),
            ("scope", &format!("{api}/.default")),
            ("resource", mcp_resource),
        ],
    )
    .await;
    assert_eq!((status, error["error"].as_str()), (400, Some("invalid_target")), "{error}");
    // Naming the scopes' own resource is accepted.
    let (status, ok) = post(
        &endpoint("token"),
        &[
            ("grant_type", "client_credentials"),
            ("client_id", &api),
            ("client_secret", &secret),
            ("scope", &format!("{api}/.default")),
            ("resource", &format!("api://{api}")),
        ],
    )
    .await;
    assert_eq!(status, 200, "{ok}");
    // On the authorize endpoint the error goes back to the redirect URI.
    let no_redirects = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let authorize = no_redirects
        .get(endpoint("authorize"))
        .query(&[
            ("client_id", api.as_str()),
            ("redirect_uri", "http://127.0.0.1:9/oauth/aad/redirect"),
            ("response_type", "code"),
            ("scope", &format!("openid {api}/.default")),
            ("state", "s"),
            ("resource", mcp_resource),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(authorize.status(), 302);
    let location = url::Url::parse(authorize.headers()["location"].to_str().unwrap()).unwrap();
    let pairs: std::collections::HashMap<_, _> = location.query_pairs().into_owned().collect();
    assert_eq!(pairs.get("error").map(String::as_str), Some("invalid_target"), "{location}");
    assert!(pairs["error_description"].starts_with("AADSTS9010010:"), "{location}");
}
