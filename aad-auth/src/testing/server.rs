//! The tenant's HTTP server: runs on its own thread with its own runtime, so that it works from
//! any test (Tokio, actix or plain threads) and never competes with the app under test. Here
//! are its routes, and the discovery documents and JWKS it serves itself; the other endpoints
//! are in `oauth.rs` (machine side) and `pages.rs` (browser side).

use std::collections::HashMap;
use std::net::TcpListener;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex, RwLock};

use actix_web::{HttpResponse, web};
use serde_json::{Value, json};

use super::flows::Flows;
use super::proto::{MAX_FORM_BYTES, TenantPath, fault_response, resolve_tenant, tenant_not_found};
use super::registry::{AppRegistration, OVERAGE_TEAM_GROUP, TestUser, random_guid};
use super::{Endpoint, Fault, KeyRing, Shared, TenantBuilder, TestKey, graph, oauth, pages};

const DOMAIN: &str = "contoso.onmicrosoft.com";

fn default_users() -> Vec<TestUser> {
    let admins = random_guid();
    let readers = random_guid();
    let many: Vec<String> =
        std::iter::once(OVERAGE_TEAM_GROUP.to_owned()).chain((1..250).map(|_| random_guid())).collect();
    vec![
        TestUser::member(format!("alice@{DOMAIN}"), "Alice Example")
            .roles(["Admin"])
            .groups([admins, readers.clone()])
            .job_title("Engineering Manager"),
        TestUser::member(format!("bob@{DOMAIN}"), "Bob Example").groups([readers]),
        TestUser::guest("carol@fabrikam.example", "Carol Guest"),
        TestUser::member(format!("dave@{DOMAIN}"), "Dave Manygroups").groups(many),
    ]
}

#[allow(clippy::expect_used)]
pub(crate) async fn start(builder: TenantBuilder) -> super::Tenant {
    let listener = TcpListener::bind(("127.0.0.1", builder.port)).expect("bind the tenant's port on 127.0.0.1");
    let port = listener.local_addr().expect("local address").port();
    let tls = builder.https.then(super::tls::self_signed);
    let scheme = if tls.is_some() { "https" } else { "http" };
    let base_url = format!("{scheme}://127.0.0.1:{port}");

    let mut apps = builder.apps;
    if !apps.iter().any(|a| !a.public_client) {
        apps.insert(0, AppRegistration::dev_api());
    }
    if !apps.iter().any(|a| a.public_client) {
        apps.push(AppRegistration::dev_public_client());
    }
    let users = if builder.users.is_empty() { default_users() } else { builder.users };
    let auto_user = builder.auto_user.map(|name| {
        let by_name = users.iter().find(|user| user.username.eq_ignore_ascii_case(&name));
        let user = by_name.or_else(|| if name.eq_ignore_ascii_case("first") { users.first() } else { None });
        match user {
            Some(user) => user.oid.clone(),
            None => {
                let known: Vec<&str> = users.iter().map(|user| user.username.as_str()).collect();
                panic!("auto_user {name:?} is not a user of the tenant; use `first` or one of {known:?}")
            }
        }
    });
    for (resource, context) in &builder.auth_context_policies {
        assert!(
            crate::step_up::is_auth_context_id(context),
            "require_auth_context_for({resource:?}, {context:?}): an authentication context id is c1 to c99"
        );
    }
    let service_principals = apps.iter().map(|a| (a.client_id.clone(), random_guid())).collect();
    let credentials = apps
        .iter()
        .map(|app| {
            let certificates = app
                .certificates
                .iter()
                .map(|pem| {
                    super::certs::RegisteredCertificate::parse(pem.as_bytes())
                        .unwrap_or_else(|| panic!("app {}: a certificate that is not PEM", app.name))
                })
                .collect();
            let federated = app.federated_credentials.clone();
            (app.client_id.clone(), super::assertions::AppCredentials { certificates, federated })
        })
        .collect();
    let first = Arc::new(TestKey::generate(format!("emulator-key-1-{}", &random_guid()[..8])));

    let shared = Arc::new(Shared {
        tenant_id: builder.tenant_id.unwrap_or_else(random_guid),
        domain: DOMAIN.into(),
        guest_home_tenant: random_guid(),
        base_url,
        apps,
        users,
        clock: builder.clock.unwrap_or_else(crate::clock::system),
        keys: RwLock::new(KeyRing { active: first.clone(), published: vec![first], rotations: 0 }),
        faults: Mutex::new(HashMap::new()),
        counters: std::array::from_fn(|_| AtomicU64::new(0)),
        service_principals,
        flows: Flows::default(),
        auto_user,
        auth_contexts: builder.auth_contexts,
        consents: super::consent::Consents::default(),
        auth_context_policies: builder
            .auth_context_policies
            .into_iter()
            .map(|(resource, context)| (super::claims::resource_id(&resource), context))
            .collect(),
        credentials: RwLock::new(credentials),
        accepted_assertions: Mutex::new(Vec::new()),
        managed_identity: builder.managed_identity,
    });
    let (tls_config, ca_cert_path, tempdir) = match tls {
        Some(tls) => (Some(tls.config), Some(tls.pem_path), Some(tls.dir)),
        None => (None, None, None),
    };

    let (sender, receiver) = tokio::sync::oneshot::channel();
    let server_shared = shared.clone();
    std::thread::Builder::new()
        .name(format!("aad-auth-tenant-{port}"))
        .spawn(move || {
            let system = actix_web::rt::System::new();
            system.block_on(async move {
                let data = web::Data::from(server_shared);
                let server =
                    actix_web::HttpServer::new(move || actix_web::App::new().app_data(data.clone()).configure(routes))
                        .workers(1)
                        .disable_signals()
                        .shutdown_timeout(1);
                let server = match tls_config {
                    Some(config) => server.listen_rustls_0_23(listener, config),
                    None => server.listen(listener),
                };
                let server = server.expect("listen on the tenant's socket").run();
                let _ = sender.send(server.handle());
                let _ = server.await;
            });
        })
        .expect("spawn the tenant thread");
    let handle = receiver.await.expect("tenant server started");
    super::Tenant { shared, handle, ca_cert_path, _tempdir: tempdir }
}

