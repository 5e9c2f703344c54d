//! Tokens for other APIs from a handler (`DownstreamTokens`), against the local tenant: on
//! behalf of a bearer caller, from a browser session's refresh token, and for the app itself;
//! kept until shortly before expiry, one call to the tenant however many requests ask at once,
//! never shared between users or sessions, gone with the session, sealed in Redis.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use aad_auth::testing::{Endpoint, Fault, Tenant};
use aad_auth::{AadAuth, DownstreamTokens, Policy, RequireAuth};
use aad_auth_tests::redis_server::RedisServer;
use aad_auth_tests::site::{Browser, Site, login_config};
use aad_auth_tests::{segments, unb64};
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::{Value, json};

/// The scope every route asks for: the API's own `.default` (the local tenant's one
/// confidential app is both this API and the downstream one).
fn scope_of(client_id: &str) -> String {
    format!("{client_id}/.default")
}

fn scope(req: &HttpRequest) -> String {
    scope_of(req.app_data::<AadAuth>().unwrap().config().client_id())
}

/// What the handler got: the token's audience, user, scopes and roles, and a digest-free
/// marker of the token itself (its signature), to tell one token from another.
fn describe(token: &str) -> Value {
    let (_, payload, signature) = segments(token);
    let claims: Value = serde_json::from_slice(&unb64(&payload)).unwrap();
    json!({
        "aud": claims["aud"], "oid": claims["oid"], "scp": claims["scp"], "roles": claims["roles"],
        "idtyp": claims["idtyp"],
        "payload_start": payload[..32],
        "signature": signature,
    })
}

async fn for_user(req: HttpRequest, tokens: DownstreamTokens) -> actix_web::Result<HttpResponse> {
    let token = tokens.for_user([scope(&req)]).await?;
    Ok(HttpResponse::Ok().json(describe(token.expose_secret())))
}

async fn for_app(req: HttpRequest, tokens: DownstreamTokens) -> actix_web::Result<HttpResponse> {
    let token = tokens.for_app(&scope(&req)).await?;
    Ok(HttpResponse::Ok().json(describe(token.expose_secret())))
}

/// Graph's `User.Read`, Graph named by its origin (the local tenant's own).
fn graph_scope_of(auth: &AadAuth) -> String {
    format!("{}/User.Read", auth.config().graph_url().unwrap().origin().ascii_serialization())
}

fn graph_scope(site: &Site) -> String {
    graph_scope_of(&site.auth)
}

async fn for_graph(req: HttpRequest, tokens: DownstreamTokens) -> actix_web::Result<HttpResponse> {
    let token = tokens.for_user([graph_scope_of(req.app_data::<AadAuth>().unwrap())]).await?;
    Ok(HttpResponse::Ok().json(describe(token.expose_secret())))
}

/// Asks for a resource the tenant does not know (AADSTS500011).
async fn for_unknown_api(tokens: DownstreamTokens) -> actix_web::Result<HttpResponse> {
    let token = tokens.for_app("api://no-such-api/.default").await?;
    Ok(HttpResponse::Ok().json(describe(token.expose_secret())))
}

fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/api/graph")
            .wrap(RequireAuth::new(Policy::api().allow_session()))
            .route("", web::get().to(for_graph)),
    )
    .service(web::scope("/page/graph").wrap(RequireAuth::new(Policy::page())).route("", web::get().to(for_graph)));
    cfg.service(web::scope("/api/obo").wrap(RequireAuth::new(Policy::api())).route("", web::get().to(for_user)))
        .service(
            web::scope("/api/user")
                .wrap(RequireAuth::new(Policy::api().allow_session()))
                .route("", web::get().to(for_user)),
        )
        .service(web::scope("/page").wrap(RequireAuth::new(Policy::page())).route("", web::get().to(for_user)))
        .service(
            web::scope("/api/app-unknown")
                .wrap(RequireAuth::new(Policy::api()))
                .route("", web::get().to(for_unknown_api)),
        )
        .service(web::scope("/api/app").wrap(RequireAuth::new(Policy::api())).route("", web::get().to(for_app)));
}

async fn tenant() -> Tenant {
    Tenant::builder().dev_defaults().auto_user("first").start().await
}

/// A tenant whose Conditional Access requires the authentication context `c1` for Graph tokens.
async fn tenant_where_graph_needs_c1() -> Tenant {
    Tenant::builder()
        .dev_defaults()
        .auto_user("first")
        .require_auth_context_for("https://graph.microsoft.com", "c1")
        .start()
        .await
}

