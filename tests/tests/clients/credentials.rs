//! Client credentials other than a secret, against the local tenant over real HTTP: a
//! certificate (`AAD_CLIENT_CERTIFICATE`), a federated assertion file (`AAD_CLIENT_ASSERTION_FILE`,
//! `AZURE_FEDERATED_TOKEN_FILE`, issued by a second local issuer playing Kubernetes), and the App
//! Service managed identity (`AAD_MANAGED_IDENTITY`, the tenant's `/msi/token`). Each kind gets a
//! client-credentials token and a login code redemption or an on-behalf-of token; the tenant's
//! checks of assertions are shown refusing what Entra refuses.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a failed set-up step is a failed test")]

use std::path::{Path, PathBuf};

use aad_auth::client::{ClientConfig, ClientError, TokenClient};
use aad_auth::secret::AccessToken;
use aad_auth::testing::{
    Endpoint, FederatedCredential, FederatedIssuer, SigningAlg, Tenant, TestCertificate, TestManagedIdentity,
    random_guid,
};
use aad_auth::{AadAuth, AadAuthConfig};
use aad_auth_tests::logs::Captured;
use aad_auth_tests::site::{Browser, Site, login_config};
use serde_json::{Value, json};

const SERVICE_ACCOUNT: &str = "system:serviceaccount:orders:api";
const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// A file in the temporary directory, removed when dropped.
struct TempFile(PathBuf);

impl TempFile {
    fn new(name: &str, content: &str) -> Self {
        let path = std::env::temp_dir().join(format!("aad-auth-{}-{name}", random_guid()));
        std::fs::write(&path, content).unwrap();
        Self(path)
    }

    fn write(&self, content: &str) {
        std::fs::write(&self.0, content).unwrap();
    }

    fn path(&self) -> &Path {
        &self.0
    }

    fn display(&self) -> String {
        self.0.display().to_string()
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// The API app's client configuration from `vars` (besides its id, tenant and host).
fn client_config(tenant: &Tenant, vars: &[(&str, String)]) -> Result<ClientConfig, aad_auth::ConfigError> {
    let api = tenant.api_app().client_id;
    ClientConfig::from_lookup(|name| match name {
        "AAD_CLIENT_ID" => Some(api.clone()),
        "AAD_TENANT_ID" => Some(tenant.tenant_id().to_owned()),
        "AAD_AUTHORITY_HOST" => Some(tenant.authority_host().to_owned()),
        _ => vars.iter().find(|(var, _)| *var == name).map(|(_, value)| value.clone()),
    })
}

/// The API's configuration without its secret: the credential is chosen by the test.
fn api_builder(tenant: &Tenant) -> aad_auth::config::AadAuthConfigBuilder {
    login_config(AadAuthConfig::builder(tenant.api_app().client_id, tenant.tenant_id()))
        .authority_host(tenant.authority_host())
}

fn scope(tenant: &Tenant) -> String {
    format!("{}/.default", tenant.api_app().client_id)
}

async fn validates(tenant: &Tenant, token: &AccessToken) -> bool {
    let validator = AadAuth::bearer_only(tenant.api_config().build().unwrap()).unwrap();
    validator.validate_bearer(token.expose_secret()).await.is_ok()
}

/// Signs in through the site's login (the tenant signs its first user in at once); whether it
/// ended on a page with a session.
async fn login_works(site: &Site) -> bool {
    let browser = Browser::new();
    let hops = browser.follow(&site.url("/oauth/aad/login"), 6).await;
    let landed = hops.last().is_some_and(|page| page.status == 200);
    landed && browser.get(&site.url("/api/session")).await.status == 200
}

/// Posts a client-credentials request with a raw client assertion: (status, AADSTS code).
async fn post_assertion(tenant: &Tenant, assertion_type: &str, assertion: &str) -> (u16, Option<u64>) {
    let token_url = format!("{}/oauth2/v2.0/token", tenant.authority());
    let response = reqwest::Client::new()
        .post(token_url)
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", tenant.api_app().client_id.as_str()),
            ("scope", scope(tenant).as_str()),
            ("client_assertion_type", assertion_type),
            ("client_assertion", assertion),
        ])
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let body: Value = response.json().await.unwrap();
    (status, body["error_codes"][0].as_u64())
}

