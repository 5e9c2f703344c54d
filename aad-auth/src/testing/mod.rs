//! A local Entra ID tenant for tests and offline development (feature `testing`).
//!
//! [`Tenant::start`] serves, on `127.0.0.1`, what an app and its clients need from Entra:
//! discovery (v1 and v2, tenant-specific and multi-tenant), the JWKS, and the OAuth endpoints
//! below. Tokens can also be minted directly with [`Tenant::token`], and the tenant can be told
//! to misbehave ([`Fault`]) or to rotate its keys.
//!
//! | endpoint | what |
//! |---|---|
//! | `GET /{tenant}/oauth2/v2.0/authorize` | authorization code flow: a user-picker page, SSO through the emulator's session cookie, or no UI with [`TenantBuilder::auto_user`] |
//! | `POST /{tenant}/oauth2/v2.0/token` | `authorization_code` (+ PKCE), `refresh_token`, `client_credentials`, device code, on-behalf-of (`jwt-bearer`) |
//! | `POST /{tenant}/oauth2/v2.0/devicecode`, `GET`/`POST /device` | device code, and the page where it is approved |
//! | `GET /{tenant}/oauth2/v2.0/logout` | ends the session; back to a registered `post_logout_redirect_uri` |
//! | `GET /common/discovery/instance` | msal's instance discovery |
//! | `POST /v1.0/users/{oid}/checkMemberGroups` | Microsoft Graph's membership check, for an app-only Graph token with the permissions Graph requires (groups overage) |
//! | `GET /v1.0/me` | Microsoft Graph's signed-in user, for a delegated Graph token with `User.Read` (or a broader permission) |
//!
//! Graph's delegated permissions need consent, per user and client app, as on Entra: signing in
//! through the authorize endpoint (or the device page) with a Graph scope consents to it, an
//! app registration can carry admin consent
//! ([`AppRegistration::admin_consent_graph_scope`]), and a test can consent for a user
//! ([`Tenant::grant_consent`]). A refresh-token or on-behalf-of request for a Graph scope
//! without consent is refused with AADSTS65001 (`consent_required`). With
//! [`TenantBuilder::require_auth_context_for`], Conditional Access asks for an authentication
//! context before it issues tokens for a resource (`interaction_required` with a `claims`
//! challenge).
//!
//! It behaves like Entra where clients or apps depend on it, so that a mistake that would fail
//! against Entra fails here too: redirect URIs must be registered (`http` loopback URIs match
//! any port; `:*` and a trailing `/*` in a registration are wildcards), codes are single use,
//! bound to the client, redirect URI and PKCE verifier (S256 only; required for single-page-app
//! redirect URIs, whose codes are redeemed without a secret, and the only ones a browser may
//! redeem cross-origin), and
//! expire after 10 minutes of the tenant's clock; a `refresh_token` comes only with
//! `offline_access` and an `id_token` only with `openid`; scopes name one resource
//! (`{client id}/.default`, `api://{client id}/{scope}`, bare names are Microsoft Graph).
//! Refresh tokens rotate (a used one is refused, unlike Entra's). Only `response_mode=query` is
//! served. With [`TenantBuilder::https`] it serves a self-signed certificate that real clients
//! such as Python `msal` accept ([`Tenant::ca_cert_path`]).
//!
//! ```
//! # #[actix_web::main] async fn main() {
//! use aad_auth::testing::Tenant;
//!
//! let tenant = Tenant::start().await;
//! let token = tenant.token().member().scopes(["user_impersonation"]).sign();
//! let auth = aad_auth::AadAuth::bearer_only(tenant.api_config().build().unwrap()).unwrap();
//! let verified = auth.validate_bearer(&token).await.unwrap();
//! assert_eq!(verified.user().username.as_deref(), Some(tenant.users()[0].username.as_str()));
//! # }
//! ```

mod assertions;
pub(crate) mod certs;
mod claims;
mod client_auth;
mod clock;
mod consent;
mod flows;
mod grants;
mod graph;
mod identity;
mod issuer;
mod keys;
mod oauth;
mod pages;
mod proto;
mod registry;
mod scopes;
mod server;
mod tls;
mod token;
mod uris;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

