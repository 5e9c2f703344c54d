//! Under and over `#[utoipa::path]` (utoipa 5, `actix_extras`), with the OpenAPI derive.
#![forbid(unsafe_code)]
#![deny(warnings)]

use aad_auth::{AuthenticationState, api_auth_required};
use actix_web::{App, Responder, get, web};
use utoipa::OpenApi;

/// Says hello.
#[utoipa::path(responses((status = 200, description = "A greeting")))]
#[get("/hello")]
#[api_auth_required(scopes("user_impersonation"))]
async fn hello(state: AuthenticationState) -> impl Responder {
    format!("hello {}", state.user().map(|user| user.display_name()).unwrap_or_default())
}

/// An item by id.
#[api_auth_required(roles("Reader"))]
#[utoipa::path(params(("id" = u32, Path, description = "Item id")), responses((status = 200)))]
#[get("/items/{id}")]
async fn get_item(id: web::Path<u32>, state: AuthenticationState) -> impl Responder {
    format!("{id} {}", state.is_authenticated())
}

/// Registered by hand.
#[utoipa::path(get, path = "/manual", responses((status = 200)))]
#[api_auth_required]
async fn manual() -> impl Responder {
    "manual"
}

#[derive(OpenApi)]
#[openapi(paths(hello, get_item, manual))]
struct ApiDoc;

fn main() {
    let spec = ApiDoc::openapi();
    assert!(spec.paths.paths.contains_key("/hello"));
    assert!(spec.paths.paths.contains_key("/items/{id}"));
    assert!(spec.paths.paths.contains_key("/manual"));
    let _app = App::new().service(hello).service(get_item).route("/manual", web::get().to(manual));
}