fn now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs()
}

/// The claims of a certificate assertion for the API app, from `from` for `lifetime` seconds.
fn certificate_claims(tenant: &Tenant, from: u64, lifetime: u64) -> Value {
    let api = tenant.api_app().client_id;
    json!({
        "aud": format!("{}/oauth2/v2.0/token", tenant.authority()),
        "iss": api, "sub": api, "jti": random_guid(),
        "nbf": from, "iat": from, "exp": from + lifetime,
    })
}

#[actix_web::test]
async fn a_certificate_gets_client_credentials_and_redeems_the_login_code() {
    let tenant = Tenant::builder().dev_defaults().auto_user("first").start().await;
    let certificate = TestCertificate::generate("orders-api");
    tenant.add_certificate(&tenant.api_app().client_id, &certificate.cert_pem());
    let file = TempFile::new("cert.pem", &certificate.pem_with_key());

    let config = client_config(&tenant, &[("AAD_CLIENT_CERTIFICATE", file.display())]).unwrap();
    let token = TokenClient::new(config).unwrap().client_credentials(&scope(&tenant)).await.unwrap();
    assert!(validates(&tenant, &token.access_token).await);
    let claims = aad_auth_tests::segments(token.access_token.expose_secret()).1;
    let claims: Value = serde_json::from_slice(&aad_auth_tests::unb64(&claims)).unwrap();
    assert_eq!(claims["azpacr"], "2", "Entra marks a certificate-authenticated client: {claims}");
    let accepted = tenant.accepted_assertions();
    assert_eq!(accepted.len(), 1, "{accepted:?}");
    assert_eq!(accepted[0].certificate.as_deref(), Some(certificate.thumbprint_sha256().as_str()));

    let site = Site::start(api_builder(&tenant).client_certificate(file.path()).build().unwrap(), None).await;
    assert!(login_works(&site).await, "the code is redeemed with a certificate assertion");
    assert_eq!(tenant.accepted_assertions().len(), 2, "the redemption carried an assertion");
}

#[actix_web::test]
async fn a_certificate_the_app_does_not_have_is_refused_with_aadsts700027() {
    let tenant = Tenant::start().await;
    tenant.add_certificate(&tenant.api_app().client_id, &TestCertificate::generate("registered").cert_pem());
    let other = TestCertificate::generate("not-registered");
    let file = TempFile::new("other.pem", &other.pem_with_key());
    let config = client_config(&tenant, &[("AAD_CLIENT_CERTIFICATE", file.display())]).unwrap();
    let error = TokenClient::new(config).unwrap().client_credentials(&scope(&tenant)).await.unwrap_err();
    assert!(matches!(&error, ClientError::Refused { error, .. } if error == "invalid_client"), "{error:?}");
    assert_eq!(error.aadsts_code(), Some(700_027), "{error}");
    assert!(tenant.accepted_assertions().is_empty());
}

