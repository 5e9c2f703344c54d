use aad_auth::api_auth_required;

#[api_auth_required(scopes(""))]
async fn blank() {}

#[api_auth_required(scopes("Items.Read Items.Write"))]
async fn space_separated() {}

#[api_auth_required(roles("Admin", "Editor", "Admin"))]
async fn repeated() {}

fn main() {}
