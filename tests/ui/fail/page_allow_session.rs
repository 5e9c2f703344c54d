use aad_auth::auth_required;

#[auth_required(allow_session)]
async fn page() {}

#[auth_required(roles("Admin"), allow_session = false)]
async fn page_with_roles() {}

fn main() {}
