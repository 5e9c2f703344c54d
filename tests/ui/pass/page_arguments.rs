//! Every argument form `#[auth_required]` accepts.
#![forbid(unsafe_code)]
#![deny(warnings)]

use aad_auth::{AuthenticationState, auth_required};
use actix_web::{App, HttpResponse, web};

#[auth_required]
async fn bare(user: AuthenticationState) -> HttpResponse {
    HttpResponse::Ok().content_type("text/html").body(format!("<p>{}</p>", user.is_authenticated()))
}

#[auth_required()]
async fn empty_parens() -> HttpResponse {
    HttpResponse::Ok().finish()
}

#[auth_required(roles("Admin"))]
async fn roles_only() -> HttpResponse {
    HttpResponse::Ok().finish()
}

#[auth_required(groups("2f1c4b5e-8d1a-4c3b-9f0e-1a2b3c4d5e6f", "3a1c4b5e-8d1a-4c3b-9f0e-1a2b3c4d5e6f"))]
async fn groups_only() -> HttpResponse {
    HttpResponse::Ok().finish()
}

#[auth_required(groups("g"), roles("Admin", "Editor"),)]
async fn roles_and_groups() -> HttpResponse {
    HttpResponse::Ok().finish()
}

fn main() {
    let _app = App::new()
        .route("/bare", web::get().to(bare))
        .route("/empty_parens", web::get().to(empty_parens))
        .route("/roles_only", web::get().to(roles_only))
        .route("/groups_only", web::get().to(groups_only))
        .route("/roles_and_groups", web::get().to(roles_and_groups));
}