pub use crate::ui::ui_preview;
pub use assertions::AcceptedAssertion;
pub use certs::TestCertificate;
pub use clock::ManualClock;
pub use identity::TestManagedIdentity;
pub use issuer::FederatedIssuer;
pub use keys::{SigningAlg, TestKey};
/// The form and query parser of the endpoints, for the `emulator_form` fuzz target.
#[cfg(feature = "fuzzing")]
pub(crate) use proto::{param, parse_params};
pub use registry::{
    AppRegistration, FederatedCredential, GROUPS_OVERAGE_LIMIT, OVERAGE_TEAM_GROUP, TestUser, random_guid,
};
pub use scopes::GRAPH_APP_ID;
pub use token::TokenBuilder;

use crate::clock::SharedClock;
use crate::config::{AadAuthConfigBuilder, ConfigError};

/// An endpoint of the tenant, for request counters and faults.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Endpoint {
    /// `/{tenant}/v2.0/.well-known/openid-configuration`.
    Discovery,
    /// `/{tenant}/.well-known/openid-configuration` (v1).
    DiscoveryV1,
    /// `/{tenant}/discovery/v2.0/keys` and `/{tenant}/discovery/keys`.
    Jwks,
    /// `/{tenant}/oauth2/v2.0/authorize`.
    Authorize,
    /// `/{tenant}/oauth2/v2.0/token`.
    Token,
    /// `/{tenant}/oauth2/v2.0/devicecode`.
    DeviceCode,
    /// `/{tenant}/oauth2/v2.0/logout`.
    Logout,
    /// `/common/discovery/instance`.
    InstanceDiscovery,
    /// Microsoft Graph's `/v1.0/users/{oid}/checkMemberGroups`.
    Graph,
    /// Microsoft Graph's `/v1.0/me`.
    GraphMe,
    /// The App Service managed identity endpoint, `/msi/token`.
    ManagedIdentity,
}

const ENDPOINTS: usize = 11;

impl Endpoint {
    fn index(self) -> usize {
        self as usize
    }
}

/// A way for an endpoint to misbehave.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Fault {
    /// Answer with this HTTP status and an error body.
    Status(u16),
    /// Answer 200 with a body that is not JSON.
    Garbage,
    /// JWKS only: publish an empty key set.
    EmptyKeys,
    /// JWKS only: publish every key except the active signing key.
    PartialKeys,
    /// JWKS only: like [`Fault::PartialKeys`] for one answer, then behave again (one lagging
    /// replica behind a load balancer).
    PartialKeysOnce,
    /// Answer 429 with `Retry-After` of this many whole seconds (throttling, as Graph does).
    Throttled(Duration),
    /// Answer normally after this delay.
    Slow(Duration),
    /// Never answer (well, after an hour).
    Hang,
}

/// The keys the tenant signs with and publishes.
#[derive(Debug)]
pub(crate) struct KeyRing {
    active: Arc<TestKey>,
    published: Vec<Arc<TestKey>>,
    rotations: u32,
}

/// State shared by the server and the token builders.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) tenant_id: String,
    pub(crate) domain: String,
    pub(crate) guest_home_tenant: String,
    pub(crate) base_url: String,
    pub(crate) apps: Vec<AppRegistration>,
    pub(crate) users: Vec<TestUser>,
    pub(crate) clock: SharedClock,
    keys: RwLock<KeyRing>,
    faults: Mutex<HashMap<Endpoint, Fault>>,
    counters: [AtomicU64; ENDPOINTS],
    service_principals: HashMap<String, String>,
    pub(crate) flows: flows::Flows,
    /// The user signed in without UI (object id), when the tenant runs with `auto_user`.
    pub(crate) auto_user: Option<String>,
    /// The authentication contexts issued in `acrs` (`None`: all).
    pub(crate) auth_contexts: Option<Vec<String>>,
    /// Consent users gave client apps to Graph's delegated permissions.
    pub(crate) consents: consent::Consents,
    /// Conditional Access: (resource client id, lower case; authentication context) pairs a
    /// token for the resource requires.
    pub(crate) auth_context_policies: Vec<(String, String)>,
    /// Certificates and federated credentials per client id.
    credentials: RwLock<HashMap<String, assertions::AppCredentials>>,
    /// Client assertions accepted so far.
    accepted_assertions: Mutex<Vec<AcceptedAssertion>>,
    /// The managed identity `/msi/token` serves.
    pub(crate) managed_identity: Option<TestManagedIdentity>,
}