fn routes(cfg: &mut web::ServiceConfig) {
    const OPTIONS: actix_web::http::Method = actix_web::http::Method::OPTIONS;
    cfg.app_data(web::PayloadConfig::new(MAX_FORM_BYTES))
        .route("/{tenant}/v2.0/.well-known/openid-configuration", web::get().to(discovery_v2))
        .route("/{tenant}/.well-known/openid-configuration", web::get().to(discovery_v1))
        .route("/{tenant}/discovery/v2.0/keys", web::get().to(jwks_v2))
        .route("/{tenant}/discovery/keys", web::get().to(jwks_v1))
        .route("/common/discovery/instance", web::get().to(oauth::instance_discovery))
        .route("/{tenant}/oauth2/v2.0/authorize", web::get().to(pages::authorize))
        .route("/{tenant}/oauth2/v2.0/authorize", web::post().to(pages::authorize_submit))
        .route("/{tenant}/oauth2/v2.0/token", web::post().to(oauth::token))
        .route("/{tenant}/oauth2/v2.0/token", web::method(OPTIONS).to(oauth::preflight))
        .route("/{tenant}/oauth2/v2.0/devicecode", web::post().to(oauth::devicecode))
        .route("/{tenant}/oauth2/v2.0/devicecode", web::method(OPTIONS).to(oauth::preflight))
        .route("/{tenant}/oauth2/v2.0/logout", web::get().to(pages::logout))
        .route("/device", web::get().to(pages::device_page))
        .route("/device", web::post().to(pages::device_submit))
        .route("/v1.0/users/{oid}/checkMemberGroups", web::post().to(graph::check_member_groups))
        .route("/v1.0/me", web::get().to(graph::me))
        .route("/msi/token", web::get().to(super::identity::token));
}

