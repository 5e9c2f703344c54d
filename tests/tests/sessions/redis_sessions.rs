//! Two app instances sharing a real Redis: a login on one is a login on both, `/me/token`
//! works on either, and a logout on one ends the session everywhere (S7c with a server-side
//! store); so does the idle timeout (S6).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use aad_auth::config::{SessionConfig, SessionStoreKind};
use std::sync::Arc;
use std::time::Duration;

use aad_auth::testing::{ManualClock, Tenant};
use aad_auth_tests::redis_server::RedisServer;
use aad_auth_tests::site::{Browser, Site};

fn redis_session(url: &str) -> SessionConfig {
    let mut session = SessionConfig::default();
    session.https_only = false;
    session.store = SessionStoreKind::Redis(url::Url::parse(url).unwrap());
    session
}

/// A tenant, one app instance on `redis`, and a browser signed in to it.
async fn signed_in(redis: &RedisServer) -> (Tenant, Site, Browser) {
    let tenant = Tenant::builder().dev_defaults().auto_user("first").start().await;
    let url = redis.url();
    let site = Site::for_tenant(&tenant, None, |c| c.session(redis_session(&url))).await;
    let browser = Browser::new();
    let hops = browser.follow(&site.url("/oauth/aad/login"), 6).await;
    assert_eq!(hops.last().unwrap().status, 200, "{hops:#?}");
    (tenant, site, browser)
}

#[actix_web::test]
async fn login_on_one_instance_is_a_login_on_both_and_logout_ends_both() {
    let redis = RedisServer::start();
    let tenant = Tenant::builder().dev_defaults().auto_user("first").start().await;
    let url = redis.url();
    let a = Site::for_tenant(&tenant, None, |c| c.session(redis_session(&url))).await;
    let b = Site::for_tenant(&tenant, None, |c| c.session(redis_session(&url))).await;
    let browser = Browser::new();

    let hops = browser.follow(&format!("{}?redirect=%2Ftest", a.url("/oauth/aad/login")), 6).await;
    assert_eq!(hops.last().unwrap().status, 200, "{hops:#?}");
    assert!(hops.last().unwrap().url.starts_with(&a.base));

    // Cookies are per host, not per port: the same browser is now signed in on B too.
    let on_b = browser.get(&b.url("/api/session")).await;
    assert_eq!(on_b.status, 200, "{on_b:?}");
    assert_eq!(on_b.json()["name"], "Alice Example");
    let token = browser.get(&b.url("/me/token")).await;
    assert_eq!(token.status, 200, "B reads the tokens A cached: {token:?}");
    let access_token = token.json()["access_token"].as_str().unwrap().to_owned();
    let api = reqwest::Client::new().get(a.url("/api/hello")).bearer_auth(&access_token).send().await.unwrap();
    assert_eq!(api.status().as_u16(), 200);

    // Tokens are encrypted at rest.
    let client = redis::Client::open(url.as_str()).unwrap();
    let mut connection = client.get_multiplexed_async_connection().await.unwrap();
    let keys: Vec<String> = redis::cmd("KEYS").arg("aad-auth:*").query_async(&mut connection).await.unwrap();
    assert!(
        keys.iter().any(|k| k.starts_with("aad-auth:tokens:"))
            && keys.iter().any(|k| k.starts_with("aad-auth:session:")),
        "{keys:?}"
    );
    for key in &keys {
        let value: String = redis::cmd("GET").arg(key).query_async(&mut connection).await.unwrap();
        assert!(!value.contains(&access_token), "{key} holds a plaintext token");
    }

    let pre_logout_cookie = browser.cookies_for(&a.url("/"));
    let out = browser.send(browser.client.post(a.url("/logout"))).await;
    assert_eq!(out.status, 303);
    assert_eq!(browser.get(&b.url("/api/session")).await.status, 401, "logout on A ends the session on B");
    // S7c: replaying the cookie from before the logout no longer resolves.
    let replay = Browser::new()
        .send(reqwest::Client::new().get(b.url("/api/session")).header("cookie", pre_logout_cookie))
        .await;
    assert_eq!(replay.status, 401, "the server-side session is gone");
    let keys: Vec<String> = redis::cmd("KEYS").arg("aad-auth:*").query_async(&mut connection).await.unwrap();
    assert!(keys.is_empty(), "session and tokens deleted from Redis: {keys:?}");
}

