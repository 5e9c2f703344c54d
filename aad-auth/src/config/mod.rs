//! Configuration: from the environment (and `.env`), or built in code.
//!
//! [`AadAuthConfig::from_env`] reads the variables of the table in `settings.rs` (which the
//! README's configuration table is checked against); [`AadAuthConfig::builder`] sets the same
//! values in code. Both end in the same validation (`validate.rs`), whose bounds come from that
//! table too, so a value is refused, and reported the same way, naming the environment
//! variable, whichever way it was set. Every problem is reported at once, one line each, and
//! none that only follows from a value already reported.

pub(crate) mod credentials;
pub(crate) mod env;
mod error;
mod graph;
mod public_base;
pub(crate) mod settings;
mod validate;

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub use error::ConfigError;
use ipnet::IpNet;
use url::Url;
pub(crate) use validate::is_loopback;
#[cfg(feature = "testing")]
pub(crate) use validate::origin_only;

use crate::credential::ClientCredential;
use crate::secret::{ClientSecret, IdentityHeader, SessionSecret};

/// The Entra ID tenant an app accepts tokens from.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Tenant {
    /// A tenant GUID (`AAD_TENANT_ID=72f988bf-…`).
    Id(String),
    /// A tenant domain (`contoso.onmicrosoft.com`); its GUID is learnt from discovery.
    Domain(String),
    /// `common`: any work, school or personal account (multi-tenant).
    Common,
    /// `organizations`: any work or school account (multi-tenant).
    Organizations,
    /// `consumers`: personal Microsoft accounts only.
    Consumers,
}

impl Tenant {
    /// Parses `AAD_TENANT_ID`.
    pub fn parse(value: &str) -> Option<Self> {
        let value = value.trim();
        match value.to_ascii_lowercase().as_str() {
            "" => None,
            "common" => Some(Self::Common),
            "organizations" => Some(Self::Organizations),
            "consumers" => Some(Self::Consumers),
            _ if is_guid(value) => Some(Self::Id(value.to_ascii_lowercase())),
            _ if is_domain(value) => Some(Self::Domain(value.to_ascii_lowercase())),
            _ => None,
        }
    }

    /// The path segment used in authority URLs.
    pub fn as_path_segment(&self) -> &str {
        match self {
            Self::Id(id) | Self::Domain(id) => id,
            Self::Common => "common",
            Self::Organizations => "organizations",
            Self::Consumers => "consumers",
        }
    }

    /// Whether tokens from many tenants are expected (`common`, `organizations`).
    pub fn is_multi_tenant(&self) -> bool {
        matches!(self, Self::Common | Self::Organizations)
    }
}

/// Whether a string is a GUID in the 8-4-4-4-12 hex form Entra uses for tenant and object ids.
pub(crate) fn is_guid(value: &str) -> bool {
    let bytes = value.as_bytes();
    bytes.len() == 36
        && bytes.iter().enumerate().all(|(index, byte)| match index {
            8 | 13 | 18 | 23 => *byte == b'-',
            _ => byte.is_ascii_hexdigit(),
        })
}

fn is_domain(value: &str) -> bool {
    value.contains('.')
        && value.len() <= 253
        && value
            .split('.')
            .all(|label| !label.is_empty() && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
}

/// Access-token versions an API accepts (`AAD_TOKEN_VERSIONS`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenVersions {
    /// v1.0 tokens (`iss` = `https://sts.windows.net/{tid}/`).
    pub v1: bool,
    /// v2.0 tokens (`iss` = the discovery issuer).
    pub v2: bool,
}

impl Default for TokenVersions {
    fn default() -> Self {
        Self { v1: true, v2: true }
    }
}

/// What a route that requires groups does for a caller whose token has a groups overage (too
/// many groups to list: `_claim_names`/`hasgroups` instead of `groups`), `AAD_GROUPS_OVERAGE`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum GroupsOverage {
    /// Refuse (403, `GroupsOverage`): the membership cannot be confirmed from the token.
    #[default]
    Off,
    /// Ask Microsoft Graph (`POST /v1.0/users/{oid}/checkMemberGroups`) with the app's own token
    /// (client credentials), and decide from its answer.
    Graph,
}

/// The `SameSite` attribute of the session cookie.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum SameSite {
    /// `SameSite=Lax` (default): sent on top-level navigations, so the login callback works.
    #[default]
    Lax,
    /// `SameSite=Strict`.
    Strict,
    /// `SameSite=None` (requires `Secure`).
    None,
}