impl Shared {
    pub(crate) fn api_app(&self) -> AppRegistration {
        self.apps
            .iter()
            .find(|a| !a.public_client)
            .or(self.apps.first())
            .cloned()
            .unwrap_or_else(|| AppRegistration::confidential("API"))
    }

    pub(crate) fn public_app(&self) -> AppRegistration {
        self.apps
            .iter()
            .find(|a| a.public_client)
            .or(self.apps.first())
            .cloned()
            .unwrap_or_else(|| AppRegistration::public("Client"))
    }

    pub(crate) fn app(&self, client_id: &str) -> Option<&AppRegistration> {
        self.apps.iter().find(|a| a.client_id == client_id)
    }

    /// The certificates and federated credentials of an app.
    pub(crate) fn app_credentials(&self, client_id: &str) -> assertions::AppCredentials {
        self.credentials
            .read()
            .map(|credentials| credentials.get(client_id).cloned().unwrap_or_default())
            .unwrap_or_default()
    }

    /// Whether an app is a confidential client: it has a secret, a certificate or a federated
    /// credential.
    pub(crate) fn is_confidential(&self, app: &AppRegistration) -> bool {
        app.client_secret.is_some() || !self.app_credentials(&app.client_id).is_empty()
    }

    pub(crate) fn record_assertion(&self, accepted: AcceptedAssertion) {
        if let Ok(mut seen) = self.accepted_assertions.lock() {
            seen.push(accepted);
        }
    }

    pub(crate) fn service_principal_oid(&self, client_id: &str) -> String {
        self.service_principals.get(client_id).cloned().unwrap_or_else(random_guid)
    }

    pub(crate) fn v2_issuer(&self, tid: &str) -> String {
        format!("{}/{tid}/v2.0", self.base_url)
    }

    pub(crate) fn active_key(&self) -> Arc<TestKey> {
        self.keys.read().map(|ring| ring.active.clone()).unwrap_or_else(|poisoned| poisoned.into_inner().active.clone())
    }

    pub(crate) fn published_keys(&self) -> Vec<Arc<TestKey>> {
        self.keys.read().map(|ring| ring.published.clone()).unwrap_or_default()
    }

    pub(crate) fn fault(&self, endpoint: Endpoint) -> Option<Fault> {
        self.faults.lock().ok().and_then(|faults| faults.get(&endpoint).cloned())
    }

    pub(crate) fn clear_fault(&self, endpoint: Endpoint) {
        if let Ok(mut faults) = self.faults.lock() {
            faults.remove(&endpoint);
        }
    }

    pub(crate) fn count(&self, endpoint: Endpoint) {
        self.counters[endpoint.index()].fetch_add(1, Ordering::Relaxed);
    }
}

/// Builds a [`Tenant`] with chosen registrations, users, clock or port.
#[derive(Debug, Default)]
#[must_use]
pub struct TenantBuilder {
    apps: Vec<AppRegistration>,
    users: Vec<TestUser>,
    clock: Option<SharedClock>,
    port: u16,
    tenant_id: Option<String>,
    https: bool,
    auto_user: Option<String>,
    auth_contexts: Option<Vec<String>>,
    auth_context_policies: Vec<(String, String)>,
    managed_identity: Option<TestManagedIdentity>,
}

impl TenantBuilder {
    /// Serves the App Service / Container Apps managed identity endpoint (`GET /msi/token`, see
    /// [`Tenant::managed_identity_endpoint`]) for `identity`: requests with its header get a
    /// token for `api://AzureADTokenExchange` (`iss` the tenant's issuer, `sub` and `oid` its
    /// object id), which an app trusting it ([`Tenant::add_federated_credential`] with
    /// [`Tenant::issuer`] and the object id) accepts as its client assertion.
    pub fn managed_identity(mut self, identity: TestManagedIdentity) -> Self {
        self.managed_identity = Some(identity);
        self
    }

