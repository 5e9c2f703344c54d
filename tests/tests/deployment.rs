//! The deployment suite: the demo (`examples/basic`) deployed as an operator would, with real
//! components started here on 127.0.0.1 (see `aad_auth_tests::deployment`, `tests/src/deployment/`):
//!
//! * the local tenant (`examples/dev_tenant`) over https, accepting the proxied app's redirect
//!   URIs (`DEV_TENANT_REDIRECT_ORIGINS`);
//! * `redis-server` on a TLS port only, with a password and no persistence;
//! * two instances `a` and `b` of the demo on plain http, with one `SESSION_SECRET`,
//!   `SESSION_STORE=rediss://...`, `AAD_REDIRECT_URI` on the proxy's origin (and no
//!   `AAD_TRUSTED_PROXIES`: that URL alone fixes the public origin) and `AAD_CA_FILE` (the
//!   tenant's certificate and the test CA);
//! * nginx terminating TLS at `https://localhost:PORT`, round robin over both instances.
//!
//! The cases: a browser (Chromium) session through the proxy, Swagger UI's PKCE sign-in and the
//! sign-out through the tenant; sessions and bearer tokens on both instances through an
//! instance's death and a Redis outage; `Secure` cookies of a dev-mode instance whose public
//! origin is https; and the public origin behind a proxy that appends to the client's
//! forwarding headers.
//!
//! `./scripts/install-test-deps.sh` installs redis-server, nginx-light, Chromium and
//! playwright-core; `cargo test --workspace` builds the examples first.

#![allow(clippy::expect_used, reason = "a failed set-up step is a failed test")]

use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::json;
use url::Url;

use aad_auth_tests::deployment::browser::scenario;
use aad_auth_tests::deployment::http::{Client, Reply, Seen};
use aad_auth_tests::deployment::nginx::{Forwarding, Nginx, PIN_HEADER, Site, UPSTREAM_HEADER};
use aad_auth_tests::deployment::stack::{
    Instance, Stack, app_env, loopback, run_basic, session_secret, start_tenant, tenant_cert,
};
use aad_auth_tests::deployment::{certs::TestPki, free_port, random_hex};

const USER: &str = "Alice Example";

/// Whether a `Set-Cookie` header carries the attribute `name` (`Secure`, `HttpOnly`).
fn has_attribute(set_cookie: &str, name: &str) -> bool {
    set_cookie
        .split(';')
        .skip(1)
        .any(|part| part.split('=').next().is_some_and(|attribute| attribute.trim().eq_ignore_ascii_case(name)))
}

/// A query parameter of `url`.
fn query_param(url: &str, name: &str) -> Option<String> {
    Url::parse(url).ok()?.query_pairs().find(|(key, _)| key == name).map(|(_, value)| value.into_owned())
}

fn describe(hops: &[Reply]) -> String {
    hops.iter().map(Reply::describe).collect::<Vec<_>>().join("\n---\n")
}

/// Signs `client` in through the proxy (every hop to the app pinned to `pin`, when given):
/// `/oauth/aad/login?redirect=target`, the tenant (auto user), the callback, then `target`.
/// Checks the authorize request's `redirect_uri` and returns every hop.
async fn login(stack: &Stack, client: &Client, pin: Option<&str>, target: &str) -> Vec<Reply> {
    let start = stack.url(&format!("/oauth/aad/login?redirect={}", urlencode(target)));
    let hops = client.follow(&start, pin, 8).await;
    let authorize = hops[0].location().unwrap_or_default();
    assert!(
        authorize.starts_with(&stack.tenant.get("authority_host")),
        "expected /oauth/aad/login to send the browser to the tenant; hops:\n{}",
        describe(&hops)
    );
    assert_eq!(
        query_param(&authorize, "redirect_uri").as_deref(),
        Some(stack.url("/oauth/aad/redirect").as_str()),
        "expected the callback on the proxy's origin (AAD_REDIRECT_URI) in the authorize request {authorize}"
    );
    let last = hops.last().expect("at least one hop");
    assert!(
        last.status == 200 && last.url == stack.url(target),
        "expected the login to end on {target} with 200; hops:\n{}",
        describe(&hops)
    );
    hops
}