async fn site(
    tenant: &Tenant,
    adjust: impl FnOnce(aad_auth::config::AadAuthConfigBuilder) -> aad_auth::config::AadAuthConfigBuilder,
) -> Site {
    let config = adjust(login_config(tenant.api_config())).build().unwrap();
    Site::start_with(config, None, routes).await
}

async fn get(site: &Site, path: &str, token: &str) -> (u16, Value) {
    let reply = reqwest::Client::new().get(site.url(path)).bearer_auth(token).send().await.unwrap();
    let status = reply.status().as_u16();
    (status, reply.json().await.unwrap_or(Value::Null))
}

#[actix_web::test]
async fn on_behalf_of_a_bearer_caller_is_kept_shared_by_concurrent_requests_and_per_caller() {
    let tenant = tenant().await;
    let site = site(&tenant, |c| c).await;
    let alice = tenant.token().for_user(&tenant.users()[0]).sign();
    let bob_oid = tenant.users()[1].oid.clone();
    let bob = tenant.token().for_user(&tenant.users()[1]).sign();

    // Eight requests at once with Alice's token: one exchange.
    tenant.reset_counters();
    let replies = futures_util::future::join_all((0..8).map(|_| get(&site, "/api/obo", &alice))).await;
    assert_eq!(tenant.requests(Endpoint::Token), 1, "concurrent requests share one on-behalf-of call");
    for (status, body) in &replies {
        assert_eq!(*status, 200, "{body}");
        assert_eq!(body, &replies[0].1, "every request got the same token");
    }
    let alices = &replies[0].1;
    assert_eq!(alices["oid"], json!(tenant.users()[0].oid), "a token for Alice: {alices}");
    assert_eq!(alices["aud"], json!(tenant.api_app().client_id));

    // Again: from the cache, no request to the tenant.
    let (status, again) = get(&site, "/api/obo", &alice).await;
    assert_eq!((status, &again), (200, alices));
    assert_eq!(tenant.requests(Endpoint::Token), 1, "the second call is answered from the cache");

    // Bob gets his own token, never Alice's.
    let (status, bobs) = get(&site, "/api/obo", &bob).await;
    assert_eq!(status, 200, "{bobs}");
    assert_eq!(bobs["oid"], json!(bob_oid));
    assert_ne!(bobs["signature"], alices["signature"]);
    assert_eq!(tenant.requests(Endpoint::Token), 2);
}

#[actix_web::test]
async fn the_apps_own_token_is_kept_and_app_only() {
    let tenant = tenant().await;
    let site = site(&tenant, |c| c).await;
    let caller = tenant.token().member().sign();
    tenant.reset_counters();
    let (status, first) = get(&site, "/api/app", &caller).await;
    assert_eq!(status, 200, "{first}");
    assert_eq!((&first["idtyp"], &first["scp"]), (&json!("app"), &Value::Null), "app-only: {first}");
    assert!(first["roles"].is_array(), "{first}");
    let (_, second) = get(&site, "/api/app", &caller).await;
    assert_eq!(first, second);
    assert_eq!(tenant.requests(Endpoint::Token), 1, "kept: one client-credentials call");
}

#[actix_web::test]
async fn the_tenant_down_is_503_with_retry_after_and_nothing_is_kept() {
    let tenant = tenant().await;
    let site = site(&tenant, |c| c).await;
    let caller = tenant.token().member().sign();
    tenant.set_fault(Endpoint::Token, Fault::Status(503));
    let reply = reqwest::Client::new().get(site.url("/api/obo")).bearer_auth(&caller).send().await.unwrap();
    assert_eq!(reply.status().as_u16(), 503);
    assert!(reply.headers().get("retry-after").is_some());
    let body: Value = reply.json().await.unwrap();
    assert_eq!(body["error"], "temporarily_unavailable");
    tenant.clear_fault(Endpoint::Token);
    let (status, body) = get(&site, "/api/obo", &caller).await;
    assert_eq!(status, 200, "recovers at once: the failure was not kept ({body})");
}