#[actix_web::test]
async fn the_tenant_checks_certificate_assertions_as_entra_does() {
    let tenant = Tenant::start().await;
    let certificate = TestCertificate::generate("checks");
    tenant.add_certificate(&tenant.api_app().client_id, &certificate.cert_pem());
    let valid = certificate_claims(&tenant, now(), 600);
    let rs256 = certificate.sign_assertion(&valid, &SigningAlg::Rs256, false);

    // Accepted: RS256 with x5t#S256, PS256, x5t (SHA-1), the v1 token endpoint as audience,
    // and the same assertion twice (msal reuses one for minutes).
    assert_eq!(post_assertion(&tenant, JWT_BEARER, &rs256).await, (200, None));
    assert_eq!(post_assertion(&tenant, JWT_BEARER, &rs256).await, (200, None), "a reused assertion");
    let ps256 = certificate.sign_assertion(&valid, &SigningAlg::Ps256, false);
    assert_eq!(post_assertion(&tenant, JWT_BEARER, &ps256).await, (200, None), "PS256");
    let sha1 = certificate.sign_assertion(&valid, &SigningAlg::Rs256, true);
    assert_eq!(post_assertion(&tenant, JWT_BEARER, &sha1).await, (200, None), "x5t");
    let mut v1 = valid.clone();
    v1["aud"] = json!(format!("{}/oauth2/token", tenant.authority()));
    let v1 = certificate.sign_assertion(&v1, &SigningAlg::Rs256, false);
    assert_eq!(post_assertion(&tenant, JWT_BEARER, &v1).await, (200, None), "the v1 token endpoint");
    let mut multi = valid.clone();
    multi["aud"] = json!(format!("{}/organizations/oauth2/v2.0/token", tenant.authority_host()));
    let multi = certificate.sign_assertion(&multi, &SigningAlg::Rs256, false);
    assert_eq!(post_assertion(&tenant, JWT_BEARER, &multi).await, (200, None), "a multi-tenant authority");

    // Refused, each with Entra's code.
    let expired = certificate_claims(&tenant, now() - 3600, 600);
    let expired = certificate.sign_assertion(&expired, &SigningAlg::Rs256, false);
    assert_eq!(post_assertion(&tenant, JWT_BEARER, &expired).await, (401, Some(700_024)), "expired");
    let early = certificate_claims(&tenant, now() + 3600, 600);
    let early = certificate.sign_assertion(&early, &SigningAlg::Rs256, false);
    assert_eq!(post_assertion(&tenant, JWT_BEARER, &early).await, (401, Some(700_024)), "not yet valid");
    assert_eq!(post_assertion(&tenant, "client_secret", &rs256).await, (401, Some(700_021)), "wrong type");
    let mut other_app = valid.clone();
    other_app["iss"] = json!(random_guid());
    let other_app = certificate.sign_assertion(&other_app, &SigningAlg::Rs256, false);
    assert_eq!(post_assertion(&tenant, JWT_BEARER, &other_app).await, (401, Some(700_021)), "iss");
    let mut elsewhere = valid.clone();
    elsewhere["aud"] = json!("https://login.microsoftonline.com/common/oauth2/v2.0/token");
    let elsewhere = certificate.sign_assertion(&elsewhere, &SigningAlg::Rs256, false);
    assert_eq!(post_assertion(&tenant, JWT_BEARER, &elsewhere).await, (401, Some(700_021)), "aud");
    let (head, _) = rs256.rsplit_once('.').unwrap();
    let forged = format!("{head}.{}", &ps256[ps256.rfind('.').unwrap() + 1..]);
    assert_eq!(post_assertion(&tenant, JWT_BEARER, &forged).await, (401, Some(700_027)), "signature");
    let hs256 = certificate.sign_assertion(&valid, &SigningAlg::Hs256(b"key".to_vec()), false);
    assert_eq!(post_assertion(&tenant, JWT_BEARER, &hs256).await, (401, Some(700_027)), "HS256");
}

#[actix_web::test]
async fn a_federated_assertion_file_is_read_again_for_every_request() {
    let tenant = Tenant::start().await;
    let kubernetes = FederatedIssuer::start().await;
    let api = tenant.api_app().client_id;
    tenant.add_federated_credential(&api, FederatedCredential::new(kubernetes.issuer(), SERVICE_ACCOUNT));
    let first = kubernetes.claims(SERVICE_ACCOUNT);
    let file = TempFile::new("token", &kubernetes.sign(&first));

    let config = client_config(&tenant, &[("AAD_CLIENT_ASSERTION_FILE", file.display())]).unwrap();
    let client = TokenClient::new(config).unwrap();
    let token = client.client_credentials(&scope(&tenant)).await.unwrap();
    assert!(validates(&tenant, &token.access_token).await);

    // Kubernetes rotates the projected token: the next request sends the new one.
    let second = kubernetes.claims(SERVICE_ACCOUNT);
    file.write(&kubernetes.sign(&second));
    client.client_credentials(&scope(&tenant)).await.unwrap();
    let seen: Vec<Option<String>> = tenant.accepted_assertions().into_iter().map(|a| a.jti).collect();
    let jti = |claims: &serde_json::Map<String, Value>| claims["jti"].as_str().map(str::to_owned);
    assert_eq!(seen, vec![jti(&first), jti(&second)]);

    // On-behalf-of with the same credential.
    let user = tenant.users()[0].clone();
    let incoming = AccessToken::new(tenant.token().for_user(&user).scopes(["user_impersonation"]).sign());
    let downstream = client.on_behalf_of(&incoming, [scope(&tenant)]).await.unwrap();
    assert!(validates(&tenant, &downstream.access_token).await);
    assert_eq!(tenant.accepted_assertions().len(), 3);

    // An expired token in the file: Entra's AADSTS700024; the error shows no assertion.
    let mut expired = kubernetes.claims(SERVICE_ACCOUNT);
    expired.insert("exp".into(), json!(now() - 3600));
    expired.insert("nbf".into(), json!(now() - 7200));
    let expired = kubernetes.sign(&expired);
    file.write(&expired);
    let error = client.client_credentials(&scope(&tenant)).await.unwrap_err();
    assert_eq!(error.aadsts_code(), Some(700_024), "{error}");
    assert!(!error.to_string().contains(&expired) && !format!("{error:?}").contains(&expired));
}

