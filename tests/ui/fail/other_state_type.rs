// A type that is only named `AuthenticationState` is not aad-auth's: the guard's state does not
// fit it, and the build says so at the parameter.
use aad_auth::api_auth_required;

struct AuthenticationState;

#[api_auth_required]
async fn handler(state: AuthenticationState) -> &'static str {
    let AuthenticationState = state;
    "ok"
}

fn main() {}
