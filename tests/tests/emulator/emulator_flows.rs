//! The local tenant's OAuth endpoints, driven by real clients: the `openidconnect` crate for
//! the authorization code flow, raw HTTP for everything a client library would hide (error
//! shapes, CORS, reuse of codes and refresh tokens), and the crate's own validator for every
//! access token issued.

#![allow(clippy::expect_used, reason = "a failed set-up step is a failed test")]

use std::sync::Arc;
use std::time::Duration;

use aad_auth::testing::{AppRegistration, Endpoint, ManualClock, Tenant};
use aad_auth::{AadAuth, AadAuthConfig};
use base64::Engine as _;
use openidconnect::core::{CoreAuthenticationFlow, CoreClient, CoreProviderMetadata};
use openidconnect::{
    AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl, Nonce, OAuth2TokenResponse, PkceCodeChallenge,
    RedirectUrl, Scope, TokenResponse,
};
use reqwest::StatusCode;
use serde_json::Value;
use url::Url;

/// A web redirect URI the default registration accepts (any loopback port).
pub(crate) const REDIRECT: &str = "http://127.0.0.1:8123/oauth/aad/redirect";
/// A single-page-app redirect URI of the default registration.
const SPA_REDIRECT: &str = "http://127.0.0.1:8123/docs/oauth2-redirect";
const SPA_ORIGIN: &str = "http://127.0.0.1:8123";

pub(crate) fn http() -> reqwest::Client {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).no_proxy().build().expect("http client")
}

pub(crate) fn payload(token: &str) -> Value {
    let part = token.split('.').nth(1).expect("a JWT has a payload");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(part).expect("base64url payload");
    serde_json::from_slice(&bytes).expect("JSON payload")
}

pub(crate) fn query(url: &Url, name: &str) -> Option<String> {
    url.query_pairs().find(|(key, _)| key == name).map(|(_, value)| value.into_owned())
}

pub(crate) struct Pkce {
    challenge: String,
    verifier: String,
}

fn pkce() -> Pkce {
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    Pkce { challenge: challenge.as_str().to_owned(), verifier: verifier.secret().clone() }
}

pub(crate) fn authorize_url(tenant: &Tenant, pairs: &[(&str, &str)]) -> Url {
    let mut url = Url::parse(&format!("{}/oauth2/v2.0/authorize", tenant.authority())).expect("authorize URL");
    url.query_pairs_mut().extend_pairs(pairs);
    url
}

/// Follows the authorize endpoint's redirect (auto user) and returns where it points.
pub(crate) async fn authorize_redirect(http: &reqwest::Client, url: Url) -> Url {
    let response = http.get(url).send().await.expect("authorize request");
    assert_eq!(response.status(), StatusCode::FOUND, "authorize should redirect");
    let location = response.headers().get("location").expect("Location header").to_str().expect("ASCII location");
    Url::parse(location).expect("absolute Location")
}

/// An authorization code for the API app, through the auto user.
pub(crate) async fn code_for(
    tenant: &Tenant,
    http: &reqwest::Client,
    redirect: &str,
    pkce: Option<&Pkce>,
    scope: &str,
) -> String {
    let client_id = tenant.api_app().client_id;
    let mut pairs = vec![
        ("client_id", client_id.as_str()),
        ("response_type", "code"),
        ("redirect_uri", redirect),
        ("scope", scope),
        ("state", "state-1"),
    ];
    if let Some(pkce) = pkce {
        pairs.push(("code_challenge", &pkce.challenge));
        pairs.push(("code_challenge_method", "S256"));
    }
    let location = authorize_redirect(http, authorize_url(tenant, &pairs)).await;
    assert!(location.as_str().starts_with(redirect), "redirected to {location}");
    assert_eq!(query(&location, "state").as_deref(), Some("state-1"));
    assert_eq!(query(&location, "error"), None, "authorize failed: {location}");
    query(&location, "code").expect("a code")
}

pub(crate) async fn post_token(
    http: &reqwest::Client,
    tenant: &Tenant,
    form: &[(&str, &str)],
    basic: Option<(&str, &str)>,
) -> (StatusCode, Value) {
    let mut request = http.post(format!("{}/oauth2/v2.0/token", tenant.authority())).form(form);
    if let Some((user, password)) = basic {
        request = request.basic_auth(user, Some(password));
    }
    let response = request.send().await.expect("token request");
    let status = response.status();
    (status, response.json().await.expect("JSON token reply"))
}

fn api_auth(tenant: &Tenant) -> AadAuth {
    AadAuth::bearer_only(tenant.api_config().build().expect("API config")).expect("bearer-only auth")
}

pub(crate) fn assert_entra_error(status: StatusCode, body: &Value, expected_status: StatusCode, error: &str) {
    assert_eq!(status, expected_status, "{body}");
    assert_eq!(body["error"], error, "{body}");
    let description = body["error_description"].as_str().expect("error_description");
    assert!(description.starts_with("AADSTS"), "{description}");
    assert!(body["error_codes"].as_array().is_some_and(|codes| !codes.is_empty()), "{body}");
    assert!(body["trace_id"].is_string() && body["correlation_id"].is_string(), "{body}");
}

