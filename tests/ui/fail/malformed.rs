use aad_auth::api_auth_required;

#[api_auth_required(scopes("a" "b"))]
async fn missing_comma_in_list() {}

#[api_auth_required(scopes("a") roles("b"))]
async fn missing_comma_between() {}

#[api_auth_required("user_impersonation")]
async fn bare_literal() {}

fn main() {}