/// Where sessions are kept (`SESSION_STORE`).
///
/// `Debug` never shows a Redis URL's user or password: `rediss://***@host:6380/0`.
#[derive(Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum SessionStoreKind {
    /// An encrypted cookie; tokens are kept in this process's memory.
    #[default]
    Cookie,
    /// Redis at this URL (`redis://`, or `rediss://` for TLS): sessions and tokens are shared
    /// by every instance.
    Redis(Url),
}

impl std::fmt::Debug for SessionStoreKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Cookie => f.write_str("Cookie"),
            Self::Redis(url) => f.debug_tuple("Redis").field(&format_args!("{}", redacted_url(url))).finish(),
        }
    }
}

/// `scheme://***@host:port/path` when the URL carries a user or password, else the URL.
pub(crate) fn redacted_url(url: &Url) -> String {
    if url.username().is_empty() && url.password().is_none() {
        return url.as_str().to_owned();
    }
    let mut shown = url.clone();
    // Setting fails only for URLs that cannot have credentials, which these have.
    let _ = shown.set_password(None);
    let _ = shown.set_username("");
    let host = shown.host_str().unwrap_or_default();
    let port = shown.port().map(|port| format!(":{port}")).unwrap_or_default();
    format!("{}://***@{host}{port}{}", shown.scheme(), shown.path())
}

/// Routes mounted by [`crate::AadAuth::configure`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RouteConfig {
    /// Login UI page (`AUTH_LOGIN_UI_ROUTE`, default `/login`).
    pub login_ui: String,
    /// Base of the OAuth routes (`OAUTH_BASE_ROUTE`, default `/oauth`): login at
    /// `{base}/aad/login`, callback at `{base}/aad/redirect`.
    pub oauth_base: String,
    /// Logout (`AUTH_LOGOUT_ROUTE`, default `/logout`).
    pub logout: String,
    /// User page (`AUTH_USER_ROUTE`, default `/me`; token JSON at `{user}/token`); `None` when
    /// set to an empty value.
    pub user: Option<String>,
    /// Home (`APP_HOME_ROUTE`, default `/`).
    pub home: String,
    /// Where logout lands (`AUTH_POST_LOGOUT_ROUTE`, default: the login UI).
    pub post_logout: String,
    /// Where the login UI's assets are served (`AUTH_LOGIN_STATIC_PATH`, default `/static-login`).
    pub static_path: String,
}

impl Default for RouteConfig {
    fn default() -> Self {
        Self {
            login_ui: "/login".into(),
            oauth_base: "/oauth".into(),
            logout: "/logout".into(),
            user: Some("/me".into()),
            home: "/".into(),
            post_logout: "/login".into(),
            static_path: "/static-login".into(),
        }
    }
}

impl RouteConfig {
    /// `{oauth_base}/aad/login`.
    pub fn oauth_login(&self) -> String {
        format!("{}/aad/login", self.oauth_base.trim_end_matches('/'))
    }

    /// `{oauth_base}/aad/redirect`.
    pub fn oauth_callback(&self) -> String {
        format!("{}/aad/redirect", self.oauth_base.trim_end_matches('/'))
    }

    /// `{user}/token`, when the user page is enabled.
    pub fn user_token(&self) -> Option<String> {
        self.user.as_ref().map(|user| format!("{}/token", user.trim_end_matches('/')))
    }
}

/// Login UI settings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct UiConfig {
    /// Shown in titles and headings (`APP_NAME`).
    pub app_name: Option<String>,
    /// Replaces the login page template (`AUTH_LOGIN_TEMPLATE_FILE`).
    pub login_template: Option<PathBuf>,
    /// Replaces the user page template (`AUTH_USER_TEMPLATE_FILE`).
    pub user_template: Option<PathBuf>,
    /// Replaces the error page template (`AUTH_ERROR_TEMPLATE_FILE`).
    pub error_template: Option<PathBuf>,
    /// A logo shown above the sign-in button (`APP_LOGO_FILE`: PNG, SVG, JPEG, GIF, WebP or ICO).
    pub logo_file: Option<PathBuf>,
}

