//! The login UI: the HTML pages of the browser login (the rendering layer only; the routes that
//! serve them live elsewhere).
//!
//! [`Pages`] is built once at start-up from the configuration and renders:
//!
//! | page | method | template |
//! |---|---|---|
//! | sign-in (`/login`): one "Sign in with Microsoft" button | [`Pages::render_login`] | `login.html` (`AUTH_LOGIN_TEMPLATE_FILE`) |
//! | the user (`/me`): claims table, token reveal and copy, sign-out | [`Pages::render_user`] | `user.html` (`AUTH_USER_TEMPLATE_FILE`) |
//! | an error: status, fixed title, escaped description | [`Pages::render_error`] | `error.html` (`AUTH_ERROR_TEMPLATE_FILE`) |
//! | "Sign out?" (GET on the logout route; the form POSTs) | [`Pages::render_logout_confirm`] | `logout.html` |
//! | "You have signed out" | [`Pages::render_signed_out`] | `signed_out.html` |
//! | "Signed in", moving on to the target (`SESSION_SAME_SITE=strict` logins) | [`Pages::render_signed_in`] | `signed_in.html` |
//!
//! # Security
//!
//! * Templates are rendered by minijinja with HTML auto-escaping on for every template, the
//!   built-in and the overriding ones alike. No built-in template uses `|safe`: everything that
//!   can come from a request, the identity provider or a token (the user's claims, IdP error
//!   descriptions, the app name) is printed as escaped text.
//! * No inline script or style: the pages load one stylesheet and (on the user page) one script
//!   from the static path, so the [`content_security_policy`] can forbid inline code.
//! * The token is never put into a page: the user page's script fetches it from the token URL
//!   when the user asks for it.
//!
//! # Headers the routes must set
//!
//! [`Pages::html_response`] and [`Pages::static_response`] build complete responses; a route that
//! builds its own must set, on every page:
//!
//! * `Content-Type: text/html; charset=utf-8`
//! * `Content-Security-Policy:` [`Pages::csp`] (see [`content_security_policy`]);
//! * every header of [`PAGE_HEADERS`]: `X-Content-Type-Options: nosniff`,
//!   `Referrer-Policy: same-origin`, `Cache-Control: no-store`, `X-Frame-Options: DENY`,
//!   `Cross-Origin-Opener-Policy: same-origin`.
//!
//! # Static files
//!
//! Mount `{AUTH_LOGIN_STATIC_PATH}/{name}` (default `/static-login/...`) and answer with
//! [`Pages::static_response`]`(name)`. It serves the bundled files ([`static_asset`]: the
//! stylesheet, the user page script, the favicon and the Microsoft logo, each under a name
//! carrying a hash of its content) and the custom logo (`APP_LOGO_FILE`, read at start-up) as
//! `logo`, which the pages reference as `logo?v={hash}`. All of them can therefore be cached
//! for a year: `Cache-Control: public, max-age=31536000, immutable` (what
//! [`Pages::static_response`] sets), with `X-Content-Type-Options: nosniff`. Unknown names
//! answer 404.
//!
//! # Overriding templates
//!
//! `AUTH_LOGIN_TEMPLATE_FILE`, `AUTH_USER_TEMPLATE_FILE` and `AUTH_ERROR_TEMPLATE_FILE` name
//! files that replace `login.html`, `user.html` and `error.html`. They are read and compiled at
//! start-up, and rendered once with sample data: a syntax or rendering error stops the app with
//! a [`ConfigError::File`] naming the variable. An override may
//!
//! * `{% extends "base.html" %}` and fill its blocks, or
//! * `{% extends "builtin/login.html" %}` (`builtin/user.html`, `builtin/error.html`) to change
//!   one block of the built-in page and keep the rest.
//!
//! Auto-escaping stays on in overrides. Marking a context variable `|safe` there reintroduces
//! the original library's reflected XSS: don't. Should an override still fail at request time,
//! the error is logged and the built-in page is served instead.
//!
//! ## Blocks
//!
//! * `base.html`: `title` (the `<title>` text), `head` (extra `<head>` elements), `body_class`,
//!   `card_class`, `header` (logo and app name above the content), `content` (the card's body),
//!   `footer` (the copyright line under the card), `scripts` (end of `<body>`).
//! * `login.html`: `login_intro`, `login_error`, `login_button`, `login_explanation`.
//! * `user.html`: `user_header`, `user_profile`, `user_access`, `token`, `user_actions`. The
//!   token section works with the bundled script when it keeps the ids `token` (with
//!   `data-token-url`), `token-value`, `token-toggle`, `token-copy`, `token-expiry` and
//!   `token-status`.
//! * `error.html`: `error_body`, `error_actions`.
//!
//! ## Context variables
//!
//! Every page:
//!
//! * `app_name`: `APP_NAME`, or none when unset (test it with `{% if app_name %}`);
//! * `page_title`: the `<title>`, never empty (`APP_NAME`, else a fixed text such as "Sign in");
//! * `static_path`: `AUTH_LOGIN_STATIC_PATH`;
//! * `assets`: URLs of the bundled files: `assets.css`, `assets.user_js`, `assets.favicon`,
//!   `assets.microsoft_logo`;
//! * `logo_url`: the custom logo's URL, or none;
//! * `copyright`: a copyright line, or none (set by the login page's caller).
//!
//! Per page:
//!
//! * login: `heading` (`APP_NAME` or "Sign in"), `login_url` (the sign-in link, with its
//!   `redirect` parameter), `error` (a message, or none), `explanation` (text, or none);
//! * user: `user` (every field of [`User`]: `oid`, `tid`, `sub`, `name`, `username`, `email`,
//!   `roles`, `groups`, `groups_overage`, `scopes`, `is_app`, `is_guest`, `app_id`),
//!   `display_name` (a heading: the name, else the username, else the object id; "Application"
//!   for an app-only token), `subtitle` (the username, or an app's client id), `initials`,
//!   `token_url` (none hides the token section), `logout_url`,
//!   `home_url`, `csrf_token` (none, or a value for a hidden `csrf_token` form field);
//! * error: `status` (the number), `title`, `description`, `login_url` ("Try again"; none
//!   hides it), `home_url`;
//! * logout confirmation: `logout_url`, `cancel_url`, `user_name`, `csrf_token`;
//! * signed out: `login_url`, `home_url`.

