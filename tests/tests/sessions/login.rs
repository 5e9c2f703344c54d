//! The browser login against the local tenant, one test per case of `docs/security.md` (L
//! login, S sessions, R redirects) that needs the whole flow.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::sync::Arc;
use std::time::Duration;

use aad_auth::testing::{Endpoint, ManualClock, Tenant};
use aad_auth_tests::site::{Browser, Page, Site};

struct World {
    tenant: Tenant,
    site: Site,
    clock: Arc<ManualClock>,
}

async fn world_as(
    user: &str,
    adjust: impl FnOnce(aad_auth::config::AadAuthConfigBuilder) -> aad_auth::config::AadAuthConfigBuilder,
) -> World {
    let clock = Arc::new(ManualClock::new());
    let tenant = Tenant::builder().dev_defaults().auto_user(user).clock(clock.clone()).start().await;
    let site = Site::for_tenant(&tenant, Some(clock.clone()), adjust).await;
    World { tenant, site, clock }
}

async fn world() -> World {
    world_as("first", |c| c).await
}

/// Starts a login for `target` and follows it to the end; returns every hop.
async fn sign_in(browser: &Browser, site: &Site, target: &str) -> Vec<Page> {
    let start = format!("{}?redirect={}", site.url("/oauth/aad/login"), urlencode(target));
    browser.follow(&start, 6).await
}