/// Session cookie and store settings.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SessionConfig {
    /// Encryption key (`SESSION_SECRET`); required unless `AUTH_DEV_MODE=true`.
    pub secret: Option<SessionSecret>,
    /// Cookie name (`SESSION_COOKIE`, default `session`).
    pub cookie_name: String,
    /// `SameSite` (`SESSION_SAME_SITE`, default `lax`).
    pub same_site: SameSite,
    /// `Secure` (`SESSION_HTTPS_ONLY`, default true).
    pub https_only: bool,
    /// Absolute session lifetime (`SESSION_MAX_AGE`, default 86400 s, 60 s to 31622400 s).
    pub max_age: Duration,
    /// A session unused for this long ends (`SESSION_IDLE_TIMEOUT`, default 1800 s, OWASP ASVS
    /// level 2's 30 minutes of inactivity; 60 s to 31622400 s). Set it to `max_age` to bound
    /// sessions by age only.
    pub idle_timeout: Duration,
    /// Store (`SESSION_STORE`, default `cookie`).
    pub store: SessionStoreKind,
}

impl Default for SessionConfig {
    fn default() -> Self {
        Self {
            secret: None,
            cookie_name: "session".into(),
            same_site: SameSite::Lax,
            https_only: true,
            max_age: Duration::from_secs(86_400),
            idle_timeout: Duration::from_secs(1_800),
            store: SessionStoreKind::Cookie,
        }
    }
}

/// The `prompt` values Entra accepts on the authorize request.
const PROMPTS: [&str; 5] = ["login", "select_account", "consent", "none", "create"];

/// Everything `aad-auth` needs to know about the app registration, the tenant and the web app.
///
/// Build it with [`AadAuthConfig::from_env`] or [`AadAuthConfig::builder`].
#[derive(Debug, Clone)]
pub struct AadAuthConfig {
    pub(crate) client_id: String,
    pub(crate) tenant: Tenant,
    pub(crate) credential: Option<ClientCredential>,
    pub(crate) authority_host: Url,
    pub(crate) openid_config_url: Option<Url>,
    pub(crate) ca_file: Option<PathBuf>,
    pub(crate) ca_pem: Option<Vec<u8>>,
    pub(crate) api_audience: String,
    pub(crate) client_app_ids: Vec<String>,
    pub(crate) allowed_tenants: Vec<String>,
    pub(crate) allow_any_tenant: bool,
    pub(crate) token_versions: TokenVersions,
    pub(crate) scopes: Vec<String>,
    pub(crate) roles: Vec<String>,
    pub(crate) redirect_uri: Option<Url>,
    pub(crate) public_base_url: Option<Url>,
    pub(crate) fixed_public_base: Option<public_base::FixedBase>,
    pub(crate) resource_url: Option<Url>,
    pub(crate) trusted_proxies: Vec<IpNet>,
    pub(crate) trusted_origins: Vec<String>,
    pub(crate) prompt: Option<String>,
    pub(crate) domain_hint: Option<String>,
    pub(crate) clock_skew: Duration,
    pub(crate) jwks_cache_ttl: Duration,
    pub(crate) jwks_stale_ttl: Duration,
    pub(crate) groups_overage: GroupsOverage,
    pub(crate) groups_cache_ttl: Duration,
    pub(crate) graph_url: Option<Url>,
    pub(crate) allow_guests: bool,
    pub(crate) enabled: bool,
    pub(crate) dev_mode: bool,
    pub(crate) routes: RouteConfig,
    pub(crate) ui: UiConfig,
    pub(crate) session: SessionConfig,
}

impl AadAuthConfig {
    /// Reads the configuration from the process environment, after loading `.env` from the
    /// current directory (or a parent) when there is one. Variables already set in the
    /// environment win over `.env`.
    ///
    /// # Errors
    /// A [`ConfigError`] naming every variable that is missing or malformed.
    pub fn from_env() -> Result<Self, ConfigError> {
        if let Err(error) = dotenvy::dotenv()
            && !error.not_found()
        {
            return Err(ConfigError::File { var: ".env", path: ".env".into(), reason: error.to_string() });
        }
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the configuration through `lookup` (variable name → value) instead of the process
    /// environment; handy in tests.
    ///
    /// # Errors
    /// A [`ConfigError`] naming every variable that is missing or malformed.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        env::from_lookup(&lookup).build()
    }

    /// Starts a configuration in code. Defaults are those of the environment variables.
    pub fn builder(client_id: impl Into<String>, tenant_id: impl Into<String>) -> AadAuthConfigBuilder {
        AadAuthConfigBuilder::new(Some(client_id.into()), Some(tenant_id.into()))
    }