mod assets;
#[cfg(feature = "testing")]
mod preview;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
pub(crate) use assets::static_asset;
use minijinja::syntax::SyntaxConfig;
use minijinja::value::{Serde, Value};
use minijinja::{AutoEscape, Environment};
#[cfg(feature = "testing")]
pub use preview::ui_preview;
use serde::Serialize;

use crate::config::{AadAuthConfig, ConfigError};
use crate::error::Error;
use crate::user::User;

/// Headers every login UI page carries, besides `Content-Security-Policy` ([`Pages::csp`]).
pub(crate) const PAGE_HEADERS: [(&str, &str); 5] = [
    ("x-content-type-options", "nosniff"),
    // Full URLs (with `?redirect=`) never leave the site; same-origin POSTs keep their Origin.
    ("referrer-policy", "same-origin"),
    // Pages show personal data and are rendered per request.
    ("cache-control", "no-store"),
    // For browsers that predate `frame-ancestors`.
    ("x-frame-options", "DENY"),
    ("cross-origin-opener-policy", "same-origin"),
];

/// `Cache-Control` of the static files (their names change with their content).
pub(crate) const STATIC_CACHE_CONTROL: &str = "public, max-age=31536000, immutable";

/// The policy of static file responses: nothing runs if one is opened as a document.
const STATIC_CSP: &str = "default-src 'none'; sandbox";

/// The largest template or logo file accepted at start-up.
const MAX_FILE_BYTES: u64 = 1024 * 1024;

/// The `Content-Security-Policy` of the login UI pages.
///
/// Scripts, styles, images and `fetch` only from the app itself (images also as `data:` URIs,
/// for overriding templates); no inline code, no plugins, no framing, no `<base>`. Forms may
/// submit to the app and to the origin of `authority_host` (`AAD_AUTHORITY_HOST`), because the
/// POST to the logout route answers with a redirect to the identity provider's
/// `end_session_endpoint`, and browsers check `form-action` along redirects. A value that is not
/// an http(s) URL adds nothing.
pub(crate) fn content_security_policy(authority_host: &str) -> String {
    let mut form_action = String::from("'self'");
    if let Some(origin) = http_origin(authority_host) {
        form_action.push(' ');
        form_action.push_str(&origin);
    }
    format!(
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; \
         form-action {form_action}; frame-ancestors 'none'; base-uri 'none'"
    )
}