    /// Registers an app. The first confidential app is "the API"; the first public one is "the
    /// public client". Without any, both are created.
    pub fn app(mut self, app: AppRegistration) -> Self {
        self.apps.push(app);
        self
    }

    /// Adds a user. Without any, four are created: two members (`alice` with role `Admin`,
    /// `bob` without roles), a guest, and `dave`, a member of 250 groups (an overage), the first
    /// of which is [`OVERAGE_TEAM_GROUP`].
    pub fn user(mut self, user: TestUser) -> Self {
        self.users.push(user);
        self
    }

    /// Reads time from `clock` (token lifetimes, code expiry).
    pub fn clock(mut self, clock: SharedClock) -> Self {
        self.clock = Some(clock);
        self
    }

    /// Listens on this port (default: a free one).
    pub fn port(mut self, port: u16) -> Self {
        self.port = port;
        self
    }

    /// Uses this tenant id (default: a random GUID).
    pub fn tenant_id(mut self, tenant_id: impl Into<String>) -> Self {
        self.tenant_id = Some(tenant_id.into());
        self
    }

    /// Serves https with a self-signed certificate for `127.0.0.1` (see [`Tenant::ca_cert_path`]).
    pub fn https(mut self, https: bool) -> Self {
        self.https = https;
        self
    }

    /// Signs this user in automatically at the authorize endpoint and approves device codes for
    /// them at the first poll (`first` = the first user). A `login_hint` naming another user
    /// signs that user in instead. Without it, the authorize endpoint shows a user picker and
    /// device codes wait for approval on `/device`.
    pub fn auto_user(mut self, username: impl Into<String>) -> Self {
        self.auto_user = Some(username.into());
        self
    }

    /// The Conditional Access authentication contexts the tenant has (and satisfies at once):
    /// a `claims` request for another one gets a token without it, as from an Entra tenant
    /// where that context has no policy. Default: every id, `c1` to `c99`.
    pub fn auth_contexts<I: IntoIterator<Item = S>, S: Into<String>>(mut self, ids: I) -> Self {
        self.auth_contexts = Some(ids.into_iter().map(Into::into).collect());
        self
    }

    /// A Conditional Access policy: tokens for `resource` (a client id, `api://{client id}`,
    /// `https://graph.microsoft.com` or Graph's app id) require the authentication context
    /// `context` (`c1`..`c99`). An on-behalf-of request for `resource` whose incoming token's
    /// `acrs` lacks it, and a refresh-token request for `resource` whose sign-in did not satisfy
    /// it (nor its `claims` ask for it), are refused with 400 `interaction_required`
    /// (AADSTS50076) and `claims` = `{"access_token":{"acrs":{"essential":true,"value":"c1"}}}`,
    /// the challenge the client answers with an interactive sign-in. Default: no policy.
    pub fn require_auth_context_for(mut self, resource: impl Into<String>, context: impl Into<String>) -> Self {
        self.auth_context_policies.push((resource.into(), context.into()));
        self
    }

    /// Registers the apps of the demo and `examples/dev_tenant`: [`AppRegistration::dev_api`]
    /// (the API and web app) and [`AppRegistration::dev_public_client`]. A tenant without any
    /// registration gets these too.
    pub fn dev_defaults(self) -> Self {
        self.app(AppRegistration::dev_api()).app(AppRegistration::dev_public_client())
    }