    /// The app registration (client) id (`AAD_CLIENT_ID`).
    pub fn client_id(&self) -> &str {
        &self.client_id
    }
    /// The tenant (`AAD_TENANT_ID`).
    pub fn tenant(&self) -> &Tenant {
        &self.tenant
    }
    /// The client secret (`AAD_CLIENT_SECRET`), when the app's credential is a secret.
    pub fn client_secret(&self) -> Option<&ClientSecret> {
        match &self.credential {
            Some(ClientCredential::Secret(secret)) => Some(secret),
            _ => None,
        }
    }
    /// The app's credential for the token endpoint (browser login, on-behalf-of, client
    /// credentials, Graph): a secret, a certificate, a federated assertion file or a managed
    /// identity; `None` for an app that only validates bearer tokens.
    pub fn client_credential(&self) -> Option<&ClientCredential> {
        self.credential.as_ref()
    }
    /// The authority host (`AAD_AUTHORITY_HOST`), without a trailing slash.
    pub fn authority_host(&self) -> &str {
        self.authority_host.as_str().trim_end_matches('/')
    }
    /// `{authority_host}/{tenant}`.
    pub fn authority(&self) -> String {
        format!("{}/{}", self.authority_host(), self.tenant.as_path_segment())
    }
    /// The discovery document URL: `AAD_OPENID_CONFIG_URL`, or the one derived from the
    /// authority.
    pub fn openid_config_url(&self) -> Url {
        self.openid_config_url.clone().unwrap_or_else(|| self.derived_openid_config_url())
    }
    /// Whether `AAD_OPENID_CONFIG_URL` was set (then the document's own issuer is trusted).
    pub fn has_explicit_openid_config_url(&self) -> bool {
        self.openid_config_url.is_some()
    }
    fn derived_openid_config_url(&self) -> Url {
        let text = format!("{}/v2.0/.well-known/openid-configuration", self.authority());
        // The host was validated as a URL and the tenant as a path-safe segment.
        Url::parse(&text).unwrap_or_else(|_| self.authority_host.clone())
    }
    /// Extra trusted root certificates (`AAD_CA_FILE`).
    pub fn ca_file(&self) -> Option<&Path> {
        self.ca_file.as_deref()
    }
    /// The Application ID URI accepted as `aud` besides the client id (`AAD_API_AUDIENCE`).
    pub fn api_audience(&self) -> &str {
        &self.api_audience
    }
    /// Calling apps allowed (`AAD_CLIENT_APP_IDS`); empty means any.
    pub fn client_app_ids(&self) -> &[String] {
        &self.client_app_ids
    }
    /// Tenants accepted by a multi-tenant app (`AAD_ALLOWED_TENANTS`).
    pub fn allowed_tenants(&self) -> &[String] {
        &self.allowed_tenants
    }
    /// Whether a multi-tenant app accepts every tenant (`AAD_ALLOW_ANY_TENANT`).
    pub fn allow_any_tenant(&self) -> bool {
        self.allow_any_tenant
    }
    /// Accepted token versions (`AAD_TOKEN_VERSIONS`).
    pub fn token_versions(&self) -> TokenVersions {
        self.token_versions
    }
    /// Scopes requested by the web login and Swagger (`AAD_SCOPES`).
    pub fn scopes(&self) -> &[String] {
        &self.scopes
    }
    /// Roles every user must hold, any of them (`AAD_ROLES`).
    pub fn roles(&self) -> &[String] {
        &self.roles
    }
    /// Explicit callback URL (`AAD_REDIRECT_URI`).
    pub fn redirect_uri(&self) -> Option<&Url> {
        self.redirect_uri.as_ref()
    }
    /// Public base URL of the app (`AAD_PUBLIC_BASE_URL`).
    pub fn public_base_url(&self) -> Option<&Url> {
        self.public_base_url.as_ref()
    }
    /// Proxies whose forwarded headers are honoured (`AAD_TRUSTED_PROXIES`).
    pub fn trusted_proxies(&self) -> &[IpNet] {
        &self.trusted_proxies
    }
    /// Other origins allowed to send cookie-authenticated unsafe requests
    /// (`AUTH_TRUSTED_ORIGINS`), as `scheme://host[:port]`.
    pub fn trusted_origins(&self) -> &[String] {
        &self.trusted_origins
    }
    /// Whether forwarded headers from this peer are honoured. An IPv4-mapped IPv6 address
    /// (`::ffff:10.0.0.1`, what a dual-stack listener reports for IPv4 peers) matches IPv4
    /// entries.
    pub fn is_trusted_proxy(&self, peer: IpAddr) -> bool {
        let peer = peer.to_canonical();
        self.trusted_proxies.iter().any(|net| net.contains(&peer))
    }
    /// The `resource` of the protected-resource metadata (`AAD_RESOURCE_URL`), when set; the
    /// public base URL otherwise.
    pub fn resource_url(&self) -> Option<&Url> {
        self.resource_url.as_ref()
    }