#[tokio::test]
async fn authorization_code_pkce_nonce_with_openidconnect() {
    let tenant = Tenant::builder().auto_user("first").start().await;
    let http = http();
    let api = tenant.api_app();
    let metadata = CoreProviderMetadata::discover_async(IssuerUrl::new(tenant.issuer()).expect("issuer"), &http)
        .await
        .expect("openidconnect discovery of the tenant");
    let client = CoreClient::from_provider_metadata(
        metadata,
        ClientId::new(api.client_id.clone()),
        Some(ClientSecret::new(api.client_secret.clone().expect("API secret"))),
    )
    .set_redirect_uri(RedirectUrl::new(REDIRECT.into()).expect("redirect URL"));

    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, csrf, nonce) = client
        .authorize_url(CoreAuthenticationFlow::AuthorizationCode, CsrfToken::new_random, Nonce::new_random)
        .add_scope(Scope::new(format!("{}/.default", api.client_id)))
        .add_scope(Scope::new("offline_access".into()))
        .set_pkce_challenge(challenge)
        .url();
    let location = authorize_redirect(&http, url).await;
    assert_eq!(query(&location, "state").as_deref(), Some(csrf.secret().as_str()));
    let code = query(&location, "code").expect("code");

    // openidconnect authenticates with HTTP Basic by default.
    let response = client
        .exchange_code(AuthorizationCode::new(code))
        .expect("token endpoint discovered")
        .set_pkce_verifier(verifier)
        .request_async(&http)
        .await
        .expect("code exchange");
    let id_token = response.id_token().expect("an id_token (openid was requested)");
    let claims = id_token.claims(&client.id_token_verifier(), &nonce).expect("id_token verifies");
    let alice = &tenant.users()[0];
    assert_eq!(claims.preferred_username().map(|u| u.as_str()), Some(alice.username.as_str()));
    assert_eq!(claims.nonce().map(Nonce::secret), Some(nonce.secret()));
    assert!(response.refresh_token().is_some(), "offline_access was requested");

    let verified = api_auth(&tenant).validate_bearer(response.access_token().secret()).await.expect("valid token");
    let user = verified.user();
    assert_eq!(user.oid, alice.oid);
    assert_eq!(user.username.as_deref(), Some(alice.username.as_str()));
    assert!(user.scopes.iter().any(|s| s == "user_impersonation"), "{:?}", user.scopes);
    assert!(user.roles.iter().any(|r| r == "Admin"), "{:?}", user.roles);
    assert!(!user.is_app);
    assert_eq!(user.app_id.as_deref(), Some(api.client_id.as_str()));

    // The refresh token works through openidconnect too.
    let refreshed = client
        .exchange_refresh_token(response.refresh_token().expect("refresh token"))
        .expect("token endpoint")
        .request_async(&http)
        .await
        .expect("refresh");
    assert_ne!(refreshed.access_token().secret(), response.access_token().secret());
    assert!(tenant.requests(Endpoint::Authorize) >= 1);
    assert_eq!(tenant.requests(Endpoint::Token), 2);
}

#[tokio::test]
async fn token_reply_has_the_fields_msal_needs() {
    let tenant = Tenant::builder().auto_user("first").start().await;
    let http = http();
    let api = tenant.api_app();
    let secret = api.client_secret.clone().expect("secret");
    let pkce = pkce();
    let scope = format!("{}/.default openid profile offline_access", api.client_id);
    let code = code_for(&tenant, &http, REDIRECT, Some(&pkce), &scope).await;
    // client_secret_post, and the extra parameters msal sends.
    let form = [
        ("grant_type", "authorization_code"),
        ("client_id", api.client_id.as_str()),
        ("client_secret", secret.as_str()),
        ("code", code.as_str()),
        ("redirect_uri", REDIRECT),
        ("code_verifier", pkce.verifier.as_str()),
        ("client_info", "1"),
        ("claims", "{\"access_token\":{\"xms_cc\":{\"values\":[\"CP1\"]}}}"),
    ];
    let (status, body) = post_token(&http, &tenant, &form, None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["token_type"], "Bearer");
    assert!(body["expires_in"].is_u64() && body["ext_expires_in"].is_u64(), "{body}");
    assert_eq!(body["scope"], format!("{}/.default openid profile", api.client_id));
    assert!(body["refresh_token"].is_string());
    let alice = &tenant.users()[0];
    let info = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(body["client_info"].as_str().expect("client_info"))
        .expect("client_info is base64url");
    let info: Value = serde_json::from_slice(&info).expect("client_info is JSON");
    assert_eq!(info, serde_json::json!({ "uid": alice.oid, "utid": tenant.tenant_id() }));
    let id = payload(body["id_token"].as_str().expect("id_token"));
    assert_eq!(id["aud"], api.client_id);
    assert_eq!(id["iss"], tenant.issuer());
    assert_eq!(id["preferred_username"], alice.username);
    assert_eq!(id["oid"], alice.oid);
    assert_eq!(id["tid"], tenant.tenant_id());
    assert_eq!(id["ver"], "2.0");
    assert!(id["sub"].is_string() && id["name"].is_string() && id["iat"].is_i64() && id["exp"].is_i64());
    assert!(id.get("nonce").is_none(), "no nonce was sent");
    assert_eq!(id["roles"], serde_json::json!(alice.roles));
    assert_eq!(id["groups"], serde_json::json!(alice.groups));
    let access = payload(body["access_token"].as_str().expect("access_token"));
    assert_eq!(access["aud"], api.client_id);
    assert_eq!(access["scp"], "user_impersonation");
    assert_eq!(access["azpacr"], "1");
}

