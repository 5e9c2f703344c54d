//! Other extractors keep working next to the guard.
#![forbid(unsafe_code)]
#![deny(warnings)]

use aad_auth::{AuthenticationState, api_auth_required};
use actix_web::{App, HttpRequest, HttpResponse, Responder, web};
use serde::Deserialize;

#[derive(Deserialize)]
struct Page {
    page: u32,
}

#[derive(Deserialize)]
struct NewItem {
    name: String,
}

struct AppState {
    prefix: String,
}

#[api_auth_required(scopes("Items.Read"))]
async fn path_and_query(id: web::Path<(u32, String)>, query: web::Query<Page>) -> String {
    let (id, slug) = id.into_inner();
    format!("{id} {slug} {}", query.page)
}

#[api_auth_required(scopes("Items.Write"))]
async fn json_body(state: AuthenticationState, item: web::Json<NewItem>, data: web::Data<AppState>) -> impl Responder {
    let _ = state;
    HttpResponse::Created().body(format!("{}{}", data.prefix, item.into_inner().name))
}

#[api_auth_required]
async fn request_and_body(req: HttpRequest, body: web::Bytes) -> Result<HttpResponse, actix_web::Error> {
    Ok(HttpResponse::Ok().body(format!("{} {}", req.method(), body.len())))
}

#[api_auth_required]
async fn optional_state(maybe: Option<AuthenticationState>) -> String {
    maybe.is_some().to_string()
}

fn main() {
    let _app = App::new()
        .app_data(web::Data::new(AppState { prefix: String::new() }))
        .route("/items/{id}/{slug}", web::get().to(path_and_query))
        .route("/items", web::post().to(json_body))
        .route("/raw", web::put().to(request_and_body))
        .route("/optional", web::get().to(optional_state));
}