    /// A tenant set up from the `DEV_TENANT_*` variables, as `examples/dev_tenant` and the
    /// offline demo read them, with [`TenantBuilder::dev_defaults`]:
    ///
    /// | variable | default | meaning |
    /// |---|---|---|
    /// | `DEV_TENANT_PORT` | 8400 | port on 127.0.0.1 (0 = any free port) |
    /// | `DEV_TENANT_HTTPS` | off | `1`/`true`: serve https with a self-signed certificate |
    /// | `DEV_TENANT_AUTO_USER` | none | sign this user in without UI (`first` = the first user) |
    /// | `DEV_TENANT_ID` | random | tenant GUID, stable across restarts |
    /// | `DEV_TENANT_API_CLIENT_ID` | random | the dev API's client id (a GUID) |
    /// | `DEV_TENANT_API_CLIENT_SECRET` | random | the dev API's client secret |
    /// | `DEV_TENANT_API_CERTIFICATE` | none | a PEM file with a certificate to register on the dev API (its client assertions, `AAD_CLIENT_CERTIFICATE`, are then accepted) |
    /// | `DEV_TENANT_REDIRECT_ORIGINS` | none | comma-separated origins of the app behind a proxy (`https://localhost:8443`): the dev API also accepts `{origin}/oauth/aad/redirect`, `{origin}/docs/oauth2-redirect` (single-page app) and `{origin}/login` (after logout) |
    ///
    /// # Errors
    /// A variable with a value of the wrong shape.
    pub fn from_dev_env() -> Result<Self, ConfigError> {
        Self::from_dev_lookup(&|name| std::env::var(name).ok())
    }

    fn from_dev_lookup(lookup: &dyn Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |name: &str| lookup(name).map(|value| value.trim().to_owned()).filter(|value| !value.is_empty());
        let invalid = |var: &'static str, expected: &'static str, got: Option<String>| ConfigError::Invalid {
            var,
            expected,
            got: got.map(|value| crate::log_safe::clip(&value)),
        };
        let mut builder = Self::default().port(8400);
        if let Some(port) = get("DEV_TENANT_PORT") {
            let port = port
                .parse()
                .map_err(|_| invalid("DEV_TENANT_PORT", "a port number (0 = any free port)", Some(port)))?;
            builder = builder.port(port);
        }
        if let Some(https) = get("DEV_TENANT_HTTPS") {
            builder.https = match https.to_ascii_lowercase().as_str() {
                "1" | "true" | "yes" | "on" => true,
                "0" | "false" | "no" | "off" => false,
                _ => return Err(invalid("DEV_TENANT_HTTPS", "1 (https) or 0 (http)", Some(https))),
            };
        }
        if let Some(user) = get("DEV_TENANT_AUTO_USER") {
            builder = builder.auto_user(user);
        }
        if let Some(id) = get("DEV_TENANT_ID") {
            if !crate::config::is_guid(&id) {
                return Err(invalid("DEV_TENANT_ID", "a tenant GUID", Some(id)));
            }
            builder = builder.tenant_id(id.to_ascii_lowercase());
        }
        let mut api = AppRegistration::dev_api();
        if let Some(id) = get("DEV_TENANT_API_CLIENT_ID") {
            if !crate::config::is_guid(&id) {
                return Err(invalid("DEV_TENANT_API_CLIENT_ID", "a client id (GUID)", Some(id)));
            }
            api = api.client_id(id.to_ascii_lowercase());
        }
        if let Some(secret) = get("DEV_TENANT_API_CLIENT_SECRET") {
            api = api.client_secret(secret);
        }
        if let Some(path) = get("DEV_TENANT_API_CERTIFICATE") {
            let file =
                |reason: String| ConfigError::File { var: "DEV_TENANT_API_CERTIFICATE", path: path.clone(), reason };
            let pem = std::fs::read_to_string(&path).map_err(|error| file(error.to_string()))?;
            if certs::RegisteredCertificate::parse(pem.as_bytes()).is_none() {
                return Err(file("no PEM certificate (-----BEGIN CERTIFICATE-----) in it".into()));
            }
            api = api.certificate(pem);
        }
        if let Some(origins) = get("DEV_TENANT_REDIRECT_ORIGINS") {
            for origin in origins.split(',').map(str::trim).filter(|origin| !origin.is_empty()) {
                let origin = crate::config::origin_only(origin).ok_or_else(|| {
                    invalid(
                        "DEV_TENANT_REDIRECT_ORIGINS",
                        "comma-separated origins such as https://localhost:8443 (scheme, host and port only)",
                        // A URL with credentials is not echoed.
                        (!origin.contains('@')).then(|| origin.to_owned()),
                    )
                })?;
                api = api.with_origin(&origin);
            }
        }
        Ok(builder.app(api).app(AppRegistration::dev_public_client()))
    }

