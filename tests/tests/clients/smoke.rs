//! The shortest path through the stack: a local tenant, a minted token, a validated user.

use aad_auth::AadAuth;
use aad_auth::testing::{Endpoint, Tenant};

#[actix_web::test]
async fn member_token_from_local_tenant_validates() {
    let tenant = Tenant::start().await;
    let auth = AadAuth::bearer_only(tenant.api_config().build().expect("config")).expect("auth");
    let token = tenant.token().member().sign();
    let verified = auth.validate_bearer(&token).await.expect("valid token");
    assert_eq!(verified.user().username.as_deref(), Some(tenant.users()[0].username.as_str()));
    assert_eq!(tenant.requests(Endpoint::Discovery), 1);
    assert_eq!(tenant.requests(Endpoint::Jwks), 1);
}