#[actix_web::test]
async fn a_restarted_instance_keeps_redis_sessions() {
    let redis = RedisServer::start();
    let tenant = Tenant::builder().dev_defaults().auto_user("first").start().await;
    let url = redis.url();
    let browser = Browser::new();
    {
        let first = Site::for_tenant(&tenant, None, |c| c.session(redis_session(&url))).await;
        let hops = browser.follow(&first.url("/oauth/aad/login"), 6).await;
        assert_eq!(hops.last().unwrap().status, 200);
    }
    let restarted = Site::for_tenant(&tenant, None, |c| c.session(redis_session(&url))).await;
    assert_eq!(browser.get(&restarted.url("/api/session")).await.status, 200);
    assert_eq!(browser.get(&restarted.url("/me/token")).await.status, 200);
}

#[actix_web::test]
async fn the_idle_timeout_counts_uses_on_every_instance() {
    let redis = RedisServer::start();
    let clock = Arc::new(ManualClock::new());
    let tenant = Tenant::builder().dev_defaults().auto_user("first").clock(clock.clone()).start().await;
    let url = redis.url();
    let a = Site::for_tenant(&tenant, Some(clock.clone()), |c| c.session(redis_session(&url))).await;
    let b = Site::for_tenant(&tenant, Some(clock.clone()), |c| c.session(redis_session(&url))).await;
    let browser = Browser::new();
    let hops = browser.follow(&a.url("/oauth/aad/login"), 6).await;
    assert_eq!(hops.last().unwrap().status, 200, "{hops:#?}");

    // Uses alternate between the instances, 25 minutes apart (the timeout is 30): each renews the
    // session for both.
    for site in [&b, &a, &b] {
        clock.advance(Duration::from_secs(25 * 60));
        assert_eq!(browser.get(&site.url("/api/session")).await.status, 200, "used on {}", site.base);
    }
    let client = redis::Client::open(url.as_str()).unwrap();
    let mut connection = client.get_multiplexed_async_connection().await.unwrap();
    let seen: Vec<String> = redis::cmd("KEYS").arg("aad-auth:seen:*").query_async(&mut connection).await.unwrap();
    assert_eq!(seen.len(), 1, "one activity key per session: {seen:?}");

    // 31 minutes unused: ended on both, whichever instance is asked first.
    clock.advance(Duration::from_secs(31 * 60));
    assert_eq!(browser.get(&a.url("/api/session")).await.status, 401, "idle on A");
    assert_eq!(browser.get(&b.url("/api/session")).await.status, 401, "and so on B");
    let keys: Vec<String> = redis::cmd("KEYS").arg("aad-auth:*").query_async(&mut connection).await.unwrap();
    assert!(!keys.iter().any(|k| k.starts_with("aad-auth:seen:") || k.starts_with("aad-auth:tokens:")), "{keys:?}");
}

/// A guard's session read is one Redis round trip: the session's state and its idle clock are
/// read (and the clock renewed) by one script call, on a connection that needs no health-check
/// PING first. Counted by Redis itself: `total_reads_processed` counts the requests that reached
/// it (a pipeline in one write is one), `total_commands_processed` would count the script's
/// own GET and SET too.
#[actix_web::test]
async fn a_session_request_is_one_redis_round_trip() {
    let redis = RedisServer::start();
    let (_tenant, site, browser) = signed_in(&redis).await;
    // The first read loads the script into Redis.
    assert_eq!(browser.get(&site.url("/api/session")).await.status, 200);

    let client = redis::Client::open(redis.url()).unwrap();
    let mut connection = client.get_multiplexed_async_connection().await.unwrap();
    async fn reads_so_far(connection: &mut redis::aio::MultiplexedConnection) -> u64 {
        let info: String = redis::cmd("INFO").arg("stats").query_async(connection).await.unwrap();
        info.lines().find_map(|line| line.strip_prefix("total_reads_processed:")).unwrap().trim().parse().unwrap()
    }
    let before = reads_so_far(&mut connection).await;
    for _ in 0..5 {
        assert_eq!(browser.get(&site.url("/api/session")).await.status, 200);
    }
    let after = reads_so_far(&mut connection).await;
    // `after` counts the first INFO too.
    assert_eq!(after - before - 1, 5, "Redis round trips for 5 session requests");
}