#[tokio::test]
async fn authorization_codes_are_single_use_and_bound_to_the_request() {
    let tenant = Tenant::builder().auto_user("first").start().await;
    let http = http();
    let api = tenant.api_app();
    let secret = api.client_secret.clone().expect("secret");
    let basic = Some((api.client_id.as_str(), secret.as_str()));
    let scope = format!("{}/.default", api.client_id);
    let redeem = |code: String, redirect: &'static str, verifier: String| {
        let http = http.clone();
        let tenant = &tenant;
        async move {
            let form = [
                ("grant_type", "authorization_code"),
                ("code", code.as_str()),
                ("redirect_uri", redirect),
                ("code_verifier", verifier.as_str()),
            ];
            post_token(&http, tenant, &form, basic).await
        }
    };

    // Reuse.
    let pkce1 = pkce();
    let code = code_for(&tenant, &http, REDIRECT, Some(&pkce1), &scope).await;
    let (status, body) = redeem(code.clone(), REDIRECT, pkce1.verifier.clone()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = redeem(code, REDIRECT, pkce1.verifier.clone()).await;
    assert_entra_error(status, &body, StatusCode::BAD_REQUEST, "invalid_grant");

    // Wrong verifier.
    let pkce2 = pkce();
    let code = code_for(&tenant, &http, REDIRECT, Some(&pkce2), &scope).await;
    let (status, body) = redeem(code, REDIRECT, pkce1.verifier.clone()).await;
    assert_entra_error(status, &body, StatusCode::BAD_REQUEST, "invalid_grant");

    // Another redirect URI, even one the registration allows (another loopback port).
    let code = code_for(&tenant, &http, REDIRECT, Some(&pkce2), &scope).await;
    let (status, body) = redeem(code, "http://127.0.0.1:8124/oauth/aad/redirect", pkce2.verifier.clone()).await;
    assert_entra_error(status, &body, StatusCode::BAD_REQUEST, "invalid_grant");

    // A verifier is required once a challenge was sent.
    let code = code_for(&tenant, &http, REDIRECT, Some(&pkce2), &scope).await;
    let form = [("grant_type", "authorization_code"), ("code", code.as_str()), ("redirect_uri", REDIRECT)];
    let (status, body) = post_token(&http, &tenant, &form, basic).await;
    assert_entra_error(status, &body, StatusCode::BAD_REQUEST, "invalid_grant");

    // Without PKCE the code works for a web redirect URI, and a stray verifier is refused.
    let code = code_for(&tenant, &http, REDIRECT, None, &scope).await;
    let (status, body) = redeem(code, REDIRECT, pkce2.verifier.clone()).await;
    assert_entra_error(status, &body, StatusCode::BAD_REQUEST, "invalid_grant");
    let code = code_for(&tenant, &http, REDIRECT, None, &scope).await;
    let form = [("grant_type", "authorization_code"), ("code", code.as_str()), ("redirect_uri", REDIRECT)];
    let (status, body) = post_token(&http, &tenant, &form, basic).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // Garbage.
    let (status, body) = redeem("not-a-code".into(), REDIRECT, pkce2.verifier.clone()).await;
    assert_entra_error(status, &body, StatusCode::BAD_REQUEST, "invalid_grant");
}

#[tokio::test]
async fn expired_code_is_invalid_grant() {
    let clock = Arc::new(ManualClock::new());
    let tenant = Tenant::builder().auto_user("first").clock(clock.clone()).start().await;
    let http = http();
    let api = tenant.api_app();
    let secret = api.client_secret.clone().expect("secret");
    let pkce = pkce();
    let code = code_for(&tenant, &http, REDIRECT, Some(&pkce), &format!("{}/.default", api.client_id)).await;
    clock.advance(Duration::from_secs(11 * 60));
    let form = [
        ("grant_type", "authorization_code"),
        ("client_id", api.client_id.as_str()),
        ("client_secret", secret.as_str()),
        ("code", code.as_str()),
        ("redirect_uri", REDIRECT),
        ("code_verifier", pkce.verifier.as_str()),
    ];
    let (status, body) = post_token(&http, &tenant, &form, None).await;
    assert_entra_error(status, &body, StatusCode::BAD_REQUEST, "invalid_grant");
    assert!(body["error_description"].as_str().is_some_and(|d| d.contains("expired")), "{body}");
}

#[tokio::test]
async fn confidential_clients_must_authenticate() {
    let tenant = Tenant::builder().auto_user("first").start().await;
    let http = http();
    let api = tenant.api_app();
    let scope = format!("{}/.default", api.client_id);
    let code = |http: reqwest::Client| {
        let tenant = &tenant;
        let scope = scope.clone();
        async move { code_for(tenant, &http, REDIRECT, None, &scope).await }
    };

    // Wrong secret in the body, then with HTTP Basic.
    for basic in [false, true] {
        let code = code(http.clone()).await;
        let mut form = vec![
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", REDIRECT),
            ("client_id", api.client_id.as_str()),
        ];
        let credentials = if basic {
            Some((api.client_id.as_str(), "wrong-secret"))
        } else {
            form.push(("client_secret", "wrong-secret"));
            None
        };
        let (status, body) = post_token(&http, &tenant, &form, credentials).await;
        assert_entra_error(status, &body, StatusCode::UNAUTHORIZED, "invalid_client");
    }

    // No secret at all.
    let code = code(http.clone()).await;
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", REDIRECT),
        ("client_id", api.client_id.as_str()),
    ];
    let (status, body) = post_token(&http, &tenant, &form, None).await;
    assert_entra_error(status, &body, StatusCode::UNAUTHORIZED, "invalid_client");

    // A public client presenting a secret.
    let public = tenant.public_app();
    let form = [
        ("grant_type", "client_credentials"),
        ("client_id", public.client_id.as_str()),
        ("client_secret", "anything"),
        ("scope", scope.as_str()),
    ];
    let (status, body) = post_token(&http, &tenant, &form, None).await;
    assert_entra_error(status, &body, StatusCode::UNAUTHORIZED, "invalid_client");

    // Unknown grant, missing grant, non-form body.
    let form = [("grant_type", "password"), ("client_id", api.client_id.as_str())];
    let (status, body) = post_token(&http, &tenant, &form, None).await;
    assert_entra_error(status, &body, StatusCode::BAD_REQUEST, "unsupported_grant_type");
    let (status, body) = post_token(&http, &tenant, &[("client_id", api.client_id.as_str())], None).await;
    assert_entra_error(status, &body, StatusCode::BAD_REQUEST, "invalid_request");
    let response = http
        .post(format!("{}/oauth2/v2.0/token", tenant.authority()))
        .json(&serde_json::json!({ "grant_type": "client_credentials" }))
        .send()
        .await
        .expect("token request");
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    // Oversized bodies are refused before parsing.
    let big = "x".repeat(70 * 1024);
    let (status, _) = async {
        let response = http
            .post(format!("{}/oauth2/v2.0/token", tenant.authority()))
            .form(&[("grant_type", "client_credentials"), ("pad", big.as_str())])
            .send()
            .await
            .expect("token request");
        (response.status(), ())
    }
    .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
}

