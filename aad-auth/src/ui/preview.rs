//! A preview of the login UI with sample data, for `examples/ui_preview` (feature `testing`):
//! every page, the static files and a fake token route, with the same headers as the real
//! routes. Nothing here signs anyone in.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use actix_web::http::{Method, StatusCode, header};
use actix_web::{HttpRequest, HttpResponse};
use minijinja::HtmlEscape;

use super::{ErrorView, LoginView, LogoutView, Pages, SignedOutView, UserView};
use crate::config::{AadAuthConfig, RouteConfig};
use crate::error::Error;
use crate::user::User;

/// The signed-out page's route in the preview.
const SIGNED_OUT: &str = "/signed-out";
/// The error page's route in the preview.
const ERROR: &str = "/error";

/// Builds the login UI from `config` and returns a handler answering the preview's routes for
/// any request: `/` (an index), the login UI route (`?error=`, `?explanation=`, `?copyright=`),
/// the OAuth login route (pretends to sign in), the user route (`?guest`, `?app`, `?overage`,
/// `?expired`), its token route, the logout route (GET confirms, POST "signs out"),
/// `/signed-out`, `/error` (`?status=`, `?error_description=`) and the static path.
///
/// Not a public API: the `ui_preview` example's access to the crate-private login UI.
///
/// # Errors
/// As [`Pages::new`].
#[doc(hidden)]
pub fn ui_preview(
    config: &AadAuthConfig,
) -> Result<impl Fn(&HttpRequest) -> HttpResponse + Clone + Send + Sync + 'static, Error> {
    let pages = Arc::new(Pages::new(config)?);
    let routes = Arc::new(config.routes().clone());
    Ok(move |req: &HttpRequest| respond(&pages, &routes, req))
}

fn respond(pages: &Pages, routes: &RouteConfig, req: &HttpRequest) -> HttpResponse {
    let query: HashMap<String, String> =
        url::form_urlencoded::parse(req.query_string().as_bytes()).into_owned().collect();
    let param = |name: &str| query.get(name).map(String::as_str).filter(|value| !value.is_empty());
    let flag = |name: &str| query.contains_key(name);
    let path = req.path();
    let static_prefix = format!("{}/", routes.static_path.trim_end_matches('/'));
    let user_route = routes.user.as_deref().unwrap_or("/me");
    let token_route = routes.user_token().unwrap_or_else(|| "/me/token".into());
    let login_url = format!("{}?redirect={}", routes.oauth_login(), encode(user_route));

    if let Some(rest) = path.strip_prefix(&static_prefix) {
        return pages.static_response(rest);
    }
    if path == routes.logout && req.method() == Method::POST {
        return see_other(SIGNED_OUT);
    }
    if req.method() != Method::GET && req.method() != Method::HEAD {
        return HttpResponse::MethodNotAllowed().insert_header((header::ALLOW, "GET, HEAD")).finish();
    }
    if path == "/" {
        return index(pages, routes);
    }
    if path == routes.login_ui {
        let body = pages.render_login(&LoginView {
            login_url: &login_url,
            error: param("error"),
            explanation: param("explanation"),
            copyright: param("copyright"),
        });
        return pages.html_response(StatusCode::OK, body);
    }
    if path == routes.oauth_login() {
        let target = crate::redirect::sanitize(param("redirect"), &[], &routes.home);
        return see_other(target);
    }
    if path == user_route {
        let user = sample_user(flag("guest"), flag("app"), flag("overage"));
        let token_url = if flag("expired") { format!("{token_route}?expired") } else { token_route };
        let body = pages.render_user(&UserView {
            user: &user,
            token_url: Some(&token_url),
            logout_url: &routes.logout,
            home_url: &routes.home,
            csrf_token: Some("preview-csrf-token"),
        });
        return pages.html_response(StatusCode::OK, body);
    }
    if path == token_route {
        return token(flag("expired"), &routes.login_ui, user_route);
    }
    if path == routes.logout {
        let body = pages.render_logout_confirm(&LogoutView {
            logout_url: &routes.logout,
            cancel_url: user_route,
            user_name: Some("Ada Lovelace"),
            csrf_token: Some("preview-csrf-token"),
        });
        return pages.html_response(StatusCode::OK, body);
    }
    if path == SIGNED_OUT {
        let body = pages.render_signed_out(&SignedOutView { login_url: &routes.login_ui, home_url: &routes.home });
        return pages.html_response(StatusCode::OK, body);
    }
    if path == ERROR {
        let status = param("status")
            .and_then(|status| status.parse::<u16>().ok())
            .and_then(|status| StatusCode::from_u16(status).ok())
            .filter(|status| status.is_client_error() || status.is_server_error())
            .unwrap_or(StatusCode::BAD_REQUEST);
        let description = param("error_description").unwrap_or(
            "AADSTS50105: Your administrator has configured the application to block users unless they are \
             specifically granted access. Ask your administrator to assign you to the application.",
        );
        let body = pages.render_error(&ErrorView {
            status: status.as_u16(),
            title: "Sign-in failed",
            description,
            login_url: Some(&routes.login_ui),
            home_url: &routes.home,
        });
        return pages.html_response(status, body);
    }
    let body = pages.render_error(&ErrorView {
        status: 404,
        title: "Page not found",
        description: "There is no page at this address.",
        login_url: None,
        home_url: &routes.home,
    });
    pages.html_response(StatusCode::NOT_FOUND, body)
}