    /// Starts serving.
    ///
    /// # Panics
    /// When the port cannot be bound or the server cannot start, when `auto_user` names no
    /// user, or when `require_auth_context_for` names a context that is not `c1`..`c99`: a test
    /// set-up failure.
    pub async fn start(self) -> Tenant {
        server::start(self).await
    }
}

/// A running local tenant. Stops when dropped.
pub struct Tenant {
    shared: Arc<Shared>,
    handle: actix_web::dev::ServerHandle,
    ca_cert_path: Option<std::path::PathBuf>,
    _tempdir: Option<tls::TempDir>,
}

impl std::fmt::Debug for Tenant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tenant")
            .field("authority_host", &self.shared.base_url)
            .field("tenant_id", &self.shared.tenant_id)
            .finish_non_exhaustive()
    }
}

impl Drop for Tenant {
    fn drop(&mut self) {
        // `stop` sends the command immediately; the returned future only waits for completion.
        drop(self.handle.stop(false));
    }
}

impl Tenant {
    /// Starts a tenant with the default registrations and users on a free port.
    pub async fn start() -> Self {
        Self::builder().start().await
    }

    /// Starts building a tenant.
    pub fn builder() -> TenantBuilder {
        TenantBuilder::default()
    }

    /// `http(s)://127.0.0.1:{port}`.
    pub fn authority_host(&self) -> &str {
        &self.shared.base_url
    }

    /// The tenant GUID.
    pub fn tenant_id(&self) -> &str {
        &self.shared.tenant_id
    }

    /// The tenant's domain (`contoso.onmicrosoft.com`).
    pub fn domain(&self) -> &str {
        &self.shared.domain
    }

    /// `{authority_host}/{tenant_id}`.
    pub fn authority(&self) -> String {
        format!("{}/{}", self.shared.base_url, self.shared.tenant_id)
    }

    /// The v2 discovery document URL.
    pub fn openid_config_url(&self) -> String {
        format!("{}/v2.0/.well-known/openid-configuration", self.authority())
    }

    /// The v2 issuer of this tenant.
    pub fn issuer(&self) -> String {
        self.shared.v2_issuer(&self.shared.tenant_id)
    }

    /// The PEM file of the self-signed certificate (https tenants only).
    pub fn ca_cert_path(&self) -> Option<&std::path::Path> {
        self.ca_cert_path.as_deref()
    }

    /// The API app (first confidential registration).
    pub fn api_app(&self) -> AppRegistration {
        self.shared.api_app()
    }

    /// The public client (first public registration).
    pub fn public_app(&self) -> AppRegistration {
        self.shared.public_app()
    }

    /// Every registration.
    pub fn apps(&self) -> &[AppRegistration] {
        &self.shared.apps
    }

    /// Records that `user` consented to the Microsoft Graph delegated scopes `scopes` (bare
    /// names, `User.Read`) for the app `client_id`, as signing in with them would: refresh-token
    /// and on-behalf-of requests of that app for them are then granted.
    pub fn grant_consent<I: IntoIterator<Item = S>, S: Into<String>>(
        &self,
        user: &TestUser,
        client_id: &str,
        scopes: I,
    ) {
        let scopes: Vec<String> = scopes.into_iter().map(Into::into).collect();
        self.shared.consents.record(&user.oid, client_id, &scopes);
    }

    /// The Microsoft Graph delegated scopes `user` consented to for the app `client_id` (admin
    /// consent not included).
    pub fn consented_scopes(&self, user: &TestUser, client_id: &str) -> Vec<String> {
        self.shared.consents.granted(&user.oid, client_id)
    }

    /// Forgets every consent `user` gave the app `client_id` (as removing the app from "My
    /// Apps" does).
    pub fn revoke_consent(&self, user: &TestUser, client_id: &str) {
        self.shared.consents.revoke(&user.oid, client_id);
    }

    /// Every user.
    pub fn users(&self) -> &[TestUser] {
        &self.shared.users
    }

    /// The user with this username.
    pub fn user(&self, username: &str) -> Option<&TestUser> {
        self.shared.users.iter().find(|u| u.username.eq_ignore_ascii_case(username))
    }

