use aad_auth::api_auth_required;

#[api_auth_required(allow_session = "yes")]
async fn flag_string() {}

#[api_auth_required(allow_session(true))]
async fn flag_call() {}

#[api_auth_required(scopes = "user_impersonation")]
async fn list_assigned() {}

#[api_auth_required(roles)]
async fn list_bare() {}

fn main() {}
