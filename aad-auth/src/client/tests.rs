//! The helpers against the in-process local tenant (plain http, and https with its certificate).
#![allow(clippy::unwrap_used, reason = "test set-up helpers: a failure is a failed test")]

use std::time::Duration;

use super::{ClientConfig, ClientError, TokenClient};
use crate::AadAuth;
use crate::secret::AccessToken;
use crate::testing::{Endpoint, Tenant};

/// The configuration of `client_id` (with `secret`) against `tenant`, as the examples build it
/// from the environment.
fn config(tenant: &Tenant, client_id: &str, secret: Option<&str>) -> ClientConfig {
    let lookup = |name: &str| match name {
        "AAD_CLIENT_ID" => Some(client_id.to_owned()),
        "AAD_TENANT_ID" => Some(tenant.tenant_id().to_owned()),
        "AAD_AUTHORITY_HOST" => Some(tenant.authority_host().to_owned()),
        "AAD_CLIENT_SECRET" => secret.map(str::to_owned),
        "AAD_CA_FILE" => tenant.ca_cert_path().map(|path| path.display().to_string()),
        _ => None,
    };
    ClientConfig::from_lookup(lookup).unwrap()
}

fn api_config(tenant: &Tenant) -> ClientConfig {
    let api = tenant.api_app();
    config(tenant, &api.client_id, api.client_secret.as_deref())
}

fn validator(tenant: &Tenant) -> AadAuth {
    AadAuth::bearer_only(tenant.api_config().build().unwrap()).unwrap()
}

#[actix_web::test]
async fn client_credentials_gives_an_app_only_token_with_the_granted_role() {
    let tenant = Tenant::start().await;
    let api = tenant.api_app().client_id;
    let client = TokenClient::new(api_config(&tenant)).unwrap();
    let token = client.client_credentials(&format!("{api}/.default")).await.unwrap();

    let verified = validator(&tenant).validate_bearer(token.access_token.expose_secret()).await.unwrap();
    assert!(verified.user().is_app, "{:?}", verified.user());
    assert_eq!(verified.user().roles, vec!["Reader".to_owned()]);
    assert!(verified.user().scopes.is_empty());
    assert!(token.expires_in.is_some_and(|lifetime| lifetime > Duration::from_secs(600)), "{token:?}");
    assert!(!token.expires_within(Duration::from_secs(60)));
    assert!(token.expires_within(Duration::from_secs(24 * 3600)));
    assert!(!format!("{token:?}").contains(token.access_token.expose_secret()));

    // Discovery is read once per client.
    tenant.reset_counters();
    client.client_credentials(&format!("{api}/.default")).await.unwrap();
    assert_eq!(tenant.requests(Endpoint::Discovery), 0);
    assert_eq!(tenant.requests(Endpoint::Token), 1);
}

#[actix_web::test]
async fn client_credentials_errors_name_the_setting_and_never_the_secret() {
    let tenant = Tenant::start().await;
    let api = tenant.api_app().client_id;
    let scope = format!("{api}/.default");

    let wrong = "wr0ng-s3cret-value-that-must-not-leak";
    let error = super::client_credentials(&config(&tenant, &api, Some(wrong)), &scope).await.unwrap_err();
    assert!(
        matches!(&error, ClientError::Refused { error, code: Some(7_000_215), .. } if error == "invalid_client"),
        "{error:?}"
    );
    let shown = error.to_string();
    assert!(shown.contains("AAD_CLIENT_SECRET") && shown.contains("invalid_client"), "{shown}");
    assert!(!shown.contains(wrong) && !format!("{error:?}").contains(wrong), "{shown}");
    assert!(error.hint().is_some_and(|hint| hint.contains("AAD_CLIENT_SECRET")));

    let error = super::client_credentials(&config(&tenant, &api, None), &scope).await.unwrap_err();
    assert!(matches!(&error, ClientError::Config(config) if config.variables() == ["AAD_CLIENT_SECRET"]), "{error:?}");

    let error =
        super::client_credentials(&api_config(&tenant), &format!("api://{api}/user_impersonation")).await.unwrap_err();
    assert_eq!(error.aadsts_code(), Some(1_002_012), "{error}");
}