#[actix_web::test]
async fn federated_assertions_need_a_matching_federated_credential() {
    let tenant = Tenant::start().await;
    let kubernetes = FederatedIssuer::start().await;
    let stranger = FederatedIssuer::start().await;
    let api = tenant.api_app().client_id;
    tenant.add_federated_credential(&api, FederatedCredential::new(kubernetes.issuer(), SERVICE_ACCOUNT));
    let cases = [
        (kubernetes.assertion(SERVICE_ACCOUNT), (200, None)),
        (kubernetes.assertion("system:serviceaccount:orders:other"), (401, Some(70_021))),
        (stranger.assertion(SERVICE_ACCOUNT), (401, Some(700_211))),
    ];
    for (assertion, expected) in cases {
        assert_eq!(post_assertion(&tenant, JWT_BEARER, &assertion).await, expected);
    }
    let mut wrong_audience = kubernetes.claims(SERVICE_ACCOUNT);
    wrong_audience.insert("aud".into(), json!("api://something-else"));
    assert_eq!(post_assertion(&tenant, JWT_BEARER, &kubernetes.sign(&wrong_audience)).await, (401, Some(70_021)));
    // Signed by another key than the issuer's.
    let mut forged = kubernetes.claims(SERVICE_ACCOUNT);
    forged.insert("iss".into(), json!(kubernetes.issuer()));
    let forged = stranger.sign(&forged);
    assert_eq!(post_assertion(&tenant, JWT_BEARER, &forged).await, (401, Some(700_027)));
}

#[actix_web::test]
async fn aks_workload_identity_is_used_when_nothing_else_is_set() {
    let tenant = Tenant::start().await;
    let kubernetes = FederatedIssuer::start().await;
    let api = tenant.api_app().client_id;
    tenant.add_federated_credential(&api, FederatedCredential::new(kubernetes.issuer(), SERVICE_ACCOUNT));
    let file = TempFile::new("azure-identity-token", &kubernetes.assertion(SERVICE_ACCOUNT));
    let config = client_config(&tenant, &[("AZURE_FEDERATED_TOKEN_FILE", file.display())]).unwrap();
    let token = TokenClient::new(config).unwrap().client_credentials(&scope(&tenant)).await.unwrap();
    assert!(validates(&tenant, &token.access_token).await);
    assert_eq!(tenant.accepted_assertions()[0].subject, SERVICE_ACCOUNT);
}

