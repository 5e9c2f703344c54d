//! The table of settings: every environment variable, its default, its bounds, how it is read
//! and the line the README's configuration table shows for it.
//!
//! Three things come from this table and from nowhere else:
//! * the environment reader ([`super::env::from_lookup`] walks [`SETTINGS`] and applies each
//!   variable that is set, by its [`Kind`]);
//! * the checks both paths share ([`super::validate::build`] takes the bounds of every
//!   [`Kind::Seconds`], the route rule of every route and the file rule of every template from
//!   here, so that a value the environment refuses is refused from the builder too);
//! * the README's configuration table (`readme_table`, test-only, which a test compares with
//!   `README.md`).
//!
//! The typed builder setters and config accessors stay hand-written: they are the public API,
//! with a signature and rustdoc of their own (`insecure_*` names, `IntoIterator` lists,
//! `Duration`s); a test checks that `config/mod.rs` names every variable of the table, and that
//! the table's defaults for flags and durations are the builder's.
//!
//! Why a `macro_rules!` table rather than a plain `const` array of descriptors: each row needs a
//! field accessor of the builder (`fn(&mut AadAuthConfigBuilder) -> &mut Duration`), a name
//! constant and, for durations, the `expected` text of its error ("between 60 and 604800"),
//! which must be a `&'static str` because [`ConfigError`] carries one. Written out in a `const`
//! array, every row would repeat a six-line accessor function and a hand-typed copy of its
//! bounds in prose; the macro writes the accessor from the field path, the constant from the
//! name and the text from the bounds with `concat!`, so a row is the data and nothing else. The
//! macro only expands rows into [`Setting`] values: what a kind means is ordinary code
//! ([`Setting::read`], `validate`).

use std::path::PathBuf;
use std::time::Duration;

use super::{AadAuthConfigBuilder, ConfigError};

mod readers;

pub(crate) use readers::{SESSION_SECRET_EXPECTED, parse_managed_identity};

/// How a variable's value is read, and where it lands in the builder.
#[derive(Clone, Copy)]
pub(crate) enum Kind {
    /// Free text, checked (if at all) by `validate`.
    Text(fn(&mut AadAuthConfigBuilder) -> &mut Option<String>),
    /// A path to a file `validate` reads itself (`AAD_CA_FILE`).
    Path(fn(&mut AadAuthConfigBuilder) -> &mut Option<PathBuf>),
    /// A path to a file that must exist (templates, the logo).
    File(fn(&mut AadAuthConfigBuilder) -> &mut Option<PathBuf>),
    /// A comma-separated list or a JSON array of strings.
    List(fn(&mut AadAuthConfigBuilder) -> &mut Vec<String>),
    /// `true`/`false` (also 1/0, yes/no, on/off).
    Flag(fn(&mut AadAuthConfigBuilder) -> &mut bool),
    /// A whole number of seconds in `min..=max`, checked on both paths.
    Seconds { min: u64, max: u64, expected: &'static str, field: fn(&mut AadAuthConfigBuilder) -> &mut Duration },
    /// A path on this app (`/login`).
    Route(fn(&mut AadAuthConfigBuilder) -> &mut String),
    /// A path on this app, or disabled when set to an empty value.
    OptionalRoute(fn(&mut AadAuthConfigBuilder) -> &mut Option<String>),
    /// Read by its own function (secrets, enumerations, token versions).
    Custom(fn(&mut AadAuthConfigBuilder, &str) -> Result<(), ConfigError>),
}

/// One setting.
#[derive(Clone, Copy)]
pub(crate) struct Setting {
    /// The environment variable (also the name errors use when the value came from the
    /// builder).
    pub(crate) var: &'static str,
    /// The default as the README shows it (for flags and durations, the value, which a test
    /// compares with the builder's).
    #[cfg_attr(not(test), expect(dead_code, reason = "read by the README test"))]
    pub(crate) default: &'static str,
    /// How it is read.
    pub(crate) kind: Kind,
    /// The README's "meaning" column.
    #[cfg_attr(not(test), expect(dead_code, reason = "read by the README test"))]
    pub(crate) doc: &'static str,
}

pub(crate) const LIST_EXPECTED: &str = "a comma-separated list or a JSON array of strings";
pub(crate) const FLAG_EXPECTED: &str = "true or false (also 1/0, yes/no, on/off)";
pub(crate) const ROUTE_EXPECTED: &str = "a path starting with a single `/`, without query or fragment";

impl Setting {
    /// Whether the value names a file the reader opens (`AAD_CA_FILE`, templates, the logo).
    #[cfg(feature = "fuzzing")]
    pub(crate) fn names_a_file(&self) -> bool {
        matches!(self.kind, Kind::Path(_) | Kind::File(_))
    }