/// `scheme://host[:port]` of an http(s) URL.
fn http_origin(url: &str) -> Option<String> {
    let url = url::Url::parse(url.trim()).ok()?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return None;
    }
    Some(url.origin().ascii_serialization())
}

/// The login page's data.
#[derive(Debug, Clone, Copy)]
pub(crate) struct LoginView<'a> {
    /// The sign-in link: the OAuth login route with its `?redirect=` parameter already encoded.
    pub(crate) login_url: &'a str,
    /// Why the user is back on this page (for example a failed sign-in), shown as escaped text.
    pub(crate) error: Option<&'a str>,
    /// A note under the button (plain text).
    pub(crate) explanation: Option<&'a str>,
    /// A copyright line under the card (plain text).
    pub(crate) copyright: Option<&'a str>,
}

/// The user page's data (`/me`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct UserView<'a> {
    /// The signed-in user.
    pub(crate) user: &'a User,
    /// The token JSON route (`/me/token`); `None` hides the token section.
    pub(crate) token_url: Option<&'a str>,
    /// The logout route, which the sign-out form POSTs to.
    pub(crate) logout_url: &'a str,
    /// The app's home.
    pub(crate) home_url: &'a str,
    /// A value for a hidden `csrf_token` field of the sign-out form, if the route checks one.
    pub(crate) csrf_token: Option<&'a str>,
}

/// The error page's data.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ErrorView<'a> {
    /// The HTTP status shown (and, normally, answered with).
    pub(crate) status: u16,
    /// A fixed title chosen by the caller ("Sign-in failed"), never request data.
    pub(crate) title: &'a str,
    /// What went wrong. Shown as escaped text only: identity provider error strings are
    /// untrusted.
    pub(crate) description: &'a str,
    /// Where "Try again" leads (the login page); `None` hides the button.
    pub(crate) login_url: Option<&'a str>,
    /// The app's home.
    pub(crate) home_url: &'a str,
}

/// The sign-out confirmation's data (GET on the logout route).
#[derive(Debug, Clone, Copy)]
pub(crate) struct LogoutView<'a> {
    /// The logout route the form POSTs to.
    pub(crate) logout_url: &'a str,
    /// Where "Cancel" leads.
    pub(crate) cancel_url: &'a str,
    /// Who is signed in, if known.
    pub(crate) user_name: Option<&'a str>,
    /// A value for a hidden `csrf_token` form field, if the route checks one.
    pub(crate) csrf_token: Option<&'a str>,
}

/// The signed-out page's data.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SignedOutView<'a> {
    /// "Sign in again".
    pub(crate) login_url: &'a str,
    /// The app's home.
    pub(crate) home_url: &'a str,
}

/// The page that ends a login with a same-site navigation to `target_url`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SignedInView<'a> {
    /// The post-login target (already checked: a same-origin relative path).
    pub(crate) target_url: &'a str,
}

/// The pages a [`Pages`] renders.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Page {
    Login,
    User,
    Error,
    Logout,
    SignedOut,
    SignedIn,
}

impl Page {
    const ALL: [Page; 6] = [Page::Login, Page::User, Page::Error, Page::Logout, Page::SignedOut, Page::SignedIn];

    /// The name templates are rendered by (an override replaces it).
    fn name(self) -> &'static str {
        match self {
            Self::Login => "login.html",
            Self::User => "user.html",
            Self::Error => "error.html",
            Self::Logout => "logout.html",
            Self::SignedOut => "signed_out.html",
            Self::SignedIn => "signed_in.html",
        }
    }

    /// The name the built-in template stays available under.
    fn builtin_name(self) -> &'static str {
        match self {
            Self::Login => "builtin/login.html",
            Self::User => "builtin/user.html",
            Self::Error => "builtin/error.html",
            Self::Logout => "builtin/logout.html",
            Self::SignedOut => "builtin/signed_out.html",
            Self::SignedIn => "builtin/signed_in.html",
        }
    }

    fn builtin_source(self) -> &'static str {
        match self {
            Self::Login => include_str!("templates/login.html"),
            Self::User => include_str!("templates/user.html"),
            Self::Error => include_str!("templates/error.html"),
            Self::Logout => include_str!("templates/logout.html"),
            Self::SignedOut => include_str!("templates/signed_out.html"),
            Self::SignedIn => include_str!("templates/signed_in.html"),
        }
    }
}

