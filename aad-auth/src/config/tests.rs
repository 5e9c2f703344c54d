use std::collections::HashMap;
use std::time::Duration;

use super::*;

const CLIENT: &str = "11111111-2222-3333-4444-555555555555";
const TENANT: &str = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee";
const SECRET_B64: &str =
    "MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTIzNDU2Nzg5MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTIzNDU2Nzg5MDEyMzQ1Njc4OTAx";

fn parse(vars: &[(&str, &str)]) -> Result<AadAuthConfig, ConfigError> {
    let mut map: HashMap<String, String> = [("AAD_CLIENT_ID", CLIENT), ("AAD_TENANT_ID", TENANT)]
        .iter()
        .map(|(k, v)| ((*k).into(), (*v).into()))
        .collect();
    for (k, v) in vars {
        map.insert((*k).into(), (*v).into());
    }
    AadAuthConfig::from_lookup(|name| map.get(name).cloned())
}

fn err(vars: &[(&str, &str)]) -> String {
    match parse(vars) {
        Ok(_) => panic!("{vars:?} should be refused"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn defaults_follow_the_spec() {
    let c = parse(&[]).unwrap();
    assert_eq!(c.client_id(), CLIENT);
    assert_eq!(c.tenant(), &Tenant::Id(TENANT.into()));
    assert_eq!(c.authority_host(), "https://login.microsoftonline.com");
    assert_eq!(
        c.openid_config_url().as_str(),
        format!("https://login.microsoftonline.com/{TENANT}/v2.0/.well-known/openid-configuration")
    );
    assert_eq!(c.api_audience(), format!("api://{CLIENT}"));
    assert_eq!(c.scopes(), [format!("{CLIENT}/.default")]);
    assert_eq!(c.token_versions(), TokenVersions { v1: true, v2: true });
    assert_eq!(c.clock_skew(), Duration::from_secs(60));
    assert_eq!(c.jwks_cache_ttl(), Duration::from_secs(86_400));
    assert!(c.allow_guests() && c.enabled() && !c.dev_mode() && !c.allow_any_tenant());
    assert!(c.client_app_ids().is_empty() && c.roles().is_empty() && c.trusted_proxies().is_empty());
    let r = c.routes();
    assert_eq!(
        (r.login_ui.as_str(), r.oauth_login(), r.oauth_callback(), r.logout.as_str()),
        ("/login", "/oauth/aad/login".into(), "/oauth/aad/redirect".into(), "/logout")
    );
    assert_eq!((r.user.as_deref(), r.user_token(), r.home.as_str()), (Some("/me"), Some("/me/token".into()), "/"));
    assert_eq!((r.post_logout.as_str(), r.static_path.as_str()), ("/login", "/static-login"));
    let s = c.session();
    assert_eq!((s.cookie_name.as_str(), s.same_site, s.https_only), ("session", SameSite::Lax, true));
    assert_eq!(
        (s.max_age, s.idle_timeout, &s.store, s.secret.is_none()),
        (Duration::from_secs(86_400), Duration::from_secs(1_800), &SessionStoreKind::Cookie, true)
    );
}

#[test]
fn every_variable_is_read() {
    let dir = std::env::temp_dir().join(format!("aad-auth-config-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let template = dir.join("login.html");
    std::fs::write(&template, "<p>{{ app_name }}</p>").unwrap();
    let ca = dir.join("ca.pem");
    std::fs::write(&ca, "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n").unwrap();
    let t = template.to_str().unwrap();
    let c = parse(&[
        ("AAD_CLIENT_SECRET", "s3cret"),
        ("AAD_AUTHORITY_HOST", "https://login.microsoftonline.us"),
        ("AAD_OPENID_CONFIG_URL", "https://login.example/tfp/v2.0/.well-known/openid-configuration"),
        ("AAD_CA_FILE", ca.to_str().unwrap()),
        ("AAD_API_AUDIENCE", "api://custom"),
        ("AAD_CLIENT_APP_IDS", "a, b"),
        ("AAD_TOKEN_VERSIONS", "2"),
        ("AAD_SCOPES", r#"["x/.default", "y"]"#),
        ("AAD_ROLES", "Admin"),
        ("AAD_REDIRECT_URI", "https://app.example/auth/aad/redirect"),
        ("AAD_PUBLIC_BASE_URL", "https://app.example"),
        ("AAD_TRUSTED_PROXIES", "10.0.0.0/8, 192.168.1.1"),
        ("AUTH_TRUSTED_ORIGINS", "https://portal.example.com, https://Teams.Example:8443/"),
        ("AAD_PROMPT", "select_account"),
        ("AAD_DOMAIN_HINT", "contoso.com"),
        ("AAD_CLOCK_SKEW_SECONDS", "120"),
        ("AAD_JWKS_CACHE_TTL", "3600"),
        ("AAD_ALLOW_GUESTS", "no"),
        ("AUTH_ENABLED", "1"),
        ("AUTH_DEV_MODE", "true"),
        ("AUTH_LOGIN_UI_ROUTE", "/signin"),
        ("OAUTH_BASE_ROUTE", "/auth"),
        ("AUTH_LOGOUT_ROUTE", "/signout"),
        ("AUTH_USER_ROUTE", "/profile"),
        ("APP_HOME_ROUTE", "/home"),
        ("AUTH_LOGIN_STATIC_PATH", "/assets-login"),
        ("APP_NAME", "Demo"),
        ("AUTH_LOGIN_TEMPLATE_FILE", t),
        ("AUTH_USER_TEMPLATE_FILE", t),
        ("AUTH_ERROR_TEMPLATE_FILE", t),
        ("SESSION_SECRET", SECRET_B64),
        ("SESSION_COOKIE", "sid"),
        ("SESSION_SAME_SITE", "strict"),
        ("SESSION_HTTPS_ONLY", "false"),
        ("SESSION_MAX_AGE", "3600"),
        ("SESSION_IDLE_TIMEOUT", "600"),
        ("SESSION_STORE", "redis://127.0.0.1:6379/0"),
    ])
    .unwrap();
    assert_eq!(c.client_secret().map(|s| s.expose_secret()), Some("s3cret"));
    assert_eq!(c.authority_host(), "https://login.microsoftonline.us");
    assert!(c.has_explicit_openid_config_url());
    assert!(c.ca_pem().is_some() && c.ca_file().is_some());
    assert_eq!(c.api_audience(), "api://custom");
    assert_eq!(c.client_app_ids(), ["a", "b"]);
    assert_eq!(c.token_versions(), TokenVersions { v1: false, v2: true });
    assert_eq!(c.scopes(), ["x/.default", "y"]);
    assert_eq!(c.roles(), ["Admin"]);
    assert_eq!(c.redirect_uri().map(Url::as_str), Some("https://app.example/auth/aad/redirect"));
    assert_eq!(c.public_base_url().map(Url::as_str), Some("https://app.example/"));
    assert!(c.is_trusted_proxy("10.1.2.3".parse().unwrap()) && c.is_trusted_proxy("192.168.1.1".parse().unwrap()));
    assert!(!c.is_trusted_proxy("192.168.1.2".parse().unwrap()));
    assert_eq!(c.trusted_origins(), ["https://portal.example.com", "https://teams.example:8443"]);
    assert_eq!((c.prompt(), c.domain_hint()), (Some("select_account"), Some("contoso.com")));
    assert_eq!((c.clock_skew(), c.jwks_cache_ttl()), (Duration::from_secs(120), Duration::from_secs(3600)));
    assert!(!c.allow_guests() && c.enabled() && c.dev_mode());
    let r = c.routes();
    assert_eq!(
        (r.login_ui.as_str(), r.oauth_login(), r.logout.as_str()),
        ("/signin", "/auth/aad/login".into(), "/signout")
    );
    assert_eq!(
        (r.user.as_deref(), r.home.as_str(), r.static_path.as_str()),
        (Some("/profile"), "/home", "/assets-login")
    );
    assert_eq!(r.post_logout, "/signin", "post-logout defaults to the login UI route");
    assert_eq!(c.ui().app_name.as_deref(), Some("Demo"));
    assert!(c.ui().login_template.is_some() && c.ui().user_template.is_some() && c.ui().error_template.is_some());
    let s = c.session();
    assert_eq!(s.secret.as_ref().map(|k| k.expose_secret().len()), Some(72));
    assert_eq!((s.cookie_name.as_str(), s.same_site, s.https_only), ("sid", SameSite::Strict, false));
    assert_eq!((s.max_age, s.idle_timeout), (Duration::from_secs(3600), Duration::from_secs(600)));
    assert!(matches!(&s.store, SessionStoreKind::Redis(url) if url.as_str() == "redis://127.0.0.1:6379/0"));
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn each_bad_value_names_its_variable() {
    let cases: &[(&str, &str)] = &[
        ("AAD_CLIENT_ID", "not a guid!"),
        ("AAD_TENANT_ID", "not/a/tenant"),
        ("AAD_AUTHORITY_HOST", "http://login.example.com"),
        ("AAD_AUTHORITY_HOST", "https://login.example.com/some/path"),
        ("AAD_OPENID_CONFIG_URL", "ftp://x"),
        ("AAD_CA_FILE", "/nonexistent/ca.pem"),
        ("AAD_CLIENT_APP_IDS", "[1, 2"),
        ("AAD_ALLOWED_TENANTS", "contoso.com"),
        ("AAD_ALLOW_ANY_TENANT", "perhaps"),
        ("AAD_TOKEN_VERSIONS", "3"),
        ("AAD_REDIRECT_URI", "not a url"),
        ("AAD_PUBLIC_BASE_URL", "https://app.example/?q=1"),
        ("AAD_TRUSTED_PROXIES", "10.0.0.0/99"),
        ("AAD_PROMPT", "always"),
        ("AAD_CLOCK_SKEW_SECONDS", "-5"),
        ("AAD_CLOCK_SKEW_SECONDS", "3601"),
        ("AAD_JWKS_CACHE_TTL", "10"),
        ("AAD_ALLOW_GUESTS", "2"),
        ("AUTH_ENABLED", "enabled"),
        ("AUTH_DEV_MODE", "x"),
        ("AUTH_LOGIN_UI_ROUTE", "login"),
        ("OAUTH_BASE_ROUTE", "//evil"),
        ("AUTH_LOGOUT_ROUTE", "/logout?x"),
        ("AUTH_USER_ROUTE", "me"),
        ("APP_HOME_ROUTE", "https://evil.example/"),
        ("AUTH_POST_LOGOUT_ROUTE", "\\\\evil"),
        ("AUTH_LOGIN_STATIC_PATH", "static"),
        ("AUTH_LOGIN_TEMPLATE_FILE", "/nonexistent/login.html"),
        ("AUTH_USER_TEMPLATE_FILE", "/nonexistent/user.html"),
        ("AUTH_ERROR_TEMPLATE_FILE", "/nonexistent/error.html"),
        ("APP_LOGO_FILE", "/nonexistent/logo.png"),
        ("SESSION_SECRET", "tooshort"),
        ("SESSION_COOKIE", "bad cookie"),
        ("SESSION_SAME_SITE", "sometimes"),
        ("SESSION_HTTPS_ONLY", "maybe"),
        ("SESSION_MAX_AGE", "ten"),
        ("SESSION_IDLE_TIMEOUT", "59"),
        ("SESSION_STORE", "memcached://x"),
        ("AUTH_TRUSTED_ORIGINS", "https://portal.example/path"),
        ("AUTH_TRUSTED_ORIGINS", "https://*.example.com"),
        ("AAD_REDIRECT_URI", "https://app.example/not-the-callback"),
    ];
    for (var, value) in cases {
        let message = err(&[(var, value)]);
        assert!(message.contains(var), "{var}={value:?}: message does not name the variable: {message}");
        assert!(message.contains("expected") || message.contains("cannot use") || message.contains(':'), "{message}");
    }
}

#[test]
fn missing_required_values_are_all_reported() {
    let error = AadAuthConfig::from_lookup(|_| None).unwrap_err();
    let vars = error.variables();
    assert!(vars.contains(&"AAD_CLIENT_ID") && vars.contains(&"AAD_TENANT_ID"), "{error}");
    assert!(error.to_string().contains("AAD_CLIENT_ID is required"));
}

#[test]
fn disabled_auth_needs_no_registration() {
    let c = AadAuthConfig::from_lookup(|name| (name == "AUTH_ENABLED").then(|| "false".to_owned())).unwrap();
    assert!(!c.enabled());
}

#[test]
fn secrets_are_never_echoed() {
    let message = err(&[("SESSION_SECRET", "hunter2-hunter2")]);
    assert!(!message.contains("hunter2"), "{message}");
    let message = err(&[("SESSION_STORE", "memcached://user:pa55word@host")]);
    assert!(!message.contains("pa55word"), "{message}");
    let c = parse(&[("AAD_CLIENT_SECRET", "top-secret-value"), ("SESSION_SECRET", SECRET_B64)]).unwrap();
    let debug = format!("{c:?}");
    assert!(!debug.contains("top-secret-value") && !debug.contains(SECRET_B64), "{debug}");
    assert!(debug.contains("[redacted]"));

    // F6: the Redis password (and user) never in `Debug`, with or without TLS.
    for url in ["redis://:pa55word@cache:6379/0", "rediss://default:pa55word@cache.redis.cache.windows.net:6380/2"] {
        let c = parse(&[("SESSION_STORE", url), ("SESSION_SECRET", SECRET_B64)]).unwrap();
        let debug = format!("{c:?} {:?}", c.session());
        assert!(!debug.contains("pa55word") && !debug.contains("default:"), "{debug}");
        assert!(debug.contains("://***@cache"), "{debug}");
    }
    // Credentials in the other URLs are refused, without echoing them.
    for var in ["AAD_AUTHORITY_HOST", "AAD_OPENID_CONFIG_URL", "AAD_REDIRECT_URI", "AAD_PUBLIC_BASE_URL"] {
        let message = err(&[(var, "https://user:pa55word@login.example/oauth/aad/redirect")]);
        assert!(message.contains(var) && !message.contains("pa55word"), "{message}");
    }
}

#[test]
fn lists_accept_commas_and_json() {
    for value in ["a,b", " a , b ,", r#"["a","b"]"#, r#"[" a ", "b", ""]"#] {
        assert_eq!(parse(&[("AAD_ROLES", value)]).unwrap().roles(), ["a", "b"], "{value}");
    }
}

#[test]
fn multi_tenant_needs_an_allow_list_or_an_explicit_opt_out() {
    let message = err(&[("AAD_TENANT_ID", "organizations")]);
    assert!(message.contains("AAD_ALLOWED_TENANTS") && message.contains("AAD_ALLOW_ANY_TENANT"), "{message}");
    assert!(parse(&[("AAD_TENANT_ID", "common"), ("AAD_ALLOWED_TENANTS", TENANT)]).is_ok());
    assert!(parse(&[("AAD_TENANT_ID", "common"), ("AAD_ALLOW_ANY_TENANT", "true")]).is_ok());
}

#[test]
fn loopback_hosts_may_use_http() {
    let c = parse(&[("AAD_AUTHORITY_HOST", "http://127.0.0.1:8400")]).unwrap();
    assert_eq!(c.authority_host(), "http://127.0.0.1:8400");
    assert!(parse(&[("AAD_AUTHORITY_HOST", "http://localhost:8400")]).is_ok());
    assert!(parse(&[("AAD_AUTHORITY_HOST", "http://10.0.0.1:8400")]).is_err());
}

#[test]
fn user_route_can_be_disabled() {
    let c = parse(&[("AUTH_USER_ROUTE", "")]).unwrap();
    assert_eq!(c.routes().user, None);
}

#[test]
fn tenants_parse() {
    assert_eq!(Tenant::parse("Common"), Some(Tenant::Common));
    assert_eq!(Tenant::parse("contoso.onmicrosoft.com"), Some(Tenant::Domain("contoso.onmicrosoft.com".into())));
    assert_eq!(Tenant::parse(TENANT), Some(Tenant::Id(TENANT.into())));
    assert_eq!(Tenant::parse("../etc"), None);
    assert_eq!(Tenant::parse(""), None);
}

#[test]
fn builder_reports_the_same_names() {
    let error = AadAuthConfig::builder(CLIENT, TENANT).session_secret(vec![0u8; 10]).prompt("bad").build().unwrap_err();
    let vars = error.variables();
    assert!(vars.contains(&"SESSION_SECRET") && vars.contains(&"AAD_PROMPT"), "{error}");
}

#[test]
fn same_site_none_without_secure_cookies_refuses_to_start_from_either_path() {
    // Browsers drop `SameSite=None` cookies that are not `Secure`: every login would fail.
    let message =
        err(&[("SESSION_SAME_SITE", "none"), ("SESSION_HTTPS_ONLY", "false"), ("SESSION_SECRET", SECRET_B64)]);
    assert!(message.contains("SESSION_SAME_SITE") && message.contains("SESSION_HTTPS_ONLY"), "{message}");
    assert!(parse(&[("SESSION_SAME_SITE", "none"), ("SESSION_SECRET", SECRET_B64)]).is_ok());

    let session = SessionConfig { same_site: SameSite::None, https_only: false, ..SessionConfig::default() };
    let built = AadAuthConfig::builder(CLIENT, TENANT).session(session).session_secret(vec![7u8; 64]).build();
    let message = built.map(|_| ()).unwrap_err().to_string();
    assert!(message.contains("SESSION_SAME_SITE"), "{message}");
}

// The settings table: one source for the environment reader, the shared checks and
// the README.

#[test]
fn the_readme_configuration_table_is_the_settings_table() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md")).unwrap();
    let section = readme.split("\n## Configuration\n").nth(1).expect("README.md has a `## Configuration` section");
    let section = section.split("\n## ").next().unwrap_or_default();
    let table = settings::readme_table();
    assert!(
        section.contains(&table),
        "README.md's configuration table differs from config/settings.rs; replace it with:\n\n{table}"
    );
}

#[test]
fn every_setting_is_documented_on_the_builder_and_read_once() {
    let source = include_str!("mod.rs");
    let mut seen = std::collections::HashSet::new();
    for setting in settings::SETTINGS {
        assert!(seen.insert(setting.var), "{} is in the table twice", setting.var);
        assert!(
            source.contains(&format!("`{}", setting.var)),
            "no setter or field in config/mod.rs names {}",
            setting.var
        );
    }
    // Every variable the reader asks for is in the table, and each is asked for once.
    let asked = std::cell::RefCell::new(Vec::new());
    let _ = AadAuthConfig::from_lookup(|name| {
        asked.borrow_mut().push(name.to_owned());
        None
    });
    let mut asked = asked.into_inner();
    asked.retain(|name| name != "AUTH_POST_LOGOUT_ROUTE");
    let table: Vec<&str> =
        settings::SETTINGS.iter().map(|setting| setting.var).filter(|v| *v != "AUTH_POST_LOGOUT_ROUTE").collect();
    assert_eq!(asked, table);
}

#[test]
fn the_table_defaults_are_the_builders_and_the_environments() {
    let from_env = AadAuthConfig::from_lookup(|name| match name {
        "AAD_CLIENT_ID" => Some(CLIENT.into()),
        "AAD_TENANT_ID" => Some(TENANT.into()),
        _ => None,
    })
    .unwrap();
    let from_code = AadAuthConfig::builder(CLIENT, TENANT).build().unwrap();
    let mut builder = AadAuthConfig::builder(CLIENT, TENANT);
    let session = SessionConfig::default();
    for setting in settings::SETTINGS {
        let value = match setting.kind {
            settings::Kind::Seconds { field, .. } => field(&mut builder).as_secs().to_string(),
            settings::Kind::Flag(field) => field(&mut builder).to_string(),
            _ => continue,
        };
        assert_eq!(setting.default, value, "{}: the table's default is not the builder's", setting.var);
    }
    for config in [&from_env, &from_code] {
        let defaults = |var| settings::setting(var).unwrap().default;
        assert_eq!(config.clock_skew().as_secs().to_string(), defaults("AAD_CLOCK_SKEW_SECONDS"));
        assert_eq!(config.jwks_cache_ttl().as_secs().to_string(), defaults("AAD_JWKS_CACHE_TTL"));
        assert_eq!(config.jwks_stale_ttl().as_secs().to_string(), defaults("AAD_JWKS_STALE_TTL"));
        assert_eq!(config.groups_cache_ttl().as_secs().to_string(), defaults("AAD_GROUPS_CACHE_TTL"));
        assert_eq!(config.groups_overage(), GroupsOverage::Off);
        assert_eq!(config.session().max_age.as_secs().to_string(), defaults("SESSION_MAX_AGE"));
        assert_eq!(config.session().idle_timeout.as_secs().to_string(), defaults("SESSION_IDLE_TIMEOUT"));
        assert_eq!(config.session().https_only.to_string(), defaults("SESSION_HTTPS_ONLY"));
        assert_eq!(config.allow_guests().to_string(), defaults("AAD_ALLOW_GUESTS"));
        assert_eq!(config.routes(), &RouteConfig::default());
    }
    assert_eq!((session.max_age, session.idle_timeout), (from_env.session().max_age, from_env.session().idle_timeout));
}

/// `(variable, a builder with that value)` for each duration, so that each bound is tried on
/// both paths through the public setters.
fn with_seconds(var: &str, secs: u64) -> AadAuthConfigBuilder {
    let value = Duration::from_secs(secs);
    let builder = AadAuthConfig::builder(CLIENT, TENANT);
    match var {
        "AAD_CLOCK_SKEW_SECONDS" => builder.clock_skew(value),
        "AAD_JWKS_CACHE_TTL" => builder.jwks_cache_ttl(value),
        "AAD_JWKS_STALE_TTL" => builder.jwks_stale_ttl(value),
        "AAD_GROUPS_CACHE_TTL" => builder.groups_cache_ttl(value),
        "SESSION_MAX_AGE" => builder.session(SessionConfig { max_age: value, ..SessionConfig::default() }),
        "SESSION_IDLE_TIMEOUT" => builder.session(SessionConfig { idle_timeout: value, ..SessionConfig::default() }),
        other => panic!("no builder setter for {other}"),
    }
}

#[test]
fn duration_bounds_are_the_same_from_the_environment_and_the_builder() {
    let bounds: &[(&str, u64, u64)] = &[
        ("AAD_CLOCK_SKEW_SECONDS", 0, 600),
        ("AAD_JWKS_CACHE_TTL", 60, 604_800),
        ("AAD_JWKS_STALE_TTL", 0, 604_800),
        ("AAD_GROUPS_CACHE_TTL", 0, 86_400),
        ("SESSION_MAX_AGE", 60, 31_622_400),
        ("SESSION_IDLE_TIMEOUT", 60, 31_622_400),
    ];
    // Every duration of the table is here, with the bounds the environment enforced before.
    let in_table: Vec<&str> = settings::SETTINGS
        .iter()
        .filter(|setting| matches!(setting.kind, settings::Kind::Seconds { .. }))
        .map(|setting| setting.var)
        .collect();
    assert_eq!(in_table, bounds.iter().map(|(var, ..)| *var).collect::<Vec<_>>());
    for &(var, min, max) in bounds {
        let mut refused = vec![max + 1];
        if min > 0 {
            refused.push(min - 1);
        }
        for secs in refused {
            let from_env = err(&[(var, &secs.to_string())]);
            let from_code = with_seconds(var, secs).build().map(|_| ()).unwrap_err().to_string();
            let expected = format!("between {min} and {max}");
            for message in [&from_env, &from_code] {
                assert!(message.contains(var) && message.contains(&expected), "{var}={secs}: {message}");
            }
            assert_eq!(from_env, from_code, "{var}={secs}: the two paths report differently");
        }
        for secs in [min, max] {
            assert!(parse(&[(var, &secs.to_string())]).is_ok(), "{var}={secs} from the environment");
            assert!(with_seconds(var, secs).build().is_ok(), "{var}={secs} from the builder");
        }
    }
    // The case the review found: a 30-day key TTL built in code.
    let thirty_days = AadAuthConfig::builder(CLIENT, TENANT).jwks_cache_ttl(Duration::from_secs(30 * 86_400)).build();
    assert!(thirty_days.is_err());
}

/// The problems of a refused configuration, one line each.
fn problems(vars: &[(&str, &str)]) -> Vec<String> {
    let error = parse(vars).map(|_| ()).unwrap_err();
    let lines: Vec<String> = error.problems().iter().map(ToString::to_string).collect();
    for line in &lines {
        assert!(!line.contains('\n'), "not one line: {line:?}");
    }
    lines
}

#[test]
fn a_bad_value_is_reported_once_and_causes_nothing_else() {
    // A bad tenant is not then taken for `common`.
    let lines = problems(&[("AAD_TENANT_ID", "x")]);
    assert_eq!(lines.len(), 1, "{lines:#?}");
    assert!(lines[0].starts_with("AAD_TENANT_ID is invalid"), "{lines:#?}");
    // Nothing set: the two required values, nothing about tenants.
    let error = AadAuthConfig::from_lookup(|_| None).unwrap_err();
    assert_eq!(error.variables(), ["AAD_CLIENT_ID", "AAD_TENANT_ID"], "{error}");
    // A bad flag or list is not then read as its default.
    for (var, value) in [("AAD_ALLOW_ANY_TENANT", "perhaps"), ("AAD_ALLOWED_TENANTS", "[1, 2")] {
        let lines = problems(&[("AAD_TENANT_ID", "common"), (var, value)]);
        assert_eq!(lines.len(), 1, "{var}: {lines:#?}");
        assert!(lines[0].starts_with(var), "{lines:#?}");
    }
    // A refused callback route is not then reported as a redirect URI that misses it.
    let lines =
        problems(&[("OAUTH_BASE_ROUTE", "auth"), ("AAD_REDIRECT_URI", "https://app.example/auth/aad/redirect")]);
    assert_eq!(lines.len(), 1, "{lines:#?}");
    assert!(lines[0].starts_with("OAUTH_BASE_ROUTE"), "{lines:#?}");
    // A duration out of range from the environment: one problem, not one from the reader and one
    // from the shared check.
    assert_eq!(problems(&[("SESSION_MAX_AGE", "99999999")]).len(), 1);
    // The conflict itself is still found when nothing else is wrong.
    let lines = problems(&[("AAD_TENANT_ID", "common")]);
    assert!(lines.len() == 1 && lines[0].contains("accepts tokens from any tenant"), "{lines:#?}");
}

#[test]
fn every_problem_is_reported_at_once_one_line_each_in_table_order() {
    let lines = problems(&[
        ("SESSION_SAME_SITE", "sometimes"),
        ("AAD_TENANT_ID", "x"),
        ("AAD_CLIENT_ID", "not-a-guid"),
        ("AAD_JWKS_CACHE_TTL", "2592000"),
        ("AUTH_LOGIN_UI_ROUTE", "login"),
    ]);
    let vars: Vec<&str> = lines.iter().map(|line| line.split([' ', ':']).next().unwrap_or_default()).collect();
    assert_eq!(
        vars,
        ["AAD_CLIENT_ID", "AAD_TENANT_ID", "AAD_JWKS_CACHE_TTL", "AUTH_LOGIN_UI_ROUTE", "SESSION_SAME_SITE"],
        "{lines:#?}"
    );
    let error = parse(&[("AAD_TENANT_ID", "x"), ("AAD_CLIENT_ID", "not-a-guid")]).map(|_| ()).unwrap_err();
    assert_eq!(
        error.to_string(),
        "2 configuration problems:\n  - AAD_CLIENT_ID is invalid: expected the application (client) id, a GUID \
         (8-4-4-4-12 hex digits); got \"not-a-guid\"\n  - AAD_TENANT_ID is invalid: expected a tenant GUID, a \
         tenant domain, `common` or `organizations`; got \"x\""
    );
    let one = parse(&[("AAD_TENANT_ID", "x")]).map(|_| ()).unwrap_err();
    assert_eq!(one.problems().len(), 1);
}

#[test]
fn the_client_id_is_a_guid_on_both_paths() {
    for id in ["not-a-guid", "11111111222233334444555555555555", "11111111-2222-3333-4444-55555555555", "api://x"] {
        let message = err(&[("AAD_CLIENT_ID", id)]);
        assert!(message.starts_with("AAD_CLIENT_ID is invalid"), "{id}: {message}");
        let built = AadAuthConfig::builder(id, TENANT).build().map(|_| ()).unwrap_err();
        assert_eq!(built.variables(), ["AAD_CLIENT_ID"], "{id}: {built}");
    }
    for id in [CLIENT, "6C1F4B0A-8A7E-4F3E-9F59-2D6A0F1D2C3B", " 6c1f4b0a-8a7e-4f3e-9f59-2d6a0f1d2c3b "] {
        assert!(parse(&[("AAD_CLIENT_ID", id)]).is_ok(), "{id}");
        assert!(AadAuthConfig::builder(id, TENANT).build().is_ok(), "{id}");
    }
}

// Groups overage through Microsoft Graph.

#[test]
fn groups_overage_is_off_unless_set_and_graph_needs_a_secret() {
    assert_eq!(parse(&[]).unwrap().groups_overage(), GroupsOverage::Off);
    assert_eq!(parse(&[]).unwrap().graph_url().map(Url::as_str), Some("https://graph.microsoft.com/"));
    let on = parse(&[("AAD_GROUPS_OVERAGE", "graph"), ("AAD_CLIENT_SECRET", "s3cret")]).unwrap();
    assert_eq!((on.groups_overage(), on.groups_cache_ttl()), (GroupsOverage::Graph, Duration::from_secs(3600)));
    assert_eq!(parse(&[("AAD_GROUPS_OVERAGE", "OFF")]).unwrap().groups_overage(), GroupsOverage::Off);

    let message = err(&[("AAD_GROUPS_OVERAGE", "graph")]);
    assert!(message.contains("AAD_GROUPS_OVERAGE") && message.contains("AAD_CLIENT_SECRET"), "{message}");
    let from_code = AadAuthConfig::builder(CLIENT, TENANT).groups_overage(GroupsOverage::Graph).build().unwrap_err();
    assert_eq!(from_code.to_string(), message);
    // Off, or authentication off: nothing to ask Graph with is needed.
    assert!(parse(&[("AAD_GROUPS_OVERAGE", "graph"), ("AUTH_ENABLED", "false")]).is_ok());

    let message = err(&[("AAD_GROUPS_OVERAGE", "ldap")]);
    assert!(message.contains("AAD_GROUPS_OVERAGE") && message.contains("off or graph"), "{message}");
}

#[test]
fn the_graph_url_follows_the_cloud_or_is_set() {
    let graph = |vars: &[(&str, &str)]| parse(vars).unwrap().graph_url().map(|url| url.as_str().to_owned());
    let secret = ("AAD_CLIENT_SECRET", "s3cret");
    let on = ("AAD_GROUPS_OVERAGE", "graph");
    assert_eq!(
        graph(&[("AAD_AUTHORITY_HOST", "https://login.microsoftonline.us")]).as_deref(),
        Some("https://graph.microsoft.us/")
    );
    assert_eq!(
        graph(&[
            ("AAD_AUTHORITY_HOST", "https://login.microsoftonline.us"),
            ("AAD_GRAPH_URL", "https://dod-graph.microsoft.us")
        ])
        .as_deref(),
        Some("https://dod-graph.microsoft.us/")
    );
    // The local tenant serves Graph on its own origin.
    assert_eq!(graph(&[("AAD_AUTHORITY_HOST", "http://127.0.0.1:8400")]).as_deref(), Some("http://127.0.0.1:8400/"));
    assert_eq!(graph(&[("AAD_AUTHORITY_HOST", "https://localhost:8443")]).as_deref(), Some("https://localhost:8443/"));
    // An authority host of no known cloud: no Graph is guessed, and `graph` refuses to start.
    assert_eq!(graph(&[("AAD_AUTHORITY_HOST", "https://idp.example.com")]), None);
    let message = err(&[("AAD_AUTHORITY_HOST", "https://idp.example.com"), on, secret]);
    assert!(message.contains("AAD_GRAPH_URL") && message.contains("idp.example.com"), "{message}");
    assert!(
        parse(&[
            ("AAD_AUTHORITY_HOST", "https://idp.example.com"),
            ("AAD_GRAPH_URL", "https://graph.example.com"),
            on,
            secret
        ])
        .is_ok()
    );

    for bad in [
        "http://graph.example.com",
        "https://graph.example.com/v1.0",
        "graph.microsoft.com",
        "https://u:p@graph.example.com",
    ] {
        let message = err(&[("AAD_GRAPH_URL", bad)]);
        assert!(message.starts_with("AAD_GRAPH_URL"), "{bad}: {message}");
        assert!(!message.contains("u:p"), "{message}");
    }
    // A bad authority host is reported once, not again as an unknown Graph.
    let message = err(&[("AAD_AUTHORITY_HOST", "ftp://x"), on, secret]);
    assert!(!message.contains("AAD_GRAPH_URL"), "{message}");
}