    /// The public base fixed by `AAD_PUBLIC_BASE_URL` or `AAD_REDIRECT_URI`, if either is set.
    pub(crate) fn fixed_public_base(&self) -> Option<&public_base::FixedBase> {
        self.fixed_public_base.as_ref()
    }
    /// `prompt` for the authorize request (`AAD_PROMPT`).
    pub fn prompt(&self) -> Option<&str> {
        self.prompt.as_deref()
    }
    /// `domain_hint` for the authorize request (`AAD_DOMAIN_HINT`).
    pub fn domain_hint(&self) -> Option<&str> {
        self.domain_hint.as_deref()
    }
    /// Leeway for `exp`/`nbf`/`iat` (`AAD_CLOCK_SKEW_SECONDS`).
    pub fn clock_skew(&self) -> Duration {
        self.clock_skew
    }
    /// Signing-key lifetime in the cache (`AAD_JWKS_CACHE_TTL`).
    pub fn jwks_cache_ttl(&self) -> Duration {
        self.jwks_cache_ttl
    }
    /// How long past the TTL the last good signing keys keep serving while refreshes fail
    /// (`AAD_JWKS_STALE_TTL`; zero: none).
    pub fn jwks_stale_ttl(&self) -> Duration {
        self.jwks_stale_ttl
    }
    /// What a groups overage does on a route that requires groups (`AAD_GROUPS_OVERAGE`).
    pub fn groups_overage(&self) -> GroupsOverage {
        self.groups_overage
    }
    /// How long a membership answer from Microsoft Graph is kept (`AAD_GROUPS_CACHE_TTL`).
    pub fn groups_cache_ttl(&self) -> Duration {
        self.groups_cache_ttl
    }
    /// The Microsoft Graph origin overage checks call: `AAD_GRAPH_URL`, else the Graph of the
    /// authority host's cloud (`None` for a host whose cloud is not known).
    pub fn graph_url(&self) -> Option<&Url> {
        self.graph_url.as_ref()
    }
    /// Whether guest (B2B) users are allowed (`AAD_ALLOW_GUESTS`).
    pub fn allow_guests(&self) -> bool {
        self.allow_guests
    }
    /// The master switch (`AUTH_ENABLED`).
    pub fn enabled(&self) -> bool {
        self.enabled
    }
    /// Development mode (`AUTH_DEV_MODE`): a random session key and insecure cookies on loopback.
    pub fn dev_mode(&self) -> bool {
        self.dev_mode
    }
    /// Routes.
    pub fn routes(&self) -> &RouteConfig {
        &self.routes
    }
    /// Login UI settings.
    pub fn ui(&self) -> &UiConfig {
        &self.ui
    }
    /// Session settings.
    pub fn session(&self) -> &SessionConfig {
        &self.session
    }
    /// PEM bytes of `AAD_CA_FILE`, read at start-up.
    pub(crate) fn ca_pem(&self) -> Option<&[u8]> {
        self.ca_pem.as_deref()
    }
}

/// Builds an [`AadAuthConfig`] in code. Every setter documents its default and the environment
/// variable it mirrors.
#[derive(Debug, Clone)]
#[must_use]
pub struct AadAuthConfigBuilder {
    client_id: Option<String>,
    tenant_id: Option<String>,
    credentials: credentials::CredentialSettings,
    authority_host: Option<String>,
    openid_config_url: Option<String>,
    ca_file: Option<PathBuf>,
    api_audience: Option<String>,
    client_app_ids: Vec<String>,
    allowed_tenants: Vec<String>,
    allow_any_tenant: bool,
    token_versions: Option<Vec<u8>>,
    scopes: Vec<String>,
    roles: Vec<String>,
    redirect_uri: Option<String>,
    public_base_url: Option<String>,
    resource_url: Option<String>,
    trusted_proxies: Vec<String>,
    trusted_origins: Vec<String>,
    prompt: Option<String>,
    domain_hint: Option<String>,
    clock_skew: Duration,
    jwks_cache_ttl: Duration,
    jwks_stale_ttl: Duration,
    groups_overage: GroupsOverage,
    groups_cache_ttl: Duration,
    graph_url: Option<String>,
    allow_guests: bool,
    enabled: bool,
    dev_mode: bool,
    routes: RouteConfig,
    ui: UiConfig,
    session: SessionConfig,
    session_secret_problem: Option<ConfigError>,
    deferred: Vec<ConfigError>,
}