async fn discovery_v2(shared: web::Data<Shared>, path: web::Path<String>) -> HttpResponse {
    if let Some(response) = fault_response(&shared, Endpoint::Discovery).await {
        return response;
    }
    let Some(tenant) = resolve_tenant(&shared, &path) else {
        return tenant_not_found(&path);
    };
    let base = &shared.base_url;
    let (segment, issuer) = match tenant {
        TenantPath::Own => (shared.tenant_id.clone(), shared.v2_issuer(&shared.tenant_id)),
        TenantPath::Multi(name) => (name.to_owned(), format!("{base}/{{tenantid}}/v2.0")),
    };
    HttpResponse::Ok().json(json!({
        "token_endpoint": format!("{base}/{segment}/oauth2/v2.0/token"),
        "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
        "jwks_uri": format!("{base}/{segment}/discovery/v2.0/keys"),
        "response_modes_supported": ["query", "fragment", "form_post"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
        "scopes_supported": ["openid", "profile", "email", "offline_access"],
        "issuer": issuer,
        "request_uri_parameter_supported": false,
        "userinfo_endpoint": format!("{base}/oidc/userinfo"),
        "authorization_endpoint": format!("{base}/{segment}/oauth2/v2.0/authorize"),
        "device_authorization_endpoint": format!("{base}/{segment}/oauth2/v2.0/devicecode"),
        "http_logout_supported": true,
        "frontchannel_logout_supported": true,
        "end_session_endpoint": format!("{base}/{segment}/oauth2/v2.0/logout"),
        "claims_supported": ["sub", "iss", "cloud_instance_name", "cloud_instance_host_name", "cloud_graph_host_name",
            "msgraph_host", "aud", "exp", "iat", "auth_time", "acr", "nonce", "preferred_username", "name", "tid", "ver",
            "at_hash", "c_hash", "email"],
        "kerberos_endpoint": format!("{base}/{segment}/kerberos"),
        "tenant_region_scope": null,
        "cloud_instance_name": "microsoftonline.com",
        "cloud_graph_host_name": "graph.windows.net",
        "msgraph_host": "graph.microsoft.com",
        "rbac_url": "https://pas.windows.net",
    }))
}

async fn discovery_v1(shared: web::Data<Shared>, path: web::Path<String>) -> HttpResponse {
    if let Some(response) = fault_response(&shared, Endpoint::DiscoveryV1).await {
        return response;
    }
    let Some(tenant) = resolve_tenant(&shared, &path) else {
        return tenant_not_found(&path);
    };
    let base = &shared.base_url;
    let (segment, issuer) = match tenant {
        TenantPath::Own => (shared.tenant_id.clone(), format!("https://sts.windows.net/{}/", shared.tenant_id)),
        TenantPath::Multi(name) => (name.to_owned(), "https://sts.windows.net/{tenantid}/".to_owned()),
    };
    HttpResponse::Ok().json(json!({
        "token_endpoint": format!("{base}/{segment}/oauth2/token"),
        "jwks_uri": format!("{base}/{segment}/discovery/keys"),
        "issuer": issuer,
        "authorization_endpoint": format!("{base}/{segment}/oauth2/authorize"),
        "end_session_endpoint": format!("{base}/{segment}/oauth2/logout"),
        "id_token_signing_alg_values_supported": ["RS256"],
        "response_types_supported": ["code", "id_token", "code id_token", "token id_token", "token"],
        "subject_types_supported": ["pairwise"],
        "cloud_instance_name": "microsoftonline.com",
    }))
}

async fn jwks_v2(shared: web::Data<Shared>, path: web::Path<String>) -> HttpResponse {
    if resolve_tenant(&shared, &path).is_none() {
        return tenant_not_found(&path);
    }
    // As Entra does: the v2 keys carry the issuer template on every endpoint, tenant-specific
    // ones included (the keys are the cloud's, shared by every tenant).
    let issuer = format!("{}/{{tenantid}}/v2.0", shared.base_url);
    jwks(&shared, Some(&issuer)).await
}

async fn jwks_v1(shared: web::Data<Shared>, path: web::Path<String>) -> HttpResponse {
    if resolve_tenant(&shared, &path).is_none() {
        return tenant_not_found(&path);
    }
    jwks(&shared, None).await
}

async fn jwks(shared: &Shared, issuer: Option<&str>) -> HttpResponse {
    if let Some(response) = fault_response(shared, Endpoint::Jwks).await {
        return response;
    }
    let active = shared.active_key();
    let fault = shared.fault(Endpoint::Jwks);
    if fault == Some(Fault::PartialKeysOnce) {
        shared.clear_fault(Endpoint::Jwks);
    }
    let keys: Vec<Value> = match fault {
        Some(Fault::EmptyKeys) => Vec::new(),
        Some(Fault::PartialKeys | Fault::PartialKeysOnce) => {
            shared.published_keys().iter().filter(|k| k.kid() != active.kid()).map(|k| k.jwk(issuer)).collect()
        }
        _ => shared.published_keys().iter().map(|k| k.jwk(issuer)).collect(),
    };
    HttpResponse::Ok().json(json!({ "keys": keys }))
}
