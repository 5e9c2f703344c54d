//! The checks every configuration passes, however it was set.

use std::net::IpAddr;

use ipnet::IpNet;
use url::Url;

use super::settings::*;
use super::{
    AadAuthConfig, AadAuthConfigBuilder, ConfigError, GroupsOverage, PROMPTS, SameSite, Tenant, TokenVersions, is_guid,
};

/// Whether a URL points at this machine (where plain http is acceptable).
pub(crate) fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(domain)) => domain.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

/// `scheme://host[:port]` of an http(s) URL that has nothing else (no path beyond `/`, query,
/// fragment or credentials), as the `url` crate serialises origins.
pub(crate) fn origin_only(value: &str) -> Option<String> {
    let url = Url::parse(value).ok()?;
    let bare = matches!(url.path(), "" | "/") && url.query().is_none() && url.fragment().is_none();
    let plain = url.username().is_empty() && url.password().is_none();
    // `*` is a valid host character to the URL parser, but no browser sends it in `Origin`: a
    // Django-style wildcard would silently never match.
    let exact = url.host_str().is_some_and(|host| !host.contains('*'));
    (matches!(url.scheme(), "http" | "https") && exact && bare && plain).then(|| url.origin().ascii_serialization())
}

/// An http(s) URL; http only for loopback hosts.
fn secure_url(var: &'static str, value: &str, problems: &mut Vec<ConfigError>) -> Option<Url> {
    const EXPECTED: &str = "an absolute https:// URL (http:// only for localhost/127.0.0.1)";
    match Url::parse(value) {
        // Credentials in a URL end up in logs and in `Debug`.
        Ok(url) if !url.username().is_empty() || url.password().is_some() => {
            problems.push(ConfigError::invalid_secret(var, "a URL without user or password"));
            None
        }
        Ok(url) if url.scheme() == "https" && url.host().is_some() => Some(url),
        Ok(url) if url.scheme() == "http" && is_loopback(&url) => Some(url),
        _ => {
            problems.push(ConfigError::invalid(var, EXPECTED, value));
            None
        }
    }
}

/// Whether a route is a path on this app: one leading `/`, no query, fragment or characters
/// that need escaping.
pub(super) fn is_route(value: &str) -> bool {
    value.starts_with('/')
        && !value.starts_with("//")
        && value.len() <= 256
        && value.bytes().all(|b| b.is_ascii_graphic() && !matches!(b, b'?' | b'#' | b'\\' | b'"' | b'<' | b'>'))
}

fn route(var: &'static str, value: &str, problems: &mut Vec<ConfigError>) {
    if !is_route(value) {
        problems.push(ConfigError::invalid(var, ROUTE_EXPECTED, value));
    }
}

/// Whether a problem about one of `vars` is already recorded: a check that would only repeat
/// it (a conflict computed from the default that replaced the bad value) is skipped.
fn reported(problems: &[ConfigError], vars: &[&str]) -> bool {
    problems.iter().flat_map(ConfigError::variables).any(|var| vars.contains(&var))
}

/// The checks the table defines: the bounds of durations, the shape of routes, the existence
/// of template files. The same for values from the environment and from the builder.
fn table_checks(builder: &mut AadAuthConfigBuilder, problems: &mut Vec<ConfigError>) {
    for setting in SETTINGS {
        match setting.kind {
            Kind::Seconds { min, max, expected, field, .. } => {
                let secs = field(builder).as_secs();
                if !(min..=max).contains(&secs) {
                    problems.push(ConfigError::invalid(setting.var, expected, &secs.to_string()));
                }
            }
            Kind::Route(field) => route(setting.var, field(builder), problems),
            Kind::OptionalRoute(field) => {
                if let Some(path) = field(builder) {
                    route(setting.var, path, problems);
                }
            }
            Kind::File(field) => {
                if let Some(path) = field(builder)
                    && !path.is_file()
                {
                    problems.push(ConfigError::File {
                        var: setting.var,
                        path: path.display().to_string(),
                        reason: "no such file".into(),
                    });
                }
            }
            Kind::Text(_) | Kind::Path(_) | Kind::List(_) | Kind::Flag(_) | Kind::Custom(_) => {}
        }
    }
}

