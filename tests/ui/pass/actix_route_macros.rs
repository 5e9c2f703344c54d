//! Under and over actix's route macros, in both orders.
#![forbid(unsafe_code)]
#![deny(warnings)]

use aad_auth::{AuthenticationState, api_auth_required, auth_required};
use actix_web::{App, HttpResponse, Responder, delete, get, post, route, web};

#[get("/get-above")]
#[api_auth_required(scopes("user_impersonation"))]
async fn get_above(state: AuthenticationState) -> impl Responder {
    format!("{}", state.is_authenticated())
}

#[api_auth_required(scopes("user_impersonation"))]
#[get("/get-below")]
async fn get_below(state: AuthenticationState) -> impl Responder {
    format!("{}", state.is_authenticated())
}

#[post("/post/{id}")]
#[api_auth_required(allow_session, roles("Writer"))]
async fn post_above(id: web::Path<u32>, body: String) -> impl Responder {
    HttpResponse::Created().body(format!("{id}{body}"))
}

#[api_auth_required(roles("Writer"))]
#[delete("/delete/{id}")]
async fn delete_below(id: web::Path<u32>) -> impl Responder {
    HttpResponse::NoContent().body(id.to_string())
}

#[route("/route", method = "GET", method = "HEAD")]
#[auth_required(roles("Reader"))]
async fn route_above(user: AuthenticationState) -> impl Responder {
    HttpResponse::Ok().content_type("text/html").body(format!("{}", user.is_authenticated()))
}

#[auth_required]
#[route("/route-below", method = "GET", method = "POST")]
async fn route_below() -> impl Responder {
    HttpResponse::Ok().finish()
}

/// Documented handlers keep their docs.
#[get("/documented")]
#[api_auth_required]
pub async fn documented() -> impl Responder {
    "ok"
}

fn main() {
    let _app = App::new()
        .service(get_above)
        .service(get_below)
        .service(post_above)
        .service(delete_below)
        .service(route_above)
        .service(route_below)
        .service(documented)
        .service(web::scope("/nested").service(get_above));
}
