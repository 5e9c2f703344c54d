use aad_auth::{api_auth_required, auth_required};

#[api_auth_required]
#[auth_required]
async fn api_and_page() {}

#[api_auth_required(scopes("a"))]
#[api_auth_required(roles("b"))]
async fn api_twice() {}

fn main() {}