    /// A configuration for the API app against this tenant (client id, secret, tenant, host,
    /// trusted certificate), ready for more settings.
    pub fn api_config(&self) -> AadAuthConfigBuilder {
        let api = self.api_app();
        let mut builder =
            crate::AadAuthConfig::builder(api.client_id, self.tenant_id()).authority_host(self.authority_host());
        if let Some(secret) = api.client_secret {
            builder = builder.client_secret(secret);
        }
        if let Some(ca) = &self.ca_cert_path {
            builder = builder.ca_file(ca);
        }
        builder
    }

    /// Uploads a certificate (PEM, see [`TestCertificate::cert_pem`]) to the app `client_id`:
    /// client assertions signed with its key (`x5t#S256` or `x5t`) then authenticate the app.
    ///
    /// # Panics
    /// When the PEM holds no certificate: a test set-up failure.
    #[allow(clippy::expect_used)]
    pub fn add_certificate(&self, client_id: &str, pem: &str) {
        let certificate = certs::RegisteredCertificate::parse(pem.as_bytes()).expect("a PEM certificate");
        self.shared
            .credentials
            .write()
            .expect("credentials lock")
            .entry(client_id.to_owned())
            .or_default()
            .certificates
            .push(certificate);
    }

    /// Adds a federated credential to the app `client_id`: assertions of its issuer about its
    /// subject, for its audience, then authenticate the app.
    #[allow(clippy::expect_used)]
    pub fn add_federated_credential(&self, client_id: &str, credential: FederatedCredential) {
        self.shared
            .credentials
            .write()
            .expect("credentials lock")
            .entry(client_id.to_owned())
            .or_default()
            .federated
            .push(credential);
    }

    /// The client assertions the token endpoint accepted, oldest first.
    pub fn accepted_assertions(&self) -> Vec<AcceptedAssertion> {
        self.shared.accepted_assertions.lock().map(|seen| seen.clone()).unwrap_or_default()
    }

    /// The managed identity of [`TenantBuilder::managed_identity`].
    pub fn managed_identity(&self) -> Option<&TestManagedIdentity> {
        self.shared.managed_identity.as_ref()
    }

    /// `{authority_host}/msi/token`: the `IDENTITY_ENDPOINT` of the managed identity.
    pub fn managed_identity_endpoint(&self) -> String {
        format!("{}/msi/token", self.shared.base_url)
    }

    /// Mints a token (v2 access token for the first member by default); see [`TokenBuilder`].
    pub fn token(&self) -> TokenBuilder {
        TokenBuilder::new(self.shared.clone())
    }

    /// The key new tokens are signed with (after [`Tenant::rotate_keys`], the new one).
    pub fn active_key(&self) -> Arc<TestKey> {
        self.shared.active_key()
    }

    /// The key id new tokens are signed with.
    pub fn active_kid(&self) -> String {
        self.shared.active_key().kid().to_owned()
    }

    /// Rotates keys: a new key becomes the signing key and is published next to the old ones.
    /// Returns its key id.
    #[allow(clippy::expect_used)]
    pub fn rotate_keys(&self) -> String {
        let mut ring = self.shared.keys.write().expect("key ring lock");
        ring.rotations += 1;
        let key = Arc::new(TestKey::generate(format!("emulator-key-{}-{}", ring.rotations + 1, &random_guid()[..8])));
        ring.published.push(key.clone());
        ring.active = key;
        ring.active.kid().to_owned()
    }

    /// Stops publishing the key `kid` (tokens signed with it become unverifiable once caches
    /// expire).
    #[allow(clippy::expect_used)]
    pub fn retire_key(&self, kid: &str) {
        self.shared.keys.write().expect("key ring lock").published.retain(|key| key.kid() != kid);
    }

    /// Publishes an extra key (for example one a test signs with directly).
    #[allow(clippy::expect_used)]
    pub fn publish_key(&self, key: Arc<TestKey>) {
        self.shared.keys.write().expect("key ring lock").published.push(key);
    }

    /// Makes `endpoint` misbehave until [`Tenant::clear_fault`].
    #[allow(clippy::expect_used)]
    pub fn set_fault(&self, endpoint: Endpoint, fault: Fault) {
        self.shared.faults.lock().expect("faults lock").insert(endpoint, fault);
    }