#[actix_web::test]
async fn a_session_uses_its_refresh_token_keeps_the_result_and_loses_it_at_logout() {
    let tenant = tenant().await;
    let site = site(&tenant, |c| c).await;
    let browser = Browser::new();
    let hops = browser.follow(&site.url("/oauth/aad/login"), 6).await;
    assert!(hops.last().is_some_and(|hop| hop.status == 200 || hop.status == 404), "{hops:#?}");

    tenant.reset_counters();
    let first = browser.send(browser.client.get(site.url("/api/user")).header("accept", "application/json")).await;
    assert_eq!(first.status, 200, "{first:?}");
    assert_eq!(first.json()["oid"], json!(tenant.users()[0].oid));
    assert_eq!(tenant.requests(Endpoint::Token), 1, "one refresh-token grant");
    let page = browser.get(&site.url("/page")).await;
    assert_eq!(page.status, 200, "{page:?}");
    assert_eq!(page.json(), first.json(), "kept with the session");
    assert_eq!(tenant.requests(Endpoint::Token), 1);

    // Another browser (another session of the same user) gets its own.
    let other = Browser::new();
    other.follow(&site.url("/oauth/aad/login"), 6).await;
    tenant.reset_counters();
    let theirs = other.send(other.client.get(site.url("/api/user")).header("accept", "application/json")).await;
    assert_eq!(theirs.status, 200);
    assert_eq!(tenant.requests(Endpoint::Token), 1, "not shared between sessions");

    // Logout ends the session and its tokens: signed in again, the token is asked for anew.
    let logout = browser.post(&site.url("/logout")).await;
    assert!(logout.status == 303 || logout.status == 302, "{logout:?}");
    browser.follow(&site.url("/oauth/aad/login"), 6).await;
    tenant.reset_counters();
    let after = browser.send(browser.client.get(site.url("/api/user")).header("accept", "application/json")).await;
    assert_eq!(after.status, 200);
    assert_eq!(tenant.requests(Endpoint::Token), 1, "nothing of the old session was reused");
}

#[actix_web::test]
async fn graph_without_consent_sends_a_page_through_the_login_and_answers_an_api_401_consent_required() {
    let tenant = tenant().await;
    let site = site(&tenant, |c| c).await;
    let browser = Browser::new();
    browser.follow(&site.url("/oauth/aad/login"), 6).await;
    let scope = graph_scope(&site);
    let encoded: String = url::form_urlencoded::byte_serialize(scope.as_bytes()).collect();

    // Alice has not consented to Graph's User.Read for this app: the tenant answers
    // AADSTS65001 consent_required to the refresh-token grant.
    let api = browser.send(browser.client.get(site.url("/api/graph")).header("accept", "application/json")).await;
    assert_eq!(api.status, 401, "{api:?}");
    assert_eq!(api.json()["error"], "consent_required");
    let challenge = api.header("www-authenticate").unwrap();
    assert!(challenge.contains("error=\"consent_required\""), "{challenge}");
    assert!(challenge.contains(&format!("scope=\"{scope}\"")), "{challenge}");
    assert!(challenge.contains("resource_metadata=\""), "{challenge}");

    let page = browser.get(&site.url("/page/graph")).await;
    assert_eq!(page.status, 303, "{page:?}");
    let location = page.location().unwrap();
    assert_eq!(location, format!("/oauth/aad/login?redirect=%2Fpage%2Fgraph&scope={encoded}"));

    // The login asks the tenant for the scope (the sign-in records the consent) and comes back
    // to the page, whose Graph token now comes.
    let hops = browser.follow(&site.url(&location), 8).await;
    let authorize = hops.iter().find(|hop| hop.url.contains("/oauth2/v2.0/authorize")).expect("through the tenant");
    assert!(authorize.url.contains(&encoded), "{}", authorize.url);
    let last = hops.last().unwrap();
    assert_eq!(last.status, 200, "{hops:#?}");
    assert!(last.url.ends_with("/page/graph"), "back on the page: {}", last.url);
    let token = last.json();
    assert_eq!(token["scp"], "User.Read", "{token}");
    assert_eq!(token["oid"], json!(tenant.users()[0].oid), "{token}");
    assert_eq!(tenant.consented_scopes(&tenant.users()[0], &tenant.api_app().client_id), ["User.Read"]);
}

#[actix_web::test]
async fn a_bearer_caller_without_graph_consent_gets_401_consent_required_and_with_admin_consent_a_token() {
    let tenant = tenant().await;
    let site = site(&tenant, |c| c).await;
    let alice = tenant.token().for_user(&tenant.users()[0]).sign();
    let (status, body) = get(&site, "/api/graph", &alice).await;
    assert_eq!((status, &body["error"]), (401, &json!("consent_required")), "{body}");

    tenant.grant_consent(&tenant.users()[0], &tenant.api_app().client_id, ["User.Read"]);
    let (status, body) = get(&site, "/api/graph", &alice).await;
    assert_eq!(status, 200, "a failure is not kept: {body}");
    assert_eq!(body["scp"], "User.Read", "{body}");
}

