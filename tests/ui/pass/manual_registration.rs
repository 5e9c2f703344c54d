//! Plain handlers registered by hand: `web::resource().route()`, `App::route`, a scope, and a
//! handler defined inside a function body.
#![forbid(unsafe_code)]
#![deny(warnings)]

use aad_auth::{AuthenticationState, api_auth_required, auth_required};
use actix_web::{App, HttpResponse, web};

#[api_auth_required(scopes("user_impersonation"))]
async fn hello(state: AuthenticationState) -> HttpResponse {
    HttpResponse::Ok().body(state.user().map(|user| user.oid.clone()).unwrap_or_default())
}

#[auth_required]
async fn page() -> HttpResponse {
    HttpResponse::Ok().content_type("text/html").body("<h1>hi</h1>")
}

fn app() -> App<
    impl actix_web::dev::ServiceFactory<
        actix_web::dev::ServiceRequest,
        Config = (),
        Response = actix_web::dev::ServiceResponse,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    #[api_auth_required(roles("Admin"))]
    async fn nested_in_a_block() -> HttpResponse {
        HttpResponse::Ok().finish()
    }

    App::new()
        .service(web::resource("/hello").route(web::get().to(hello)).route(web::head().to(hello)))
        .service(web::scope("/pages").route("/home", web::get().to(page)))
        .route("/admin", web::get().to(nested_in_a_block))
}

fn main() {
    let _app = app();
}
