// A misused guard under `#[get]` must not leave a route that builds unprotected.
use aad_auth::{AuthenticationState, api_auth_required};
use actix_web::{App, get};

#[get("/secret")]
#[api_auth_required(scope("admin"))]
async fn secret(state: AuthenticationState) -> String {
    format!("{}", state.is_authenticated())
}

fn main() {
    let _app = App::new().service(secret);
}
