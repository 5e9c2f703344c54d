//! Every argument form `#[api_auth_required]` accepts, alone and combined.
#![forbid(unsafe_code)]
#![deny(warnings)]

use aad_auth::{AuthenticationState, api_auth_required};
use actix_web::{App, HttpResponse, web};

#[api_auth_required]
async fn bare(state: AuthenticationState) -> HttpResponse {
    HttpResponse::Ok().body(format!("{}", state.is_authenticated()))
}

#[api_auth_required()]
async fn empty_parens() -> HttpResponse {
    HttpResponse::Ok().finish()
}

#[api_auth_required(allow_session)]
async fn session_flag() -> HttpResponse {
    HttpResponse::Ok().finish()
}

#[api_auth_required(allow_session = true)]
async fn session_true() -> HttpResponse {
    HttpResponse::Ok().finish()
}

#[api_auth_required(allow_session = false)]
async fn session_false() -> HttpResponse {
    HttpResponse::Ok().finish()
}

#[api_auth_required(scopes("user_impersonation"))]
async fn one_scope() -> HttpResponse {
    HttpResponse::Ok().finish()
}

#[api_auth_required(scopes("Items.Read", "Items.ReadWrite",))]
async fn scopes_trailing_comma() -> HttpResponse {
    HttpResponse::Ok().finish()
}

#[api_auth_required(roles("Admin", r"Editor"))]
async fn roles_only() -> HttpResponse {
    HttpResponse::Ok().finish()
}

#[api_auth_required(groups("2f1c4b5e-8d1a-4c3b-9f0e-1a2b3c4d5e6f"))]
async fn groups_only() -> HttpResponse {
    HttpResponse::Ok().finish()
}

#[api_auth_required(scopes("a"), roles("b"))]
async fn scopes_and_roles() -> HttpResponse {
    HttpResponse::Ok().finish()
}

#[api_auth_required(groups("g"), allow_session, roles("r"), scopes("s"),)]
async fn everything_any_order() -> HttpResponse {
    HttpResponse::Ok().finish()
}

#[aad_auth::api_auth_required(allow_session = true, scopes("s"), roles("r"), groups("g"))]
async fn through_a_path() -> HttpResponse {
    HttpResponse::Ok().finish()
}

fn main() {
    let _app = App::new()
        .route("/bare", web::get().to(bare))
        .route("/empty_parens", web::get().to(empty_parens))
        .route("/session_flag", web::get().to(session_flag))
        .route("/session_true", web::get().to(session_true))
        .route("/session_false", web::get().to(session_false))
        .route("/one_scope", web::get().to(one_scope))
        .route("/scopes_trailing_comma", web::get().to(scopes_trailing_comma))
        .route("/roles_only", web::get().to(roles_only))
        .route("/groups_only", web::get().to(groups_only))
        .route("/scopes_and_roles", web::get().to(scopes_and_roles))
        .route("/everything_any_order", web::get().to(everything_any_order))
        .route("/through_a_path", web::get().to(through_a_path));
}
