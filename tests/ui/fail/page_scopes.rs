use aad_auth::auth_required;

#[auth_required(scopes("user_impersonation"))]
async fn page() {}

fn main() {}
