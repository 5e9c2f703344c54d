//! What the login does with the token endpoint's answer, against a provider whose token
//! endpoint answers exactly what the test says: `docs/security.md` L7, L8, L10, L13, L14, L15
//! and L21.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::sync::Arc;

use aad_auth::AadAuthConfig;
use aad_auth::testing::{SigningAlg, Tenant, TestKey, random_guid};
use aad_auth_tests::mock_idp::MockIdp;
use aad_auth_tests::site::{Browser, Page, Site, login_config};
use serde_json::{Value, json};

struct Rig {
    idp: MockIdp,
    minter: Tenant,
    key: Arc<TestKey>,
    tid: String,
    site: Site,
    secret: String,
}

impl Rig {
    async fn start() -> Self {
        let tid = random_guid();
        let idp = MockIdp::start(&tid).await;
        let key = Arc::new(TestKey::generate("login-key"));
        idp.set_jwks(vec![key.jwk(None)]);
        let minter = Tenant::start().await;
        let secret = "mock-client-secret".to_owned();
        let config: AadAuthConfig = login_config(
            AadAuthConfig::builder(minter.api_app().client_id, &tid).authority_host(&idp.base).client_secret(&secret),
        )
        .build()
        .unwrap();
        let site = Site::start(config, None).await;
        Self { idp, minter, key, tid, site, secret }
    }

    fn issuer(&self) -> String {
        format!("{}/{}/v2.0", self.idp.base, self.tid)
    }

    /// A valid id_token for this login.
    fn id_token(&self, nonce: &str) -> aad_auth::testing::TokenBuilder {
        self.minter
            .token()
            .member()
            .id_token()
            .claim("iss", json!(self.issuer()))
            .claim("tid", json!(self.tid))
            .claim("nonce", json!(nonce))
            .signed_with(self.key.clone())
    }

    fn token_response(&self, id_token: Option<String>) -> Value {
        let mut body = json!({
            "token_type": "Bearer",
            "scope": "openid profile offline_access",
            "expires_in": 3599,
            "access_token": "an-access-token",
            "refresh_token": "a-refresh-token",
        });
        if let Some(id_token) = id_token {
            body["id_token"] = json!(id_token);
        }
        body
    }

    /// Starts a login and returns (state, nonce, authorize redirect_uri, code_challenge).
    async fn begin(&self, browser: &Browser) -> (String, String, String) {
        let page = browser.get(&self.site.url("/oauth/aad/login")).await;
        assert_eq!(page.status, 302, "{page:?}");
        (
            page.location_param("state").unwrap(),
            page.location_param("nonce").unwrap(),
            page.location_param("redirect_uri").unwrap(),
        )
    }

    async fn callback(&self, browser: &Browser, query: &str) -> Page {
        browser.get(&format!("{}?{query}", self.site.url("/oauth/aad/redirect"))).await
    }

    async fn signed_in(&self, browser: &Browser) -> bool {
        browser.get(&self.site.url("/api/session")).await.status == 200
    }
}

#[actix_web::test]
async fn l21_the_code_exchange_sends_the_same_redirect_uri_and_the_verifier() {
    let rig = Rig::start().await;
    let browser = Browser::new();
    let (state, nonce, redirect_uri) = rig.begin(&browser).await;
    rig.idp.set_token_response(200, rig.token_response(Some(rig.id_token(&nonce).sign())).to_string());
    let page = rig.callback(&browser, &format!("code=the-code&state={state}")).await;
    assert_eq!(page.status, 303, "{page:?}");
    assert!(rig.signed_in(&browser).await);
    let request = rig.idp.token_requests().pop().unwrap();
    let form: Vec<(String, String)> = url::form_urlencoded::parse(request.as_bytes()).into_owned().collect();
    let field = |name: &str| form.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
    assert_eq!(field("grant_type").as_deref(), Some("authorization_code"));
    assert_eq!(field("code").as_deref(), Some("the-code"));
    assert_eq!(field("redirect_uri"), Some(redirect_uri), "L21: byte-identical redirect_uri");
    assert!(field("code_verifier").is_some_and(|v| v.len() >= 43), "PKCE verifier sent");
    assert_eq!(field("client_secret"), Some(rig.secret.clone()), "confidential client authenticates");
}