    /// Applies a non-empty, trimmed value to the builder.
    pub(crate) fn read(&self, builder: &mut AadAuthConfigBuilder, value: &str) -> Result<(), ConfigError> {
        match self.kind {
            Kind::Text(field) => *field(builder) = Some(value.to_owned()),
            Kind::Path(field) | Kind::File(field) => *field(builder) = Some(PathBuf::from(value)),
            Kind::List(field) => {
                *field(builder) =
                    readers::parse_list(value).map_err(|()| ConfigError::invalid(self.var, LIST_EXPECTED, value))?;
            }
            Kind::Flag(field) => {
                *field(builder) =
                    readers::parse_bool(value).ok_or_else(|| ConfigError::invalid(self.var, FLAG_EXPECTED, value))?;
            }
            // The bounds are checked by `validate`, for the builder's values too.
            Kind::Seconds { expected, field, .. } => {
                let secs: u64 = value.parse().map_err(|_| ConfigError::invalid(self.var, expected, value))?;
                *field(builder) = Duration::from_secs(secs);
            }
            Kind::Route(field) => *field(builder) = value.to_owned(),
            Kind::OptionalRoute(field) => *field(builder) = Some(value.to_owned()),
            Kind::Custom(read) => read(builder, value)?,
        }
        Ok(())
    }
}

/// The setting for `var`.
#[cfg(test)]
pub(crate) fn setting(var: &str) -> Option<&'static Setting> {
    SETTINGS.iter().find(|setting| setting.var == var)
}

/// The README's configuration table, one row per setting, in the order of [`SETTINGS`].
#[cfg(test)]
pub(crate) fn readme_table() -> String {
    let mut table = String::from("| variable | default | meaning |\n|---|---|---|\n");
    for setting in SETTINGS {
        let mut line = format!("| `{}` | {} | {}", setting.var, setting.default, setting.doc);
        if let Kind::Seconds { min, max, .. } = setting.kind {
            line.push_str(&format!("; {min} to {max} seconds"));
        }
        line.push_str(" |\n");
        table.push_str(&line);
    }
    table
}

/// A field accessor of the builder, as a function pointer.
macro_rules! field {
    ($ty:ty, $($field:ident).+) => {{
        fn field(builder: &mut AadAuthConfigBuilder) -> &mut $ty {
            &mut builder.$($field).+
        }
        field
    }};
}

/// One row of the table.
macro_rules! setting {
    ($var:ident, $doc:expr, text($($field:ident).+, $default:literal)) => {
        Setting { var: $var, default: $default, doc: $doc, kind: Kind::Text(field!(Option<String>, $($field).+)) }
    };
    ($var:ident, $doc:expr, path($($field:ident).+, $default:literal)) => {
        Setting { var: $var, default: $default, doc: $doc, kind: Kind::Path(field!(Option<PathBuf>, $($field).+)) }
    };
    ($var:ident, $doc:expr, file($($field:ident).+, $default:literal)) => {
        Setting { var: $var, default: $default, doc: $doc, kind: Kind::File(field!(Option<PathBuf>, $($field).+)) }
    };
    ($var:ident, $doc:expr, list($($field:ident).+, $default:literal)) => {
        Setting { var: $var, default: $default, doc: $doc, kind: Kind::List(field!(Vec<String>, $($field).+)) }
    };
    ($var:ident, $doc:expr, flag($($field:ident).+, $default:literal)) => {
        Setting {
            var: $var,
            default: stringify!($default),
            doc: $doc,
            kind: Kind::Flag(field!(bool, $($field).+)),
        }
    };
    ($var:ident, $doc:expr, seconds($($field:ident).+, $default:literal, $min:literal ..= $max:literal)) => {
        Setting {
            var: $var,
            default: stringify!($default),
            doc: $doc,
            kind: Kind::Seconds {
                min: $min,
                max: $max,
                expected: concat!("a whole number of seconds between ", $min, " and ", $max),
                field: field!(Duration, $($field).+),
            },
        }
    };
    ($var:ident, $doc:expr, route($($field:ident).+, $default:literal)) => {
        Setting { var: $var, default: $default, doc: $doc, kind: Kind::Route(field!(String, $($field).+)) }
    };
    ($var:ident, $doc:expr, optional_route($($field:ident).+, $default:literal)) => {
        Setting {
            var: $var,
            default: $default,
            doc: $doc,
            kind: Kind::OptionalRoute(field!(Option<String>, $($field).+)),
        }
    };
    ($var:ident, $doc:expr, custom($read:path, $default:literal)) => {
        Setting { var: $var, default: $default, doc: $doc, kind: Kind::Custom($read) }
    };
}

