//! Calling downstream APIs against the local tenant, over HTTP: Microsoft Graph's `GET /v1.0/me`,
//! consent to Graph's delegated permissions (refused before, granted after a sign-in with the
//! scope, or by admin consent), and the Conditional Access claims challenge on on-behalf-of and
//! refresh-token requests.

#![allow(clippy::expect_used, reason = "a failed set-up step is a failed test")]

use aad_auth::testing::{AppRegistration, Endpoint, Fault, GRAPH_APP_ID, Tenant};
use reqwest::StatusCode;
use serde_json::{Value, json};

use super::emulator_flows::{
    REDIRECT, assert_entra_error, authorize_redirect, authorize_url, code_for, http, payload, poll, post_token, query,
    start_device_flow,
};

/// The claims challenge for the authentication context `c1`, as Entra sends it.
const C1_CHALLENGE: &str = r#"{"access_token":{"acrs":{"essential":true,"value":"c1"}}}"#;

/// `GET /v1.0/me` on the tenant's origin; the status and the JSON body.
async fn me(http: &reqwest::Client, tenant: &Tenant, token: Option<&str>) -> (StatusCode, Value) {
    let mut request = http.get(format!("{}/v1.0/me", tenant.authority_host()));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.expect("GET /me");
    let status = response.status();
    (status, response.json().await.expect("JSON from /me"))
}

fn assert_graph_error(status: StatusCode, body: &Value, expected: StatusCode, code: &str, message: &str) {
    assert_eq!(status, expected, "{body}");
    assert_eq!(body["error"]["code"], code, "{body}");
    assert_eq!(body["error"]["message"], message, "{body}");
    assert!(body["error"]["innerError"]["request-id"].is_string(), "{body}");
}

/// An on-behalf-of request of the API app with `assertion` for `scope`.
async fn obo(http: &reqwest::Client, tenant: &Tenant, assertion: &str, scope: &str) -> (StatusCode, Value) {
    let api = tenant.api_app();
    let secret = api.client_secret.clone().expect("secret");
    let form = [
        ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"),
        ("client_id", api.client_id.as_str()),
        ("client_secret", secret.as_str()),
        ("assertion", assertion),
        ("scope", scope),
        ("requested_token_use", "on_behalf_of"),
    ];
    post_token(http, tenant, &form, None).await
}

/// A refresh-token request of the API app for `scope`, with `extra` parameters.
async fn refresh(
    http: &reqwest::Client,
    tenant: &Tenant,
    token: &str,
    scope: &str,
    extra: &[(&str, &str)],
) -> (StatusCode, Value) {
    let api = tenant.api_app();
    let secret = api.client_secret.clone().expect("secret");
    let mut form = vec![
        ("grant_type", "refresh_token"),
        ("client_id", api.client_id.as_str()),
        ("client_secret", secret.as_str()),
        ("refresh_token", token),
        ("scope", scope),
    ];
    form.extend_from_slice(extra);
    post_token(http, tenant, &form, None).await
}