/// The built-in frame every page extends.
const BASE_TEMPLATE: &str = include_str!("templates/base.html");

/// Served when even a built-in template fails (it should not: the tests render them all).
const LAST_RESORT_HTML: &str = "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Error</title>\
     </head><body><h1>Something went wrong</h1><p>This page could not be displayed.</p></body></html>";

/// The custom logo (`APP_LOGO_FILE`), read at start-up.
struct Logo {
    bytes: Vec<u8>,
    content_type: &'static str,
    url: String,
}

/// Renders the login UI pages. Built once at start-up; cheap to share behind an `Arc`.
pub(crate) struct Pages {
    env: Environment<'static>,
    app_name: Option<String>,
    static_path: String,
    asset_urls: BTreeMap<&'static str, String>,
    logo: Option<Logo>,
    csp: String,
    login_ui: String,
    home: String,
    overrides: Vec<&'static str>,
}

impl fmt::Debug for Pages {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pages")
            .field("app_name", &self.app_name)
            .field("static_path", &self.static_path)
            .field("logo", &self.logo.as_ref().map(|logo| logo.content_type))
            .field("overrides", &self.overrides)
            .finish_non_exhaustive()
    }
}

/// What every page's context holds.
#[derive(Serialize)]
struct Common<'a> {
    app_name: Option<&'a str>,
    page_title: String,
    static_path: &'a str,
    assets: &'a BTreeMap<&'static str, String>,
    logo_url: Option<&'a str>,
}

impl Pages {
    /// Compiles the templates (the built-in ones and the overrides named by
    /// `AUTH_LOGIN_TEMPLATE_FILE`, `AUTH_USER_TEMPLATE_FILE` and `AUTH_ERROR_TEMPLATE_FILE`),
    /// reads the logo (`APP_LOGO_FILE`) and computes the page CSP.
    ///
    /// # Errors
    /// [`Error::Config`] with a [`ConfigError::File`] naming the variable when a file cannot be
    /// read, a template does not compile or fails to render sample data, or the logo is not a
    /// PNG, JPEG, GIF, WebP, ICO or SVG file; [`Error::Setup`] if a built-in template is broken.
    pub(crate) fn new(config: &AadAuthConfig) -> Result<Self, Error> {
        let ui = config.ui();
        let routes = config.routes();
        let static_path = routes.static_path.trim_end_matches('/').to_owned();

        let mut env = Environment::new();
        // HTML escaping whatever a template is called (overrides included).
        env.set_auto_escape_callback(|_| AutoEscape::Html);
        let setup = |error: minijinja::Error| Error::Setup { component: "login UI templates", reason: chain(&error) };
        // Block tags on lines of their own leave no blank lines behind.
        env.set_syntax(SyntaxConfig::builder().trim_blocks(true).lstrip_blocks(true).build().map_err(setup)?);
        env.add_template("base.html", BASE_TEMPLATE).map_err(setup)?;
        for page in Page::ALL {
            env.add_template(page.builtin_name(), page.builtin_source()).map_err(setup)?;
            env.add_template(page.name(), page.builtin_source()).map_err(setup)?;
        }

        let mut overrides = Vec::new();
        for (var, page, path) in [
            ("AUTH_LOGIN_TEMPLATE_FILE", Page::Login, &ui.login_template),
            ("AUTH_USER_TEMPLATE_FILE", Page::User, &ui.user_template),
            ("AUTH_ERROR_TEMPLATE_FILE", Page::Error, &ui.error_template),
        ] {
            let Some(path) = path else { continue };
            let source = String::from_utf8(read_file(var, path)?)
                .map_err(|_| file_error(var, path, "the template is not UTF-8 text".into()))?;
            env.add_template_owned(page.name(), source)
                .map_err(|error| file_error(var, path, format!("the template does not compile: {}", chain(&error))))?;
            overrides.push(var);
        }

        let asset_urls =
            assets::ASSETS.iter().map(|asset| (asset.key, format!("{static_path}/{}", asset.file_name()))).collect();
        let logo = match &ui.logo_file {
            Some(path) => Some(read_logo(path, &static_path)?),
            None => None,
        };

        let pages = Self {
            env,
            app_name: ui.app_name.as_deref().map(str::trim).filter(|name| !name.is_empty()).map(str::to_owned),
            static_path,
            asset_urls,
            logo,
            csp: content_security_policy(config.authority_host()),
            login_ui: routes.login_ui.clone(),
            home: routes.home.clone(),
            overrides,
        };
        pages.check_overrides(ui)?;
        Ok(pages)
    }

