//! The `AuthenticationState` parameter: absent, renamed, `_`, `mut`, in any position, written as
//! a path, with attributes.
#![forbid(unsafe_code)]
#![deny(warnings)]

use aad_auth::{AuthenticationState, api_auth_required, auth_required};
use actix_web::{App, HttpRequest, HttpResponse, web};

#[api_auth_required]
async fn absent() -> &'static str {
    "guarded all the same"
}

#[api_auth_required]
async fn renamed(who_is_calling: AuthenticationState) -> String {
    format!("{:?}", who_is_calling.user().map(|user| &user.oid))
}

#[api_auth_required]
async fn wildcard(_: AuthenticationState) -> &'static str {
    "ok"
}

#[api_auth_required]
async fn underscore_name(_state: AuthenticationState) -> &'static str {
    "ok"
}

#[api_auth_required]
async fn mutable(mut state: AuthenticationState) -> String {
    state = state.clone();
    state.is_app_only().to_string()
}

#[api_auth_required]
async fn middle(req: HttpRequest, state: AuthenticationState, path: web::Path<String>) -> String {
    format!("{} {} {}", req.path(), path.into_inner(), state.is_authenticated())
}

#[api_auth_required]
async fn last(req: HttpRequest, state: AuthenticationState) -> String {
    format!("{} {}", req.path(), state.is_authenticated())
}

#[api_auth_required]
async fn qualified(state: aad_auth::AuthenticationState) -> String {
    state.is_guest().to_string()
}

#[auth_required]
async fn absolute(state: ::aad_auth::AuthenticationState) -> String {
    state.is_guest().to_string()
}

#[api_auth_required]
async fn with_attribute(#[allow(unused_variables)] state: AuthenticationState) -> &'static str {
    "ok"
}

#[api_auth_required]
async fn inner_attribute(state: AuthenticationState) -> String {
    #![allow(clippy::needless_return)]
    return state.is_authenticated().to_string();
}

fn main() {
    let _app = App::new()
        .route("/absent", web::get().to(absent))
        .route("/renamed", web::get().to(renamed))
        .route("/wildcard", web::get().to(wildcard))
        .route("/underscore_name", web::get().to(underscore_name))
        .route("/mutable", web::get().to(mutable))
        .route("/middle/{name}", web::get().to(middle))
        .route("/last", web::get().to(last))
        .route("/qualified", web::get().to(qualified))
        .route("/absolute", web::get().to(absolute))
        .route("/with_attribute", web::get().to(with_attribute))
        .route("/inner_attribute", web::get().to(inner_attribute))
        .default_service(web::to(HttpResponse::NotFound));
}