#[actix_web::test]
async fn device_code_prompts_then_returns_the_signed_in_users_token() {
    let tenant = Tenant::builder().auto_user("first").start().await;
    let api = tenant.api_app().client_id;
    let public = tenant.public_app().client_id;
    let mut shown = None;
    let token =
        super::device_code(&config(&tenant, &public, None), [format!("api://{api}/user_impersonation")], |prompt| {
            shown = Some(prompt.clone())
        })
        .await
        .unwrap();

    let prompt = shown.unwrap();
    assert!(prompt.message.contains(&prompt.user_code) && prompt.message.contains(&prompt.verification_uri));
    assert_eq!(prompt.verification_uri, format!("{}/device", tenant.authority_host()));
    assert!(prompt.expires_in > Duration::from_secs(60));
    let verified = validator(&tenant).validate_bearer(token.access_token.expose_secret()).await.unwrap();
    assert_eq!(verified.user().oid, tenant.users()[0].oid);
    assert_eq!(verified.user().scopes, vec!["user_impersonation".to_owned()]);
    assert_eq!(verified.user().app_id.as_deref(), Some(public.as_str()));
    assert_eq!(token.scopes, vec![format!("api://{api}/user_impersonation")]);
}

#[actix_web::test]
async fn device_code_refusals_and_expiry() {
    // No automatic user: nobody approves the code.
    let tenant = Tenant::start().await;
    let api = tenant.api_app().client_id;
    let unknown = crate::testing::random_guid();
    let error = super::device_code(&config(&tenant, &unknown, None), [format!("{api}/.default")], |_| {
        panic!("no prompt for a refused request")
    })
    .await
    .unwrap_err();
    assert_eq!(error.aadsts_code(), Some(700_016), "{error}");
    assert!(error.to_string().contains("AAD_CLIENT_ID"), "{error}");

    let public = tenant.public_app().client_id;
    let client = TokenClient::new(config(&tenant, &public, None)).unwrap().with_device_code_timeout(Duration::ZERO);
    let error = client.device_code([format!("{api}/.default")], |_| {}).await.unwrap_err();
    assert!(matches!(error, ClientError::Expired), "{error:?}");
}

#[actix_web::test]
async fn on_behalf_of_exchanges_a_users_token_for_a_downstream_token() {
    let tenant = Tenant::start().await;
    let api = tenant.api_app().client_id;
    let user = tenant.users()[0].clone();
    let incoming = AccessToken::new(tenant.token().for_user(&user).scopes(["user_impersonation"]).sign());
    let client = TokenClient::new(api_config(&tenant)).unwrap();

    let token = client.on_behalf_of(&incoming, [format!("{api}/.default")]).await.unwrap();
    assert_ne!(token.access_token, incoming);
    let verified = validator(&tenant).validate_bearer(token.access_token.expose_secret()).await.unwrap();
    assert_eq!(verified.user().oid, user.oid);
    assert!(!verified.user().is_app);
    assert_eq!(verified.user().app_id.as_deref(), Some(api.as_str()), "the middle tier is the caller now");

    // An app-only token cannot be exchanged; the error never shows it.
    let app_only = AccessToken::new(tenant.token().app_only().sign());
    let error = client.on_behalf_of(&app_only, [format!("{api}/.default")]).await.unwrap_err();
    assert!(
        matches!(&error, ClientError::Refused { error, code: Some(50_013), .. } if error == "invalid_grant"),
        "{error:?}"
    );
    assert!(!error.to_string().contains(app_only.expose_secret()));

    let error = client.on_behalf_of(&incoming, ["api://no-such-api/.default"]).await.unwrap_err();
    assert_eq!(error.aadsts_code(), Some(500_011), "{error}");

    let no_secret = TokenClient::new(config(&tenant, &api, None)).unwrap();
    let error = no_secret.on_behalf_of(&incoming, [format!("{api}/.default")]).await.unwrap_err();
    assert!(matches!(error, ClientError::Config(_)), "{error:?}");
}

#[actix_web::test]
async fn https_needs_the_ca_file() {
    let tenant = Tenant::builder().https(true).start().await;
    let api = tenant.api_app().client_id;
    let scope = format!("{api}/.default");
    super::client_credentials(&api_config(&tenant), &scope).await.unwrap();

    let secret = tenant.api_app().client_secret.unwrap();
    let untrusting = ClientConfig::builder(api.clone(), tenant.tenant_id())
        .authority_host(tenant.authority_host())
        .client_secret(secret)
        .build()
        .unwrap();
    let error = super::client_credentials(&untrusting, &scope).await.unwrap_err();
    assert!(matches!(&error, ClientError::Unreachable { .. }), "{error:?}");
    assert!(error.to_string().to_ascii_lowercase().contains("certificate"), "{error}");
}