#[tokio::test]
async fn refresh_tokens_rotate() {
    let tenant = Tenant::builder().auto_user("first").start().await;
    let http = http();
    let api = tenant.api_app();
    let secret = api.client_secret.clone().expect("secret");
    let code =
        code_for(&tenant, &http, REDIRECT, None, &format!("{}/.default offline_access openid", api.client_id)).await;
    let form = [
        ("grant_type", "authorization_code"),
        ("client_id", api.client_id.as_str()),
        ("client_secret", secret.as_str()),
        ("code", code.as_str()),
        ("redirect_uri", REDIRECT),
    ];
    let (status, body) = post_token(&http, &tenant, &form, None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let first = body["refresh_token"].as_str().expect("refresh token").to_owned();

    let refresh = |token: String, secret: Option<String>| {
        let http = http.clone();
        let tenant = &tenant;
        let client_id = api.client_id.clone();
        async move {
            let mut form = vec![("grant_type", "refresh_token"), ("refresh_token", token.as_str())];
            form.push(("client_id", client_id.as_str()));
            if let Some(secret) = &secret {
                form.push(("client_secret", secret.as_str()));
            }
            post_token(&http, tenant, &form, None).await
        }
    };
    let (status, body) = refresh(first.clone(), Some(secret.clone())).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let second = body["refresh_token"].as_str().expect("rotated refresh token").to_owned();
    assert_ne!(first, second);
    assert!(body["id_token"].is_string());
    api_auth(&tenant).validate_bearer(body["access_token"].as_str().expect("access token")).await.expect("valid");

    // The old one is spent.
    let (status, body) = refresh(first, Some(secret.clone())).await;
    assert_entra_error(status, &body, StatusCode::BAD_REQUEST, "invalid_grant");
    // A confidential client must still authenticate, and another client cannot use it.
    let (status, body) = refresh(second.clone(), None).await;
    assert_entra_error(status, &body, StatusCode::UNAUTHORIZED, "invalid_client");
    let public = tenant.public_app();
    let form = [("grant_type", "refresh_token"), ("refresh_token", second.as_str()), ("client_id", &public.client_id)];
    let (status, body) = post_token(&http, &tenant, &form, None).await;
    assert_entra_error(status, &body, StatusCode::BAD_REQUEST, "invalid_grant");
    // Neither attempt spent it.
    let (status, body) = refresh(second, Some(secret)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn client_credentials_issue_app_only_tokens() {
    let tenant = Tenant::start().await;
    let http = http();
    let api = tenant.api_app();
    let secret = api.client_secret.clone().expect("secret");
    for (scope, basic) in
        [(format!("{}/.default", api.client_id), false), (format!("api://{}/.default", api.client_id), true)]
    {
        let mut form = vec![("grant_type", "client_credentials"), ("scope", scope.as_str())];
        let credentials = if basic {
            Some((api.client_id.as_str(), secret.as_str()))
        } else {
            form.push(("client_id", api.client_id.as_str()));
            form.push(("client_secret", secret.as_str()));
            None
        };
        let (status, body) = post_token(&http, &tenant, &form, credentials).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["token_type"], "Bearer");
        assert!(body["expires_in"].is_u64());
        for absent in ["refresh_token", "id_token", "client_info"] {
            assert!(body.get(absent).is_none(), "{absent} in an app token reply: {body}");
        }
        let token = body["access_token"].as_str().expect("access token");
        let claims = payload(token);
        assert_eq!(claims["idtyp"], "app");
        assert_eq!(claims["azp"], api.client_id);
        let verified = api_auth(&tenant).validate_bearer(token).await.expect("valid app token");
        assert!(verified.user().is_app);
        assert_eq!(verified.user().roles, vec!["Reader".to_owned()]);
        assert!(verified.user().scopes.is_empty());
    }
    // Only `{resource}/.default`.
    let form = [
        ("grant_type", "client_credentials"),
        ("client_id", api.client_id.as_str()),
        ("client_secret", secret.as_str()),
        ("scope", &format!("api://{}/user_impersonation", api.client_id)),
    ];
    let (status, body) = post_token(&http, &tenant, &form, None).await;
    assert_entra_error(status, &body, StatusCode::BAD_REQUEST, "invalid_scope");
    let form = [
        ("grant_type", "client_credentials"),
        ("client_id", api.client_id.as_str()),
        ("client_secret", secret.as_str()),
        ("scope", "api://not-registered/.default"),
    ];
    let (status, body) = post_token(&http, &tenant, &form, None).await;
    assert_entra_error(status, &body, StatusCode::BAD_REQUEST, "invalid_resource");
}

pub(crate) async fn start_device_flow(http: &reqwest::Client, tenant: &Tenant, scope: &str) -> Value {
    let public = tenant.public_app();
    let response = http
        .post(format!("{}/oauth2/v2.0/devicecode", tenant.authority()))
        .form(&[("client_id", public.client_id.as_str()), ("scope", scope)])
        .send()
        .await
        .expect("devicecode request");
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.expect("devicecode JSON")
}

pub(crate) async fn poll(
    http: &reqwest::Client,
    tenant: &Tenant,
    device_code: &str,
) -> (StatusCode, Option<String>, Value) {
    let public = tenant.public_app();
    let response = http
        .post(format!("{}/oauth2/v2.0/token", tenant.authority()))
        .form(&[
            ("client_id", public.client_id.as_str()),
            ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
            ("client_info", "1"),
            ("code", device_code),
            ("device_code", device_code),
        ])
        .send()
        .await
        .expect("poll");
    let status = response.status();
    let retry_after = response.headers().get("retry-after").map(|v| v.to_str().unwrap_or_default().to_owned());
    (status, retry_after, response.json().await.expect("poll JSON"))
}

#[tokio::test]
async fn device_code_is_pending_until_approved_on_the_device_page() {
    let tenant = Tenant::start().await;
    let http = http();
    let api = tenant.api_app();
    let scope = format!("{}/.default offline_access openid profile", api.client_id);
    let flow = start_device_flow(&http, &tenant, &scope).await;
    assert_eq!(flow["interval"], 5);
    assert_eq!(flow["expires_in"], 900);
    let verification_uri = flow["verification_uri"].as_str().expect("verification_uri");
    assert_eq!(verification_uri, format!("{}/device", tenant.authority_host()));
    let user_code = flow["user_code"].as_str().expect("user_code");
    assert!(flow["message"].as_str().is_some_and(|m| m.contains(user_code) && m.contains(verification_uri)));
    let device_code = flow["device_code"].as_str().expect("device_code");

    for _ in 0..2 {
        let (status, retry_after, body) = poll(&http, &tenant, device_code).await;
        assert_entra_error(status, &body, StatusCode::BAD_REQUEST, "authorization_pending");
        assert_eq!(retry_after, None, "never Retry-After on a pending poll");
    }

    // The device page: code form, then the picker, then approval.
    let page = http.get(verification_uri).send().await.expect("device page");
    assert_eq!(page.status(), StatusCode::OK);
    assert!(page.text().await.expect("page").contains("name=\"user_code\""));
    let wrong = http.post(verification_uri).form(&[("user_code", "NOPE-NOPE")]).send().await.expect("post");
    assert_eq!(wrong.status(), StatusCode::BAD_REQUEST);
    let picker = http
        .post(verification_uri)
        .form(&[("user_code", user_code.to_lowercase().as_str())])
        .send()
        .await
        .expect("post code");
    assert_eq!(picker.status(), StatusCode::OK);
    let html = picker.text().await.expect("picker");
    let bob = &tenant.users()[1];
    assert!(html.contains(&bob.username), "{html}");
    let approved = http
        .post(verification_uri)
        .form(&[("user_code", user_code), ("emulator_user", bob.oid.as_str()), ("emulator_action", "signin")])
        .send()
        .await
        .expect("approve");
    assert_eq!(approved.status(), StatusCode::OK);

    let (status, _, body) = poll(&http, &tenant, device_code).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    for field in ["access_token", "id_token", "refresh_token", "client_info"] {
        assert!(body[field].is_string(), "{field} missing: {body}");
    }
    assert_eq!(body["scope"], format!("{}/.default openid profile", api.client_id));
    let id = payload(body["id_token"].as_str().expect("id_token"));
    assert_eq!(id["aud"], tenant.public_app().client_id);
    assert_eq!(id["preferred_username"], bob.username);
    let verified =
        api_auth(&tenant).validate_bearer(body["access_token"].as_str().expect("token")).await.expect("valid");
    assert_eq!(verified.user().oid, bob.oid);
    assert_eq!(verified.user().app_id.as_deref(), Some(tenant.public_app().client_id.as_str()));

    // Spent.
    let (status, _, body) = poll(&http, &tenant, device_code).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(tenant.requests(Endpoint::DeviceCode), 1);
}

#[tokio::test]
async fn device_code_with_auto_user_is_approved_at_once() {
    let tenant = Tenant::builder().auto_user("bob@contoso.onmicrosoft.com").start().await;
    let http = http();
    let flow = start_device_flow(&http, &tenant, &format!("{}/.default", tenant.api_app().client_id)).await;
    let (status, _, body) = poll(&http, &tenant, flow["device_code"].as_str().expect("device_code")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let verified =
        api_auth(&tenant).validate_bearer(body["access_token"].as_str().expect("token")).await.expect("valid");
    assert_eq!(verified.user().username.as_deref(), Some("bob@contoso.onmicrosoft.com"));
    // No offline_access or openid: no refresh token, no id_token.
    assert!(body.get("refresh_token").is_none() && body.get("id_token").is_none(), "{body}");

    // Declined on the device page.
    let tenant = Tenant::start().await;
    let flow = start_device_flow(&http, &tenant, &format!("{}/.default", tenant.api_app().client_id)).await;
    let declined = http
        .post(flow["verification_uri"].as_str().expect("uri"))
        .form(&[("user_code", flow["user_code"].as_str().expect("code")), ("emulator_action", "cancel")])
        .send()
        .await
        .expect("decline");
    assert_eq!(declined.status(), StatusCode::OK);
    let (status, _, body) = poll(&http, &tenant, flow["device_code"].as_str().expect("device_code")).await;
    assert_entra_error(status, &body, StatusCode::BAD_REQUEST, "authorization_declined");
}

#[tokio::test]
async fn on_behalf_of_returns_a_downstream_token_for_the_same_user() {
    let downstream = AppRegistration::confidential("Downstream API");
    let tenant = Tenant::builder().app(AppRegistration::dev_api()).app(downstream.clone()).start().await;
    let http = http();
    let api = tenant.api_app();
    let secret = api.client_secret.clone().expect("secret");
    let member = tenant.token().member();
    let oid = member.claims()["oid"].clone();
    let assertion = member.sign();
    let scope = format!("api://{}/user_impersonation", downstream.client_id);
    let obo = |assertion: String| {
        let http = http.clone();
        let tenant = &tenant;
        let (client_id, secret, scope) = (api.client_id.clone(), secret.clone(), scope.clone());
        async move {
            let form = [
                ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"),
                ("client_id", client_id.as_str()),
                ("client_secret", secret.as_str()),
                ("assertion", assertion.as_str()),
                ("scope", scope.as_str()),
                ("requested_token_use", "on_behalf_of"),
            ];
            post_token(&http, tenant, &form, None).await
        }
    };
    let (status, body) = obo(assertion).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let token = body["access_token"].as_str().expect("access token");
    let claims = payload(token);
    assert_eq!(claims["aud"], downstream.client_id);
    assert_eq!(claims["oid"], oid);
    assert_eq!(claims["azp"], api.client_id);
    assert_eq!(claims["scp"], "user_impersonation");
    let config = AadAuthConfig::builder(downstream.client_id.clone(), tenant.tenant_id())
        .authority_host(tenant.authority_host())
        .build()
        .expect("downstream config");
    let verified =
        AadAuth::bearer_only(config).expect("auth").validate_bearer(token).await.expect("downstream accepts");
    assert_eq!(Some(verified.user().oid.as_str()), oid.as_str());
    // The API's own validator refuses it (another audience).
    assert!(api_auth(&tenant).validate_bearer(token).await.is_err());

    // Assertions that must not be exchanged.
    for bad in [
        tenant.token().member().wrong_audience().sign(),
        tenant.token().member().expired().sign(),
        tenant.token().app_only().sign(),
        tenant.token().member().other_tenant().sign(),
        tenant.token().member().signed_with(Arc::new(aad_auth::testing::TestKey::generate("foreign"))).sign(),
        "not.a.token".to_owned(),
    ] {
        let (status, body) = obo(bad).await;
        assert_entra_error(status, &body, StatusCode::BAD_REQUEST, "invalid_grant");
    }
}

/// Redeems a code issued to `SPA_REDIRECT`, from a browser when `origin` is given.
async fn redeem_spa_code(
    http: &reqwest::Client,
    token_url: &str,
    origin: Option<&str>,
    client_id: &str,
    code: &str,
    pkce: &Pkce,
) -> reqwest::Response {
    let mut request = http.post(token_url);
    if let Some(origin) = origin {
        request = request.header("Origin", origin);
    }
    request
        .form(&[
            ("grant_type", "authorization_code"),
            ("client_id", client_id),
            ("code", code),
            ("redirect_uri", SPA_REDIRECT),
            ("code_verifier", pkce.verifier.as_str()),
        ])
        .send()
        .await
        .expect("SPA code redemption")
}

#[tokio::test]
async fn cors_only_for_registered_spa_origins() {
    let tenant = Tenant::builder().auto_user("first").start().await;
    let http = http();
    let token_url = format!("{}/oauth2/v2.0/token", tenant.authority());
    let preflight = |origin: &'static str, url: String| {
        let http = http.clone();
        async move {
            http.request(reqwest::Method::OPTIONS, url)
                .header("Origin", origin)
                .header("Access-Control-Request-Method", "POST")
                .header("Access-Control-Request-Headers", "content-type")
                .send()
                .await
                .expect("preflight")
        }
    };
    let allowed = preflight(SPA_ORIGIN, token_url.clone()).await;
    assert!(allowed.status().is_success(), "{}", allowed.status());
    assert_eq!(allowed.headers().get("access-control-allow-origin").map(|v| v.as_bytes()), Some(SPA_ORIGIN.as_bytes()));
    assert!(allowed.headers().get("access-control-allow-methods").is_some_and(|v| v.as_bytes().starts_with(b"POST")));
    let devicecode = preflight("http://localhost:3000", format!("{}/oauth2/v2.0/devicecode", tenant.authority())).await;
    assert!(devicecode.status().is_success());
    let refused = preflight("https://evil.example", token_url.clone()).await;
    assert!(!refused.status().is_success());
    assert!(refused.headers().get("access-control-allow-origin").is_none());

    // Swagger UI's flow: SPA redirect URI, PKCE, public redemption from the browser.
    let api = tenant.api_app();
    let scope = format!("{}/.default", api.client_id);
    let pairs = [
        ("client_id", api.client_id.as_str()),
        ("response_type", "code"),
        ("redirect_uri", SPA_REDIRECT),
        ("scope", scope.as_str()),
        ("state", "s"),
    ];
    let location = authorize_redirect(&http, authorize_url(&tenant, &pairs)).await;
    assert_eq!(query(&location, "error").as_deref(), Some("invalid_request"), "PKCE is required for SPA: {location}");
    let pkce = pkce();
    let code = code_for(&tenant, &http, SPA_REDIRECT, Some(&pkce), &scope).await;
    let response = redeem_spa_code(&http, &token_url, Some(SPA_ORIGIN), &api.client_id, &code, &pkce).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers().get("access-control-allow-origin").map(|v| v.as_bytes()),
        Some(SPA_ORIGIN.as_bytes())
    );
    let body: Value = response.json().await.expect("JSON");
    api_auth(&tenant).validate_bearer(body["access_token"].as_str().expect("token")).await.expect("valid");

    // A web (server-side) code cannot be redeemed from a browser.
    let code = code_for(&tenant, &http, REDIRECT, None, &scope).await;
    let secret = api.client_secret.clone().expect("secret");
    let response = http
        .post(&token_url)
        .header("Origin", "https://evil.example")
        .form(&[
            ("grant_type", "authorization_code"),
            ("client_id", api.client_id.as_str()),
            ("client_secret", secret.as_str()),
            ("code", code.as_str()),
            ("redirect_uri", REDIRECT),
        ])
        .send()
        .await
        .expect("cross-origin redemption");
    assert!(response.headers().get("access-control-allow-origin").is_none());
    let status = response.status();
    let body: Value = response.json().await.expect("JSON");
    assert_entra_error(status, &body, StatusCode::BAD_REQUEST, "invalid_request");
    assert_eq!(body["error_codes"], serde_json::json!([9_002_326]), "{body}");

    // And an SPA code cannot be redeemed server-side (no Origin): a Web app registered under
    // "Single-page application" fails here as it does against Entra.
    let code = code_for(&tenant, &http, SPA_REDIRECT, Some(&pkce), &scope).await;
    let response = redeem_spa_code(&http, &token_url, None, &api.client_id, &code, &pkce).await;
    let status = response.status();
    let body: Value = response.json().await.expect("JSON");
    assert_entra_error(status, &body, StatusCode::BAD_REQUEST, "invalid_request");
    assert_eq!(body["error_codes"], serde_json::json!([9_002_327]), "{body}");
}

#[tokio::test]
async fn authorize_refuses_bad_requests() {
    let tenant = Tenant::builder().auto_user("first").start().await;
    let http = http();
    let api = tenant.api_app();
    let scope = format!("{}/.default", api.client_id);
    let base = [("client_id", api.client_id.as_str()), ("response_type", "code"), ("scope", scope.as_str())];

    // An unregistered redirect URI or client: an error page, no redirect.
    for (client_id, redirect) in
        [(api.client_id.as_str(), "https://evil.example/cb"), ("00000000-0000-0000-0000-000000000000", REDIRECT)]
    {
        let pairs = [
            ("client_id", client_id),
            ("response_type", "code"),
            ("scope", scope.as_str()),
            ("redirect_uri", redirect),
        ];
        let response = http.get(authorize_url(&tenant, &pairs)).send().await.expect("authorize");
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        assert!(response.headers().get("location").is_none());
        assert!(response.text().await.expect("page").contains("AADSTS"));
    }

    // Errors after the redirect URI is trusted go back to it, with the state.
    let cases: [(&[(&str, &str)], &str); 6] = [
        (&[("response_mode", "form_post")], "invalid_request"),
        (&[("response_mode", "fragment")], "invalid_request"),
        (
            &[("code_challenge", "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"), ("code_challenge_method", "plain")],
            "invalid_request",
        ),
        (&[("code_challenge", "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM")], "invalid_request"),
        (&[("prompt", "bogus")], "invalid_request"),
        (&[("scope", "api://unknown/.default")], "invalid_resource"),
    ];
    for (extra, error) in cases {
        let mut pairs: Vec<(&str, &str)> =
            base.iter().copied().filter(|(k, _)| !extra.iter().any(|(e, _)| e == k)).collect();
        pairs.extend_from_slice(extra);
        pairs.push(("redirect_uri", REDIRECT));
        pairs.push(("state", "keep-me"));
        let location = authorize_redirect(&http, authorize_url(&tenant, &pairs)).await;
        assert!(location.as_str().starts_with(REDIRECT), "{location}");
        assert_eq!(query(&location, "error").as_deref(), Some(error), "{extra:?}: {location}");
        assert_eq!(query(&location, "state").as_deref(), Some("keep-me"));
        assert!(query(&location, "error_description").is_some_and(|d| d.starts_with("AADSTS")));
        assert_eq!(query(&location, "code"), None);
    }
}

#[tokio::test]
async fn user_picker_session_and_logout() {
    let tenant = Tenant::start().await;
    let http = http();
    let api = tenant.api_app();
    let scope = format!("{}/.default openid", api.client_id);
    let hostile_state = "\"><script>alert(1)</script>";
    let pairs = [
        ("client_id", api.client_id.as_str()),
        ("response_type", "code"),
        ("redirect_uri", REDIRECT),
        ("scope", scope.as_str()),
        ("state", hostile_state),
        ("nonce", "n-1"),
        ("login_hint", "bob@contoso.onmicrosoft.com"),
    ];
    let page = http.get(authorize_url(&tenant, &pairs)).send().await.expect("authorize");
    assert_eq!(page.status(), StatusCode::OK);
    assert!(page.headers().get("content-security-policy").is_some());
    let html = page.text().await.expect("picker");
    for user in tenant.users() {
        assert!(html.contains(&user.username), "{} missing from the picker", user.username);
    }
    assert!(!html.contains("<script>"), "unescaped input in the page");
    assert!(html.contains("&lt;script&gt;"));
    assert!(!html.contains("http://") || html.contains(REDIRECT), "no external assets");

    // Picking a user: the form posts the request back with the user.
    let bob = &tenant.users()[1];
    let mut form: Vec<(&str, &str)> = pairs.to_vec();
    form.push(("emulator_user", bob.oid.as_str()));
    form.push(("emulator_action", "signin"));
    let authorize_endpoint = format!("{}/oauth2/v2.0/authorize", tenant.authority());
    let response = http.post(&authorize_endpoint).form(&form).send().await.expect("pick");
    assert_eq!(response.status(), StatusCode::FOUND);
    let cookie = response.headers().get("set-cookie").expect("session cookie").to_str().expect("ascii").to_owned();
    let session = cookie.split(';').next().expect("cookie pair").to_owned();
    let location = Url::parse(response.headers()["location"].to_str().expect("ascii")).expect("location");
    assert_eq!(query(&location, "state").as_deref(), Some(hostile_state));
    let code = query(&location, "code").expect("code");
    let secret = api.client_secret.clone().expect("secret");
    let (status, body) = post_token(
        &http,
        &tenant,
        &[("grant_type", "authorization_code"), ("code", &code), ("redirect_uri", REDIRECT)],
        Some((&api.client_id, &secret)),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let id = payload(body["id_token"].as_str().expect("id_token"));
    assert_eq!(id["preferred_username"], bob.username);
    assert_eq!(id["nonce"], "n-1");

    // Cancel: access_denied back to the app.
    let mut cancel: Vec<(&str, &str)> = pairs.to_vec();
    cancel.push(("emulator_action", "cancel"));
    let response = http.post(&authorize_endpoint).form(&cancel).send().await.expect("cancel");
    let location = Url::parse(response.headers()["location"].to_str().expect("ascii")).expect("location");
    assert_eq!(query(&location, "error").as_deref(), Some("access_denied"));

    // The session signs in again without UI, unless prompt asks for it.
    let silent = [
        ("client_id", api.client_id.as_str()),
        ("response_type", "code"),
        ("redirect_uri", REDIRECT),
        ("scope", scope.as_str()),
        ("prompt", "none"),
    ];
    let response = http.get(authorize_url(&tenant, &silent)).header("Cookie", &session).send().await.expect("sso");
    assert_eq!(response.status(), StatusCode::FOUND);
    let location = Url::parse(response.headers()["location"].to_str().expect("ascii")).expect("location");
    assert!(query(&location, "code").is_some(), "{location}");
    let mut login = silent;
    login[4] = ("prompt", "login");
    let response = http.get(authorize_url(&tenant, &login)).header("Cookie", &session).send().await.expect("login");
    assert_eq!(response.status(), StatusCode::OK);

    // Logout: to a registered post-logout URI with the state; the session is over.
    let logout_endpoint = format!("{}/oauth2/v2.0/logout", tenant.authority());
    let response = http
        .get(&logout_endpoint)
        .query(&[("post_logout_redirect_uri", "http://127.0.0.1:8123/login"), ("state", "bye")])
        .header("Cookie", &session)
        .send()
        .await
        .expect("logout");
    assert_eq!(response.status(), StatusCode::FOUND);
    assert_eq!(response.headers()["location"], "http://127.0.0.1:8123/login?state=bye");
    let response = http
        .get(&logout_endpoint)
        .query(&[("post_logout_redirect_uri", "http://localhost:9000/login")])
        .send()
        .await
        .expect("logout");
    assert_eq!(response.headers()["location"], "http://localhost:9000/login", "no empty query");
    let response = http.get(authorize_url(&tenant, &silent)).header("Cookie", &session).send().await.expect("sso");
    let location = Url::parse(response.headers()["location"].to_str().expect("ascii")).expect("location");
    assert_eq!(query(&location, "error").as_deref(), Some("login_required"));
    // An unregistered post-logout URI: a signed-out page, no redirect.
    let response = http
        .get(&logout_endpoint)
        .query(&[("post_logout_redirect_uri", "https://evil.example/")])
        .send()
        .await
        .expect("logout");
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.headers().get("location").is_none());
    assert_eq!(tenant.requests(Endpoint::Logout), 3);
}

#[tokio::test]
async fn https_tenant_with_its_certificate_file() {
    let tenant = Tenant::builder().https(true).start().await;
    let host = tenant.authority_host().to_owned();
    assert!(host.starts_with("https://127.0.0.1:"), "{host}");
    let ca_path = tenant.ca_cert_path().expect("https tenants have a certificate file");
    assert!(ca_path.is_absolute());
    let pem = std::fs::read(ca_path).expect("read the certificate");
    let ca = reqwest::Certificate::from_pem(&pem).expect("PEM certificate");
    let trusted = reqwest::Client::builder().add_root_certificate(ca).no_proxy().build().expect("client");
    let discovery: Value =
        trusted.get(tenant.openid_config_url()).send().await.expect("discovery over https").json().await.expect("JSON");
    for field in [
        "issuer",
        "authorization_endpoint",
        "token_endpoint",
        "device_authorization_endpoint",
        "jwks_uri",
        "end_session_endpoint",
    ] {
        let value = discovery[field].as_str().expect(field);
        assert!(value.starts_with(&host), "{field} = {value}");
    }
    // Without the certificate the connection is refused (it really is TLS, and verified).
    let untrusted = reqwest::Client::builder().no_proxy().build().expect("client");
    assert!(untrusted.get(tenant.openid_config_url()).send().await.is_err());

    // The crate itself, through AAD_CA_FILE (`api_config` sets it).
    let token = tenant.token().member().sign();
    api_auth(&tenant).validate_bearer(&token).await.expect("valid over https");

    // Instance discovery answers from the tenant's own host (msal drops the port).
    let response = trusted
        .get(format!("{host}/common/discovery/instance"))
        .query(&[
            ("api-version", "1.0"),
            ("authorization_endpoint", &format!("https://127.0.0.1/{}/oauth2/v2.0/authorize", tenant.tenant_id())),
        ])
        .send()
        .await
        .expect("instance discovery");
    let body: Value = response.json().await.expect("JSON");
    assert_eq!(body["tenant_discovery_endpoint"], tenant.openid_config_url());
    assert_eq!(tenant.requests(Endpoint::InstanceDiscovery), 1);

    // The file goes with the tenant.
    let path = ca_path.to_owned();
    drop(tenant);
    assert!(!path.exists());
}

#[tokio::test]
async fn id_tokens_carry_the_group_overage_indicator() {
    let tenant = Tenant::builder().auto_user("dave@contoso.onmicrosoft.com").start().await;
    let http = http();
    let api = tenant.api_app();
    let secret = api.client_secret.clone().expect("secret");
    let code = code_for(&tenant, &http, REDIRECT, None, &format!("{}/.default openid", api.client_id)).await;
    let form = [("grant_type", "authorization_code"), ("code", code.as_str()), ("redirect_uri", REDIRECT)];
    let (status, body) = post_token(&http, &tenant, &form, Some((&api.client_id, &secret))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    for token in ["id_token", "access_token"] {
        let claims = payload(body[token].as_str().expect("token"));
        assert!(claims.get("groups").is_none(), "{token}: 250 groups do not fit");
        assert_eq!(claims["_claim_names"]["groups"], "src1", "{token}: overage indicator");
    }
}
