use aad_auth::auth_required;

#[auth_required(role("Admin"))]
async fn near_miss() {}

#[auth_required(login_url = "/login")]
async fn unknown() {}

fn main() {}