    /// Renders every overridden template once with sample data, so that a template that
    /// compiles but cannot render (an unknown filter, a bad `extends`) stops the start-up.
    fn check_overrides(&self, ui: &crate::config::UiConfig) -> Result<(), Error> {
        let user = sample_user();
        for (var, page, path) in [
            ("AUTH_LOGIN_TEMPLATE_FILE", Page::Login, &ui.login_template),
            ("AUTH_USER_TEMPLATE_FILE", Page::User, &ui.user_template),
            ("AUTH_ERROR_TEMPLATE_FILE", Page::Error, &ui.error_template),
        ] {
            let Some(path) = path else { continue };
            let context = match page {
                Page::Login => self.login_context(&LoginView {
                    login_url: "/login",
                    error: Some("Sample error"),
                    explanation: Some("Sample explanation"),
                    copyright: Some("Sample copyright"),
                }),
                Page::User => self.user_context(&UserView {
                    user: &user,
                    token_url: Some("/me/token"),
                    logout_url: "/logout",
                    home_url: "/",
                    csrf_token: Some("sample"),
                }),
                _ => self.error_context(&ErrorView {
                    status: 400,
                    title: "Sample error",
                    description: "Sample description",
                    login_url: Some("/login"),
                    home_url: "/",
                }),
            };
            self.env.get_template(page.name()).and_then(|template| template.render(context)).map_err(|error| {
                file_error(var, path, format!("the template cannot be rendered: {}", chain(&error)))
            })?;
        }
        Ok(())
    }

    /// The `Content-Security-Policy` value of the pages (see [`content_security_policy`]).
    pub(crate) fn csp(&self) -> &str {
        &self.csp
    }

    /// The custom logo, served as `{static_path}/logo`: its bytes and content type.
    pub(crate) fn logo(&self) -> Option<(&[u8], &'static str)> {
        self.logo.as_ref().map(|logo| (logo.bytes.as_slice(), logo.content_type))
    }

    /// The sign-in page.
    pub(crate) fn render_login(&self, view: &LoginView<'_>) -> String {
        self.render(Page::Login, self.login_context(view))
    }

    /// The user page (`/me`).
    pub(crate) fn render_user(&self, view: &UserView<'_>) -> String {
        self.render(Page::User, self.user_context(view))
    }

    /// An error page.
    pub(crate) fn render_error(&self, view: &ErrorView<'_>) -> String {
        self.render(Page::Error, self.error_context(view))
    }