/// The problems in the order of the settings table (the README's), so that the same
/// configuration always reads the same.
fn in_table_order(mut problems: Vec<ConfigError>) -> Vec<ConfigError> {
    let position = |problem: &ConfigError| {
        let var = problem.variables().first().copied().unwrap_or_default();
        SETTINGS.iter().position(|setting| setting.var == var).unwrap_or(SETTINGS.len())
    };
    problems.sort_by_key(position);
    problems
}

pub(super) fn build(mut builder: AadAuthConfigBuilder) -> Result<AadAuthConfig, ConfigError> {
    let mut problems = std::mem::take(&mut builder.deferred);
    problems.extend(builder.session_secret_problem.take());
    table_checks(&mut builder, &mut problems);
    let enabled = builder.enabled;

    // With authentication switched off, the app must still start without a registration.
    let client_id = match builder.client_id.map(|id| id.trim().to_owned()).filter(|id| !id.is_empty()) {
        Some(id) if is_guid(&id) => id,
        Some(id) => {
            problems.push(ConfigError::invalid(
                AAD_CLIENT_ID,
                "the application (client) id, a GUID (8-4-4-4-12 hex digits)",
                &id,
            ));
            String::new()
        }
        None if enabled => {
            problems.push(ConfigError::Missing {
                var: AAD_CLIENT_ID,
                expected: "the application (client) id of the app registration, a GUID",
            });
            String::new()
        }
        None => String::new(),
    };
    // `None` only with a problem recorded: a bad tenant is not then taken for `common`.
    let tenant = match builder.tenant_id.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
        Some(value) => Tenant::parse(value).or_else(|| {
            problems.push(ConfigError::invalid(
                AAD_TENANT_ID,
                "a tenant GUID, a tenant domain, `common` or `organizations`",
                value,
            ));
            None
        }),
        None if enabled => {
            problems.push(ConfigError::Missing {
                var: AAD_TENANT_ID,
                expected: "the directory (tenant) id, a tenant domain, `common` or `organizations`",
            });
            None
        }
        None => Some(Tenant::Common),
    };

    let authority_host_text = builder.authority_host.as_deref().unwrap_or(DEFAULT_AUTHORITY_HOST);
    let authority_host = secure_url(AAD_AUTHORITY_HOST, authority_host_text, &mut problems).and_then(|url| {
        if url.query().is_some() || url.fragment().is_some() || !url.path().trim_matches('/').is_empty() {
            problems.push(ConfigError::invalid(
                AAD_AUTHORITY_HOST,
                "a scheme and host only, such as https://login.microsoftonline.com",
                authority_host_text,
            ));
            None
        } else {
            Some(url)
        }
    });

    let openid_config_url =
        builder.openid_config_url.as_deref().and_then(|value| secure_url(AAD_OPENID_CONFIG_URL, value, &mut problems));

    let ca_pem = builder.ca_file.as_ref().and_then(|path| match std::fs::read(path) {
        Ok(bytes) if bytes.windows(27).any(|w| w == b"-----BEGIN CERTIFICATE-----") => Some(bytes),
        Ok(_) => {
            problems.push(ConfigError::File {
                var: AAD_CA_FILE,
                path: path.display().to_string(),
                reason: "no PEM certificate (-----BEGIN CERTIFICATE-----) in it".into(),
            });
            None
        }
        Err(error) => {
            problems.push(ConfigError::File {
                var: AAD_CA_FILE,
                path: path.display().to_string(),
                reason: error.to_string(),
            });
            None
        }
    });

    let api_audience = builder.api_audience.unwrap_or_else(|| format!("api://{client_id}"));

    for tenant_id in &builder.allowed_tenants {
        if !is_guid(tenant_id) {
            problems.push(ConfigError::invalid(AAD_ALLOWED_TENANTS, "tenant GUIDs", tenant_id));
        }
    }
    let allowed_tenants: Vec<String> = builder.allowed_tenants.iter().map(|t| t.to_ascii_lowercase()).collect();
    if let Some(tenant) = &tenant
        && enabled
        && tenant.is_multi_tenant()
        && allowed_tenants.is_empty()
        && !builder.allow_any_tenant
        && !reported(&problems, &[AAD_ALLOWED_TENANTS, AAD_ALLOW_ANY_TENANT])
    {
        problems.push(ConfigError::Conflict {
            var: AAD_ALLOWED_TENANTS,
            message: format!(
                "AAD_TENANT_ID={} accepts tokens from any tenant; list the tenants to accept in \
                 {AAD_ALLOWED_TENANTS}, or set {AAD_ALLOW_ANY_TENANT}=true to accept every tenant",
                tenant.as_path_segment()
            ),
        });
    }

    let token_versions = match builder.token_versions.as_deref() {
        None => TokenVersions::default(),
        Some(list) if list.is_empty() || list.iter().any(|v| !matches!(v, 1 | 2)) => {
            problems.push(ConfigError::invalid(
                AAD_TOKEN_VERSIONS,
                "a non-empty list of token versions, each 1 or 2",
                &format!("{list:?}"),
            ));
            TokenVersions::default()
        }
        Some(list) => TokenVersions { v1: list.contains(&1), v2: list.contains(&2) },
    };

    let scopes = if builder.scopes.is_empty() { vec![format!("{client_id}/.default")] } else { builder.scopes };

    let redirect_uri = builder.redirect_uri.as_deref().and_then(|v| secure_url(AAD_REDIRECT_URI, v, &mut problems));
    let public_base_url = builder.public_base_url.as_deref().and_then(|value| {
        let url = secure_url(AAD_PUBLIC_BASE_URL, value, &mut problems)?;
        if url.query().is_some() || url.fragment().is_some() {
            problems.push(ConfigError::invalid(AAD_PUBLIC_BASE_URL, "a base URL without query or fragment", value));
            return None;
        }
        Some(url)
    });

    let resource_url = builder.resource_url.as_deref().and_then(|value| {
        let url = secure_url(AAD_RESOURCE_URL, value, &mut problems)?;
        if url.query().is_some() || url.fragment().is_some() {
            // RFC 9728 §1.2: a resource identifier has no fragment, and a query would not
            // survive the well-known URL built from it.
            problems.push(ConfigError::invalid(AAD_RESOURCE_URL, "an https URL without query or fragment", value));
            return None;
        }
        Some(url)
    });

    let trusted_proxies = builder
        .trusted_proxies
        .iter()
        .filter_map(|value| {
            value
                .parse::<IpNet>()
                .or_else(|_| value.parse::<IpAddr>().map(IpNet::from))
                .map_err(|_| {
                    problems.push(ConfigError::invalid(AAD_TRUSTED_PROXIES, "IP addresses or CIDR ranges", value))
                })
                .ok()
        })
        .collect();

    let trusted_origins = builder
        .trusted_origins
        .iter()
        .filter_map(|value| {
            let origin = origin_only(value);
            if origin.is_none() {
                problems.push(ConfigError::invalid(
                    AUTH_TRUSTED_ORIGINS,
                    "exact origins such as https://portal.example.com (scheme, host and port only; no wildcards)",
                    value,
                ));
            }
            origin
        })
        .collect();

    if let Some(prompt) = &builder.prompt
        && !PROMPTS.contains(&prompt.as_str())
    {
        problems.push(ConfigError::invalid(AAD_PROMPT, "login, select_account, consent, none or create", prompt));
    }

    // A callback route already refused would only be reported again as a mismatch.
    let fixed_public_base = if reported(&problems, &[OAUTH_BASE_ROUTE]) {
        None
    } else {
        super::public_base::fixed_base(
            public_base_url.as_ref(),
            redirect_uri.as_ref(),
            &builder.routes.oauth_callback(),
            &mut problems,
        )
    };

    let credential = std::mem::take(&mut builder.credentials).choose(&mut problems);
    let graph_url = graph_url(
        GraphSettings {
            explicit: builder.graph_url.as_deref(),
            overage: builder.groups_overage,
            // A credential already refused is not reported again as missing.
            has_secret: credential.is_some()
                || reported(&problems, &CREDENTIAL_VARIABLES)
                || reported(&problems, &[AZURE_FEDERATED_TOKEN_FILE, IDENTITY_ENDPOINT, IDENTITY_HEADER]),
        },
        authority_host.as_ref(),
        enabled,
        &mut problems,
    );

    let cookie_name = &builder.session.cookie_name;
    if cookie_name.is_empty()
        || !cookie_name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
    {
        problems.push(ConfigError::invalid(
            SESSION_COOKIE,
            "a cookie name of letters, digits, `_`, `-` or `.`",
            cookie_name,
        ));
    }
    if builder.session.same_site == SameSite::None
        && !builder.session.https_only
        && !reported(&problems, &[SESSION_SAME_SITE, SESSION_HTTPS_ONLY])
    {
        problems.push(ConfigError::Conflict {
            var: SESSION_SAME_SITE,
            message:
                "SameSite=None cookies must be Secure (browsers drop them otherwise); with SESSION_SAME_SITE=none \
                      set SESSION_HTTPS_ONLY=true, or choose lax or strict"
                    .into(),
        });
    }

    ConfigError::collect(in_table_order(problems))?;
    // Only `None` when a problem about them was recorded above.
    let Some(authority_host) = authority_host else {
        return Err(ConfigError::invalid(AAD_AUTHORITY_HOST, "an absolute https:// URL", authority_host_text));
    };
    let Some(tenant) = tenant else {
        return Err(ConfigError::invalid(
            AAD_TENANT_ID,
            "a tenant GUID, a tenant domain, `common` or `organizations`",
            "",
        ));
    };
    Ok(AadAuthConfig {
        client_id,
        tenant,
        credential,
        authority_host,
        openid_config_url,
        ca_file: builder.ca_file,
        ca_pem,
        api_audience,
        client_app_ids: builder.client_app_ids,
        allowed_tenants,
        allow_any_tenant: builder.allow_any_tenant,
        token_versions,
        scopes,
        roles: builder.roles,
        redirect_uri,
        public_base_url,
        fixed_public_base,
        resource_url,
        trusted_proxies,
        trusted_origins,
        prompt: builder.prompt,
        domain_hint: builder.domain_hint,
        clock_skew: builder.clock_skew,
        jwks_cache_ttl: builder.jwks_cache_ttl,
        jwks_stale_ttl: builder.jwks_stale_ttl,
        groups_overage: builder.groups_overage,
        groups_cache_ttl: builder.groups_cache_ttl,
        graph_url,
        allow_guests: builder.allow_guests,
        enabled,
        dev_mode: builder.dev_mode,
        routes: builder.routes,
        ui: builder.ui,
        session: builder.session,
    })
}