    /// Makes `endpoint` behave again.
    pub fn clear_fault(&self, endpoint: Endpoint) {
        self.shared.clear_fault(endpoint);
    }

    /// Requests served by `endpoint` so far (faulty answers included; CORS preflights are not
    /// counted).
    pub fn requests(&self, endpoint: Endpoint) -> u64 {
        self.shared.counters[endpoint.index()].load(Ordering::Relaxed)
    }

    /// Resets every request counter.
    pub fn reset_counters(&self) {
        for counter in &self.shared.counters {
            counter.store(0, Ordering::Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::TenantBuilder;

    fn lookup<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| pairs.iter().find(|(key, _)| *key == name).map(|(_, value)| (*value).to_owned())
    }

    #[test]
    fn dev_env_defaults_and_overrides() {
        let Ok(builder) = TenantBuilder::from_dev_lookup(&lookup(&[])) else { panic!("defaults") };
        assert_eq!((builder.port, builder.https, builder.auto_user.is_none()), (8400, false, true));
        assert_eq!(builder.apps.len(), 2);
        assert!(builder.apps[0].redirect_uris.iter().any(|uri| uri == "http://127.0.0.1:*/oauth/aad/redirect"));
        assert!(builder.apps[1].public_client);

        let api_id = "0B8D5E63-9F6A-4C37-8E2B-1F0D2C3B4A59";
        let pairs = [
            ("DEV_TENANT_PORT", "0"),
            ("DEV_TENANT_HTTPS", "1"),
            ("DEV_TENANT_AUTO_USER", "first"),
            ("DEV_TENANT_ID", "3f2504e0-4f89-41d3-9a0c-0305e82c3301"),
            ("DEV_TENANT_API_CLIENT_ID", api_id),
            ("DEV_TENANT_API_CLIENT_SECRET", "s3cret"),
        ];
        let Ok(builder) = TenantBuilder::from_dev_lookup(&lookup(&pairs)) else { panic!("overrides") };
        assert_eq!((builder.port, builder.https), (0, true));
        assert_eq!(builder.auto_user.as_deref(), Some("first"));
        assert_eq!(builder.tenant_id.as_deref(), Some("3f2504e0-4f89-41d3-9a0c-0305e82c3301"));
        assert_eq!(builder.apps[0].client_id, api_id.to_ascii_lowercase());
        assert_eq!(builder.apps[0].client_secret.as_deref(), Some("s3cret"));

        let origins = [("DEV_TENANT_REDIRECT_ORIGINS", "https://localhost:8443, https://App.Example/")];
        let Ok(builder) = TenantBuilder::from_dev_lookup(&lookup(&origins)) else { panic!("origins") };
        let api = &builder.apps[0];
        for (list, uri) in [
            (&api.redirect_uris, "https://localhost:8443/oauth/aad/redirect"),
            (&api.spa_redirect_uris, "https://localhost:8443/docs/oauth2-redirect"),
            (&api.post_logout_redirect_uris, "https://localhost:8443/login"),
            (&api.redirect_uris, "https://app.example/oauth/aad/redirect"),
        ] {
            assert!(list.iter().any(|registered| registered == uri), "{uri} not in {list:?}");
        }
        assert!(api.redirect_uris.iter().any(|uri| uri == "http://127.0.0.1:*/oauth/aad/redirect"), "defaults kept");

        for (var, value) in [
            ("DEV_TENANT_REDIRECT_ORIGINS", "https://localhost:8443/app"),
            ("DEV_TENANT_REDIRECT_ORIGINS", "ftp://localhost"),
            ("DEV_TENANT_REDIRECT_ORIGINS", "https://user:pw@localhost"),
            ("DEV_TENANT_PORT", "80000"),
            ("DEV_TENANT_HTTPS", "maybe"),
            ("DEV_TENANT_ID", "contoso"),
            ("DEV_TENANT_API_CLIENT_ID", "api"),
        ] {
            let pairs = [(var, value)];
            match TenantBuilder::from_dev_lookup(&lookup(&pairs)) {
                Err(error) => assert_eq!(error.variables(), vec![var]),
                Ok(_) => panic!("{var}={value} accepted"),
            }
        }
    }
}
