use aad_auth::{api_auth_required, auth_required};

#[api_auth_required]
struct Handler {
    name: String,
}

#[auth_required]
const PAGE: &str = "/page";

#[api_auth_required]
mod handlers {}

fn main() {}
