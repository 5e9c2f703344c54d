#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

use actix_web::body::MessageBody;

use super::*;
use crate::config::UiConfig;

const CLIENT: &str = "11111111-2222-3333-4444-555555555555";
const TENANT: &str = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee";
const XSS: &str = "<script>alert(1)</script>";

fn config(ui: UiConfig) -> AadAuthConfig {
    AadAuthConfig::builder(CLIENT, TENANT).ui(ui).build().unwrap()
}

fn pages(ui: UiConfig) -> Pages {
    Pages::new(&config(ui)).unwrap()
}

fn named(app_name: &str) -> UiConfig {
    UiConfig { app_name: Some(app_name.into()), ..UiConfig::default() }
}

/// A file in the temp directory, removed on drop.
struct TempFile(PathBuf);

impl TempFile {
    fn new(name: &str, content: &[u8]) -> Self {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!("aad-auth-ui-{}-{n}-{name}", std::process::id()));
        std::fs::write(&path, content).unwrap();
        Self(path)
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn login_view() -> LoginView<'static> {
    LoginView { login_url: "/oauth/aad/login?redirect=%2Fme", error: None, explanation: None, copyright: None }
}

fn user_view(user: &User) -> UserView<'_> {
    UserView { user, token_url: Some("/me/token"), logout_url: "/logout", home_url: "/", csrf_token: None }
}

fn error_view<'a>(description: &'a str) -> ErrorView<'a> {
    ErrorView { status: 400, title: "Sign-in failed", description, login_url: Some("/login"), home_url: "/" }
}

/// Every page, rendered.
fn all_pages(pages: &Pages) -> Vec<String> {
    let user = sample_user();
    vec![
        pages.render_login(&LoginView {
            error: Some("error"),
            explanation: Some("explanation"),
            copyright: Some("copyright"),
            ..login_view()
        }),
        pages.render_user(&user_view(&user)),
        pages.render_error(&error_view("description")),
        pages.render_logout_confirm(&LogoutView {
            logout_url: "/logout",
            cancel_url: "/",
            user_name: Some("Ada"),
            csrf_token: Some("t"),
        }),
        pages.render_signed_out(&SignedOutView { login_url: "/login", home_url: "/" }),
        pages.render_signed_in(&SignedInView { target_url: "/test?a=1&b=2" }),
    ]
}

fn assert_escaped(html: &str) {
    assert!(!html.contains(XSS), "unescaped markup in:\n{html}");
    assert!(html.contains("&lt;script&gt;alert(1)&lt;&#x2f;script&gt;"), "escaped text missing in:\n{html}");
}

#[test]
fn user_and_idp_data_is_escaped() {
    let pages = pages(named(XSS));
    let mut user = sample_user();
    user.name = Some(XSS.into());
    user.roles = vec![XSS.into()];
    let user_page = pages.render_user(&user_view(&user));
    assert_escaped(&user_page);
    assert!(!user_page.contains("<script>alert"));

    let error_page = pages.render_error(&error_view(XSS));
    assert_escaped(&error_page);

    let login = pages.render_login(&LoginView { error: Some(XSS), explanation: Some(XSS), ..login_view() });
    assert_escaped(&login);
    assert!(login.contains(&format!("<title>{}</title>", "&lt;script&gt;alert(1)&lt;&#x2f;script&gt;")));

    let logout = pages.render_logout_confirm(&LogoutView {
        logout_url: "/logout",
        cancel_url: "/",
        user_name: Some(XSS),
        csrf_token: Some("\"><script>"),
    });
    assert_escaped(&logout);
    assert!(!logout.contains("\"><script>"));

    let signed_in = pages.render_signed_in(&SignedInView { target_url: "/x\"><script>" });
    assert!(!signed_in.contains("\"><script>"), "{signed_in}");
}