/// `AAD_GRAPH_URL` (an origin), else the Graph of the authority's cloud; with
/// `AAD_GROUPS_OVERAGE=graph`, a Graph that is known and a client secret to get its token with.
/// The settings the Graph URL depends on.
struct GraphSettings<'a> {
    explicit: Option<&'a str>,
    overage: GroupsOverage,
    has_secret: bool,
}

fn graph_url(
    settings: GraphSettings<'_>,
    authority_host: Option<&Url>,
    enabled: bool,
    problems: &mut Vec<ConfigError>,
) -> Option<Url> {
    const EXPECTED: &str =
        "an origin such as https://dod-graph.microsoft.us (scheme, host and port; http:// only for localhost)";
    let explicit = settings.explicit.map(|value| match secure_url(AAD_GRAPH_URL, value, problems) {
        Some(url) if origin_only(url.as_str()).is_some() => Some(url),
        Some(_) => {
            problems.push(ConfigError::invalid(AAD_GRAPH_URL, EXPECTED, value));
            None
        }
        None => None,
    });
    let graph = match explicit {
        Some(explicit) => explicit,
        // A loopback authority is the local tenant (`aad_auth::testing`), which serves a
        // Graph-shaped `checkMemberGroups` on its own origin: a test never sends a token out.
        None => authority_host.and_then(|host| match is_loopback(host) {
            true => Url::parse(&host.origin().ascii_serialization()).ok(),
            false => super::graph::microsoft_graph(host),
        }),
    };
    if !enabled || settings.overage != GroupsOverage::Graph {
        return graph;
    }
    if !settings.has_secret {
        problems.push(ConfigError::Conflict {
            var: AAD_GROUPS_OVERAGE,
            message: format!(
                "{AAD_GROUPS_OVERAGE}=graph asks Microsoft Graph with the app's own token (client credentials), which \
                 needs a client credential: set {AAD_CLIENT_SECRET} (or another, see App credentials), or set {AAD_GROUPS_OVERAGE}=off"
            ),
        });
    }
    if graph.is_none() && !reported(problems, &[AAD_AUTHORITY_HOST, AAD_GRAPH_URL]) {
        problems.push(ConfigError::Conflict {
            var: AAD_GRAPH_URL,
            message: format!(
                "{AAD_GROUPS_OVERAGE}=graph: no Microsoft Graph is known for the authority host {}; set \
                 {AAD_GRAPH_URL} to its Graph origin",
                authority_host.map(|url| url.as_str().trim_end_matches('/')).unwrap_or_default()
            ),
        });
    }
    graph
}