#[actix_web::test]
async fn unreachable_and_unusable_authorities() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let config = ClientConfig::builder("11111111-2222-3333-4444-555555555555", "contoso.onmicrosoft.com")
        .authority_host(format!("http://127.0.0.1:{port}"))
        .client_secret("s3cret")
        .build()
        .unwrap();
    let error = super::client_credentials(&config, "api://x/.default").await.unwrap_err();
    assert!(matches!(&error, ClientError::Unreachable { .. }), "{error:?}");
    assert!(error.to_string().contains("connection"), "{error}");

    // Redirects are not followed, and a tenant the host does not know is named.
    let server = actix_web::HttpServer::new(|| {
        actix_web::App::new().default_service(actix_web::web::to(|| async {
            actix_web::HttpResponse::Found().insert_header(("location", "http://127.0.0.1:9/elsewhere")).finish()
        }))
    })
    .workers(1)
    .bind(("127.0.0.1", 0))
    .unwrap();
    let address = server.addrs()[0];
    let running = server.run();
    let handle = running.handle();
    actix_web::rt::spawn(running);
    let config = ClientConfig::builder("11111111-2222-3333-4444-555555555555", "contoso.onmicrosoft.com")
        .authority_host(format!("http://{address}"))
        .build()
        .unwrap();
    let error = super::device_code(&config, ["api://x/.default"], |_| {}).await.unwrap_err();
    assert!(matches!(&error, ClientError::Discovery { reason, .. } if reason.contains("302")), "{error:?}");
    handle.stop(false).await;

    let tenant = Tenant::start().await;
    let other = ClientConfig::builder(tenant.api_app().client_id, "fabrikam.onmicrosoft.com")
        .authority_host(tenant.authority_host())
        .client_secret("s3cret")
        .build()
        .unwrap();
    let error = super::client_credentials(&other, "api://x/.default").await.unwrap_err();
    assert!(matches!(&error, ClientError::Discovery { reason, .. } if reason.contains("AAD_TENANT_ID")), "{error:?}");
}

#[test]
fn configuration_names_every_bad_variable() {
    let error = ClientConfig::from_lookup(|_| None).unwrap_err();
    assert_eq!(error.variables(), vec!["AAD_CLIENT_ID", "AAD_TENANT_ID"]);

    let error = ClientConfig::from_lookup(|name| match name {
        "AAD_CLIENT_ID" => Some("11111111-2222-3333-4444-555555555555".into()),
        "AAD_TENANT_ID" => Some("organizations".into()),
        "AAD_AUTHORITY_HOST" => Some("http://login.example.com".into()),
        "AAD_CA_FILE" => Some("/nonexistent/ca.pem".into()),
        "AAD_CLIENT_SECRET" => Some("never-shown".into()),
        _ => None,
    })
    .unwrap_err();
    assert_eq!(error.variables(), vec!["AAD_AUTHORITY_HOST", "AAD_CA_FILE"]);
    assert!(!error.to_string().contains("never-shown"));

    let config = ClientConfig::builder("11111111-2222-3333-4444-555555555555", "organizations")
        .client_secret("never-shown")
        .build()
        .unwrap();
    assert_eq!(
        config.openid_config_url().as_str(),
        "https://login.microsoftonline.com/organizations/v2.0/.well-known/openid-configuration"
    );
    assert!(!format!("{config:?}").contains("never-shown"));
}

#[actix_web::test]
async fn an_apis_configuration_is_a_client_configuration() {
    let tenant = Tenant::builder().https(true).start().await;
    let config = ClientConfig::from(&tenant.api_config().build().unwrap());
    assert_eq!(config.client_id(), tenant.api_app().client_id);
    assert_eq!(config.authority(), tenant.authority());
    assert!(config.client_secret().is_some() && config.ca_file().is_some());
    let shown = format!("{config:?}");
    assert!(shown.len() < 1024 && !shown.contains(tenant.api_app().client_secret.unwrap().as_str()), "{shown}");
    let api = tenant.api_app().client_id;
    super::client_credentials(&config, &format!("{api}/.default")).await.unwrap();
}