#[actix_web::test]
async fn a_secret_beside_aks_workload_identity_wins_and_start_up_says_so() {
    let tenant = Tenant::start().await;
    let file = TempFile::new("azure-identity-token", "not.read.here");
    let secret = tenant.api_app().client_secret.unwrap();
    let (logs, guard) = Captured::start();
    let config = client_config(
        &tenant,
        &[("AAD_CLIENT_SECRET", secret.clone()), ("AZURE_FEDERATED_TOKEN_FILE", file.display())],
    )
    .unwrap();
    let api_config = AadAuthConfig::from_lookup(|name| match name {
        "AAD_CLIENT_ID" => Some(tenant.api_app().client_id),
        "AAD_TENANT_ID" => Some(tenant.tenant_id().to_owned()),
        "AAD_CLIENT_SECRET" => Some(secret.clone()),
        "AZURE_FEDERATED_TOKEN_FILE" => Some(file.display()),
        _ => None,
    })
    .unwrap();
    drop(guard);
    assert_eq!(config.client_credential().map(|c| c.variable()), Some("AAD_CLIENT_SECRET"));
    assert_eq!(api_config.client_credential().map(|c| c.variable()), Some("AAD_CLIENT_SECRET"));
    let logged = logs.text();
    let lines: Vec<&str> = logged.lines().filter(|line| line.contains("AZURE_FEDERATED_TOKEN_FILE is set")).collect();
    assert_eq!(lines.len(), 2, "one line per configuration built: {logged}");
    assert!(lines.iter().all(|line| line.contains("AAD_CLIENT_SECRET") && !line.contains(&secret)), "{logged}");
    TokenClient::new(config).unwrap().client_credentials(&scope(&tenant)).await.unwrap();
    assert!(tenant.accepted_assertions().is_empty(), "the secret was used");
}

#[actix_web::test]
async fn two_credentials_refuse_to_start_naming_both() {
    let tenant = Tenant::start().await;
    let certificate = TestCertificate::generate("two");
    let file = TempFile::new("cert.pem", &certificate.pem_with_key());
    let vars = [("AAD_CLIENT_SECRET", "s3cret-value-here".to_owned()), ("AAD_CLIENT_CERTIFICATE", file.display())];
    let error = client_config(&tenant, &vars).unwrap_err();
    assert_eq!(error.variables(), vec!["AAD_CLIENT_SECRET", "AAD_CLIENT_CERTIFICATE"]);
    let message = error.to_string();
    assert!(message.contains("AAD_CLIENT_SECRET") && message.contains("AAD_CLIENT_CERTIFICATE"), "{message}");
    assert!(!message.contains("s3cret-value-here"), "{message}");

    let error = AadAuthConfig::from_lookup(|name| match name {
        "AAD_CLIENT_ID" => Some(tenant.api_app().client_id),
        "AAD_TENANT_ID" => Some(tenant.tenant_id().to_owned()),
        "AAD_CLIENT_ASSERTION_FILE" => Some(file.display()),
        "AAD_MANAGED_IDENTITY" => Some("true".into()),
        "IDENTITY_ENDPOINT" => Some("http://localhost:42356/msi/token".into()),
        "IDENTITY_HEADER" => Some("header-secret".into()),
        _ => None,
    })
    .unwrap_err();
    assert_eq!(error.variables(), vec!["AAD_CLIENT_ASSERTION_FILE", "AAD_MANAGED_IDENTITY"], "{error}");
    assert!(!error.to_string().contains("header-secret"));
}

#[actix_web::test]
async fn bad_credential_files_name_the_variable_and_the_path_not_the_content() {
    let tenant = Tenant::start().await;
    let certificate = TestCertificate::generate("half");
    let only_cert = TempFile::new("cert-only.pem", &certificate.cert_pem());
    let mismatched = TempFile::new(
        "mismatched.pem",
        &format!(
            "{}{}",
            certificate.cert_pem(),
            TestCertificate::generate("other").pem_with_key().split("-----END CERTIFICATE-----\n").nth(1).unwrap()
        ),
    );
    let missing = std::env::temp_dir().join(format!("aad-auth-{}-missing", random_guid()));
    for (var, path) in [
        ("AAD_CLIENT_CERTIFICATE", only_cert.display()),
        ("AAD_CLIENT_CERTIFICATE", mismatched.display()),
        ("AAD_CLIENT_CERTIFICATE", missing.display().to_string()),
        ("AAD_CLIENT_ASSERTION_FILE", only_cert.display()),
        ("AAD_CLIENT_ASSERTION_FILE", missing.display().to_string()),
    ] {
        let error = client_config(&tenant, &[(var, path.clone())]).unwrap_err();
        let message = error.to_string();
        assert_eq!(error.variables(), vec![var], "{message}");
        assert!(message.contains(&path) && !message.contains("MII"), "the path, not the base64 content: {message}");
    }
}

