use aad_auth::{api_auth_required, auth_required};

#[api_auth_required(scopes("a"), roles("r"), scopes("b"))]
async fn scopes_twice() {}

#[api_auth_required(allow_session, allow_session = true)]
async fn flag_twice() {}

#[auth_required(groups("g"), groups("h"))]
async fn groups_twice() {}

fn main() {}
