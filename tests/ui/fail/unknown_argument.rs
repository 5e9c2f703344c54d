use aad_auth::api_auth_required;

#[api_auth_required(scope("user_impersonation"))]
async fn near_miss() {}

#[api_auth_required(allowsession)]
async fn near_miss_flag() {}

#[api_auth_required(audience = "api://x", roles("Admin"))]
async fn unknown() {}

#[api_auth_required(aad::scopes("x"))]
async fn path_key() {}

fn main() {}