#[actix_web::test]
async fn a_managed_identity_is_the_federated_credential_of_the_app() {
    let identity = TestManagedIdentity::new("identity-header-value");
    let tenant = Tenant::builder().dev_defaults().auto_user("first").managed_identity(identity.clone()).start().await;
    let api = tenant.api_app().client_id;
    tenant.add_federated_credential(&api, FederatedCredential::new(tenant.issuer(), &identity.object_id));
    let vars = [
        ("AAD_MANAGED_IDENTITY", "true".to_owned()),
        ("IDENTITY_ENDPOINT", tenant.managed_identity_endpoint()),
        ("IDENTITY_HEADER", identity.header.clone()),
    ];
    let client = TokenClient::new(client_config(&tenant, &vars).unwrap()).unwrap();
    let token = client.client_credentials(&scope(&tenant)).await.unwrap();
    assert!(validates(&tenant, &token.access_token).await);
    client.client_credentials(&scope(&tenant)).await.unwrap();
    assert_eq!(tenant.requests(Endpoint::ManagedIdentity), 1, "the identity's token is kept");
    let accepted = tenant.accepted_assertions();
    assert_eq!(accepted.len(), 2);
    assert!(accepted.iter().all(|a| a.issuer == tenant.issuer() && a.subject == identity.object_id), "{accepted:?}");

    // The login, with a user-assigned identity named by its client id.
    let config = api_builder(&tenant)
        .managed_identity(tenant.managed_identity_endpoint(), &identity.header, Some(identity.client_id.clone()))
        .build()
        .unwrap();
    let site = Site::start(config, None).await;
    assert!(login_works(&site).await, "the code is redeemed with the identity's token");
    assert_eq!(tenant.accepted_assertions().len(), 3);
}

#[actix_web::test]
async fn a_wrong_identity_header_is_refused_and_never_shown() {
    let identity = TestManagedIdentity::new("the-right-header");
    let tenant = Tenant::builder().managed_identity(identity.clone()).start().await;
    let api = tenant.api_app().client_id;
    tenant.add_federated_credential(&api, FederatedCredential::new(tenant.issuer(), &identity.object_id));
    let vars = [
        ("AAD_MANAGED_IDENTITY", "true".to_owned()),
        ("IDENTITY_ENDPOINT", tenant.managed_identity_endpoint()),
        ("IDENTITY_HEADER", "a-wrong-header".to_owned()),
    ];
    let error = TokenClient::new(client_config(&tenant, &vars).unwrap())
        .unwrap()
        .client_credentials(&scope(&tenant))
        .await
        .unwrap_err();
    let message = error.to_string();
    assert!(matches!(error, ClientError::Unreachable { .. }), "{error:?}");
    assert!(message.contains("HTTP 401") && message.contains("IDENTITY_HEADER"), "{message}");
    assert!(!message.contains("a-wrong-header") && !format!("{error:?}").contains("a-wrong-header"));
    assert!(tenant.accepted_assertions().is_empty());
    // No header at all: App Service's 400.
    let endpoint =
        format!("{}?resource=api://AzureADTokenExchange&api-version=2019-08-01", tenant.managed_identity_endpoint());
    assert_eq!(reqwest::get(&endpoint).await.unwrap().status(), 400);
}

#[actix_web::test]
async fn debug_never_shows_a_key_a_header_or_an_assertion() {
    let tenant = Tenant::start().await;
    let certificate = TestCertificate::generate("debug");
    let pem = certificate.pem_with_key();
    let file = TempFile::new("cert.pem", &pem);
    let key_line = pem.lines().skip_while(|line| !line.contains("PRIVATE KEY")).nth(1).unwrap().to_owned();

    let client = client_config(&tenant, &[("AAD_CLIENT_CERTIFICATE", file.display())]).unwrap();
    let api = api_builder(&tenant).client_certificate(file.path()).build().unwrap();
    let identity = client_config(
        &tenant,
        &[
            ("AAD_MANAGED_IDENTITY", "true".to_owned()),
            ("IDENTITY_ENDPOINT", tenant.managed_identity_endpoint()),
            ("IDENTITY_HEADER", "header-never-shown".to_owned()),
        ],
    )
    .unwrap();
    let shown = [
        format!("{client:?}"),
        format!("{api:?}"),
        format!("{identity:?}"),
        format!("{:?}", TokenClient::new(client.clone()).unwrap()),
    ];
    for text in &shown {
        assert!(!text.contains(&key_line) && !text.contains("header-never-shown"), "{text}");
    }
    assert!(shown[0].contains(&certificate.thumbprint_sha256()), "the thumbprint is shown: {}", shown[0]);
    assert!(shown[2].contains("IdentityHeader([redacted])"), "{}", shown[2]);
}