#[actix_web::test]
async fn a_claims_challenge_of_the_tenant_on_behalf_of_is_passed_on_as_insufficient_claims() {
    // Conditional Access on Graph: tokens for it need the authentication context c1.
    let tenant = tenant_where_graph_needs_c1().await;
    tenant.grant_consent(&tenant.users()[0], &tenant.api_app().client_id, ["User.Read"]);
    let site = site(&tenant, |c| c).await;
    let without = tenant.token().for_user(&tenant.users()[0]).sign();
    let reply = reqwest::Client::new().get(site.url("/api/graph")).bearer_auth(&without).send().await.unwrap();
    assert_eq!(reply.status().as_u16(), 401);
    let challenge = reply.headers()["www-authenticate"].to_str().unwrap().to_owned();
    assert!(challenge.contains("error=\"insufficient_claims\""), "{challenge}");
    let claims = challenge.split("claims=\"").nth(1).and_then(|rest| rest.split('"').next()).unwrap();
    let decoded: Value = serde_json::from_slice(&aad_auth_tests::site::base64_decode(claims)).unwrap();
    assert_eq!(decoded, json!({"access_token": {"acrs": {"essential": true, "value": "c1"}}}));
    let body: Value = reply.json().await.unwrap();
    assert_eq!(body["error"], "insufficient_claims");

    let with = tenant.token().for_user(&tenant.users()[0]).acrs(["c1"]).sign();
    let (status, body) = get(&site, "/api/graph", &with).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["scp"], "User.Read", "{body}");
}

#[actix_web::test]
async fn the_login_refuses_malformed_consent_scopes() {
    let tenant = tenant().await;
    let site = site(&tenant, |c| c).await;
    let browser = Browser::new();
    for scope in ["a%22b", "x%3Cscript%3E", &"s+".repeat(11)] {
        let page = browser.get(&site.url(&format!("/oauth/aad/login?scope={scope}"))).await;
        assert_eq!(page.status, 400, "{scope}: {page:?}");
    }
}

#[actix_web::test]
async fn in_redis_a_kept_downstream_token_is_sealed() {
    let mut rig = RedisRig::start().await;
    let (tenant, site) = (&rig.tenant, &rig.site);
    let caller = tenant.token().member().sign();
    let reply = reqwest::Client::new().get(site.url("/api/obo")).bearer_auth(&caller).send().await.unwrap();
    assert_eq!(reply.status().as_u16(), 200);
    let described = reply.json::<Value>().await.unwrap();
    let (signature, payload_start) =
        (described["signature"].as_str().unwrap().to_owned(), described["payload_start"].as_str().unwrap().to_owned());

    let keys: Vec<String> =
        rig.token_keys().await.into_iter().filter(|key| key.starts_with("aad-auth:tokens:downstream:")).collect();
    assert_eq!(keys.len(), 1, "{keys:?}");
    let raw: String = redis::cmd("GET").arg(&keys[0]).query_async(&mut rig.connection).await.unwrap();
    assert!(!raw.contains(&signature) && !raw.contains(&payload_start), "the stored value holds no token");
    assert!(!keys[0].contains(&caller[..20]), "the key does not hold the incoming token");
}

#[actix_web::test]
async fn the_tenant_refusing_the_app_is_a_502_that_names_no_detail() {
    let tenant = tenant().await;
    let site = site(&tenant, |c| c).await;
    let caller = tenant.token().member().sign();
    let reply = reqwest::Client::new().get(site.url("/api/app-unknown")).bearer_auth(&caller).send().await.unwrap();
    assert_eq!(reply.status().as_u16(), 502);
    let body = reply.text().await.unwrap();
    assert!(body.contains("\"error\":\"server_error\""), "{body}");
    assert!(!body.contains("no-such-api") && !body.contains("AADSTS") && !body.contains(&caller[..30]), "{body}");
}

