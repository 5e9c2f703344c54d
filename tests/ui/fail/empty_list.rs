use aad_auth::{api_auth_required, auth_required};

#[api_auth_required(scopes())]
async fn no_scopes() {}

#[api_auth_required(allow_session, roles())]
async fn no_roles() {}

#[auth_required(groups())]
async fn no_groups() {}

fn main() {}