    /// The "Sign out?" page shown by GET on the logout route.
    pub(crate) fn render_logout_confirm(&self, view: &LogoutView<'_>) -> String {
        #[derive(Serialize)]
        struct Context<'a> {
            #[serde(flatten)]
            common: Common<'a>,
            logout_url: &'a str,
            cancel_url: &'a str,
            user_name: Option<&'a str>,
            csrf_token: Option<&'a str>,
        }
        let context = Context {
            common: self.common("Sign out"),
            logout_url: view.logout_url,
            cancel_url: view.cancel_url,
            user_name: view.user_name,
            csrf_token: view.csrf_token,
        };
        self.render(Page::Logout, Value::from(Serde(&context)))
    }

    /// The "You have signed out" page.
    pub(crate) fn render_signed_out(&self, view: &SignedOutView<'_>) -> String {
        #[derive(Serialize)]
        struct Context<'a> {
            #[serde(flatten)]
            common: Common<'a>,
            login_url: &'a str,
            home_url: &'a str,
        }
        let context = Context { common: self.common("Signed out"), login_url: view.login_url, home_url: view.home_url };
        self.render(Page::SignedOut, Value::from(Serde(&context)))
    }

    /// "Signed in", moving the browser on to the target with a same-site navigation.
    pub(crate) fn render_signed_in(&self, view: &SignedInView<'_>) -> String {
        #[derive(Serialize)]
        struct Context<'a> {
            #[serde(flatten)]
            common: Common<'a>,
            target_url: &'a str,
        }
        let context = Context { common: self.common("Signed in"), target_url: view.target_url };
        self.render(Page::SignedIn, Value::from(Serde(&context)))
    }

    /// A complete page response: `status`, the HTML `body`, the CSP and [`PAGE_HEADERS`].
    pub(crate) fn html_response(&self, status: StatusCode, body: String) -> HttpResponse {
        let mut response = HttpResponse::build(status);
        response.content_type("text/html; charset=utf-8");
        if let Ok(csp) = HeaderValue::from_str(self.csp()) {
            response.insert_header((header::CONTENT_SECURITY_POLICY, csp));
        }
        for (name, value) in PAGE_HEADERS {
            response.insert_header((name, value));
        }
        response.body(body)
    }

    /// The response for `{static_path}/{path}`: a bundled file or the custom logo (`logo`),
    /// cached for a year, or an empty 404.
    pub(crate) fn static_response(&self, path: &str) -> HttpResponse {
        let path = path.strip_prefix('/').unwrap_or(path);
        let found = match (path, self.logo()) {
            ("logo", Some((bytes, content_type))) => Some((bytes.to_vec(), content_type)),
            _ => static_asset(path).map(|(bytes, content_type)| (bytes.to_vec(), content_type)),
        };
        let Some((bytes, content_type)) = found else {
            return HttpResponse::NotFound().insert_header((header::CACHE_CONTROL, "no-store")).finish();
        };
        HttpResponse::Ok()
            .content_type(content_type)
            .insert_header((header::CACHE_CONTROL, STATIC_CACHE_CONTROL))
            .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
            .insert_header((header::CONTENT_SECURITY_POLICY, STATIC_CSP))
            .insert_header(("cross-origin-resource-policy", "same-origin"))
            .body(bytes)
    }

    fn common(&self, page: &str) -> Common<'_> {
        let page_title = match &self.app_name {
            Some(app) => format!("{page} · {app}"),
            None => page.to_owned(),
        };
        Common {
            app_name: self.app_name.as_deref(),
            page_title,
            static_path: &self.static_path,
            assets: &self.asset_urls,
            logo_url: self.logo.as_ref().map(|logo| logo.url.as_str()),
        }
    }

    fn login_context(&self, view: &LoginView<'_>) -> Value {
        #[derive(Serialize)]
        struct Context<'a> {
            #[serde(flatten)]
            common: Common<'a>,
            heading: &'a str,
            login_url: &'a str,
            error: Option<&'a str>,
            explanation: Option<&'a str>,
            copyright: Option<&'a str>,
        }
        let heading = self.app_name.as_deref().unwrap_or("Sign in");
        let mut common = self.common("Sign in");
        // The sign-in page is the app's front door: its title is the app's name alone.
        common.page_title = heading.to_owned();
        let context = Context {
            common,
            heading,
            login_url: view.login_url,
            error: non_empty(view.error),
            explanation: non_empty(view.explanation),
            copyright: non_empty(view.copyright),
        };
        Value::from(Serde(&context))
    }

    fn user_context(&self, view: &UserView<'_>) -> Value {
        #[derive(Serialize)]
        struct Context<'a> {
            #[serde(flatten)]
            common: Common<'a>,
            user: &'a User,
            display_name: &'a str,
            subtitle: Option<&'a str>,
            initials: String,
            token_url: Option<&'a str>,
            logout_url: &'a str,
            home_url: &'a str,
            csrf_token: Option<&'a str>,
        }
        let user = view.user;
        // An app-only token has no name: the heading says what it is, the subtitle which app.
        let (display_name, subtitle) = match &user.name {
            None if user.is_app => ("Application", user.app_id.as_deref().or(Some(user.oid.as_str()))),
            _ => {
                let name = user.display_name();
                (name, user.username.as_deref().filter(|username| *username != name))
            }
        };
        let context = Context {
            common: self.common("Your account"),
            user,
            display_name,
            subtitle,
            initials: initials(display_name),
            token_url: view.token_url,
            logout_url: view.logout_url,
            home_url: view.home_url,
            csrf_token: view.csrf_token,
        };
        Value::from(Serde(&context))
    }

    fn error_context(&self, view: &ErrorView<'_>) -> Value {
        #[derive(Serialize)]
        struct Context<'a> {
            #[serde(flatten)]
            common: Common<'a>,
            status: u16,
            title: &'a str,
            description: &'a str,
            login_url: Option<&'a str>,
            home_url: &'a str,
        }
        let context = Context {
            common: self.common(view.title),
            status: view.status,
            title: view.title,
            description: view.description,
            login_url: view.login_url,
            home_url: view.home_url,
        };
        Value::from(Serde(&context))
    }

    /// Renders `page`; a failing override is logged and replaced by the built-in template.
    fn render(&self, page: Page, context: Value) -> String {
        let render = |name: &str| self.env.get_template(name).and_then(|template| template.render(context.clone()));
        match render(page.name()) {
            Ok(html) => html,
            Err(error) => {
                tracing::error!(template = page.name(), error = %chain(&error), "login UI template failed; serving the built-in page");
                render(page.builtin_name()).unwrap_or_else(|error| {
                    tracing::error!(template = page.builtin_name(), error = %chain(&error), "built-in login UI template failed");
                    LAST_RESORT_HTML.to_owned()
                })
            }
        }
    }
}