/// Signs the automatic user in to the API app with `scope` (authorize, then the code) and
/// returns the token reply.
async fn sign_in(http: &reqwest::Client, tenant: &Tenant, scope: &str) -> Value {
    let api = tenant.api_app();
    let secret = api.client_secret.clone().expect("secret");
    let code = code_for(tenant, http, REDIRECT, None, scope).await;
    let form = [
        ("grant_type", "authorization_code"),
        ("client_id", api.client_id.as_str()),
        ("client_secret", secret.as_str()),
        ("code", code.as_str()),
        ("redirect_uri", REDIRECT),
    ];
    let (status, body) = post_token(http, tenant, &form, None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

fn refresh_token_of(body: &Value) -> String {
    body["refresh_token"].as_str().expect("a refresh token").to_owned()
}

/// AADSTS65001 as Entra sends it, with `suberror: consent_required`.
fn assert_consent_required(status: StatusCode, body: &Value, app: &AppRegistration) {
    assert_entra_error(status, body, StatusCode::BAD_REQUEST, "invalid_grant");
    assert_eq!(body["suberror"], "consent_required", "{body}");
    assert_eq!(body["error_codes"], json!([65001]), "{body}");
    let expected = format!(
        "AADSTS65001: The user or administrator has not consented to use the application with ID '{}' named '{}'. \
         Send an interactive authorization request for this user and resource.",
        app.client_id, app.name
    );
    let description = body["error_description"].as_str().expect("error_description");
    assert!(description.starts_with(&expected), "{description}");
    assert!(body["timestamp"].is_string(), "{body}");
}

/// `interaction_required` AADSTS50076 with the claims challenge for `c1`.
fn assert_claims_challenge(status: StatusCode, body: &Value) {
    assert_entra_error(status, body, StatusCode::BAD_REQUEST, "interaction_required");
    assert_eq!(body["error_codes"], json!([50076]), "{body}");
    assert_eq!(body["claims"], C1_CHALLENGE, "{body}");
}

#[tokio::test]
async fn graph_me_answers_a_delegated_token_with_user_read() {
    let tenant = Tenant::start().await;
    let http = http();
    let alice = tenant.users()[0].clone();

    let good = tenant.token().for_user(&alice).graph_audience().sign();
    let (status, body) = me(&http, &tenant, Some(&good)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["@odata.context"], "https://graph.microsoft.com/v1.0/$metadata#users/$entity");
    assert_eq!(body["id"], alice.oid);
    assert_eq!(body["displayName"], "Alice Example");
    assert_eq!((body["givenName"].as_str(), body["surname"].as_str()), (Some("Alice"), Some("Example")));
    assert_eq!(body["userPrincipalName"], alice.username);
    assert_eq!(body["mail"], alice.username);
    assert_eq!(body["jobTitle"], "Engineering Manager");
    // Any of the broader permissions Graph lists for /me, and `https://graph.microsoft.com` as `aud`.
    for scopes in ["User.ReadBasic.All", "openid User.Read.All", "Directory.Read.All"] {
        let token = tenant
            .token()
            .for_user(&alice)
            .graph_audience()
            .scopes(scopes.split(' '))
            .audience(json!("https://graph.microsoft.com"))
            .sign();
        assert_eq!(me(&http, &tenant, Some(&token)).await.0, StatusCode::OK, "{scopes}");
    }

    let invalid = "InvalidAuthenticationToken";
    let (status, body) = me(&http, &tenant, None).await;
    assert_graph_error(status, &body, StatusCode::UNAUTHORIZED, invalid, "Access token is empty.");
    // The API's own token (a valid token of the tenant, for another audience).
    let api_token = tenant.token().for_user(&alice).scopes(["User.Read"]).sign();
    let (status, body) = me(&http, &tenant, Some(&api_token)).await;
    assert_graph_error(
        status,
        &body,
        StatusCode::UNAUTHORIZED,
        invalid,
        "Access token validation failure. Invalid audience.",
    );
    let expired = tenant.token().for_user(&alice).graph_audience().expired().sign();
    let (status, body) = me(&http, &tenant, Some(&expired)).await;
    assert_graph_error(
        status,
        &body,
        StatusCode::UNAUTHORIZED,
        invalid,
        "Lifetime validation failed, the token is expired.",
    );
    let foreign = tenant
        .token()
        .for_user(&alice)
        .graph_audience()
        .signed_with(std::sync::Arc::new(aad_auth::testing::TestKey::generate("foreign")))
        .sign();
    let (status, body) = me(&http, &tenant, Some(&foreign)).await;
    assert_graph_error(status, &body, StatusCode::UNAUTHORIZED, invalid, "Access token validation failure.");

    // A Graph token without a permission /me accepts.
    let mail_only = tenant.token().for_user(&alice).graph_audience().scopes(["Mail.Read", "openid"]).sign();
    let (status, body) = me(&http, &tenant, Some(&mail_only)).await;
    assert_graph_error(
        status,
        &body,
        StatusCode::FORBIDDEN,
        "Authorization_RequestDenied",
        "Insufficient privileges to complete the operation.",
    );

    // An app-only Graph token from the client-credentials grant, even with User.Read.All.
    let api = tenant.api_app();
    let form = [
        ("grant_type", "client_credentials"),
        ("client_id", api.client_id.as_str()),
        ("client_secret", api.client_secret.as_deref().expect("secret")),
        ("scope", "https://graph.microsoft.com/.default"),
    ];
    let (status, reply) = post_token(&http, &tenant, &form, None).await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    let app_token = reply["access_token"].as_str().expect("app token");
    assert_eq!(payload(app_token)["roles"], json!(["User.Read.All", "GroupMember.Read.All"]));
    let (status, body) = me(&http, &tenant, Some(app_token)).await;
    assert_graph_error(
        status,
        &body,
        StatusCode::BAD_REQUEST,
        "BadRequest",
        "/me request is only valid with delegated authentication flow.",
    );

    // Counted on its own endpoint, faults included; checkMemberGroups' counter is untouched.
    assert_eq!(tenant.requests(Endpoint::GraphMe), 10);
    assert_eq!(tenant.requests(Endpoint::Graph), 0);
    tenant.set_fault(Endpoint::GraphMe, Fault::Status(503));
    let (status, body) = me(&http, &tenant, Some(&good)).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::SERVICE_UNAVAILABLE, Some("serviceNotAvailable"))
    );
    tenant.set_fault(Endpoint::GraphMe, Fault::Throttled(std::time::Duration::from_secs(7)));
    let response =
        http.get(format!("{}/v1.0/me", tenant.authority_host())).bearer_auth(&good).send().await.expect("GET /me");
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(response.headers().get("retry-after").and_then(|v| v.to_str().ok()), Some("7"));
    tenant.clear_fault(Endpoint::GraphMe);
    assert_eq!(me(&http, &tenant, Some(&good)).await.0, StatusCode::OK);
    assert_eq!(tenant.requests(Endpoint::GraphMe), 13);
}

