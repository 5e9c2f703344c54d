use aad_auth::{AuthenticationState, api_auth_required};

#[api_auth_required]
async fn twice(first: AuthenticationState, again: aad_auth::AuthenticationState) -> String {
    format!("{} {}", first.is_authenticated(), again.is_authenticated())
}

fn main() {}