#[actix_web::test]
async fn l07_l08_l10_bad_id_tokens_create_no_session() {
    let rig = Rig::start().await;
    let other_key = Arc::new(TestKey::generate("login-key"));
    type MakeIdToken = Box<dyn Fn(&Rig, &str) -> Option<String>>;
    let cases: Vec<(&str, MakeIdToken)> = vec![
        ("L7 nonce differs", Box::new(|r: &Rig, _n: &str| Some(r.id_token("another-nonce").sign()))),
        ("L8 nonce missing", Box::new(|r: &Rig, n: &str| Some(r.id_token(n).without_claim("nonce").sign()))),
        (
            "L10 bad signature",
            Box::new(move |r: &Rig, n: &str| Some(r.id_token(n).signed_with(other_key.clone()).sign())),
        ),
        (
            "L10 wrong issuer",
            Box::new(|r: &Rig, n: &str| Some(r.id_token(n).claim("iss", json!("https://evil.example/v2.0")).sign())),
        ),
        ("L10 wrong audience", Box::new(|r: &Rig, n: &str| Some(r.id_token(n).audience(json!(random_guid())).sign()))),
        (
            "L10 several audiences, no azp",
            Box::new(|r: &Rig, n: &str| {
                let ours = r.minter.api_app().client_id;
                Some(r.id_token(n).audience(json!([ours, random_guid()])).sign())
            }),
        ),
        ("L10 expired", Box::new(|r: &Rig, n: &str| Some(r.id_token(n).expired().sign()))),
        ("L10 iat missing", Box::new(|r: &Rig, n: &str| Some(r.id_token(n).without_claim("iat").sign()))),
        (
            "B18c iat a week ago",
            Box::new(|r: &Rig, n: &str| {
                let now = r.id_token(n).claims()["iat"].as_i64().unwrap();
                Some(r.id_token(n).times(now - 7 * 86_400, now - 7 * 86_400, now + 3600).sign())
            }),
        ),
        ("L10 sub missing", Box::new(|r: &Rig, n: &str| Some(r.id_token(n).without_claim("sub").sign()))),
        ("L10 alg none", Box::new(|r: &Rig, n: &str| Some(r.id_token(n).alg(SigningAlg::Unsigned).sign()))),
        (
            "L10 HS256 keyed with the client secret",
            Box::new(|r: &Rig, n: &str| {
                Some(r.id_token(n).alg(SigningAlg::Hs256(r.secret.as_bytes().to_vec())).sign())
            }),
        ),
        (
            "L10 unknown kid",
            Box::new(|r: &Rig, n: &str| Some(r.id_token(n).header("kid", json!("no-such-key")).sign())),
        ),
        ("L14 no id_token in the response", Box::new(|_: &Rig, _: &str| None)),
    ];
    let mut failures = Vec::new();
    for (name, make) in &cases {
        let browser = Browser::new();
        let (state, nonce, _) = rig.begin(&browser).await;
        rig.idp.set_token_response(200, rig.token_response(make(&rig, &nonce)).to_string());
        let page = rig.callback(&browser, &format!("code=c&state={state}")).await;
        if !(page.status == 400 || page.status == 502) {
            failures.push(format!("{name}: status {}", page.status));
        }
        if rig.signed_in(&browser).await {
            failures.push(format!("{name}: a session was created"));
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

#[actix_web::test]
async fn l14_l15_token_endpoint_answers() {
    let rig = Rig::start().await;
    let cases: Vec<(&str, u16, String, u16)> = vec![
        (
            "L14 invalid_grant",
            400,
            json!({"error": "invalid_grant", "error_description": "AADSTS70008: expired"}).to_string(),
            400,
        ),
        ("L14 server error", 500, "{}".into(), 502),
        ("L14 not JSON", 200, "<html>oops</html>".into(), 502),
        ("L14 1 MiB body", 200, format!("{{\"pad\": \"{}\"}}", "A".repeat(1024 * 1024)), 502),
    ];
    let mut failures = Vec::new();
    for (name, status, body, expected) in cases {
        let browser = Browser::new();
        let (state, _, _) = rig.begin(&browser).await;
        rig.idp.set_token_response(status, body);
        let page = rig.callback(&browser, &format!("code=c&state={state}")).await;
        if page.status != expected {
            failures.push(format!("{name}: {} (expected {expected})", page.status));
        }
        if page.body.contains("AADSTS70008") {
            failures.push(format!("{name}: the provider's error text was shown"));
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
    // L15: a lowercase token_type and no expires_in are fine.
    let browser = Browser::new();
    let (state, nonce, _) = rig.begin(&browser).await;
    let mut body = rig.token_response(Some(rig.id_token(&nonce).sign()));
    body["token_type"] = json!("bearer");
    body.as_object_mut().unwrap().remove("expires_in");
    rig.idp.set_token_response(200, body.to_string());
    assert_eq!(rig.callback(&browser, &format!("code=c&state={state}")).await.status, 303, "L15");
}

#[actix_web::test]
async fn l13_an_iss_parameter_must_name_the_expected_issuer() {
    let rig = Rig::start().await;
    let browser = Browser::new();
    let (state, nonce, _) = rig.begin(&browser).await;
    let before = rig.idp.token_requests().len();
    let page = rig.callback(&browser, &format!("code=c&state={state}&iss=https%3A%2F%2Fevil.example%2Fv2.0")).await;
    assert_eq!(page.status, 400);
    assert_eq!(rig.idp.token_requests().len(), before, "L13a: the token endpoint is not called");
    let browser = Browser::new();
    let (state, nonce2, _) = rig.begin(&browser).await;
    let _ = nonce;
    rig.idp.set_token_response(200, rig.token_response(Some(rig.id_token(&nonce2).sign())).to_string());
    let iss: String = url::form_urlencoded::byte_serialize(rig.issuer().as_bytes()).collect();
    assert_eq!(rig.callback(&browser, &format!("code=c&state={state}&iss={iss}")).await.status, 303, "the right iss");
}

#[actix_web::test]
async fn d12_oversized_callback_parameters_are_refused() {
    let rig = Rig::start().await;
    let browser = Browser::new();
    let (state, _, _) = rig.begin(&browser).await;
    // 10 KB: the largest the HTTP client sends in a URL is far below 100 KB, and the cap is 4 KB.
    let page = rig.callback(&browser, &format!("code={}&state={state}", "c".repeat(10_000))).await;
    assert!(page.status == 400 || page.status == 414 || page.status == 431, "{}", page.status);
    assert!(rig.idp.token_requests().is_empty());
}

#[actix_web::test]
async fn d13_login_floods_store_nothing_server_side() {
    let rig = Rig::start().await;
    let browser = Browser::new();
    for _ in 0..200 {
        let page = browser.get(&rig.site.url("/oauth/aad/login")).await;
        assert_eq!(page.status, 302);
    }
    let cookie = browser.cookies_for(&rig.site.url("/oauth/aad/redirect"));
    assert!(cookie.len() < 4096, "the transaction cookie is capped: {} bytes", cookie.len());
}