#[test]
fn the_signed_in_page_moves_on_to_the_target_without_script() {
    let html = pages(named("Demo")).render_signed_in(&SignedInView { target_url: "/test?a=1&b=2" });
    assert!(html.contains(r#"<meta http-equiv="refresh" content="0;url=&#x2f;test?a=1&amp;b=2">"#), "{html}");
    assert!(html.contains(r#"href="&#x2f;test?a=1&amp;b=2""#), "{html}");
    assert!(!html.contains("<script"), "{html}");
}

#[test]
fn attribute_values_cannot_break_out() {
    let pages = pages(UiConfig::default());
    let html =
        pages.render_login(&LoginView { login_url: "/oauth/aad/login?redirect=\"onmouseover=x", ..login_view() });
    assert!(html.contains("href=\"&#x2f;oauth&#x2f;aad&#x2f;login?redirect=&quot;onmouseover=x\""), "{html}");
}

#[test]
fn app_name_falls_back_to_sign_in() {
    let pages = pages(UiConfig::default());
    let login = pages.render_login(&login_view());
    assert!(login.contains("<title>Sign in</title>"), "{login}");
    assert!(login.contains("<h1>Sign in</h1>"), "{login}");
    for page in all_pages(&pages) {
        assert!(!page.contains("None") && !page.contains(">none<"), "{page}");
        assert!(page.contains("<title>") && !page.contains("<title></title>"), "{page}");
    }

    let named = self::pages(named("Contoso Expenses"));
    let login = named.render_login(&login_view());
    assert!(login.contains("<title>Contoso Expenses</title>") && login.contains("<h1>Contoso Expenses</h1>"));
    let error = named.render_error(&error_view("d"));
    assert!(error.contains("<title>Sign-in failed · Contoso Expenses</title>"), "{error}");

    // A blank APP_NAME counts as unset.
    let blank = self::pages(self::named("  "));
    assert!(blank.render_login(&login_view()).contains("<title>Sign in</title>"));
}

#[test]
fn login_page_has_one_microsoft_button() {
    let pages = pages(UiConfig::default());
    let html = pages.render_login(&login_view());
    assert_eq!(html.matches("Sign in with Microsoft").count(), 1);
    assert_eq!(html.matches("class=\"btn btn-microsoft").count(), 1);
    assert!(html.contains("<svg class=\"ms-logo\""));
    assert!(!html.contains("role=\"alert\""), "no error, no alert");
    let with_error = pages.render_login(&LoginView { error: Some("Sign-in was cancelled."), ..login_view() });
    assert!(with_error.contains("role=\"alert\"") && with_error.contains("Sign-in was cancelled."));
}

#[test]
fn user_page_shows_claims_token_controls_and_a_post_logout() {
    let pages = pages(UiConfig::default());
    let user = sample_user();
    let html = pages.render_user(&UserView { csrf_token: Some("csrf-123"), ..user_view(&user) });
    for needle in [
        "Sample User",
        "sample@example.com",
        "00000000-0000-0000-0000-000000000001",
        "00000000-0000-0000-0000-000000000002",
        "Sample.Role",
        "00000000-0000-0000-0000-000000000003",
        "user_impersonation",
        "Overage: too many groups to list",
        "Guest",
        "data-token-url=\"&#x2f;me&#x2f;token\"",
        "id=\"token-toggle\"",
        "id=\"token-copy\"",
        "id=\"token-expiry\"",
        "<form method=\"post\" action=\"&#x2f;logout\"",
        "name=\"csrf_token\" value=\"csrf-123\"",
    ] {
        assert!(html.contains(needle), "{needle} missing from:\n{html}");
    }
    // No token section (and no script) without a token route.
    let html = pages.render_user(&UserView { token_url: None, ..user_view(&user) });
    assert!(!html.contains("id=\"token\"") && !html.contains("<script"));
}

#[test]
fn override_templates_are_used() {
    let login = TempFile::new(
        "login.html",
        b"{% extends \"base.html\" %}{% block content %}<p class=\"custom\">Custom {{ heading }} <a href=\"{{ login_url }}\">go</a> {{ error }}</p>{% endblock %}",
    );
    let user = TempFile::new(
        "user.html",
        b"{% extends \"builtin/user.html\" %}{% block token %}<p>no token here</p>{% endblock %}",
    );
    let error = TempFile::new("error.html", b"<h1>{{ status }} {{ title }}</h1><p>{{ description }}</p>");
    let pages = pages(UiConfig {
        app_name: Some("Demo".into()),
        login_template: Some(login.0.clone()),
        user_template: Some(user.0.clone()),
        error_template: Some(error.0.clone()),
        ..UiConfig::default()
    });
    let html = pages.render_login(&LoginView { error: Some(XSS), ..login_view() });
    assert!(html.contains("<p class=\"custom\">Custom Demo <a href=\"&#x2f;oauth"), "{html}");
    assert!(html.contains("<link rel=\"stylesheet\""), "the override extends the built-in frame");
    assert_escaped(&html);

    let sample = sample_user();
    let html = pages.render_user(&user_view(&sample));
    assert!(html.contains("<p>no token here</p>") && html.contains("Sample User") && !html.contains("token-toggle"));

    let html = pages.render_error(&error_view(XSS));
    assert!(html.starts_with("<h1>400 Sign-in failed</h1>"), "{html}");
    assert_escaped(&html);
}

#[test]
fn broken_override_templates_name_their_variable() {
    let cases: [(&str, &[u8]); 4] = [
        ("syntax", b"{% if %}"),
        ("unclosed block", b"{% extends \"base.html\" %}{% block content %}"),
        ("unknown filter", b"{{ error|no_such_filter }}"),
        ("missing parent", b"{% extends \"missing.html\" %}"),
    ];
    for (what, source) in cases {
        for var in ["AUTH_LOGIN_TEMPLATE_FILE", "AUTH_USER_TEMPLATE_FILE", "AUTH_ERROR_TEMPLATE_FILE"] {
            let file = TempFile::new("broken.html", source);
            let mut ui = UiConfig::default();
            match var {
                "AUTH_LOGIN_TEMPLATE_FILE" => ui.login_template = Some(file.0.clone()),
                "AUTH_USER_TEMPLATE_FILE" => ui.user_template = Some(file.0.clone()),
                _ => ui.error_template = Some(file.0.clone()),
            }
            let error = Pages::new(&config(ui)).expect_err(what);
            match &error {
                Error::Config(config_error) => assert_eq!(config_error.variables(), [var], "{what}: {error}"),
                other => panic!("{what}: expected a configuration error, got {other:?}"),
            }
            let message = error.to_string();
            assert!(message.starts_with(var) && message.contains("broken.html"), "{what}: {message}");
        }
    }
}

#[test]
fn every_asset_the_templates_reference_is_served() {
    let logo = TempFile::new("logo.png", b"\x89PNG\r\n\x1a\nnot really a png");
    let pages = pages(UiConfig { logo_file: Some(logo.0.clone()), ..named("Demo") });
    let mut referenced = std::collections::BTreeSet::new();
    for html in all_pages(&pages) {
        for attribute in ["href=\"", "src=\""] {
            for piece in html.split(attribute).skip(1) {
                let url = piece.split('"').next().unwrap().replace("&#x2f;", "/").replace("&amp;", "&");
                if let Some(rest) = url.strip_prefix("/static-login/") {
                    referenced.insert(rest.to_owned());
                }
            }
        }
        // Every page loads the stylesheet and the favicon.
        assert!(html.contains("rel=\"stylesheet\"") && html.contains("rel=\"icon\""));
    }
    assert!(referenced.len() >= 4, "{referenced:?}");
    for name in &referenced {
        let name = name.split('?').next().unwrap();
        if name == "logo" {
            assert_eq!(pages.logo().unwrap().1, "image/png");
        } else {
            assert!(static_asset(name).is_some(), "{name} is referenced but not served");
        }
        let response = pages.static_response(name);
        assert_eq!(response.status(), StatusCode::OK, "{name}");
        assert_eq!(response.headers().get("cache-control").unwrap(), STATIC_CACHE_CONTROL);
        assert_eq!(response.headers().get("x-content-type-options").unwrap(), "nosniff");
    }
    // And every bundled file is reachable under the URL the pages use.
    for asset in &assets::ASSETS {
        let url = &pages.asset_urls[asset.key];
        let name = url.strip_prefix("/static-login/").unwrap();
        let (bytes, content_type) = static_asset(name).unwrap();
        assert_eq!((bytes, content_type), (asset.bytes, asset.content_type));
    }
    assert!(static_asset("login.0000000000.css").is_none());
    assert!(static_asset("../Cargo.toml").is_none());
    assert_eq!(pages.static_response("nope.css").status(), StatusCode::NOT_FOUND);
}

#[test]
fn asset_names_carry_a_content_hash() {
    let css = &assets::ASSETS[0];
    let name = css.file_name();
    assert!(name.starts_with("login.") && name.ends_with(".css") && name.len() == "login..css".len() + 10, "{name}");
    assert_ne!(assets::fnv1a(b"a"), assets::fnv1a(b"b"));
    assert_eq!(static_asset(&format!("/{name}")).map(|(_, t)| t), Some("text/css; charset=utf-8"));
}

#[test]
fn logo_file_is_checked_and_served() {
    let svg = TempFile::new("logo.svg", b"<svg xmlns=\"http://www.w3.org/2000/svg\"/>");
    let pages = pages(UiConfig { logo_file: Some(svg.0.clone()), ..UiConfig::default() });
    let login = pages.render_login(&login_view());
    assert!(login.contains("class=\"brand-logo\" src=\"&#x2f;static-login&#x2f;logo?v="), "{login}");
    let response = pages.static_response("logo");
    assert_eq!(response.headers().get("content-type").unwrap(), "image/svg+xml");
    assert!(response.headers().get("content-security-policy").unwrap().to_str().unwrap().contains("sandbox"));

    let text = TempFile::new("logo.txt", b"hello");
    let error = Pages::new(&config(UiConfig { logo_file: Some(text.0.clone()), ..UiConfig::default() })).unwrap_err();
    assert!(error.to_string().starts_with("APP_LOGO_FILE"), "{error}");

    // Without a logo there is nothing at `logo`.
    assert_eq!(self::pages(UiConfig::default()).static_response("logo").status(), StatusCode::NOT_FOUND);
}

#[test]
fn csp_forbids_inline_code_and_allows_the_identity_provider_form_target() {
    let csp = content_security_policy("https://login.microsoftonline.com/");
    assert!(!csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"), "{csp}");
    for directive in [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "connect-src 'self'",
        "form-action 'self' https://login.microsoftonline.com;",
        "frame-ancestors 'none'",
        "base-uri 'none'",
    ] {
        assert!(csp.contains(directive), "{directive} missing from {csp}");
    }
    assert!(
        content_security_policy("http://127.0.0.1:8400/tenant").contains("form-action 'self' http://127.0.0.1:8400;")
    );
    assert!(content_security_policy("javascript:alert(1)").contains("form-action 'self';"));
    assert!(content_security_policy("not a url; script-src *").contains("form-action 'self';"));

    let pages = pages(UiConfig::default());
    assert!(pages.csp().contains("form-action 'self' https://login.microsoftonline.com;"));
}

#[test]
fn pages_need_no_inline_script_or_style() {
    let pages = pages(named("Demo"));
    for html in all_pages(&pages) {
        for piece in html.split("<script").skip(1) {
            let tag = piece.split('>').next().unwrap();
            assert!(tag.contains(" src=\""), "inline script in:\n{html}");
        }
        assert!(!html.contains("<style") && !html.contains(" style=\""), "inline style in:\n{html}");
        let handler = html.match_indices(" on").any(|(at, _)| {
            let name: String = html[at + 3..].chars().take_while(char::is_ascii_lowercase).collect();
            !name.is_empty() && html[at + 3 + name.len()..].starts_with('=')
        });
        assert!(!handler, "inline event handler in:\n{html}");
    }
}

#[test]
fn html_response_sets_the_security_headers() {
    let pages = pages(UiConfig::default());
    let response = pages.html_response(StatusCode::OK, pages.render_login(&login_view()));
    let headers = response.headers();
    assert_eq!(headers.get("content-type").unwrap(), "text/html; charset=utf-8");
    assert_eq!(headers.get("content-security-policy").unwrap(), pages.csp());
    for (name, value) in PAGE_HEADERS {
        assert_eq!(headers.get(name).unwrap(), value, "{name}");
    }
    let body = response.into_body().try_into_bytes().unwrap();
    assert!(body.starts_with(b"<!doctype html>"));
}

#[test]
fn error_pages_for_auth_errors_use_the_configured_routes() {
    let routes = crate::config::RouteConfig {
        login_ui: "/signin".into(),
        home: "/app".into(),
        ..crate::config::RouteConfig::default()
    };
    let config = AadAuthConfig::builder(CLIENT, TENANT).routes(routes).build().unwrap();
    let pages = Pages::new(&config).unwrap();
    let response = pages.error_page(StatusCode::FORBIDDEN, "Forbidden", XSS);
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert!(response.headers().get("content-security-policy").is_some(), "error pages carry the CSP");
    let body = actix_web::body::to_bytes(response.into_body());
    let html = String::from_utf8(futures_util::FutureExt::now_or_never(body).unwrap().unwrap().to_vec()).unwrap();
    assert!(html.contains("Error 403") && html.contains("<h1>Forbidden</h1>"));
    assert!(html.contains("href=\"&#x2f;signin\"") && html.contains("href=\"&#x2f;app\""), "{html}");
    assert_escaped(&html);
}

#[test]
fn initials_and_app_display_names() {
    assert_eq!(initials("Ada Lovelace"), "AL");
    assert_eq!(initials("émile zola extra"), "ÉZ");
    assert_eq!(initials("ada@contoso.com"), "A");
    assert_eq!(initials("  "), "?");
    let pages = pages(UiConfig::default());
    let mut app = sample_user();
    app.name = None;
    app.username = None;
    app.is_app = true;
    let html = pages.render_user(&user_view(&app));
    assert!(html.contains("<h1>Application</h1>") && html.contains("App-only"), "{html}");
    assert!(html.contains("<p class=\"muted subtitle\">00000000-0000-0000-0000-000000000004</p>"), "{html}");
}
