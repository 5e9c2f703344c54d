//! A daemon (no user) that gets an app-only token with the client credentials flow and calls a
//! protected API.
//!
//! The token carries the app roles granted to the calling app (`roles`, no `scp`); the demo's
//! `/test_auth_decorator` shows the API sees an app-only caller (`"app_only": true`). It GETs
//! each of `API_PATHS` (default `/test_auth_decorator?name=daemon`, the demo's bearer route; the
//! demo's `/hello` needs the delegated scope `user_impersonation`, which an app-only token never
//! has, so it answers 403 here)
//! under `API_BASE_URL` and prints the answers. It exits 0 when every call answered 2xx, 1 when
//! the token or a call failed (a wrong secret, non-2xx, connection refused, ...), 2 for a
//! missing or bad variable; the message names the URL or the variable, never the secret or the
//! token.
//!
//! Against the local tenant and the demo (start both as in `examples/device_code_client.rs`;
//! the local tenant grants its API app the role `Reader`, and the app calls itself here):
//!
//! ```text
//! AAD_AUTHORITY_HOST=<authority_host> AAD_TENANT_ID=<tenant_id> AAD_CLIENT_ID=<api_client_id> \
//!   AAD_CLIENT_SECRET=<api_client_secret> AAD_CA_FILE=<ca_cert> \
//!   API_BASE_URL=http://127.0.0.1:8000 API_SCOPE=<api_client_id>/.default \
//!   cargo run --example daemon_client
//! ```
//!
//! With a certificate instead of the secret (`private_key_jwt`: the daemon signs a client
//! assertion with the certificate's key for every token request; no secret is stored anywhere),
//! against the local tenant started with the certificate registered on its API app:
//!
//! ```text
//! openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=daemon -days 365 -keyout key.pem -out cert.pem
//! cat cert.pem key.pem > daemon.pem
//! DEV_TENANT_API_CERTIFICATE=cert.pem DEV_TENANT_HTTPS=1 cargo run --example dev_tenant
//! AAD_AUTHORITY_HOST=<authority_host> AAD_TENANT_ID=<tenant_id> AAD_CLIENT_ID=<api_client_id> \
//!   AAD_CLIENT_CERTIFICATE=daemon.pem AAD_CA_FILE=<ca_cert> \
//!   API_BASE_URL=http://127.0.0.1:8000 API_SCOPE=<api_client_id>/.default \
//!   cargo run --example daemon_client
//! ```
//!
//! In Azure, upload `cert.pem` under the daemon app's *Certificates & secrets → Certificates*.
//! The other credentials work the same way, one at a time: `AAD_CLIENT_ASSERTION_FILE` (or AKS
//! workload identity's `AZURE_FEDERATED_TOKEN_FILE`) and `AAD_MANAGED_IDENTITY=true` on App
//! Service or Container Apps (README, *App credentials*).
//!
//! Against Azure: register the daemon app with a client secret (or a certificate), add the API's *application*
//! permission (an app role) and grant admin consent, then run with `AAD_TENANT_ID=<tenant id>
//! AAD_CLIENT_ID=<daemon app id> AAD_CLIENT_SECRET=<secret value> API_BASE_URL=https://...
//! API_SCOPE=api://<api app id>/.default API_PATHS=/test_auth_decorator`. The scope of this flow is always
//! `{API}/.default`; an app calling itself must name itself by client id
//! (`<client id>/.default`), or Entra answers AADSTS90009.

#[path = "client_support/mod.rs"]
mod client_support;

use std::process::ExitCode;

use aad_auth::client::TokenClient;
use client_support::{
    Failure, api_base_url, api_http, api_paths, api_scope, api_url, call_api, client_config, lifetime,
};

async fn run() -> Result<(), Failure> {
    let config = client_config()?;
    match config.client_credential() {
        Some(credential) => eprintln!("authenticating with {}", credential.variable()),
        None => {
            return Err(Failure::Config(
                "AAD_CLIENT_SECRET is required (or AAD_CLIENT_CERTIFICATE, AAD_CLIENT_ASSERTION_FILE or \
                 AAD_MANAGED_IDENTITY): the daemon app's credential (the client credentials flow)"
                    .into(),
            ));
        }
    }
    let base = api_base_url()?;
    let scope = api_scope("api://<api client id>/.default")?;
    if !scope.ends_with("/.default") {
        return Err(Failure::Config(format!(
            "API_SCOPE is invalid: the client credentials flow needs `{{API}}/.default`, such as \
             api://<api client id>/.default; got {scope:?}"
        )));
    }
    let paths = api_paths("/test_auth_decorator?name=daemon")?;
    let http = api_http(&config)?;

    let client = TokenClient::new(config)?;
    let token = client.client_credentials(&scope).await?;
    eprintln!("app-only token for {scope}, valid for {}", lifetime(&token));

    for path in paths {
        let url = api_url(&base, &path)?;
        let answer = call_api(&http, &url, &token.access_token).await?;
        println!("GET {path} -> HTTP {}", answer.status);
        println!("{}", answer.body);
    }
    Ok(())
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    client_support::exit("daemon_client", run().await)
}
