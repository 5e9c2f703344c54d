use aad_auth::{AuthenticationState, GuardKind, api_auth_required, auth_required};
use actix_web::{HttpResponse, get};

#[get("/api/sensitive")]
#[api_auth_required(allow_session, scopes("user_impersonation"), auth_context("c1", "c99"))]
async fn api(auth: AuthenticationState) -> HttpResponse {
    HttpResponse::Ok().body(auth.user().map(|u| u.acrs.join(",")).unwrap_or_default())
}

#[get("/sensitive")]
#[auth_required(auth_context("c42"), roles("Admin"))]
async fn page() -> HttpResponse {
    HttpResponse::Ok().finish()
}

fn main() {
    let policies: Vec<_> = aad_auth::guard_registrations().map(|r| (r.policy)()).collect();
    let api_policy = policies.iter().find(|p| p.kind() == GuardKind::Api).expect("the API guard");
    assert_eq!(api_policy.required_auth_context(), ["c1", "c99"]);
    assert!(api_policy.allows_session());
    let page_policy = policies.iter().find(|p| p.kind() == GuardKind::Page).expect("the page guard");
    assert_eq!(page_policy.required_auth_context(), ["c42"]);
    let _ = (api, page);
}
