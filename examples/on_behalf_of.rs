//! An API that calls another API as its caller: the on-behalf-of flow.
//!
//! `GET /call-downstream` is behind `#[api_auth_required]` (bearer tokens issued for this API,
//! `AAD_CLIENT_ID`). It exchanges the caller's token for a token to the downstream API
//! (`API_SCOPE`), GETs each of `API_PATHS` (default `/hello`) under `API_BASE_URL` with it, and
//! answers `{"caller": ..., "downstream": [{"path", "status", "body"}]}`; when the exchange or a
//! downstream call fails it answers 502 with `{"error", "message"}` (the message names the
//! setting or URL, never a secret or a token). It listens on `HOST`:`PORT` (default
//! 127.0.0.1:8001; `PORT=0` picks a free port) and prints `listening on http://ADDRESS` on
//! stdout when ready. Bearer-only, so no session secret is needed. The exchange is
//! [`aad_auth::DownstreamTokens::for_user`]: the downstream token is kept per caller's token and
//! scope until shortly before it expires, and concurrent requests share one exchange; a caller
//! the downstream API needs consent or a stronger sign-in for gets the 401 that says so.
//!
//! One-shot mode, for scripts and CI: with `OBO_INCOMING_TOKEN` set (a user's access token for
//! this API) it does a single exchange and the downstream calls, prints the answers and exits: 0
//! when every call answered 2xx, 1 when the exchange or a call failed, 2 for a missing or bad
//! variable. The incoming token is not validated locally in this mode; Entra checks it during the
//! exchange.
//!
//! Against the local tenant and the demo (start both as in `examples/device_code_client.rs`;
//! the local tenant has one confidential app, so this API and the downstream one are the same
//! registration and the downstream scope names it by client id):
//!
//! ```text
//! AAD_AUTHORITY_HOST=<authority_host> AAD_TENANT_ID=<tenant_id> AAD_CLIENT_ID=<api_client_id> \
//!   AAD_CLIENT_SECRET=<api_client_secret> AAD_CA_FILE=<ca_cert> PORT=8001 \
//!   API_BASE_URL=http://127.0.0.1:8000 API_SCOPE=<api_client_id>/.default \
//!   cargo run --example on_behalf_of
//! # then, with a user's token for the API (e.g. from the device code flow of aad_auth::client):
//! curl -H "Authorization: Bearer $TOKEN" http://127.0.0.1:8001/call-downstream
//! ```
//!
//! Against Azure: this API's registration needs a client secret and the downstream API's
//! delegated permission (with consent); its callers request a scope this API exposes
//! (`api://<this api>/user_impersonation`). Run with `AAD_TENANT_ID`, `AAD_CLIENT_ID` (this
//! API), `AAD_CLIENT_SECRET` (or another credential: README, App credentials), `API_BASE_URL` (the downstream API) and `API_SCOPE`
//! (`api://<downstream api>/.default` or one of its delegated scopes); `AAD_AUTHORITY_HOST` and
//! `AAD_CA_FILE` are optional.

#[path = "client_support/mod.rs"]
mod client_support;

use std::process::ExitCode;

use aad_auth::client::{ClientConfig, TokenClient};
use aad_auth::secret::AccessToken;
use aad_auth::{AadAuth, AadAuthConfig, AuthenticationState, DownstreamTokens, api_auth_required};
use actix_web::{App, HttpResponse, HttpServer, get, web};
use client_support::{Failure, api_base_url, api_http, api_paths, api_scope, api_url, call_api};
use serde_json::{Value, json};
use url::Url;

/// What `/call-downstream` needs: where the downstream API is, and which scope to ask for.
struct Downstream {
    http: reqwest::Client,
    base: Url,
    scope: String,
    paths: Vec<String>,
}

impl Downstream {
    fn from_env(config: &ClientConfig) -> Result<Self, Failure> {
        let base = api_base_url()?;
        let scope = api_scope("api://<downstream api client id>/.default")?;
        let paths = api_paths("/hello")?;
        let http = api_http(config)?;
        Ok(Self { http, base, scope, paths })
    }

    /// Every downstream call with `token`: `[{path, status, body}]`.
    async fn call(&self, token: &AccessToken) -> Result<Vec<Value>, Failure> {
        let mut answers = Vec::new();
        for path in &self.paths {
            let url = api_url(&self.base, path)?;
            let answer = call_api(&self.http, &url, token).await?;
            let body = serde_json::from_str(&answer.body).unwrap_or(Value::String(answer.body));
            answers.push(json!({ "path": path, "status": answer.status, "body": body }));
        }
        Ok(answers)
    }
}

/// Calls the downstream API as the caller: the token from [`DownstreamTokens`] (on-behalf-of,
/// kept), then the calls.
#[get("/call-downstream")]
#[api_auth_required]
async fn call_downstream(
    auth_state: AuthenticationState,
    tokens: DownstreamTokens,
    downstream: web::Data<Downstream>,
) -> actix_web::Result<HttpResponse> {
    let caller = auth_state.user().map(|user| user.display_name().to_owned());
    let token = tokens.for_user([downstream.scope.as_str()]).await?;
    Ok(match downstream.call(&token).await {
        Ok(answers) => HttpResponse::Ok().json(json!({ "caller": caller, "downstream": answers })),
        Err(failure) => {
            tracing::warn!(%failure, "downstream call failed");
            HttpResponse::BadGateway().json(json!({ "error": "downstream_failed", "message": failure.to_string() }))
        }
    })
}

/// One exchange and the downstream calls, for `OBO_INCOMING_TOKEN`.
async fn once(incoming: AccessToken) -> Result<(), Failure> {
    let config = ClientConfig::from_env()?;
    let downstream = Downstream::from_env(&config)?;
    let token = TokenClient::new(config)?.on_behalf_of(&incoming, [downstream.scope.as_str()]).await?;
    let answers = downstream.call(&token.access_token).await?;
    for answer in answers {
        println!("GET {} -> HTTP {}", answer["path"].as_str().unwrap_or_default(), answer["status"]);
        println!("{}", answer["body"]);
    }
    Ok(())
}

async fn serve() -> Result<(), Failure> {
    let config = AadAuthConfig::from_env()?;
    let downstream = web::Data::new(Downstream::from_env(&ClientConfig::from(&config))?);
    let auth = AadAuth::bearer_only(config).map_err(|e| Failure::Config(format!("configuration: {e}")))?;
    let host = std::env::var("HOST").ok().filter(|h| !h.trim().is_empty()).unwrap_or_else(|| "127.0.0.1".into());
    let port: u16 = match std::env::var("PORT") {
        Ok(port) if !port.trim().is_empty() => port
            .trim()
            .parse()
            .map_err(|_| Failure::Config(format!("PORT is invalid: expected a port number; got {port:?}")))?,
        _ => 8001,
    };
    let server = HttpServer::new(move || {
        App::new().configure(auth.configure()).app_data(downstream.clone()).service(call_downstream)
    })
    .workers(1)
    .bind((host.as_str(), port))
    .map_err(|e| Failure::Config(format!("HOST/PORT: cannot listen on {host}:{port}: {e}")))?;
    for address in server.addrs() {
        println!("listening on http://{address}");
    }
    server.run().await.map_err(|e| Failure::Failed(format!("server: {e}")))
}

#[actix_web::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,actix_server=warn")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let result = match std::env::var("OBO_INCOMING_TOKEN").ok().filter(|t| !t.trim().is_empty()) {
        Some(token) => once(AccessToken::new(token.trim())).await,
        None => serve().await,
    };
    client_support::exit("on_behalf_of", result)
}