impl AadAuthConfigBuilder {
    fn new(client_id: Option<String>, tenant_id: Option<String>) -> Self {
        Self {
            client_id,
            tenant_id,
            credentials: credentials::CredentialSettings::default(),
            authority_host: None,
            openid_config_url: None,
            ca_file: None,
            api_audience: None,
            client_app_ids: Vec::new(),
            allowed_tenants: Vec::new(),
            allow_any_tenant: false,
            token_versions: None,
            scopes: Vec::new(),
            roles: Vec::new(),
            redirect_uri: None,
            public_base_url: None,
            resource_url: None,
            trusted_proxies: Vec::new(),
            trusted_origins: Vec::new(),
            prompt: None,
            domain_hint: None,
            clock_skew: Duration::from_secs(60),
            jwks_cache_ttl: Duration::from_secs(86_400),
            jwks_stale_ttl: Duration::from_secs(86_400),
            groups_overage: GroupsOverage::Off,
            groups_cache_ttl: Duration::from_secs(3_600),
            graph_url: None,
            allow_guests: true,
            enabled: true,
            dev_mode: false,
            routes: RouteConfig::default(),
            ui: UiConfig::default(),
            session: SessionConfig::default(),
            session_secret_problem: None,
            deferred: Vec::new(),
        }
    }