impl Pages {
    /// A complete HTML error response (page headers and CSP included) for `status` with a fixed
    /// `title` and `description`, for a refused request from a browser.
    pub(crate) fn error_page(&self, status: StatusCode, title: &str, description: &str) -> HttpResponse {
        let view = ErrorView {
            status: status.as_u16(),
            title,
            description,
            login_url: Some(&self.login_ui),
            home_url: &self.home,
        };
        self.html_response(status, Pages::render_error(self, &view))
    }
}

fn non_empty(value: Option<&str>) -> Option<&str> {
    value.filter(|value| !value.trim().is_empty())
}

/// Up to two initials for the avatar ("Ada Lovelace" → "AL").
fn initials(name: &str) -> String {
    let letters: String = name
        .split_whitespace()
        .filter_map(|word| word.chars().find(|c| c.is_alphanumeric()))
        .take(2)
        .flat_map(char::to_uppercase)
        .collect();
    if letters.is_empty() { "?".to_owned() } else { letters }
}

/// A minijinja error with its causes (an `extends` failure names the missing template there).
fn chain(error: &minijinja::Error) -> String {
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

fn file_error(var: &'static str, path: &Path, reason: String) -> Error {
    Error::Config(ConfigError::File { var, path: path.display().to_string(), reason })
}

/// Reads a start-up file, refusing anything over [`MAX_FILE_BYTES`].
fn read_file(var: &'static str, path: &Path) -> Result<Vec<u8>, Error> {
    let size = std::fs::metadata(path).map_err(|error| file_error(var, path, error.to_string()))?.len();
    if size > MAX_FILE_BYTES {
        return Err(file_error(var, path, format!("the file is larger than {MAX_FILE_BYTES} bytes")));
    }
    std::fs::read(path).map_err(|error| file_error(var, path, error.to_string()))
}

/// Reads `APP_LOGO_FILE`; its content type comes from the extension.
fn read_logo(path: &Path, static_path: &str) -> Result<Logo, Error> {
    const VAR: &str = "APP_LOGO_FILE";
    let extension = path.extension().and_then(|ext| ext.to_str()).map(str::to_ascii_lowercase).unwrap_or_default();
    let content_type = match extension.as_str() {
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "ico" => "image/x-icon",
        "svg" => "image/svg+xml",
        _ => {
            return Err(file_error(
                VAR,
                path,
                "unsupported image type: use a .png, .svg, .jpg, .jpeg, .gif, .webp or .ico file".into(),
            ));
        }
    };
    let bytes = read_file(VAR, path)?;
    let url = format!("{static_path}/logo?v={}", assets::short_hash(assets::fnv1a(&bytes)));
    Ok(Logo { bytes, content_type, url })
}

/// A user with every field set, for checking override templates.
fn sample_user() -> User {
    User {
        oid: "00000000-0000-0000-0000-000000000001".into(),
        tid: "00000000-0000-0000-0000-000000000002".into(),
        sub: "sample-subject".into(),
        name: Some("Sample User".into()),
        username: Some("sample@example.com".into()),
        email: Some("sample@example.com".into()),
        roles: vec!["Sample.Role".into()],
        groups: vec!["00000000-0000-0000-0000-000000000003".into()],
        groups_overage: true,
        scopes: vec!["user_impersonation".into()],
        is_app: false,
        is_guest: true,
        app_id: Some("00000000-0000-0000-0000-000000000004".into()),
        acrs: vec!["c1".into()],
    }
}