fn urlencode(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

/// Asks `pin` for `/hello` with `client`'s session until the answer is not a 503 (the
/// instance's Redis connection is back), within `timeout`; returns that answer.
async fn until_redis_answers(stack: &Stack, client: &Client, pin: &str, timeout: Duration) -> Reply {
    let deadline = Instant::now() + timeout;
    loop {
        let reply = client.get_json(&stack.url("/hello"), Some(pin)).await;
        if reply.status != 503 {
            return reply;
        }
        assert!(
            Instant::now() < deadline,
            "expected instance {pin} to reach Redis again within {timeout:?} of its restart; last answer: {}",
            reply.describe()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The HTTP side of the main deployment, in order: a wrong Redis password at start-up; a login
/// through the unpinned proxy; the session and a bearer token on both instances; instance `a`
/// killed mid-session; Redis stopped (503 with `Retry-After` for the session, bearer and
/// anonymous requests unaffected); Redis and `a` back, new logins on both; logout through the
/// proxy ends the session on both; the Redis password shown nowhere.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_share_sessions_through_an_instance_death_and_a_redis_outage() {
    let started = Instant::now();
    let mut stack = Stack::start();
    eprintln!("deployment: stack up in {:?}", started.elapsed());

    // 1. A wrong Redis password stops an instance at start-up, naming the setting, not the password.
    let wrong = random_hex(24);
    let mut env = stack.env.clone();
    for (name, value) in &mut env {
        if name == "SESSION_STORE" {
            *value = stack.redis.url_with_password(&wrong);
        }
    }
    let refused = run_basic(&env, Duration::from_secs(30));
    assert!(!refused.status.success(), "expected a non-zero exit with a wrong Redis password\n{}", refused.output());
    assert!(
        refused.stderr.contains("SESSION_STORE"),
        "expected the start-up error to name SESSION_STORE\n{}",
        refused.output()
    );
    assert!(
        !refused.output().contains(&wrong) && !refused.output().contains(&stack.redis.password),
        "expected no password in the start-up error\n{}",
        refused.output()
    );
    eprintln!("deployment: step 1 (wrong password refused) done at {:?}", started.elapsed());

    // 2. A login through the unpinned proxy (round robin: the callback may land on the other
    //    instance than the one that started the login).
    let browser = stack.client();
    let hops = login(&stack, &browser, None, "/me").await;
    let me = hops.last().expect("hops");
    assert!(me.body.contains(USER), "expected /me to show {USER}: {}", me.describe());
    let session_cookie = hops
        .iter()
        .find_map(|hop| hop.set_cookie("session"))
        .unwrap_or_else(|| panic!("expected the callback to set the session cookie; hops:\n{}", describe(&hops)));
    assert!(
        has_attribute(&session_cookie, "Secure") && has_attribute(&session_cookie, "HttpOnly"),
        "expected a Secure, HttpOnly session cookie: {session_cookie}"
    );
    let answered_by: Vec<String> = hops.iter().map(|hop| stack.instance_name(hop.upstream_port())).collect();
    eprintln!(
        "deployment: step 2 (login through the proxy, app hops by {answered_by:?}) done at {:?}",
        started.elapsed()
    );

    // 3. The session works on both instances (pinned through the proxy).
    for (name, port) in [("a", stack.a.port), ("b", stack.b.port)] {
        let hello = browser.get_json(&stack.url("/hello"), Some(name)).await;
        assert_eq!(hello.status, 200, "expected /hello with the session on {name} to answer 200: {}", hello.describe());
        assert_eq!(
            hello.json(),
            json!({ "hello": "world" }),
            "expected the greeting from {name}: {}",
            hello.describe()
        );
        assert_eq!(
            hello.upstream_port(),
            Some(port),
            "expected {PIN_HEADER}: {name} to reach instance {name} ({UPSTREAM_HEADER}: {:?})",
            hello.header(UPSTREAM_HEADER)
        );
        let page = browser.get(&stack.url("/me"), Some(name)).await;
        assert!(
            page.status == 200 && page.body.contains(USER),
            "expected /me on {name} to show {USER}: {}",
            page.describe()
        );
    }

    // 4. The session's access token (from /me/token on b) works as a bearer token on both.
    let token_reply = browser.get_json(&stack.url("/me/token"), Some("b")).await;
    assert_eq!(token_reply.status, 200, "expected /me/token on b to answer 200: {}", token_reply.describe());
    let token = token_reply.json()["access_token"]
        .as_str()
        .map(str::to_owned)
        .unwrap_or_else(|| panic!("expected an access_token from /me/token: {}", token_reply.describe()));
    for name in ["a", "b"] {
        let hello = browser.get_bearer(&stack.url("/hello"), &token, Some(name)).await;
        assert_eq!(hello.status, 200, "expected the bearer token to be accepted by {name}: {}", hello.describe());
        let api = browser.get_bearer(&stack.url("/test_auth_decorator?name=deployment"), &token, Some(name)).await;
        assert_eq!(
            (api.status, api.json()["caller"].clone()),
            (200, json!(USER)),
            "expected the bearer-only route on {name} to name the caller: {}",
            api.describe()
        );
    }
    eprintln!("deployment: steps 3-4 (session and bearer on both) done at {:?}", started.elapsed());

    // 5. Instance a dies mid-session: b carries on through the unpinned proxy.
    stack.a.kill();
    for attempt in 1..=4 {
        let hello = browser.get_json(&stack.url("/hello"), None).await;
        assert_eq!(
            hello.status,
            200,
            "expected request {attempt} after a's death to be answered (by b): {}",
            hello.describe()
        );
        assert_eq!(hello.upstream_port(), Some(stack.b.port), "expected b to answer: {}", hello.describe());
    }
    let on_dead = browser.get_json(&stack.url("/hello"), Some("a")).await;
    assert_eq!(on_dead.status, 502, "expected a request pinned to the dead a to fail at nginx: {}", on_dead.describe());
    eprintln!("deployment: step 5 (a killed, b carries on) done at {:?}", started.elapsed());

    // 6. Redis stops: what needs the session says 503 with Retry-After; bearer tokens and
    //    anonymous pages are unaffected.
    stack.redis.stop();
    let hello = browser.get_json(&stack.url("/hello"), None).await;
    assert!(
        hello.status == 503 && hello.header("retry-after").is_some(),
        "expected /hello with the session to answer 503 with Retry-After while Redis is down: {}",
        hello.describe()
    );
    assert_eq!(
        hello.json()["error"],
        "temporarily_unavailable",
        "expected a JSON error temporarily_unavailable for an API client: {}",
        hello.describe()
    );
    let page = browser.get(&stack.url("/me"), None).await;
    assert!(
        page.status == 503 && page.header("retry-after").is_some(),
        "expected /me with the session to answer 503 with Retry-After while Redis is down: {}",
        page.describe()
    );
    let bearer = browser.get_bearer(&stack.url("/hello"), &token, None).await;
    assert_eq!(bearer.status, 200, "expected a bearer request to work while Redis is down: {}", bearer.describe());
    for path in ["/", "/openapi.json"] {
        let anonymous = browser.get_anonymous(&stack.url(path), None).await;
        assert_eq!(
            anonymous.status,
            200,
            "expected {path} without a cookie to work while Redis is down: {}",
            anonymous.describe()
        );
    }
    eprintln!("deployment: step 6 (Redis down) done at {:?}", started.elapsed());

    // 7. Redis comes back (empty) and a is restarted: the old session went with Redis's data, and
    //    a new login works on both instances, wherever it started.
    stack.redis.restart();
    stack.a.restart();
    let old = until_redis_answers(&stack, &browser, "b", Duration::from_secs(15)).await;
    assert_eq!(old.status, 401, "expected the session from before Redis's restart to be gone: {}", old.describe());
    let mut last_client = None;
    for (login_on, check_on) in [("a", "b"), ("b", "a")] {
        let client = stack.client();
        let hops = login(&stack, &client, Some(login_on), "/me").await;
        let ports: Vec<Option<u16>> =
            hops.iter().filter(|hop| hop.url.starts_with(&stack.origin)).map(Reply::upstream_port).collect();
        let expected = if login_on == "a" { stack.a.port } else { stack.b.port };
        assert!(
            ports.iter().all(|port| *port == Some(expected)),
            "expected every app hop of the login pinned to {login_on} to reach it: {ports:?}"
        );
        let hello = client.get_json(&stack.url("/hello"), Some(check_on)).await;
        assert_eq!(
            hello.status,
            200,
            "expected a login on {login_on} after Redis's restart to work on {check_on}: {}",
            hello.describe()
        );
        last_client = Some(client);
    }
    let client = last_client.expect("a signed-in client");
    eprintln!("deployment: step 7 (Redis back, new logins on both) done at {:?}", started.elapsed());

    // 8. Logout through the proxy (the browser's Origin is the proxy's): the tenant's end-session
    //    page, back to the app's /login, and the session is over on both instances.
    let cookie_before = client.cookie_header(&stack.url("/")).expect("the session cookie");
    let out = client
        .send(client.request(Method::POST, &stack.url("/logout")).header("origin", &stack.origin), Some("a"))
        .await;
    assert_eq!(
        out.status,
        303,
        "expected POST /logout with Origin {} to be accepted: {}",
        stack.origin,
        out.describe()
    );
    let end_session = out.location().unwrap_or_default();
    assert!(
        end_session.starts_with(&stack.tenant.get("authority_host")),
        "expected the logout to continue at the tenant's end-session endpoint: {end_session}"
    );
    assert_eq!(
        query_param(&end_session, "post_logout_redirect_uri").as_deref(),
        Some(stack.url("/login").as_str()),
        "expected post_logout_redirect_uri on the proxy's origin in {end_session}"
    );
    let back = client.follow(&end_session, None, 4).await;
    let landed = back.last().expect("hops");
    assert!(
        landed.status == 200 && landed.url == stack.url("/login"),
        "expected the tenant to send the browser back to {}: \n{}",
        stack.url("/login"),
        describe(&back)
    );
    for name in ["a", "b"] {
        let hello = client.get_json(&stack.url("/hello"), Some(name)).await;
        assert_eq!(hello.status, 401, "expected the session to be over on {name} after logout: {}", hello.describe());
        let replay = client
            .send(client.request(Method::GET, &stack.url("/hello")).header("cookie", &cookie_before), Some(name))
            .await;
        assert_eq!(replay.status, 401, "expected the pre-logout cookie to be refused by {name}: {}", replay.describe());
        let page = client.get(&stack.url("/me"), Some(name)).await;
        assert_eq!(
            page.location().as_deref(),
            Some(stack.url("/login?redirect=%2Fme").as_str()),
            "expected /me on {name} to send the browser to the login page after logout: {}",
            page.describe()
        );
    }
    eprintln!("deployment: step 8 (logout on both) done at {:?}", started.elapsed());

    // 9. The Redis password: in no log line of any process and in no answer.
    stack.assert_password_never_shown(&[]);
    eprintln!("deployment: HTTP flow passed in {:?}", started.elapsed());
}

/// A browser through the proxy: sign in, the user page and its token, `/hello` with the
/// session, Swagger UI's Authorize (PKCE) and "Try it out" on `/hello`, sign out through the
/// tenant and back to `/login`, then `/me` sends the browser to the login page on both
/// instances (`tests/e2e/deployment.mjs`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_browser_signs_in_through_the_proxy_uses_swagger_and_signs_out_on_both_instances() {
    let started = Instant::now();
    let stack = Stack::start();
    let logs = || stack.logs().iter().map(|(name, text)| format!("--- {name}\n{text}\n")).collect::<String>();
    let (result, finished) = scenario(
        "deployment.mjs",
        &[
            ("BASE_URL", stack.origin.clone()),
            ("TENANT_URL", stack.tenant.get("authority_host")),
            ("PIN_HEADER", PIN_HEADER.to_owned()),
            ("UPSTREAM_HEADER", UPSTREAM_HEADER.to_owned()),
        ],
        logs,
    );
    assert_eq!(result["ok"], true, "expected the scenario to pass: {result}");
    assert_eq!(result["user"], USER, "expected the browser signed in as {USER}: {result}");
    assert_eq!(result["after_logout"], stack.url("/login"), "expected sign-out to end on the app's /login: {result}");
    for name in ["a", "b"] {
        assert_eq!(
            result["me_after_logout"][name],
            stack.url("/login?redirect=%2Fme"),
            "expected /me on {name} to go to the login page after sign-out: {result}"
        );
    }
    for (name, port) in [("a", stack.a.port), ("b", stack.b.port)] {
        assert_eq!(
            result["me_upstream"][name],
            json!(port),
            "expected the /me pinned to {name} answered by {name} (port {port}): {result}"
        );
    }
    assert_eq!(
        result["swagger"],
        json!({ "status": 200, "body": { "hello": "world" } }),
        "expected Swagger UI's Try it out on /hello to answer 200: {result}"
    );
    // Round robin without stickiness: both instances served the browser.
    let served: Vec<u64> = result["upstream_ports"]
        .as_array()
        .map(|ports| ports.iter().filter_map(|p| p.as_u64()).collect())
        .unwrap_or_default();
    for (name, port) in [("a", stack.a.port), ("b", stack.b.port)] {
        assert!(
            served.contains(&u64::from(port)),
            "expected instance {name} (port {port}) to have served the browser: {result}"
        );
    }
    stack.assert_password_never_shown(&[("deployment.mjs", &finished.output())]);
    eprintln!("deployment: browser flow passed in {:?}", started.elapsed());
}

/// A dev-mode instance (`AUTH_DEV_MODE=true`) whose public origin is https and not loopback
/// (`AAD_PUBLIC_BASE_URL=https://app.test:PORT`, nginx with `server_name app.test`) keeps
/// `Secure` on its login transaction cookie and its session cookie. A dev-mode instance reached
/// directly over http on 127.0.0.1 drops it (the control).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dev_mode_instance_with_an_https_public_origin_sets_secure_cookies() {
    let pki = TestPki::new();
    let port = free_port();
    let origin = format!("https://app.test:{port}");
    let tenant = start_tenant(std::slice::from_ref(&origin));
    let tenant_pem = tenant_cert(&tenant);
    let bundle = pki.bundle_with(&[&tenant_pem]);
    let mut env = app_env(&tenant, &bundle);
    env.push(("AUTH_DEV_MODE".into(), "true".into()));
    env.push(("SESSION_SECRET".into(), session_secret()));
    let control = Instance::start("control", env.clone());
    env.push(("AAD_PUBLIC_BASE_URL".into(), origin.clone()));
    let dev = Instance::start("dev", env);
    let _nginx = Nginx::start(
        &pki,
        vec![Site {
            port,
            server_name: "app.test".into(),
            backends: vec![("dev".into(), dev.port)],
            forwarding: Forwarding::Replace,
        }],
    );
    let seen = Seen::default();
    let client =
        Client::new(&[&pki.ca_pem, &tenant_pem], &[("app.test", loopback(port))], std::slice::from_ref(&origin), &seen);
    let logs = || format!("--- dev\n{}\n--- dev_tenant\n{}", dev.logs(), tenant.process.stderr());

    let hops = client.follow(&format!("{origin}/oauth/aad/login?redirect=%2F"), None, 8).await;
    let transaction = hops[0].set_cookie("session_login").unwrap_or_else(|| {
        panic!("expected /oauth/aad/login to set the transaction cookie session_login: {}\n{}", describe(&hops), logs())
    });
    assert!(
        has_attribute(&transaction, "Secure"),
        "expected the transaction cookie with Secure on an https public origin: {transaction}"
    );
    assert_eq!(
        query_param(&hops[0].location().unwrap_or_default(), "redirect_uri").as_deref(),
        Some(format!("{origin}/oauth/aad/redirect").as_str()),
        "expected the callback on AAD_PUBLIC_BASE_URL: {}",
        hops[0].describe()
    );
    let last = hops.last().expect("hops");
    assert!(
        last.status == 200 && last.body.contains(USER),
        "expected the login through app.test to end signed in on /: \n{}\n{}",
        describe(&hops),
        logs()
    );
    let from_app: Vec<&Reply> = hops.iter().filter(|hop| hop.url.starts_with(&origin)).collect();
    let session = from_app
        .iter()
        .find_map(|hop| hop.set_cookie("session"))
        .unwrap_or_else(|| panic!("expected the callback to set the session cookie: {}", describe(&hops)));
    assert!(
        has_attribute(&session, "Secure"),
        "expected the session cookie with Secure on an https public origin: {session}"
    );
    for cookie in from_app.iter().flat_map(|hop| hop.set_cookies()) {
        assert!(has_attribute(&cookie, "Secure"), "expected every cookie of the https origin with Secure: {cookie}");
    }

    // The control: dev mode on an http loopback origin drops Secure (so the check above means something).
    let direct = client.get(&format!("{}/oauth/aad/login", control.direct_url()), None).await;
    let plain = direct
        .set_cookie("session_login")
        .unwrap_or_else(|| panic!("expected the control instance to set session_login: {}", direct.describe()));
    assert!(!has_attribute(&plain, "Secure"), "expected no Secure in dev mode on http://127.0.0.1: {plain}");
}

/// An instance without `AAD_REDIRECT_URI`/`AAD_PUBLIC_BASE_URL` takes its public origin from the
/// request, behind nginx configured to append to the client's forwarding headers: the client's
/// `X-Forwarded-Host: evil.example` / `Forwarded: host=evil.example` stay first in the lists,
/// and the app must use the element the proxy (the nearest trusted one) appended.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_public_origin_is_the_nearest_proxys_value_not_the_clients() {
    let pki = TestPki::new();
    let tenant = start_tenant(&[]);
    let tenant_pem = tenant_cert(&tenant);
    let bundle = pki.bundle_with(&[&tenant_pem]);
    let mut env = app_env(&tenant, &bundle);
    env.push(("SESSION_SECRET".into(), session_secret()));
    env.push(("AAD_TRUSTED_PROXIES".into(), "127.0.0.1".into()));
    let app = Instance::start("e", env);
    let sites: Vec<Site> = [Forwarding::AppendXForwarded, Forwarding::AppendForwarded]
        .into_iter()
        .map(|forwarding| Site {
            port: free_port(),
            server_name: "localhost".into(),
            backends: vec![("e".into(), app.port)],
            forwarding,
        })
        .collect();
    let nginx = Nginx::start(&pki, sites.clone());
    let seen = Seen::default();
    let origins: Vec<String> = sites.iter().map(Site::origin).collect();
    let client = Client::new(&[&pki.ca_pem, &tenant_pem], &[], &origins, &seen);

    let mut failures = Vec::new();
    for site in &sites {
        let spoofed: [(&str, &[(&str, &str)]); 4] = [
            ("nothing", &[]),
            ("X-Forwarded-Host", &[("x-forwarded-host", "evil.example"), ("x-forwarded-proto", "http")]),
            ("Forwarded", &[("forwarded", "proto=http;host=evil.example")]),
            (
                "both",
                &[
                    ("x-forwarded-host", "evil.example"),
                    ("x-forwarded-proto", "http"),
                    ("forwarded", "for=192.0.2.1;proto=http;host=\"evil.example:443\""),
                ],
            ),
        ];
        for (label, headers) in spoofed {
            let mut request = client.request(Method::GET, &format!("{}/oauth/aad/login", site.origin()));
            for (name, value) in headers {
                request = request.header(*name, *value);
            }
            let reply = client.send(request, None).await;
            let location = reply.location().unwrap_or_default();
            let redirect_uri = query_param(&location, "redirect_uri").unwrap_or_default();
            let expected = format!("{}/oauth/aad/redirect", site.origin());
            if reply.status != 302 || redirect_uri != expected || location.contains("evil.example") {
                failures.push(format!(
                    "{:?} proxy, client sent {label}: expected a 302 to the tenant with redirect_uri {expected} \
                     and no evil.example; got {} redirect_uri={redirect_uri:?} Location={location}",
                    site.forwarding, reply.status
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} case(s) failed:\n  {}\n--- instance\n{}\n{}",
        failures.len(),
        failures.join("\n  "),
        app.logs(),
        nginx.logs()
    );
}