fn urlencode(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

/// The callback URL the tenant sent the browser to (hop 2), not yet visited.
async fn callback_url(browser: &Browser, site: &Site, target: &str) -> String {
    let start = browser.get(&format!("{}?redirect={}", site.url("/oauth/aad/login"), urlencode(target))).await;
    assert_eq!(start.status, 302, "{start:?}");
    let authorize = browser.get(&start.location().unwrap()).await;
    assert_eq!(authorize.status, 302, "the tenant signs the auto user in: {authorize:?}");
    authorize.location().unwrap()
}

async fn session_is_anonymous(browser: &Browser, site: &Site) -> bool {
    browser.get(&site.url("/api/session")).await.status == 401
}

#[actix_web::test]
async fn full_login_lands_on_the_target_with_a_session() {
    let w = world().await;
    let browser = Browser::new();
    let hops = sign_in(&browser, &w.site, "/test?tab=2").await;
    let last = hops.last().unwrap();
    assert_eq!(last.status, 200, "{hops:#?}");
    assert!(last.url.ends_with("/test?tab=2"), "R1: lands on the requested target: {}", last.url);
    assert_eq!(last.json()["name"], "Alice Example");
    assert_eq!(last.json()["source"], "Session");
    let me = browser.get(&w.site.url("/me")).await;
    assert_eq!(me.status, 200);
    assert!(
        me.body.contains("Alice Example") && me.body.contains(&w.tenant.users()[0].oid),
        "S5: the page shows the oid"
    );
    let token = browser.get(&w.site.url("/me/token")).await;
    assert_eq!(token.status, 200, "{token:?}");
    let access_token = token.json()["access_token"].as_str().unwrap().to_owned();
    assert!(token.json()["expires_in"].as_i64().unwrap() > 0);
    // The token from /me/token is accepted by the API itself.
    let api =
        Browser::new().send(reqwest::Client::new().get(w.site.url("/api/hello")).bearer_auth(&access_token)).await;
    assert_eq!(api.status, 200, "{api:?}");
}

#[actix_web::test]
async fn j03_a_key_rotated_just_before_the_login_is_fetched_once() {
    let w = world().await;
    // A first login loads the tenant's keys.
    let _ = sign_in(&Browser::new(), &w.site, "/").await;
    let jwks_before = w.tenant.requests(Endpoint::Jwks);
    assert!(jwks_before >= 1);
    // The tenant signs the next id_token with a key the site has never seen.
    let new_kid = w.tenant.rotate_keys();
    let browser = Browser::new();
    let hops = sign_in(&browser, &w.site, "/test").await;
    assert_eq!(hops.last().unwrap().status, 200, "the login completes: {hops:#?}");
    assert_eq!(browser.get(&w.site.url("/api/session")).await.status, 200);
    assert_eq!(w.tenant.requests(Endpoint::Jwks), jwks_before + 1, "one refresh for {new_kid}");
}

#[actix_web::test]
async fn l01_authorize_request_is_complete_and_fresh() {
    let w = world().await;
    let browser = Browser::new();
    let first = browser.get(&w.site.url("/oauth/aad/login")).await;
    let second = browser.get(&w.site.url("/oauth/aad/login")).await;
    assert_eq!(first.status, 302);
    let location = url::Url::parse(&first.location().unwrap()).unwrap();
    assert!(location.as_str().starts_with(&format!("{}/oauth2/v2.0/authorize", w.tenant.authority())));
    let p = |name: &str| first.location_param(name).unwrap_or_default();
    assert_eq!(p("response_type"), "code");
    assert_eq!(p("client_id"), w.tenant.api_app().client_id);
    assert_eq!(p("redirect_uri"), w.site.url("/oauth/aad/redirect"));
    assert!(p("scope").split(' ').any(|s| s == "openid") && p("scope").contains("offline_access"));
    assert!(p("state").len() >= 22, "state carries at least 128 bits");
    assert!(p("nonce").len() >= 22);
    assert_eq!(p("code_challenge").len(), 43, "S256 challenge of a 32-byte verifier");
    assert_eq!(p("code_challenge_method"), "S256");
    assert_eq!(p("response_mode"), "query");
    for name in ["state", "nonce", "code_challenge"] {
        assert_ne!(first.location_param(name), second.location_param(name), "{name} is fresh per attempt");
    }
    assert!(!location.as_str().contains("code_verifier"), "the verifier never leaves the server");
    assert_eq!(first.header("cache-control").as_deref(), Some("no-store"));
}

#[actix_web::test]
async fn l02_configured_redirect_uri_ignores_host_headers() {
    let w = world_as("first", |c| c.public_base_url("http://127.0.0.1:9")).await;
    let request = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(w.site.url("/oauth/aad/login"))
        .header("host", "evil.example")
        .header("x-forwarded-host", "evil.example")
        .header("x-forwarded-proto", "https");
    let page = Browser::new().send(request).await;
    assert_eq!(page.location_param("redirect_uri").as_deref(), Some("http://127.0.0.1:9/oauth/aad/redirect"));
    let unconfigured = world().await;
    let request = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(unconfigured.site.url("/oauth/aad/login"))
        .header("x-forwarded-host", "evil.example");
    let page = Browser::new().send(request).await;
    assert!(
        !page.location_param("redirect_uri").unwrap().contains("evil"),
        "forwarded headers from an untrusted peer are ignored"
    );
}

#[actix_web::test]
async fn l03_l04_l05_callbacks_without_a_matching_state_never_reach_the_token_endpoint() {
    let w = world().await;
    let browser = Browser::new();
    let callback = callback_url(&browser, &w.site, "/").await;
    let url = url::Url::parse(&callback).unwrap();
    let code = url.query_pairs().find(|(k, _)| k == "code").unwrap().1.into_owned();
    let base = w.site.url("/oauth/aad/redirect");
    let before = w.tenant.requests(Endpoint::Token);
    let cases = [
        ("L3 no state", format!("{base}?code={code}")),
        ("L4 another state", format!("{base}?code={code}&state=AAAAAAAAAAAAAAAAAAAAAA")),
        ("no code", format!("{base}?state=x")),
    ];
    for (name, url) in &cases {
        let page = browser.get(url).await;
        assert_eq!(page.status, 400, "{name}: {page:?}");
        assert!(page.set_cookies().iter().all(|c| !c.starts_with("session=")), "{name}: no session cookie");
    }
    // L5: the attacker's valid callback, opened in a victim browser that never started a login.
    let victim = Browser::new();
    let page = victim.get(&callback).await;
    assert_eq!(page.status, 400, "L5 login CSRF");
    assert!(session_is_anonymous(&victim, &w.site).await);
    assert_eq!(w.tenant.requests(Endpoint::Token), before, "the token endpoint was never called");
}

#[actix_web::test]
async fn l06_a_callback_is_single_use() {
    let w = world().await;
    let browser = Browser::new();
    let callback = callback_url(&browser, &w.site, "/test").await;
    let first = browser.get(&callback).await;
    assert_eq!(first.status, 303, "{first:?}");
    let tokens_after_first = w.tenant.requests(Endpoint::Token);
    let second = browser.get(&callback).await;
    assert_eq!(second.status, 400, "L6 replay in the same browser");
    // Even with the pre-callback transaction cookie copied back, the state is spent.
    assert_eq!(w.tenant.requests(Endpoint::Token), tokens_after_first, "no second token request");
}

#[actix_web::test]
async fn l06_replay_with_a_copied_transaction_cookie_is_refused() {
    let w = world().await;
    let browser = Browser::new();
    let callback = callback_url(&browser, &w.site, "/").await;
    let cookies_before = browser.cookies_for(&w.site.url("/oauth/aad/redirect"));
    assert_eq!(browser.get(&callback).await.status, 303);
    let thief = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let replay = Browser::new().send(thief.get(&callback).header("cookie", cookies_before)).await;
    assert_eq!(replay.status, 400, "{replay:?}");
}

#[actix_web::test]
async fn l09_an_injected_code_fails_pkce() {
    let w = world().await;
    let attacker = Browser::new();
    let attacker_callback = callback_url(&attacker, &w.site, "/").await;
    let code =
        url::Url::parse(&attacker_callback).unwrap().query_pairs().find(|(k, _)| k == "code").unwrap().1.into_owned();
    let victim = Browser::new();
    let victim_callback = callback_url(&victim, &w.site, "/").await;
    let state =
        url::Url::parse(&victim_callback).unwrap().query_pairs().find(|(k, _)| k == "state").unwrap().1.into_owned();
    let injected = format!("{}?code={code}&state={state}", w.site.url("/oauth/aad/redirect"));
    let page = victim.get(&injected).await;
    assert_eq!(page.status, 400, "the code is bound to the attacker's PKCE challenge: {page:?}");
    assert!(session_is_anonymous(&victim, &w.site).await);
}

#[actix_web::test]
async fn l11_l12_error_responses_are_escaped_and_spend_no_code() {
    let w = world().await;
    let browser = Browser::new();
    let callback = callback_url(&browser, &w.site, "/").await;
    let state = url::Url::parse(&callback).unwrap().query_pairs().find(|(k, _)| k == "state").unwrap().1.into_owned();
    let before = w.tenant.requests(Endpoint::Token);
    let hostile = format!(
        "{}?error=access_denied&error_description=%3Cscript%3Ealert(1)%3C%2Fscript%3E&code=abc&state={state}",
        w.site.url("/oauth/aad/redirect")
    );
    let page = browser.get(&hostile).await;
    assert_eq!(page.status, 400);
    assert!(!page.body.contains("<script>alert(1)"), "L11: never reflected as HTML");
    assert!(page.location().is_none());
    assert_eq!(w.tenant.requests(Endpoint::Token), before, "L12: code and error together is an error");
    assert!(session_is_anonymous(&browser, &w.site).await);
}

#[actix_web::test]
async fn l16_tampered_transaction_cookies_are_refused() {
    let w = world().await;
    let browser = Browser::new();
    let callback = callback_url(&browser, &w.site, "/").await;
    let cookies = browser.cookies_for(&w.site.url("/oauth/aad/redirect"));
    let (name, value) = cookies.split("; ").find(|c| c.starts_with("session_login=")).unwrap().split_once('=').unwrap();
    let flipped = {
        let mut bytes = value.as_bytes().to_vec();
        bytes[10] = if bytes[10] == b'A' { b'B' } else { b'A' };
        String::from_utf8(bytes).unwrap()
    };
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    for (case, value) in
        [("bit flip", flipped), ("garbage", "%%%".into()), ("oversize", "A".repeat(4000)), ("empty", String::new())]
    {
        let page = Browser::new().send(client.get(&callback).header("cookie", format!("{name}={value}"))).await;
        assert_eq!(page.status, 400, "{case}: {page:?}");
    }
}

#[actix_web::test]
async fn l17_logins_expire_after_ten_minutes() {
    let w = world().await;
    let browser = Browser::new();
    let callback = callback_url(&browser, &w.site, "/").await;
    w.clock.advance(Duration::from_secs(11 * 60));
    assert_eq!(browser.get(&callback).await.status, 400);
    let retry = sign_in(&browser, &w.site, "/test").await;
    assert_eq!(retry.last().unwrap().status, 200, "the user can start again");
}

#[actix_web::test]
async fn l18_two_tabs_both_complete() {
    let w = world().await;
    let browser = Browser::new();
    let first = callback_url(&browser, &w.site, "/test?tab=1").await;
    let second = callback_url(&browser, &w.site, "/test?tab=2").await;
    let done_second = browser.get(&second).await;
    let done_first = browser.get(&first).await;
    assert_eq!((done_first.status, done_second.status), (303, 303));
    assert_eq!(done_first.location().as_deref(), Some("/test?tab=1"), "each tab keeps its own target");
    assert_eq!(done_second.location().as_deref(), Some("/test?tab=2"));
}

#[actix_web::test]
async fn l19_l20_callback_is_get_only_and_hides_the_code() {
    let w = world().await;
    let browser = Browser::new();
    let callback = callback_url(&browser, &w.site, "/").await;
    assert_eq!(browser.post(&callback).await.status, 405, "L19: form_post is not supported");
    let page = browser.get(&callback).await;
    assert_eq!(page.status, 303);
    assert_eq!(page.header("referrer-policy").as_deref(), Some("no-referrer"));
    assert_eq!(page.header("cache-control").as_deref(), Some("no-store"));
    assert!(!page.location().unwrap().contains("code="), "the redirect drops code and state from the address bar");
}

#[actix_web::test]
async fn s01_s02_s12_the_session_cookie() {
    let w = world_as("first", |c| c.session(aad_auth::config::SessionConfig::default())).await;
    let browser = Browser::new();
    // An attacker-planted session cookie (the attacker's own, valid, session).
    let attacker = Browser::new();
    let _ = sign_in(&attacker, &w.site, "/").await;
    let planted =
        attacker.cookies_for(&w.site.url("/")).split("; ").find(|c| c.starts_with("session=")).map(str::to_owned);
    // Secure cookies are not sent over http by the jar, so read the callback's Set-Cookie.
    let callback = callback_url(&browser, &w.site, "/").await;
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let mut request = client.get(&callback).header("cookie", browser.cookies_for(&callback));
    if let Some(planted) = &planted {
        request = request.header("cookie", planted.clone());
    }
    let page = Browser::new().send(request).await;
    assert_eq!(page.status, 303, "{page:?}");
    let cookie = page.set_cookies().into_iter().find(|c| c.starts_with("session=")).expect("a session cookie");
    let lower = cookie.to_ascii_lowercase();
    assert!(
        lower.contains("; secure")
            && lower.contains("; httponly")
            && lower.contains("samesite=lax")
            && lower.contains("path=/"),
        "S2: {cookie}"
    );
    assert!(!lower.contains("domain="), "S2: host-only");
    let value = cookie.split(';').next().unwrap().to_owned();
    if let Some(planted) = planted {
        assert_ne!(value, planted, "S1: a new session value after login");
    }
    assert!(value.len() < 4096, "S4: the cookie fits");
    let alice = &w.tenant.users()[0];
    assert!(!value.contains(&alice.oid) && !value.contains("Alice"), "S12: the content is encrypted");
}

#[actix_web::test]
async fn s03_bad_session_cookies_are_anonymous_never_500() {
    let w = world().await;
    let browser = Browser::new();
    let _ = sign_in(&browser, &w.site, "/").await;
    let good =
        browser.cookies_for(&w.site.url("/")).split("; ").find(|c| c.starts_with("session=")).unwrap().to_owned();
    let value = good.trim_start_matches("session=");
    let other_key_site = world_as("first", |c| c.session_secret(vec![7u8; 64])).await;
    let other = Browser::new();
    let _ = sign_in(&other, &other_key_site.site, "/").await;
    let foreign = other
        .cookies_for(&other_key_site.site.url("/"))
        .split("; ")
        .find(|c| c.starts_with("session="))
        .unwrap()
        .to_owned();
    let cases = [
        ("tampered", format!("session={}A{}", &value[..20], &value[21..])),
        ("truncated", format!("session={}", &value[..value.len() / 2])),
        ("garbage", "session=not-a-cookie".to_owned()),
        ("another app's key", foreign),
    ];
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    for (name, cookie) in cases {
        let api = Browser::new().send(client.get(w.site.url("/api/session")).header("cookie", cookie.clone())).await;
        assert_eq!(api.status, 401, "{name}: API with session allowed");
        let page = Browser::new().send(client.get(w.site.url("/test")).header("cookie", cookie.clone())).await;
        assert_eq!(page.status, 303, "{name}: page guard sends to login");
        assert!(page.location().unwrap().starts_with("/login?redirect="));
        let me = Browser::new().send(client.get(w.site.url("/me")).header("cookie", cookie)).await;
        assert_ne!(me.status, 500, "{name}");
    }
}

#[actix_web::test]
async fn s04_many_groups_stay_off_the_cookie_and_overage_is_flagged() {
    let w = world_as("dave@contoso.onmicrosoft.com", |c| c).await;
    let browser = Browser::new();
    let hops = sign_in(&browser, &w.site, "/test").await;
    let last = hops.last().unwrap();
    assert_eq!(last.status, 200, "{hops:#?}");
    assert_eq!(
        last.json()["groups_overage"],
        true,
        "250 groups: the token has an overage indicator, and the session says so"
    );
    let cookie = browser.cookies_for(&w.site.url("/"));
    assert!(cookie.len() < 4096, "S4: {} bytes", cookie.len());
}

/// Session settings for the login tests, with `idle` as the idle timeout.
fn idle_timeout(idle: Duration) -> aad_auth::config::SessionConfig {
    let mut session = aad_auth::config::SessionConfig::default();
    session.https_only = false;
    session.idle_timeout = idle;
    session
}

#[actix_web::test]
async fn s06_sessions_end_at_the_absolute_maximum() {
    // Used every 20 hours (the idle timeout is longer): only the absolute bound can end it.
    let w = world_as("first", |c| c.session(idle_timeout(Duration::from_secs(21 * 3600)))).await;
    let browser = Browser::new();
    let _ = sign_in(&browser, &w.site, "/").await;
    assert_eq!(browser.get(&w.site.url("/api/session")).await.status, 200);
    w.clock.advance(Duration::from_secs(20 * 3600));
    assert_eq!(browser.get(&w.site.url("/api/session")).await.status, 200, "in use, within SESSION_MAX_AGE");
    w.clock.advance(Duration::from_secs(4 * 3600 + 60));
    assert_eq!(browser.get(&w.site.url("/api/session")).await.status, 401, "past SESSION_MAX_AGE");
    let page = browser.get(&w.site.url("/test")).await;
    assert_eq!(page.status, 303);
}

#[actix_web::test]
async fn s06_sessions_end_after_the_idle_timeout() {
    // The default idle timeout, 30 minutes.
    let w = world().await;
    let browser = Browser::new();
    let _ = sign_in(&browser, &w.site, "/").await;
    // Each use renews it: used every 25 minutes, through the API and the crate's own routes, the
    // session outlives the timeout several times over.
    for path in ["/api/session", "/me", "/api/session", "/me/token"] {
        w.clock.advance(Duration::from_secs(25 * 60));
        assert_eq!(browser.get(&w.site.url(path)).await.status, 200, "{path} after 25 idle minutes");
    }
    // 31 minutes unused (a clock jump does the same): anonymous everywhere, and not revived.
    w.clock.advance(Duration::from_secs(31 * 60));
    assert_eq!(browser.get(&w.site.url("/api/session")).await.status, 401, "past the idle timeout");
    assert_eq!(browser.get(&w.site.url("/api/session")).await.status, 401, "an ended session stays ended");
    assert_eq!(browser.get(&w.site.url("/me/token")).await.status, 401, "its tokens are gone");
    assert_eq!(browser.get(&w.site.url("/test")).await.status, 303, "pages send the browser to sign in");
}

#[actix_web::test]
async fn s07_s08_s10_logout_is_a_same_site_post() {
    let w = world().await;
    let browser = Browser::new();
    let _ = sign_in(&browser, &w.site, "/").await;
    // (b) GET shows a confirmation and keeps the session.
    let confirm = browser.get(&w.site.url("/logout")).await;
    assert_eq!(confirm.status, 200);
    assert!(confirm.body.contains("method=\"post\"") || confirm.body.contains("method=\"POST\""), "a POST form");
    assert_eq!(browser.get(&w.site.url("/api/session")).await.status, 200, "GET /logout does not log out");
    // S10: a cross-site POST is refused.
    let cross = browser.send(browser.client.post(w.site.url("/logout")).header("origin", "https://evil.example")).await;
    assert_eq!(cross.status, 403);
    // An origin that is a mere prefix of ours (another port) is another site too.
    let prefix = &w.site.base[..w.site.base.len() - 1];
    let cross = browser.send(browser.client.post(w.site.url("/logout")).header("origin", prefix)).await;
    assert_eq!(cross.status, 403, "{prefix}");
    assert_eq!(browser.get(&w.site.url("/api/session")).await.status, 200);
    let token_before = browser.get(&w.site.url("/me/token")).await;
    assert_eq!(token_before.status, 200);
    let pre_logout_cookie = browser.cookies_for(&w.site.url("/"));
    // (a) + S8: POST logs out, ignores a returnTo, and sends the browser to Entra's end_session.
    let out =
        browser.send(browser.client.post(w.site.url("/logout?returnTo=//evil.example&redirect=//evil.example"))).await;
    assert_eq!(out.status, 303, "{out:?}");
    let location = out.location().unwrap();
    assert!(location.starts_with(&format!("{}/oauth2/v2.0/logout", w.tenant.authority())), "{location}");
    assert!(!location.contains("evil.example"));
    assert_eq!(out.location_param("post_logout_redirect_uri").as_deref(), Some(w.site.url("/login").as_str()));
    assert!(
        out.set_cookies()
            .iter()
            .any(|c| c.starts_with("session=") && (c.contains("Max-Age=0") || c.contains("max-age=0"))),
        "cookie removed"
    );
    assert!(session_is_anonymous(&browser, &w.site).await);
    // S7c with the cookie store: a copy of the cookie from before the logout is refused by this
    // process (an instance that never saw the logout would accept it until SESSION_MAX_AGE).
    let replay = Browser::new()
        .send(reqwest::Client::new().get(w.site.url("/api/session")).header("cookie", pre_logout_cookie))
        .await;
    assert_eq!(replay.status, 401, "the replayed cookie after logout");
    // Entra's logout returns to the login page.
    let back = browser.get(&location).await;
    assert_eq!(back.location().as_deref(), Some(w.site.url("/login").as_str()));
    assert_eq!(browser.get(&w.site.url("/me/token")).await.status, 401, "cached tokens are gone");
}

#[actix_web::test]
async fn logout_with_a_provider_without_end_session_shows_the_signed_out_page() {
    // The mock provider's discovery names no end_session_endpoint.
    let tid = "0b8c3bd6-3c5c-4f0a-9d51-6f36c1a3c5c9";
    let idp = aad_auth_tests::mock_idp::MockIdp::start(tid).await;
    idp.set_jwks(vec![aad_auth::testing::TestKey::generate("mock-key").jwk(None)]);
    let config = aad_auth_tests::site::login_config(
        aad_auth::AadAuthConfig::builder("6c1f4b0a-8a7e-4f3e-9f59-2d6a0f1d2c3b", tid).authority_host(&idp.base),
    )
    .build()
    .unwrap();
    let site = Site::start(config, None).await;
    assert!(site.auth.keys().ensure_loaded().await, "discovery and keys load");
    assert!(site.auth.keys().metadata().is_some_and(|m| m.end_session_endpoint.is_none()), "discovery loaded");

    let out = Browser::new().post(&site.url("/logout")).await;
    assert_eq!(out.status, 200, "{out:?}");
    assert_eq!(out.location(), None, "no redirect to a provider that cannot end its session");
    assert!(out.body.contains("You have signed out"), "{}", out.body);
    // minijinja escapes `/` in attribute values.
    assert!(out.body.contains("href=\"&#x2f;login\">Sign in again"), "a way to sign in again: {}", out.body);
    assert_eq!(out.header("cache-control").as_deref(), Some("no-store"));
    assert!(out.header("content-security-policy").is_some());
}

#[actix_web::test]
async fn s11_mixed_credentials() {
    let w = world().await;
    let browser = Browser::new();
    let _ = sign_in(&browser, &w.site, "/").await;
    assert_eq!(
        browser.get(&w.site.url("/api/hello")).await.status,
        401,
        "a bearer-only route ignores the session cookie"
    );
    assert_eq!(browser.get(&w.site.url("/api/session")).await.status, 200);
    let token = w.tenant.token().member().sign();
    let bearer = Browser::new().send(reqwest::Client::new().get(w.site.url("/test")).bearer_auth(&token)).await;
    assert_eq!(bearer.status, 200, "a page accepts a bearer token");
    assert!(bearer.set_cookies().is_empty(), "a bearer request never creates a session");
}

#[actix_web::test]
async fn r16_r17_r18_only_the_stored_and_checked_target_is_used() {
    let w = world().await;
    let browser = Browser::new();
    // R17: an extra returnTo on the callback URL is ignored.
    let callback = callback_url(&browser, &w.site, "/test").await;
    let page = browser
        .get(&format!("{callback}&redirect=https%3A%2F%2Fevil.example&returnTo=https%3A%2F%2Fevil.example"))
        .await;
    assert_eq!(page.location().as_deref(), Some("/test"));
    for (target, expected) in [
        ("https://evil.example", "/"),
        ("//evil.example", "/"),
        ("/\\evil.example", "/"),
        ("/login", "/"),
        ("/oauth/aad/redirect?code=x", "/"),
        ("/view/?param=https://example.com", "/view/?param=https://example.com"),
    ] {
        let hops = sign_in(&Browser::new(), &w.site, target).await;
        let landed =
            hops.iter().find(|p| p.url.starts_with(&w.site.url("/oauth/aad/redirect"))).and_then(Page::location);
        assert_eq!(landed.as_deref(), Some(expected), "{target}");
    }
}

#[actix_web::test]
async fn r19_logout_returns_only_to_the_configured_route() {
    let w = world().await;
    let expected = w.site.url("/login");
    for target in [
        "https://evil.example",
        "//evil.example",
        "/\\evil.example",
        "javascript:alert(1)",
        "https://app.example.com@evil.example",
        "/dashboard",
    ] {
        let encoded = urlencode(target);
        let out = Browser::new()
            .post(
                &w.site
                    .url(&format!("/logout?returnTo={encoded}&redirect={encoded}&post_logout_redirect_uri={encoded}")),
            )
            .await;
        assert_eq!(out.status, 303, "{target}");
        assert_eq!(out.location_param("post_logout_redirect_uri").as_deref(), Some(expected.as_str()), "{target}");
        let location = url::Url::parse(&out.location().unwrap()).unwrap();
        assert!(location.as_str().starts_with(&w.tenant.authority()), "{location}");
        let uris = location.query_pairs().filter(|(name, _)| name == "post_logout_redirect_uri").count();
        assert_eq!(uris, 1, "no second post_logout_redirect_uri smuggled through: {location}");
    }
}

#[actix_web::test]
async fn pages_redirect_anonymous_browsers_and_enforce_roles() {
    let w = world_as("bob@contoso.onmicrosoft.com", |c| c).await;
    let browser = Browser::new();
    let anonymous = browser.get(&w.site.url("/admin-page?x=1")).await;
    assert_eq!(anonymous.status, 303);
    assert_eq!(anonymous.location().as_deref(), Some("/login?redirect=%2Fadmin-page%3Fx%3D1"));
    let login = browser.get(&w.site.url(&anonymous.location().unwrap())).await;
    assert!(login.body.contains("Sign in with Microsoft"));
    assert!(login.header("content-security-policy").is_some_and(|csp| !csp.contains("unsafe-inline")));
    let hops = sign_in(&browser, &w.site, "/admin-page").await;
    assert_eq!(hops.last().unwrap().status, 403, "bob has no Admin role");
    assert_eq!(browser.get(&w.site.url("/test")).await.status, 200);
    let home = browser.get(&w.site.url("/")).await;
    assert!(home.body.contains("Hello, Bob Example"), "the ambient state greets the session user");
}

#[actix_web::test]
async fn app_wide_roles_are_checked_at_login() {
    let w = world_as("bob@contoso.onmicrosoft.com", |c| c.roles(["Admin"])).await;
    let browser = Browser::new();
    let hops = sign_in(&browser, &w.site, "/").await;
    let callback = hops.iter().find(|p| p.url.contains("/oauth/aad/redirect")).unwrap();
    assert_eq!(callback.status, 403, "AAD_ROLES: bob holds none");
    assert!(session_is_anonymous(&browser, &w.site).await);
}

/// Review F1: behind a TLS-terminating proxy with only `AAD_REDIRECT_URI` set (as the README
/// says), the browser's logout (`Origin: https://app.example`, `Host: app.example`, reaching the
/// app over plain http) signs out and sends the browser to Entra with an https
/// `post_logout_redirect_uri`; another origin is still refused.
#[actix_web::test]
async fn f1_logout_behind_a_tls_proxy_uses_the_redirect_uris_origin() {
    let w = world_as("first", |c| c.redirect_uri("https://app.example/oauth/aad/redirect")).await;
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let post = |origin: &str| {
        client.post(w.site.url("/logout")).header("host", "app.example").header("origin", origin.to_owned())
    };
    let out = Browser::new().send(post("https://app.example")).await;
    assert_eq!(out.status, 303, "the browser's own origin signs out: {out:?}");
    assert_eq!(out.location_param("post_logout_redirect_uri").as_deref(), Some("https://app.example/login"));
    let cross = Browser::new().send(post("https://evil.example")).await;
    assert_eq!(cross.status, 403, "{cross:?}");
    let plain = Browser::new().send(post("http://app.example")).await;
    assert_eq!(plain.status, 403, "the public origin is https, not the listener's http: {plain:?}");

    // The callback and Swagger UI's redirect page come from the same origin.
    let start = Browser::new().get(&w.site.url("/oauth/aad/login")).await;
    assert_eq!(start.location_param("redirect_uri").as_deref(), Some("https://app.example/oauth/aad/redirect"));
}

/// The login's transaction cookie of a response, lower-cased.
async fn transaction_cookie(site: &Site, host: Option<&str>) -> String {
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let mut request = client.get(site.url("/oauth/aad/login"));
    if let Some(host) = host {
        request = request.header("host", host);
    }
    let page = Browser::new().send(request).await;
    assert_eq!(page.status, 302, "{page:?}");
    let cookies = page.set_cookies();
    assert!(!cookies.is_empty(), "the login sets its transaction cookie: {page:?}");
    cookies.join(" | ").to_ascii_lowercase()
}

/// Review F7: development mode drops `Secure` only where browsers would never send a Secure cookie
/// back: a public origin that is http on a loopback host.
#[actix_web::test]
async fn f7_dev_mode_keeps_secure_cookies_off_loopback() {
    let https_only = |c: aad_auth::config::AadAuthConfigBuilder| {
        c.session(aad_auth::config::SessionConfig::default()).insecure_dev_mode(true)
    };
    let loopback = world_as("first", https_only).await;
    assert!(!transaction_cookie(&loopback.site, None).await.contains("; secure"), "http://127.0.0.1 in dev mode");
    assert!(
        transaction_cookie(&loopback.site, Some("app.example")).await.contains("; secure"),
        "dev mode, but the request's origin is not loopback"
    );
    let public = world_as("first", |c| https_only(c).public_base_url("https://app.example")).await;
    assert!(
        transaction_cookie(&public.site, None).await.contains("; secure"),
        "dev mode with an https public origin, reached on loopback"
    );
}

/// Behind a load balancer a login can start on a warm instance and come back to one that is
/// still loading discovery: the callback waits for it, as the login route does, instead of
/// answering 503.
#[actix_web::test]
async fn a_callback_on_a_freshly_started_instance_waits_for_discovery() {
    // One public origin for both instances, as behind a proxy (port 9: nothing listens there).
    const PUBLIC: &str = "http://127.0.0.1:9";
    let fixed = |c: aad_auth::config::AadAuthConfigBuilder| c.redirect_uri(format!("{PUBLIC}/oauth/aad/redirect"));
    let w = world_as("first", fixed).await;
    let browser = Browser::new();
    let callback = callback_url(&browser, &w.site, "/test").await;
    assert!(callback.starts_with(PUBLIC), "{callback}");
    // A second instance (same session key) whose first discovery fetch takes a second.
    w.tenant.set_fault(Endpoint::Discovery, aad_auth::testing::Fault::Slow(Duration::from_secs(1)));
    let fresh = Site::for_tenant(&w.tenant, Some(w.clock.clone()), fixed).await;
    let on_fresh = callback.replacen(PUBLIC, &fresh.base, 1);
    let page = browser.get(&on_fresh).await;
    w.tenant.clear_fault(Endpoint::Discovery);
    assert_eq!(page.status, 303, "the callback completes on the fresh instance: {page:?}");
    assert_eq!(page.location().as_deref(), Some("/test"));
}

/// `SESSION_SAME_SITE=strict`: the login's own cookie is Lax (it must come back with Entra's
/// redirect), and the callback ends with a page that navigates on by itself, because the Strict
/// session cookie it sets is not sent on the rest of a redirect chain that began on Entra's site.
/// (Chromium runs the same login in `browser.rs`.)
#[actix_web::test]
async fn strict_same_site_logins_end_with_a_same_site_navigation() {
    let strict = |c: aad_auth::config::AadAuthConfigBuilder| {
        let mut session = idle_timeout(Duration::from_secs(3600));
        session.same_site = aad_auth::config::SameSite::Strict;
        c.session(session)
    };
    let w = world_as("first", strict).await;
    assert!(transaction_cookie(&w.site, None).await.contains("samesite=lax"), "the transaction cookie is Lax");

    let browser = Browser::new();
    let callback = callback_url(&browser, &w.site, "/test?tab=2").await;
    let page = browser.get(&callback).await;
    assert_eq!(page.status, 200, "a page, not a redirect: {page:?}");
    let session = page.set_cookies().into_iter().find(|c| c.starts_with("session=")).expect("a session cookie");
    assert!(session.to_ascii_lowercase().contains("samesite=strict"), "{session}");
    assert!(
        page.body.contains(r#"<meta http-equiv="refresh" content="0;url=&#x2f;test?tab=2">"#),
        "the page moves on to the target: {}",
        page.body
    );
    assert_eq!(page.header("referrer-policy").as_deref(), Some("no-referrer"), "the callback URL holds the code");
    // The navigation the page makes carries the session.
    let target = browser.get(&w.site.url("/test?tab=2")).await;
    assert_eq!((target.status, target.json()["source"].as_str()), (200, Some("Session")), "{target:?}");
}