    /// The tenant (`AAD_TENANT_ID`): a GUID, a domain, `common` or `organizations`.
    pub fn tenant_id(mut self, tenant_id: impl Into<String>) -> Self {
        self.tenant_id = Some(tenant_id.into());
        self
    }
    /// The client secret (`AAD_CLIENT_SECRET`; default none). At most one client credential may
    /// be set: two refuse to start, naming both.
    pub fn client_secret(mut self, secret: impl Into<String>) -> Self {
        self.credentials.secret = Some(ClientSecret::new(secret));
        self
    }
    /// A PEM file holding the app's certificate and its RSA private key
    /// (`AAD_CLIENT_CERTIFICATE`; default none): token requests carry a client assertion signed
    /// with it. Read and checked by `build`.
    pub fn client_certificate(mut self, pem_file: impl Into<PathBuf>) -> Self {
        self.credentials.certificate = Some(pem_file.into());
        self
    }
    /// A file holding a federated assertion, read again for every token request
    /// (`AAD_CLIENT_ASSERTION_FILE`; default none; `AZURE_FEDERATED_TOKEN_FILE`, as AKS workload
    /// identity sets it, when no credential is set at all).
    pub fn client_assertion_file(mut self, file: impl Into<PathBuf>) -> Self {
        self.credentials.assertion_file = Some(file.into());
        self
    }
    /// The App Service / Container Apps managed identity as the app's credential
    /// (`AAD_MANAGED_IDENTITY=true` with `IDENTITY_ENDPOINT` and `IDENTITY_HEADER`; default none):
    /// its token for `api://AzureADTokenExchange` is the client assertion. `user_assigned`: the
    /// client id of a user-assigned identity (`None`: the system-assigned one).
    pub fn managed_identity(
        mut self,
        endpoint: impl Into<String>,
        header: impl Into<String>,
        user_assigned: Option<String>,
    ) -> Self {
        self.credentials.managed_identity = match user_assigned {
            Some(client_id) => credentials::ManagedIdentityChoice::User(client_id),
            None => credentials::ManagedIdentityChoice::System,
        };
        self.credentials.identity_endpoint = Some(endpoint.into());
        self.credentials.identity_header = Some(IdentityHeader::new(header));
        self
    }
    /// The authority host (`AAD_AUTHORITY_HOST`; default `https://login.microsoftonline.com`).
    pub fn authority_host(mut self, host: impl Into<String>) -> Self {
        self.authority_host = Some(host.into());
        self
    }
    /// An explicit discovery document URL (`AAD_OPENID_CONFIG_URL`; default derived).
    pub fn openid_config_url(mut self, url: impl Into<String>) -> Self {
        self.openid_config_url = Some(url.into());
        self
    }
    /// Extra PEM root certificates (`AAD_CA_FILE`; default none).
    pub fn ca_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.ca_file = Some(path.into());
        self
    }
    /// The Application ID URI (`AAD_API_AUDIENCE`; default `api://{client_id}`).
    pub fn api_audience(mut self, audience: impl Into<String>) -> Self {
        self.api_audience = Some(audience.into());
        self
    }
    /// Calling apps allowed (`AAD_CLIENT_APP_IDS`; default empty = any).
    pub fn client_app_ids<I: IntoIterator<Item = S>, S: Into<String>>(mut self, ids: I) -> Self {
        self.client_app_ids = ids.into_iter().map(Into::into).collect();
        self
    }
    /// Tenants accepted by a multi-tenant app (`AAD_ALLOWED_TENANTS`; default empty).
    pub fn allowed_tenants<I: IntoIterator<Item = S>, S: Into<String>>(mut self, tenants: I) -> Self {
        self.allowed_tenants = tenants.into_iter().map(Into::into).collect();
        self
    }
    /// Accept every tenant in a multi-tenant app (`AAD_ALLOW_ANY_TENANT`; default false).
    ///
    /// # Security Warning
    /// Any Entra tenant, including one an attacker creates for free, can then sign in.
    pub fn insecure_allow_any_tenant(mut self, allow: bool) -> Self {
        self.allow_any_tenant = allow;
        self
    }
    /// Accepted token versions (`AAD_TOKEN_VERSIONS`; default `1,2`).
    pub fn token_versions(mut self, versions: impl IntoIterator<Item = u8>) -> Self {
        self.token_versions = Some(versions.into_iter().collect());
        self
    }
    /// Scopes requested by the web login and Swagger (`AAD_SCOPES`; default
    /// `{client_id}/.default`).
    pub fn scopes<I: IntoIterator<Item = S>, S: Into<String>>(mut self, scopes: I) -> Self {
        self.scopes = scopes.into_iter().map(Into::into).collect();
        self
    }
    /// Roles every user must hold, any of them (`AAD_ROLES`; default none).
    pub fn roles<I: IntoIterator<Item = S>, S: Into<String>>(mut self, roles: I) -> Self {
        self.roles = roles.into_iter().map(Into::into).collect();
        self
    }
    /// The callback URL (`AAD_REDIRECT_URI`; default computed per request).
    pub fn redirect_uri(mut self, url: impl Into<String>) -> Self {
        self.redirect_uri = Some(url.into());
        self
    }
    /// The `resource` of the protected-resource metadata (`AAD_RESOURCE_URL`; default the
    /// public base URL): an https URL without query or fragment. The metadata is served at
    /// `{origin}/.well-known/oauth-protected-resource{path}` of it.
    pub fn resource_url(mut self, url: impl Into<String>) -> Self {
        self.resource_url = Some(url.into());
        self
    }
    /// The app's public base URL (`AAD_PUBLIC_BASE_URL`; default none).
    pub fn public_base_url(mut self, url: impl Into<String>) -> Self {
        self.public_base_url = Some(url.into());
        self
    }
    /// Proxies whose `Forwarded`/`X-Forwarded-*` headers are honoured (`AAD_TRUSTED_PROXIES`;
    /// IPs or CIDRs; default none).
    pub fn trusted_proxies<I: IntoIterator<Item = S>, S: Into<String>>(mut self, proxies: I) -> Self {
        self.trusted_proxies = proxies.into_iter().map(Into::into).collect();
        self
    }
    /// Other origins allowed to send cookie-authenticated unsafe requests
    /// (`AUTH_TRUSTED_ORIGINS`; `https://host[:port]` each; default none).
    pub fn trusted_origins<I: IntoIterator<Item = S>, S: Into<String>>(mut self, origins: I) -> Self {
        self.trusted_origins = origins.into_iter().map(Into::into).collect();
        self
    }
    /// `prompt` on the authorize request (`AAD_PROMPT`; default none).
    pub fn prompt(mut self, prompt: impl Into<String>) -> Self {
        self.prompt = Some(prompt.into());
        self
    }
    /// `domain_hint` on the authorize request (`AAD_DOMAIN_HINT`; default none).
    pub fn domain_hint(mut self, hint: impl Into<String>) -> Self {
        self.domain_hint = Some(hint.into());
        self
    }
    /// Leeway for `exp`/`nbf`/`iat` (`AAD_CLOCK_SKEW_SECONDS`; default 60 s, at most 600 s).
    pub fn clock_skew(mut self, skew: Duration) -> Self {
        self.clock_skew = skew;
        self
    }
    /// Signing-key lifetime in the cache (`AAD_JWKS_CACHE_TTL`; default 86400 s, 60 s to 604800 s).
    pub fn jwks_cache_ttl(mut self, ttl: Duration) -> Self {
        self.jwks_cache_ttl = ttl;
        self
    }
    /// How long past the TTL the last good signing keys keep serving while refreshes fail
    /// (`AAD_JWKS_STALE_TTL`; default 86400 s, at most 604800 s; zero: 503 as soon as the TTL
    /// passes while refreshes fail).
    pub fn jwks_stale_ttl(mut self, stale: Duration) -> Self {
        self.jwks_stale_ttl = stale;
        self
    }
    /// What a groups overage does on a route that requires groups (`AAD_GROUPS_OVERAGE`; default
    /// [`GroupsOverage::Off`]). [`GroupsOverage::Graph`] needs a client secret.
    pub fn groups_overage(mut self, overage: GroupsOverage) -> Self {
        self.groups_overage = overage;
        self
    }
    /// How long a membership answer from Microsoft Graph is kept (`AAD_GROUPS_CACHE_TTL`; default
    /// 3600 s, at most 86400 s; zero keeps none, though concurrent identical checks still share
    /// one call).
    pub fn groups_cache_ttl(mut self, ttl: Duration) -> Self {
        self.groups_cache_ttl = ttl;
        self
    }
    /// The Microsoft Graph origin (`AAD_GRAPH_URL`; default: the Graph of the authority host's
    /// cloud, such as `https://graph.microsoft.com`).
    pub fn graph_url(mut self, url: impl Into<String>) -> Self {
        self.graph_url = Some(url.into());
        self
    }
    /// Whether guest (B2B) users are allowed (`AAD_ALLOW_GUESTS`; default true).
    pub fn allow_guests(mut self, allow: bool) -> Self {
        self.allow_guests = allow;
        self
    }
    /// The master switch (`AUTH_ENABLED`; default true).
    ///
    /// # Security Warning
    /// With `false`, every guard lets every request through as anonymous.
    pub fn enabled(mut self, enabled: bool) -> Self {
        self.enabled = enabled;
        self
    }
    /// Development mode (`AUTH_DEV_MODE`; default false).
    ///
    /// # Security Warning
    /// Allows a random per-process session key and non-`Secure` cookies on loopback hosts.
    pub fn insecure_dev_mode(mut self, dev: bool) -> Self {
        self.dev_mode = dev;
        self
    }
    /// Routes (the `*_ROUTE` variables).
    pub fn routes(mut self, routes: RouteConfig) -> Self {
        self.routes = routes;
        self
    }
    /// Login UI settings.
    pub fn ui(mut self, ui: UiConfig) -> Self {
        self.ui = ui;
        self
    }
    /// The app name shown by the login UI (`APP_NAME`).
    pub fn app_name(mut self, name: impl Into<String>) -> Self {
        self.ui.app_name = Some(name.into());
        self
    }
    /// The session encryption key, 64 bytes or more (`SESSION_SECRET`).
    pub fn session_secret(mut self, key: impl Into<Vec<u8>>) -> Self {
        match SessionSecret::from_bytes(key) {
            Some(secret) => {
                self.session.secret = Some(secret);
                self.session_secret_problem = None;
            }
            None => {
                self.session_secret_problem =
                    Some(ConfigError::invalid_secret(settings::SESSION_SECRET, settings::SESSION_SECRET_EXPECTED));
            }
        }
        self
    }
    /// Session cookie and store settings other than the key.
    pub fn session(mut self, session: SessionConfig) -> Self {
        let secret = self.session.secret.take();
        self.session = session;
        if self.session.secret.is_none() {
            self.session.secret = secret;
        }
        self
    }

    /// Validates the configuration.
    ///
    /// # Errors
    /// A [`ConfigError`] naming every variable that is missing, malformed or inconsistent.
    pub fn build(self) -> Result<AadAuthConfig, ConfigError> {
        validate::build(self)
    }
}

#[cfg(test)]
mod tests;