#[actix_web::test]
async fn the_graph_token_of_a_groups_overage_uses_the_certificate() {
    use aad_auth::testing::OVERAGE_TEAM_GROUP;
    use aad_auth::{Policy, RequireAuth};
    use actix_web::{App, HttpResponse, test, web};

    let tenant = Tenant::start().await;
    let certificate = TestCertificate::generate("graph");
    tenant.add_certificate(&tenant.api_app().client_id, &certificate.cert_pem());
    let file = TempFile::new("cert.pem", &certificate.pem_with_key());
    let config = api_builder(&tenant)
        .client_certificate(file.path())
        .groups_overage(aad_auth::config::GroupsOverage::Graph)
        .build()
        .unwrap();
    let auth = AadAuth::builder(config).bearer_only().build().unwrap();
    let app = test::init_service(
        App::new().configure(auth.configure()).service(
            web::scope("/team")
                .wrap(RequireAuth::new(Policy::api().groups([OVERAGE_TEAM_GROUP])))
                .route("", web::get().to(HttpResponse::Ok)),
        ),
    )
    .await;
    let dave = tenant.token().for_user(tenant.user("dave@contoso.onmicrosoft.com").unwrap()).sign();
    let reply = aad_auth_tests::get(&app, "/team", Some(&dave)).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(tenant.requests(Endpoint::Graph), 1, "Graph confirmed the membership");
    let accepted = tenant.accepted_assertions();
    assert_eq!(accepted.len(), 1, "the Graph token was asked for with a certificate assertion: {accepted:?}");
    assert_eq!(accepted[0].certificate.as_deref(), Some(certificate.thumbprint_sha256().as_str()));
}

#[actix_web::test]
async fn the_login_refresh_uses_the_federated_assertion_too() {
    use std::time::{Duration, SystemTime};

    use aad_auth::testing::ManualClock;

    // The session's tokens are issued 3570 s in the past (by the tenant's and the app's
    // clock), so that they are about to expire when the clock is set to now; the federated
    // assertion, checked against the tenant's clock, is valid over the whole span.
    let clock = std::sync::Arc::new(ManualClock::at(SystemTime::now() - Duration::from_secs(3570)));
    let tenant = Tenant::builder().dev_defaults().auto_user("first").clock(clock.clone()).start().await;
    let kubernetes = FederatedIssuer::start().await;
    let api = tenant.api_app().client_id;
    tenant.add_federated_credential(&api, FederatedCredential::new(kubernetes.issuer(), SERVICE_ACCOUNT));
    let mut claims = kubernetes.claims(SERVICE_ACCOUNT);
    claims.insert("nbf".into(), json!(now() - 4000));
    claims.insert("iat".into(), json!(now() - 4000));
    claims.insert("exp".into(), json!(now() + 4000));
    let file = TempFile::new("token", &kubernetes.sign(&claims));

    // An hour without use must not end the session (SESSION_IDLE_TIMEOUT's default is 30 min).
    let mut session = aad_auth::config::SessionConfig::default();
    session.https_only = false;
    session.idle_timeout = Duration::from_secs(7200);
    let config = api_builder(&tenant).session(session).client_assertion_file(file.path()).build().unwrap();
    let site = Site::start(config, Some(clock.clone())).await;
    let browser = Browser::new();
    let hops = browser.follow(&site.url("/oauth/aad/login"), 6).await;
    assert_eq!(hops.last().map(|page| page.status), Some(200), "{hops:#?}");
    assert_eq!(tenant.accepted_assertions().len(), 1, "the code redemption");

    clock.set(SystemTime::now());
    let token = browser.get(&site.url("/me/token")).await;
    assert_eq!(token.status, 200, "{token:?}");
    assert_eq!(tenant.accepted_assertions().len(), 2, "the refresh carried the assertion");
}