/// The home page of the preview: links to every page, rendered through the signed-out
/// template's frame would mislead, so it is a plain list with the login UI's stylesheet.
fn index(pages: &Pages, routes: &RouteConfig) -> HttpResponse {
    let user = routes.user.as_deref().unwrap_or("/me");
    let login = &routes.login_ui;
    let links: Vec<(String, &str)> = vec![
        (login.clone(), "Sign-in page"),
        (format!("{login}?error={}", encode("Sign-in was cancelled. Try again.")), "Sign-in page with an error"),
        (
            format!(
                "{login}?explanation={}&copyright={}",
                encode("Access is limited to Contoso employees. Contact the service desk for help."),
                encode("© 2026 Contoso Ltd.")
            ),
            "Sign-in page with explanation and copyright",
        ),
        (user.to_owned(), "User page"),
        (format!("{user}?guest&overage"), "User page: guest with groups overage"),
        (format!("{user}?app"), "User page: app-only token"),
        (format!("{user}?expired"), "User page: session expired (token route answers 401)"),
        (ERROR.to_owned(), "Error page"),
        (routes.logout.clone(), "Sign-out confirmation"),
        (SIGNED_OUT.to_owned(), "Signed out"),
    ];
    let items: String = links
        .iter()
        .map(|(href, label)| format!("<li><a href=\"{}\">{}</a></li>", HtmlEscape(href), HtmlEscape(label)))
        .collect();
    let css = pages.asset_urls.get("css").map(String::as_str).unwrap_or_default();
    let body = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>Login UI preview</title><link rel=\"stylesheet\" href=\"{}\"></head><body><main class=\"page\">\
         <div class=\"card card-narrow\"><h1>Login UI preview</h1>\
         <p class=\"lead\">Every page of the login UI with sample data.</p><ul>{items}</ul></div></main></body></html>",
        HtmlEscape(css)
    );
    pages.html_response(StatusCode::OK, body)
}

/// A fake token answer shaped like the real token route's, or its 401.
fn token(expired: bool, login_ui: &str, user_route: &str) -> HttpResponse {
    if expired {
        return HttpResponse::Unauthorized()
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .json(serde_json::json!({ "login_url": format!("{login_ui}?redirect={}", encode(user_route)) }));
    }
    let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |elapsed| elapsed.as_secs());
    // Three base64url segments that look like a JWT; not a token anything accepts.
    let access_token = format!(
        "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiIsImtpZCI6InByZXZpZXcifQ.{}.{}",
        "eyJhdWQiOiJhcGk6Ly9wcmV2aWV3IiwiaXNzIjoiaHR0cHM6Ly9wcmV2aWV3LmludmFsaWQvIiwibmFtZSI6IkFkYSBMb3ZlbGFjZSIsInNjcCI6InVzZXJfaW1wZXJzb25hdGlvbiJ9",
        "cHJldmlldy1zaWduYXR1cmUtbm90LWEtcmVhbC10b2tlbi1wcmV2aWV3LXNpZ25hdHVyZS1ub3QtYS1yZWFsLXRva2Vu"
    );
    HttpResponse::Ok().insert_header((header::CACHE_CONTROL, "no-store")).json(serde_json::json!({
        "access_token": access_token,
        "token_type": "Bearer",
        "expires_in": 3599,
        "expires_on": now + 3599,
    }))
}

fn sample_user(guest: bool, app: bool, overage: bool) -> User {
    if app {
        return User {
            oid: "5f1c9a0e-2b7d-4f3a-9c6e-1d2b3a4c5e6f".into(),
            tid: "72f988bf-86f1-41af-91ab-2d7cd011db47".into(),
            sub: "5f1c9a0e-2b7d-4f3a-9c6e-1d2b3a4c5e6f".into(),
            name: None,
            username: None,
            email: None,
            roles: vec!["Reports.Read.All".into(), "Invoices.Write".into()],
            groups: Vec::new(),
            groups_overage: false,
            scopes: Vec::new(),
            is_app: true,
            is_guest: false,
            app_id: Some("b3c4d5e6-f7a8-4b9c-8d0e-1f2a3b4c5d6e".into()),
            acrs: Vec::new(),
        };
    }
    User {
        oid: "0c8d4e2a-7f1b-4c3d-9e5f-6a7b8c9d0e1f".into(),
        tid: "72f988bf-86f1-41af-91ab-2d7cd011db47".into(),
        sub: "AAAAAAAAAAAAAAAAAAAAAKcXmF3Kq2x8Yb9vLw0pRsT".into(),
        name: Some("Ada Lovelace".into()),
        username: Some(if guest { "ada_example.com#EXT#@contoso.onmicrosoft.com" } else { "ada@contoso.com" }.into()),
        email: Some(if guest { "ada@example.com" } else { "ada@contoso.com" }.into()),
        roles: vec!["Expenses.Approver".into(), "Reports.Reader".into()],
        groups: if overage {
            Vec::new()
        } else {
            vec!["1b2c3d4e-5f6a-4b7c-8d9e-0f1a2b3c4d5e".into(), "9e8d7c6b-5a4f-4e3d-2c1b-0a9f8e7d6c5b".into()]
        },
        groups_overage: overage,
        scopes: vec!["user_impersonation".into(), "Expenses.Read".into()],
        is_app: false,
        is_guest: guest,
        app_id: Some("4a1b2c3d-5e6f-4a7b-8c9d-0e1f2a3b4c5d".into()),
        acrs: vec!["c1".into()],
    }
}

fn see_other(location: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, location))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .finish()
}

fn encode(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}