fn redis_site_config(
    url: &str,
) -> impl FnOnce(aad_auth::config::AadAuthConfigBuilder) -> aad_auth::config::AadAuthConfigBuilder {
    let url = url.to_owned();
    move |c| {
        let mut session = aad_auth::config::SessionConfig::default();
        session.https_only = false;
        session.store = aad_auth::config::SessionStoreKind::Redis(url::Url::parse(&url).unwrap());
        c.session(session)
    }
}

/// A tenant and a site whose sessions are in a real Redis, and a connection to it.
struct RedisRig {
    _redis: RedisServer,
    tenant: Tenant,
    site: Site,
    connection: redis::aio::MultiplexedConnection,
}

impl RedisRig {
    async fn start() -> Self {
        let redis = RedisServer::start();
        let tenant = tenant().await;
        let site = site(&tenant, redis_site_config(&redis.url())).await;
        let client = redis::Client::open(redis.url().as_str()).unwrap();
        let connection = client.get_multiplexed_async_connection().await.unwrap();
        Self { _redis: redis, tenant, site, connection }
    }

    /// The token cache's keys, sorted.
    async fn token_keys(&mut self) -> Vec<String> {
        let mut keys: Vec<String> =
            redis::cmd("KEYS").arg("aad-auth:tokens:*").query_async(&mut self.connection).await.unwrap();
        keys.sort();
        keys
    }
}

#[actix_web::test]
async fn a_logout_while_a_downstream_token_is_on_its_way_leaves_no_tokens_behind() {
    let mut rig = RedisRig::start().await;
    let browser = Browser::new();
    browser.follow(&rig.site.url("/oauth/aad/login"), 6).await;
    assert_eq!(rig.token_keys().await.len(), 1, "the session's token entry");
    let (tenant, site) = (&rig.tenant, &rig.site);

    // The refresh-token grant takes a while; the user signs out meanwhile.
    tenant.set_fault(Endpoint::Token, Fault::Slow(std::time::Duration::from_millis(500)));
    let before = tenant.requests(Endpoint::Token);
    let asking = browser.send(browser.client.get(site.url("/api/user")).header("accept", "application/json"));
    let signing_out = async {
        while tenant.requests(Endpoint::Token) == before {
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        browser.post(&site.url("/logout")).await
    };
    let (_, logout) = tokio::join!(asking, signing_out);
    assert!(logout.status == 303 || logout.status == 302, "{logout:?}");
    assert_eq!(rig.token_keys().await, Vec::<String>::new(), "the ended session's tokens came back");
}

#[actix_web::test]
async fn a_sealed_token_entry_copied_to_another_sessions_key_does_not_open() {
    let mut rig = RedisRig::start().await;
    let login = rig.site.url("/oauth/aad/login");
    let victim = Browser::new();
    victim.follow(&login, 6).await;
    let victims_key = rig.token_keys().await.pop().unwrap();
    let attacker = Browser::new();
    attacker.follow(&login, 6).await;
    let attackers_key = rig.token_keys().await.into_iter().find(|key| *key != victims_key).unwrap();
    let (site, connection) = (&rig.site, &mut rig.connection);
    let before = attacker.get(&site.url("/me/token")).await;
    assert_eq!(before.status, 200, "{before:?}");

    // Someone who can write to Redis copies the victim's entry over their own.
    let sealed: String = redis::cmd("GET").arg(&victims_key).query_async(connection).await.unwrap();
    let () = redis::cmd("SET").arg(&attackers_key).arg(sealed).query_async(connection).await.unwrap();
    let after = attacker.get(&site.url("/me/token")).await;
    assert_eq!(after.status, 401, "the copied entry opened under another key: {after:?}");
}

#[actix_web::test]
async fn a_page_whose_token_still_needs_the_user_after_the_consent_login_stops_instead_of_looping() {
    // Graph needs an authentication context the sign-in never gets: every refresh-token grant
    // for Graph is interaction_required, consent or not.
    let tenant = tenant_where_graph_needs_c1().await;
    let site = site(&tenant, |c| c).await;
    let browser = Browser::new();
    browser.follow(&site.url("/oauth/aad/login"), 6).await;
    tenant.reset_counters();
    let hops = browser.follow(&site.url("/page/graph"), 12).await;
    let last = hops.last().unwrap();
    assert_eq!(last.status, 401, "one round through the login, then a page that says so: {hops:#?}");
    assert!(last.url.ends_with("/page/graph"), "{}", last.url);
    assert!(last.body.contains("consented"), "{}", last.body);
    assert_eq!(tenant.requests(Endpoint::Authorize), 1, "exactly one consent round");
}