/// The variables that choose the app's client credential, at most one of which may be set
/// (`AZURE_FEDERATED_TOKEN_FILE` counts only without them: `config/credentials.rs`).
pub(crate) const CREDENTIAL_VARIABLES: [&str; 4] =
    [AAD_CLIENT_SECRET, AAD_CLIENT_CERTIFICATE, AAD_CLIENT_ASSERTION_FILE, AAD_MANAGED_IDENTITY];

/// Microsoft's global authority host, `AAD_AUTHORITY_HOST`'s default.
pub(crate) const DEFAULT_AUTHORITY_HOST: &str = "https://login.microsoftonline.com";

/// The table: `NAME: kind(builder field, default[, bounds]) => "meaning";`. Defines a constant
/// per name and [`SETTINGS`].
macro_rules! settings {
    ($($var:ident: $kind:ident($($args:tt)*) => $doc:expr;)*) => {
        $(pub(crate) const $var: &str = stringify!($var);)*

        /// Every setting, in the README's order.
        pub(crate) const SETTINGS: &[Setting] = &[$(setting!($var, $doc, $kind($($args)*))),*];
    };
}

settings! {
    AAD_CLIENT_ID: text(client_id, "required") =>
        "application (client) id, a GUID";
    AAD_TENANT_ID: text(tenant_id, "required") =>
        "tenant GUID or domain; `organizations`/`common` = multi-tenant";
    AAD_CLIENT_SECRET: custom(readers::read_client_secret, "none") =>
        "client secret (browser login, on-behalf-of, client credentials, Graph); at most one client credential of \
         this and the next three (see App credentials)";
    AAD_CLIENT_CERTIFICATE: path(credentials.certificate, "none") =>
        "a PEM file with the certificate registered on the app and its unencrypted RSA private key: the app \
         signs a client assertion (`private_key_jwt`, `x5t#S256`) for every token request";
    AAD_CLIENT_ASSERTION_FILE: path(credentials.assertion_file, "none") =>
        "a file holding a federated assertion (a JWT from an issuer the app trusts, such as GitHub or \
         Kubernetes), read again for every token request";
    AAD_MANAGED_IDENTITY: custom(readers::read_managed_identity, "false") =>
        "`true`: the App Service / Container Apps managed identity's token (for `api://AzureADTokenExchange`) is \
         the app's federated assertion; a client id picks a user-assigned identity";
    AZURE_FEDERATED_TOKEN_FILE: path(credentials.federated_token_file, "none") =>
        "set by AKS workload identity: used as `AAD_CLIENT_ASSERTION_FILE` when no other credential is set (one \
         that is wins, and start-up logs it)";
    IDENTITY_ENDPOINT: text(credentials.identity_endpoint, "none") =>
        "set by App Service / Container Apps with a managed identity; read with `AAD_MANAGED_IDENTITY`";
    IDENTITY_HEADER: custom(readers::read_identity_header, "none") =>
        "set by App Service / Container Apps with a managed identity (a secret, never shown); read with \
         `AAD_MANAGED_IDENTITY`";
    AAD_AUTHORITY_HOST: text(authority_host, "`https://login.microsoftonline.com`") =>
        "national clouds, B2C/CIAM hosts, the local tenant; `http://` only for localhost";
    AAD_OPENID_CONFIG_URL: text(openid_config_url, "`{host}/{tenant}/v2.0/.well-known/openid-configuration`") =>
        "explicit discovery document (B2C policies, `?appid=` for apps with custom signing keys); its own \
         `issuer` is then trusted";
    AAD_CA_FILE: path(ca_file, "none") =>
        "extra PEM roots for discovery, keys and token calls (TLS inspection, the local tenant's https) and \
         for `rediss://`; `HTTPS_PROXY` is honoured";
    AAD_API_AUDIENCE: text(api_audience, "`api://{client id}`") =>
        "accepted `aud` besides the client id";
    AAD_CLIENT_APP_IDS: list(client_app_ids, "any") =>
        "allow-list of calling apps (`azp`/`appid`)";
    AAD_ALLOWED_TENANTS: list(allowed_tenants, "none") =>
        "tenants (`tid`, GUIDs) a multi-tenant app accepts";
    AAD_ALLOW_ANY_TENANT: flag(allow_any_tenant, false) =>
        "multi-tenant without an allow-list (any tenant, including an attacker's)";
    AAD_TOKEN_VERSIONS: custom(readers::read_token_versions, "`1,2`") =>
        "accepted access-token versions";
    AAD_SCOPES: list(scopes, "`{client id}/.default`") =>
        "scopes the login and Swagger request";
    AAD_ROLES: list(roles, "none") =>
        "roles every user must hold (any of), checked at login and by every guard";
    AAD_REDIRECT_URI: text(redirect_uri, "computed") =>
        "callback URL, ending with `{OAUTH_BASE_ROUTE}/aad/redirect`; behind a proxy set it (or the next): its \
         origin becomes the app's public origin";
    AAD_PUBLIC_BASE_URL: text(public_base_url, "none") =>
        "the app's public URL (`https://app.example.com[/base]`): the one origin for the callback, logout, \
         `post_logout_redirect_uri` and Swagger UI; a different origin from `AAD_REDIRECT_URI` refuses to start";
    AAD_RESOURCE_URL: text(resource_url, "the public base URL") =>
        "the `resource` of the protected-resource metadata (RFC 9728), which is served at \
         `{origin}/.well-known/oauth-protected-resource{path}` of this URL and named by every 401 challenge \
         (`resource_metadata`); an https URL without query or fragment";
    AAD_TRUSTED_PROXIES: list(trusted_proxies, "none") =>
        "IPs/CIDRs whose `Forwarded`/`X-Forwarded-*` headers count when neither URL above is set (only the \
         value the nearest proxy appended; `::ffff:a.b.c.d` peers match IPv4 entries)";
    AUTH_TRUSTED_ORIGINS: list(trusted_origins, "none") =>
        "other origins (`https://portal.example.com`) allowed to send state-changing requests with the session \
         cookie (see Security notes)";
    AAD_PROMPT: text(prompt, "none") =>
        "`prompt` on the authorize request: login, select_account, consent, none or create";
    AAD_DOMAIN_HINT: text(domain_hint, "none") =>
        "`domain_hint` on the authorize request";
    AAD_CLOCK_SKEW_SECONDS: seconds(clock_skew, 60, 0..=600) =>
        "leeway for `exp`/`nbf`/`iat`";
    AAD_JWKS_CACHE_TTL: seconds(jwks_cache_ttl, 86400, 60..=604800) =>
        "how long a fetched key set is fresh; a successful refresh replaces the set, so a key the \
         tenant withdraws is refused from the next refresh on";
    AAD_JWKS_STALE_TTL: seconds(jwks_stale_ttl, 86400, 0..=604800) =>
        "how long past the TTL the last good keys keep serving while refreshes fail (0 = none); past \
         it, 503 with `Retry-After`, never 401";
    AAD_GROUPS_OVERAGE: custom(readers::read_groups_overage, "`off`") =>
        "`graph`: a route that requires groups asks Microsoft Graph (`checkMemberGroups`, with the app's own \
         token) about a caller whose token has a groups overage, instead of refusing it; needs a client \
         credential (`AAD_CLIENT_SECRET` or another, see App credentials) and admin-consented Graph application permissions (see Groups overage)";
    AAD_GROUPS_CACHE_TTL: seconds(groups_cache_ttl, 3600, 0..=86400) =>
        "how long Graph's answer is kept per (tenant, user, route's groups); failures are never kept";
    AAD_GRAPH_URL: text(graph_url, "from the authority host") =>
        "the Microsoft Graph origin overage checks call: `https://graph.microsoft.com`, `.us` or \
         `microsoftgraph.chinacloudapi.cn` by the authority's cloud, the local tenant itself on a loopback \
         host; set it for `https://dod-graph.microsoft.us` (DoD shares the US Government login host) or any \
         other authority host";
    AAD_ALLOW_GUESTS: flag(allow_guests, true) =>
        "guest (B2B) users allowed";
    AUTH_ENABLED: flag(enabled, true) =>
        "master switch; `false` lets every guard through as anonymous (logged loudly)";
    AUTH_DEV_MODE: flag(dev_mode, false) =>
        "development: a throw-away session key when `SESSION_SECRET` is unset, cookies without `Secure`";
    AUTH_LOGIN_UI_ROUTE: route(routes.login_ui, "`/login`") =>
        "login page";
    OAUTH_BASE_ROUTE: route(routes.oauth_base, "`/oauth`") =>
        "login at `{base}/aad/login`, callback at `{base}/aad/redirect`";
    AUTH_LOGOUT_ROUTE: route(routes.logout, "`/logout`") =>
        "GET shows a confirmation, POST signs out and sends the browser to Entra's end-session endpoint (a \
         provider without one gets a \"You have signed out\" page)";
    AUTH_USER_ROUTE: optional_route(routes.user, "`/me`") =>
        "user page; token JSON at `{route}/token`; empty disables both";
    APP_HOME_ROUTE: route(routes.home, "`/`") =>
        "where a login without a target lands";
    AUTH_POST_LOGOUT_ROUTE: route(routes.post_logout, "the login page") =>
        "where Entra returns after logout";
    AUTH_LOGIN_STATIC_PATH: route(routes.static_path, "`/static-login`") =>
        "the login pages' CSS, JS and images";
    APP_NAME: text(ui.app_name, "none") =>
        "shown on the login pages";
    APP_LOGO_FILE: file(ui.logo_file, "none") =>
        "an image (PNG, SVG, JPEG, GIF, WebP or ICO) shown above the sign-in button";
    AUTH_LOGIN_TEMPLATE_FILE: file(ui.login_template, "built in") =>
        "replaces the login page's template (minijinja; may extend `base.html`)";
    AUTH_USER_TEMPLATE_FILE: file(ui.user_template, "built in") =>
        "replaces the user page's template";
    AUTH_ERROR_TEMPLATE_FILE: file(ui.error_template, "built in") =>
        "replaces the error page's template";
    SESSION_SECRET: custom(readers::read_session_secret, "required outside dev mode") =>
        "64+ random bytes, base64 (`openssl rand -base64 64`)";
    SESSION_COOKIE: custom(readers::read_cookie_name, "`session`") =>
        "cookie name";
    SESSION_SAME_SITE: custom(readers::read_same_site, "`lax`") =>
        "`lax`, `strict` or `none`";
    SESSION_HTTPS_ONLY: flag(session.https_only, true) =>
        "`Secure` cookies";
    SESSION_MAX_AGE: seconds(session.max_age, 86400, 60..=31622400) =>
        "absolute session lifetime";
    SESSION_IDLE_TIMEOUT: seconds(session.idle_timeout, 1800, 60..=31622400) =>
        "a session unused this long ends (OWASP ASVS level 2's 30 minutes); set it to \
         `SESSION_MAX_AGE` to bound sessions by age only";
    SESSION_STORE: custom(readers::read_store, "`cookie`") =>
        "`cookie` (encrypted cookie, tokens in this process's memory), `redis://[:password@]host:port/db` or \
         `rediss://...` (TLS, as Azure Cache for Redis requires: sessions and tokens shared by every instance). \
         The password is never printed; a wrong one or a TLS failure refuses to start; Redis away while \
         running: 503 with `Retry-After` for requests that need the session";
}
