//! A console client that signs a user in with the device code flow and calls a protected API.
//!
//! It prints Entra's instruction ("open ... and enter the code ..."), waits while the user signs
//! in from any browser, then GETs `{API_BASE_URL}/hello` (or each of `API_PATHS`) with the
//! token and prints the answers. An answer 401 with a claims challenge
//! (`error="insufficient_claims"`: the route needs a Conditional Access authentication context,
//! such as the demo's `/api/sensitive`) makes it sign in again with those claims and retry that
//! call once. It exits 0 when every call answered 2xx, 1 when the sign-in or
//! a call failed (non-2xx, connection refused, ...), 2 for a missing or bad variable; the
//! message names the URL or the variable, never a secret or a token.
//!
//! Against the local tenant and the demo (three terminals):
//!
//! ```text
//! DEV_TENANT_HTTPS=1 DEV_TENANT_PORT=8400 DEV_TENANT_AUTO_USER=first cargo run --example dev_tenant
//! #   prints {"authority_host":..., "tenant_id":..., "api_client_id":..., "public_client_id":..., "ca_cert":...}
//! AAD_AUTHORITY_HOST=<authority_host> AAD_TENANT_ID=<tenant_id> AAD_CLIENT_ID=<api_client_id> \
//!   AAD_CLIENT_SECRET=<api_client_secret> AAD_CA_FILE=<ca_cert> AUTH_DEV_MODE=true PORT=8000 \
//!   cargo run --example basic
//! AAD_AUTHORITY_HOST=<authority_host> AAD_TENANT_ID=<tenant_id> AAD_CLIENT_ID=<public_client_id> \
//!   AAD_CA_FILE=<ca_cert> API_BASE_URL=http://127.0.0.1:8000 API_SCOPE=api://<api_client_id>/user_impersonation \
//!   cargo run --example device_code_client
//! ```
//!
//! (Without `DEV_TENANT_AUTO_USER`, approve the code on the tenant's `/device` page.)
//!
//! Against Azure: register a client app, enable "Allow public client flows" (Authentication),
//! add the API's delegated permission (`user_impersonation`), then run with
//! `AAD_TENANT_ID=<tenant id or organizations> AAD_CLIENT_ID=<client app id>
//! API_BASE_URL=https://your-api.example.com API_SCOPE=api://<api app id>/user_impersonation`.
//! No `AAD_CLIENT_SECRET`: a device-code client is a public client. `AAD_AUTHORITY_HOST` (national
//! clouds) and `AAD_CA_FILE` (TLS inspection) are optional. Variables may also come from `.env`.

#[path = "client_support/mod.rs"]
mod client_support;

use std::process::ExitCode;

use aad_auth::client::TokenClient;
use client_support::{
    Failure, api_base_url, api_http, api_paths, api_scope, api_url, client_config, lifetime, require_success, send_api,
};

async fn run() -> Result<(), Failure> {
    let config = client_config()?;
    let base = api_base_url()?;
    let scope = api_scope("api://<api client id>/user_impersonation")?;
    let paths = api_paths("/hello")?;
    let http = api_http(&config)?;

    let client = TokenClient::new(config)?;
    let prompt = |prompt: &aad_auth::client::DeviceCodePrompt| {
        eprintln!("{}", prompt.message);
        eprintln!("(the code expires in {} minutes)", prompt.expires_in.as_secs() / 60);
    };
    let mut token = client.device_code([scope.as_str()], prompt).await?;
    eprintln!("signed in: a token for {scope}, valid for {}", lifetime(&token));

    for path in paths {
        let url = api_url(&base, &path)?;
        let mut answer = send_api(&http, &url, &token.access_token).await?;
        // A claims challenge: sign in again asking Entra for those claims, then retry once.
        let claims =
            answer.challenge.as_deref().filter(|_| answer.status == 401).and_then(aad_auth::client::claims_challenge);
        if let Some(claims) = claims {
            eprintln!("GET {path} asks for a stronger sign-in (claims challenge): signing in again with the claims");
            token = client.device_code_with_claims([scope.as_str()], Some(&claims), prompt).await?;
            answer = send_api(&http, &url, &token.access_token).await?;
        }
        let answer = require_success(answer, &url)?;
        println!("GET {path} -> HTTP {}", answer.status);
        println!("{}", answer.body);
    }
    Ok(())
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    client_support::exit("device_code_client", run().await)
}
