use aad_auth::api_auth_required;

const SOME_CONST: &str = "user_impersonation";

#[api_auth_required(scopes(SOME_CONST))]
async fn constant() {}

#[api_auth_required(roles("Admin", 1, concat!("Ed", "itor")))]
async fn mixed() {}

#[api_auth_required(groups(b"bytes"))]
async fn byte_string() {}

fn main() {
    let _ = SOME_CONST;
}
