use aad_auth::{AuthenticationState, api_auth_required};

#[api_auth_required(scopes(), allow, roles(ADMIN))]
fn handler(a: AuthenticationState, b: AuthenticationState) {
    let _ = (a, b);
}

fn main() {}
