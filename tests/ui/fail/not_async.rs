use aad_auth::{api_auth_required, auth_required};
use actix_web::HttpResponse;

#[api_auth_required]
fn api() -> HttpResponse {
    HttpResponse::Ok().finish()
}

#[auth_required(roles("Admin"))]
pub fn page() -> HttpResponse {
    HttpResponse::Ok().finish()
}

fn main() {}