#[tokio::test]
async fn refresh_for_graph_needs_consent_until_the_user_signs_in_with_the_scope() {
    let tenant = Tenant::builder().auto_user("first").start().await;
    let http = http();
    let api = tenant.api_app();
    let alice = tenant.users()[0].clone();
    let own = format!("{}/.default openid offline_access", api.client_id);
    let first = refresh_token_of(&sign_in(&http, &tenant, &own).await);
    // Signing in to the app's own API consented to nothing of Graph's.
    assert!(tenant.consented_scopes(&alice, &api.client_id).is_empty());

    for scope in
        ["User.Read", "https://graph.microsoft.com/User.Read offline_access", "https://graph.microsoft.com/.default"]
    {
        let (status, body) = refresh(&http, &tenant, &first, scope, &[]).await;
        assert_consent_required(status, &body, &api);
    }
    // Refused attempts do not spend the refresh token; the app's own scopes need no consent.
    let (status, body) = refresh(&http, &tenant, &first, &own, &[]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let second = refresh_token_of(&body);

    // A silent sign-in cannot show the consent screen.
    let incremental = "openid offline_access https://graph.microsoft.com/User.Read";
    let silent = [
        ("client_id", api.client_id.as_str()),
        ("response_type", "code"),
        ("redirect_uri", REDIRECT),
        ("scope", incremental),
        ("state", "s-1"),
        ("prompt", "none"),
    ];
    let location = authorize_redirect(&http, authorize_url(&tenant, &silent)).await;
    assert_eq!(query(&location, "error").as_deref(), Some("consent_required"), "{location}");
    assert!(query(&location, "error_description").is_some_and(|d| d.starts_with("AADSTS65001: ")), "{location}");
    assert_eq!(query(&location, "state").as_deref(), Some("s-1"));
    assert!(tenant.consented_scopes(&alice, &api.client_id).is_empty());

    // Incremental consent: the login again, asking for the Graph scope.
    let reply = sign_in(&http, &tenant, incremental).await;
    assert_eq!(tenant.consented_scopes(&alice, &api.client_id), vec!["User.Read".to_owned()]);
    assert_eq!(payload(reply["access_token"].as_str().expect("access token"))["scp"], "User.Read");

    // The refresh token of the first sign-in now gets a Graph token: multi-resource, rotated.
    let (status, body) = refresh(&http, &tenant, &second, "User.Read offline_access", &[]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["scope"], "User.Read");
    let third = refresh_token_of(&body);
    assert_ne!(third, second);
    let token = body["access_token"].as_str().expect("Graph token");
    let claims = payload(token);
    assert_eq!(claims["aud"], GRAPH_APP_ID);
    assert_eq!(claims["scp"], "User.Read");
    assert_eq!(claims["azp"].as_str().or(claims["appid"].as_str()), Some(api.client_id.as_str()));
    assert_eq!(
        (&claims["oid"], &claims["tid"], &claims["name"]),
        (&json!(alice.oid), &json!(tenant.tenant_id()), &json!(alice.name))
    );
    assert_eq!(claims["upn"], alice.username);
    let (status, body) = me(&http, &tenant, Some(token)).await;
    assert_eq!((status, &body["id"]), (StatusCode::OK, &json!(alice.oid)), "{body}");
    // And back to the app's own API with the rotated one.
    let (status, body) = refresh(&http, &tenant, &third, &own, &[]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // Another Graph scope is another consent.
    let (status, body) = refresh(&http, &tenant, &refresh_token_of(&body), "Mail.Read", &[]).await;
    assert_consent_required(status, &body, &api);
}

#[tokio::test]
async fn on_behalf_of_graph_needs_the_users_or_the_admins_consent() {
    let tenant = Tenant::start().await;
    let http = http();
    let api = tenant.api_app();
    let alice = tenant.users()[0].clone();
    let assertion = tenant.token().for_user(&alice).sign();

    let (status, body) = obo(&http, &tenant, &assertion, "https://graph.microsoft.com/User.Read").await;
    assert_consent_required(status, &body, &api);
    let (status, body) = obo(&http, &tenant, &assertion, "https://graph.microsoft.com/.default").await;
    assert_consent_required(status, &body, &api);

    tenant.grant_consent(&alice, &api.client_id, ["User.Read"]);
    let (status, body) = obo(&http, &tenant, &assertion, "https://graph.microsoft.com/User.Read").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let token = body["access_token"].as_str().expect("Graph token");
    let claims = payload(token);
    assert_eq!(
        (&claims["aud"], &claims["scp"], &claims["oid"]),
        (&json!(GRAPH_APP_ID), &json!("User.Read"), &json!(alice.oid))
    );
    let (status, body) = me(&http, &tenant, Some(token)).await;
    assert_eq!((status, &body["displayName"]), (StatusCode::OK, &json!(alice.name)), "{body}");
    // Consent is per user.
    let bob = tenant.token().for_user(&tenant.users()[1]).sign();
    let (status, body) = obo(&http, &tenant, &bob, "User.Read").await;
    assert_consent_required(status, &body, &api);

    // Admin consent on the registration: no user is asked.
    let admin = Tenant::builder().app(AppRegistration::dev_api().admin_consent_graph_scope("User.Read")).start().await;
    let assertion = admin.token().for_user(&admin.users()[1]).sign();
    for scope in ["User.Read", "https://graph.microsoft.com/.default"] {
        let (status, body) = obo(&http, &admin, &assertion, scope).await;
        assert_eq!(status, StatusCode::OK, "{scope}: {body}");
        assert_eq!(payload(body["access_token"].as_str().expect("token"))["scp"], "User.Read", "{scope}");
    }
    let (status, body) = obo(&http, &admin, &assertion, "Mail.Read").await;
    assert_consent_required(status, &body, &admin.api_app());
}

#[tokio::test]
async fn conditional_access_challenges_on_behalf_of_and_refresh_without_the_context() {
    let downstream = AppRegistration::confidential("Downstream API");
    let tenant = Tenant::builder()
        .app(AppRegistration::dev_api())
        .app(downstream.clone())
        .auto_user("first")
        .require_auth_context_for(format!("api://{}", downstream.client_id), "c1")
        .start()
        .await;
    let http = http();
    let api = tenant.api_app();
    let scope = format!("api://{}/user_impersonation", downstream.client_id);

    // On-behalf-of: the incoming token's `acrs` must have the context.
    let plain = tenant.token().member().sign();
    let (status, body) = obo(&http, &tenant, &plain, &scope).await;
    assert_claims_challenge(status, &body);
    let other_context = tenant.token().member().acrs(["c2"]).sign();
    let (status, body) = obo(&http, &tenant, &other_context, &scope).await;
    assert_claims_challenge(status, &body);
    let stepped_up = tenant.token().member().acrs(["c1"]).sign();
    let (status, body) = obo(&http, &tenant, &stepped_up, &scope).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let claims = payload(body["access_token"].as_str().expect("downstream token"));
    assert_eq!((&claims["aud"], &claims["acrs"]), (&json!(downstream.client_id), &json!(["c1"])));
    // Other resources are not under the policy.
    let (status, body) = obo(&http, &tenant, &plain, &format!("{}/.default", api.client_id)).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // Refresh: a sign-in without the context is challenged for the downstream resource only.
    let own = format!("{}/.default openid offline_access", api.client_id);
    let token = refresh_token_of(&sign_in(&http, &tenant, &own).await);
    let (status, body) = refresh(&http, &tenant, &token, &scope, &[]).await;
    assert_claims_challenge(status, &body);
    let (status, body) = refresh(&http, &tenant, &token, &own, &[]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // Answering the challenge with its `claims` (satisfied at once) gets the token.
    let (status, body) = refresh(&http, &tenant, &refresh_token_of(&body), &scope, &[("claims", C1_CHALLENGE)]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(payload(body["access_token"].as_str().expect("token"))["acrs"], json!(["c1"]));
    // So does a sign-in that asked for the context.
    let code = {
        let pairs = [
            ("client_id", api.client_id.as_str()),
            ("response_type", "code"),
            ("redirect_uri", REDIRECT),
            ("scope", own.as_str()),
            ("claims", C1_CHALLENGE),
        ];
        let location = authorize_redirect(&http, authorize_url(&tenant, &pairs)).await;
        query(&location, "code").expect("code")
    };
    let secret = api.client_secret.clone().expect("secret");
    let form = [
        ("grant_type", "authorization_code"),
        ("client_id", api.client_id.as_str()),
        ("client_secret", secret.as_str()),
        ("code", code.as_str()),
        ("redirect_uri", REDIRECT),
    ];
    let (status, body) = post_token(&http, &tenant, &form, None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = refresh(&http, &tenant, &refresh_token_of(&body), &scope, &[]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn the_account_picker_and_the_device_page_record_consent() {
    let tenant = Tenant::start().await;
    let http = http();
    let api = tenant.api_app();
    let bob = tenant.users()[1].clone();
    // The picker: the chosen user consents to the Graph scopes of the request.
    let pairs = [
        ("client_id", api.client_id.as_str()),
        ("response_type", "code"),
        ("redirect_uri", REDIRECT),
        ("scope", "openid https://graph.microsoft.com/User.Read"),
        ("prompt", "consent"),
    ];
    let page = http.get(authorize_url(&tenant, &pairs)).send().await.expect("picker");
    assert_eq!(page.status(), StatusCode::OK);
    assert!(tenant.consented_scopes(&bob, &api.client_id).is_empty(), "showing the picker consents to nothing");
    let mut form = pairs.to_vec();
    form.extend([("emulator_user", bob.oid.as_str()), ("emulator_action", "signin")]);
    let response =
        http.post(format!("{}/oauth2/v2.0/authorize", tenant.authority())).form(&form).send().await.expect("pick bob");
    assert_eq!(response.status(), StatusCode::FOUND);
    assert_eq!(tenant.consented_scopes(&bob, &api.client_id), vec!["User.Read".to_owned()]);
    assert!(tenant.consented_scopes(&tenant.users()[0], &api.client_id).is_empty());

    // The device page: approving is signing in with the device code's scopes.
    let public = tenant.public_app();
    let device = start_device_flow(&http, &tenant, "User.Read Mail.Read offline_access").await;
    let user_code = device["user_code"].as_str().expect("user_code");
    let approve = [("user_code", user_code), ("emulator_user", bob.oid.as_str()), ("emulator_action", "signin")];
    let response =
        http.post(format!("{}/device", tenant.authority_host())).form(&approve).send().await.expect("approve");
    assert_eq!(response.status(), StatusCode::OK);
    let (status, _, body) = poll(&http, &tenant, device["device_code"].as_str().expect("device_code")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(payload(body["access_token"].as_str().expect("token"))["scp"], "User.Read Mail.Read");
    assert_eq!(tenant.consented_scopes(&bob, &public.client_id), vec!["User.Read".to_owned(), "Mail.Read".to_owned()]);
}

/// An authorize request may name Graph besides the app's own API (MSAL's
/// `extraScopesToConsent`): the sign-in consents to both, the code's tokens are the API's, and
/// the refresh token then gets a Graph token.
#[tokio::test]
async fn an_authorize_naming_two_resources_consents_to_both_and_issues_the_first() {
    let tenant = Tenant::builder().auto_user("first").start().await;
    let http = http();
    let api = tenant.api_app();
    let alice = tenant.users()[0].clone();
    let scope = format!("openid offline_access {}/.default https://graph.microsoft.com/User.Read", api.client_id);
    let reply = sign_in(&http, &tenant, &scope).await;
    let token = payload(reply["access_token"].as_str().expect("an access token"));
    assert_eq!(token["aud"], json!(api.client_id), "the code's token is for the first resource: {token}");
    assert_eq!(tenant.consented_scopes(&alice, &api.client_id), ["User.Read"]);
    let (status, graph) =
        refresh(&http, &tenant, &refresh_token_of(&reply), "https://graph.microsoft.com/User.Read", &[]).await;
    assert_eq!(status, StatusCode::OK, "{graph}");
    assert_eq!(payload(graph["access_token"].as_str().expect("a Graph token"))["scp"], "User.Read");
}