/// A Redis restart between two requests costs no 503: the guards' connection, dropped by the
/// restart, is made again for the next request (the restarted Redis lost the session: 401).
#[actix_web::test]
async fn a_redis_restart_between_requests_is_not_an_outage() {
    let redis = RedisServer::start();
    let port = redis.port;
    let (_tenant, site, browser) = signed_in(&redis).await;
    assert_eq!(browser.get(&site.url("/api/session")).await.status, 200);
    drop(redis);
    let _restarted = RedisServer::start_on(port, &[]);
    assert_eq!(browser.get(&site.url("/api/session")).await.status, 401, "the first request after the restart");
}

/// Redis stopped while running: requests that need the session answer 503 with `Retry-After`
/// (the app's guards and the crate's own routes alike), bearer requests and anonymous pages are
/// unaffected; with Redis back, a new login works. The process never answers 500.
#[actix_web::test]
async fn redis_away_means_503_for_sessions_only_and_recovery_after() {
    let redis = RedisServer::start();
    let port = redis.port;
    let (_tenant, site, browser) = signed_in(&redis).await;
    let token = browser.get(&site.url("/me/token")).await.json()["access_token"].as_str().unwrap().to_owned();

    drop(redis);
    let api = reqwest::Client::new();
    for path in ["/api/session", "/me", "/me/token"] {
        let page = browser.get(&site.url(path)).await;
        assert_eq!(page.status, 503, "{path} with the session cookie: {page:?}");
        assert!(page.header("retry-after").is_some(), "{path}: Retry-After");
        let json = browser.send(browser.client.get(site.url(path)).header("accept", "application/json")).await;
        assert_eq!(
            (json.status, &json.json()["error"]),
            (503, &serde_json::json!("temporarily_unavailable")),
            "{path}"
        );
    }
    let bearer = api.get(site.url("/api/session")).bearer_auth(&token).send().await.unwrap();
    assert_eq!(bearer.status().as_u16(), 200, "bearer requests do not need Redis");
    let anonymous = api.get(site.url("/")).send().await.unwrap();
    assert_eq!(anonymous.status().as_u16(), 200, "anonymous pages do not need Redis");
    // A page without a guard still renders for the session's browser, as a guest.
    let home = browser.get(&site.url("/")).await;
    assert_eq!((home.status, home.body.contains("guest")), (200, true), "{home:?}");

    let _back = RedisServer::start_on(port, &[]);
    // Redis lost its data (no persistence): the old cookie is anonymous now, and a login works.
    assert_eq!(browser.get(&site.url("/api/session")).await.status, 401);
    let again = Browser::new();
    let hops = again.follow(&site.url("/oauth/aad/login"), 6).await;
    assert_eq!(hops.last().unwrap().status, 200, "a new login once Redis is back: {hops:#?}");
    assert_eq!(again.get(&site.url("/api/session")).await.status, 200);
}

/// A wrong Redis password refuses to start, naming `SESSION_STORE` and not the password; the
/// right one starts.
#[actix_web::test]
async fn a_wrong_redis_password_refuses_to_start_without_printing_it() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let _redis = RedisServer::start_on(port, &["--requirepass", "right-pa55word"]);
    let tenant = Tenant::builder().dev_defaults().start().await;
    let with = |password: &str| {
        aad_auth_tests::site::login_config(tenant.api_config())
            .session(redis_session(&format!("redis://:{password}@127.0.0.1:{port}/0")))
            .build()
            .unwrap()
    };
    let error = aad_auth::AadAuth::new(with("wrong-pa55word")).expect_err("a wrong password must not start");
    let message = format!("{error} {error:?}");
    assert!(message.contains("SESSION_STORE"), "{message}");
    assert!(!message.contains("wrong-pa55word") && !message.contains("right-pa55word"), "{message}");
    let auth = aad_auth::AadAuth::new(with("right-pa55word")).expect("the right password starts");
    let debug = format!("{auth:?} {:?}", auth.config());
    assert!(!debug.contains("right-pa55word"), "{debug}");
}
