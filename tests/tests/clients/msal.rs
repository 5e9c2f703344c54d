//! Real Python `msal` (tests/python/requirements.txt, installed by scripts/install-test-deps.sh)
//! against the local tenant over https, and the tokens it gets checked by a running
//! `bench_server` example process, as a deployed API would check them.

#![allow(clippy::expect_used, reason = "a failed set-up step is a failed test")]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use aad_auth::testing::Tenant;
use base64::Engine as _;
use reqwest::StatusCode;
use serde_json::{Value, json};

use aad_auth_tests::example_processes::{KillOnDrop, example_binary};

fn free_port() -> u16 {
    std::net::TcpListener::bind(("127.0.0.1", 0)).expect("bind a free port").local_addr().expect("address").port()
}

fn python_with_msal() {
    let check = Command::new("python3").args(["-c", "import msal; print(msal.__version__)"]).output();
    match check {
        Ok(output) if output.status.success() => {}
        other => panic!(
            "python3 with msal is required (run scripts/install-test-deps.sh, which installs \
             tests/python/requirements.txt): {other:?}"
        ),
    }
}

/// Runs tests/python/msal_flows.py against `tenant`; returns its JSON.
fn run_msal(tenant: &Tenant) -> Value {
    let config = json!({
        "authority_host": tenant.authority_host(),
        "tenant_id": tenant.tenant_id(),
        "api_client_id": tenant.api_app().client_id,
        "api_client_secret": tenant.api_app().client_secret,
        "public_client_id": tenant.public_app().client_id,
        "users": tenant.users().iter().map(|u| u.username.clone()).collect::<Vec<_>>(),
    });
    run_script(tenant, "msal_flows.py", &config)
}

/// Runs a script of tests/python with `config` against `tenant`; returns the JSON it prints.
fn run_script(tenant: &Tenant, name: &str, config: &Value) -> Value {
    python_with_msal();
    let ca = tenant.ca_cert_path().expect("an https tenant");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("python").join(name);
    let mut child = Command::new("python3")
        .arg(&script)
        .arg(config.to_string())
        .env("REQUESTS_CA_BUNDLE", ca)
        .env("NO_PROXY", "127.0.0.1,localhost")
        .env("no_proxy", "127.0.0.1,localhost")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start python3");
    // Bounded: the script itself gives up after 60 s; kill it at 120 s whatever happens.
    let deadline = Instant::now() + Duration::from_secs(120);
    while child.try_wait().expect("python status").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let output = child.wait_with_output().expect("python output");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{name} failed ({}):\n{stderr}\n{stdout}", output.status);
    serde_json::from_str(stdout.trim()).unwrap_or_else(|e| panic!("{name} printed no JSON ({e}): {stdout}"))
}

/// A token whose payload was changed after signing.
fn tampered(token: &str) -> String {
    let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let parts: Vec<&str> = token.split('.').collect();
    assert_eq!(parts.len(), 3, "a compact JWS");
    let mut claims: Value = serde_json::from_slice(&engine.decode(parts[1]).expect("payload")).expect("claims");
    claims["roles"] = json!(["Admin", "Tampered"]);
    let forged = format!("{}.{}.{}", parts[0], engine.encode(claims.to_string()), parts[2]);
    assert_ne!(forged, token, "the payload really changed");
    forged
}

/// Starts the bench_server example against `tenant` and waits until it answers.
async fn start_bench_server(tenant: &Tenant, http: &reqwest::Client) -> (KillOnDrop, String, PathBuf) {
    let binary = example_binary("bench_server");
    let port = free_port();
    let log = std::env::temp_dir().join(format!("bench_server-{port}.log"));
    let mut command = Command::new(binary);
    for (name, _) in std::env::vars() {
        if name.starts_with("AAD_") || name.starts_with("AUTH_") || name.starts_with("SESSION_") {
            command.env_remove(name);
        }
    }
    let child = command
        .current_dir(std::env::temp_dir())
        .env("HOST", "127.0.0.1")
        .env("PORT", port.to_string())
        .env("WORKERS", "1")
        .env("AAD_TENANT_ID", tenant.tenant_id())
        .env("AAD_CLIENT_ID", tenant.api_app().client_id)
        .env("AAD_OPENID_CONFIG_URL", tenant.openid_config_url())
        .env("AAD_CA_FILE", tenant.ca_cert_path().expect("https tenant"))
        .env("NO_PROXY", "127.0.0.1,localhost")
        .env("no_proxy", "127.0.0.1,localhost")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).expect("bench_server log file"))
        .spawn()
        .expect("start bench_server");
    let mut guard = KillOnDrop(child);
    let base = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(response) = http.get(format!("{base}/open")).send().await
            && response.status() == StatusCode::OK
        {
            break;
        }
        if let Some(status) = guard.0.try_wait().expect("bench_server status") {
            panic!("bench_server exited ({status}): {}", std::fs::read_to_string(&log).unwrap_or_default());
        }
        assert!(Instant::now() < deadline, "bench_server did not answer /open within 30 s");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    (guard, base, log)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn msal_tokens_are_accepted_by_a_running_bench_server() {
    let tenant = Tenant::builder().https(true).auto_user("first").start().await;
    let msal = tokio::task::block_in_place(|| run_msal(&tenant));
    assert_eq!(msal["username"], tenant.users()[0].username);
    assert_eq!(msal["home_account_id"], format!("{}.{}", tenant.users()[0].oid, tenant.tenant_id()));

    let http = reqwest::Client::builder().no_proxy().build().expect("client");
    let (_server, base, log) = start_bench_server(&tenant, &http).await;
    let hello = |token: Option<String>| {
        let http = http.clone();
        let url = format!("{base}/hello");
        async move {
            let mut request = http.get(url);
            if let Some(token) = token {
                request = request.bearer_auth(token);
            }
            request.send().await.expect("GET /hello")
        }
    };
    for name in ["client_credentials", "device_code", "refreshed"] {
        let token = msal[name].as_str().expect("a token").to_owned();
        let response = hello(Some(token.clone())).await;
        let status = response.status();
        let body = response.text().await.unwrap_or_default();
        assert_eq!(
            status,
            StatusCode::OK,
            "{name} token refused: {body}\n{}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        assert_eq!(serde_json::from_str::<Value>(&body).ok(), Some(json!({ "hello": "world" })));

        let response = hello(Some(tampered(&token))).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "tampered {name} token");
    }
    assert_eq!(hello(None).await.status(), StatusCode::UNAUTHORIZED);
}

/// A route that needs the Conditional Access authentication context `c1`.
fn step_up_routes(cfg: &mut actix_web::web::ServiceConfig) {
    async fn acrs(state: aad_auth::AuthenticationState) -> actix_web::HttpResponse {
        actix_web::HttpResponse::Ok().json(json!({ "acrs": state.user().map(|u| u.acrs.clone()) }))
    }
    cfg.service(
        actix_web::web::scope("/api/sensitive")
            .wrap(aad_auth::RequireAuth::new(aad_auth::Policy::api().allow_session().auth_context(["c1"])))
            .route("", actix_web::web::get().to(acrs)),
    );
}

/// msal gets the claims challenge, asks again with `claims_challenge` (silently with the
/// refresh token, and by a new device flow), and the retried call succeeds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn msal_answers_the_claims_challenge_and_the_retry_succeeds() {
    let tenant = Tenant::builder().https(true).auto_user("first").start().await;
    let config = aad_auth_tests::site::login_config(tenant.api_config()).build().expect("site configuration");
    let site = aad_auth_tests::site::Site::start_with(config, None, step_up_routes).await;
    let script_config = json!({
        "authority_host": tenant.authority_host(),
        "tenant_id": tenant.tenant_id(),
        "api_client_id": tenant.api_app().client_id,
        "public_client_id": tenant.public_app().client_id,
        "api_url": site.url("/api/sensitive"),
    });
    let result = tokio::task::block_in_place(|| run_script(&tenant, "msal_step_up.py", &script_config));
    assert_eq!(result["first_status"], 401);
    assert_eq!(
        serde_json::from_str::<Value>(result["claims"].as_str().expect("the claims msal was given")).ok(),
        Some(json!({"access_token": {"acrs": {"essential": true, "value": "c1"}}}))
    );
    assert_eq!(result["silent_status"], 200);
    assert_eq!(result["silent_body"], json!({ "acrs": ["c1"] }));
    assert_eq!(result["silent_source"], "identity_provider", "msal bypassed its cache for the claims");
    assert_eq!(result["device_status"], 200);
}

/// A route that calls the tenant's Microsoft Graph `/v1.0/me` for its caller, with a Graph
/// token from `DownstreamTokens` (on-behalf-of), and answers the profile.
fn graph_routes(cfg: &mut actix_web::web::ServiceConfig) {
    async fn profile(
        req: actix_web::HttpRequest,
        tokens: aad_auth::DownstreamTokens,
    ) -> actix_web::Result<actix_web::HttpResponse> {
        let config = req.app_data::<aad_auth::AadAuth>().expect("AadAuth::configure").config();
        let origin = config.graph_url().expect("the local tenant's Graph").origin().ascii_serialization();
        let token = tokens.for_user([format!("{origin}/User.Read")]).await?;
        let pem = std::fs::read(config.ca_file().expect("an https tenant's certificate")).expect("CA file");
        let http = reqwest::Client::builder()
            .add_root_certificate(reqwest::Certificate::from_pem(&pem).expect("PEM"))
            .no_proxy()
            .build()
            .expect("client");
        let me: Value = http
            .get(format!("{origin}/v1.0/me"))
            .bearer_auth(token.expose_secret())
            .send()
            .await
            .map_err(actix_web::error::ErrorBadGateway)?
            .json()
            .await
            .map_err(actix_web::error::ErrorBadGateway)?;
        Ok(actix_web::HttpResponse::Ok()
            .json(json!({ "displayName": me["displayName"], "userPrincipalName": me["userPrincipalName"] })))
    }
    cfg.service(
        actix_web::web::scope("/api/me/graph")
            .wrap(aad_auth::RequireAuth::new(aad_auth::Policy::api()))
            .route("", actix_web::web::get().to(profile)),
    );
}

/// msal (device code) calls an API route that calls Graph on behalf of its caller: real clients
/// at both ends, one on-behalf-of exchange for three calls (the API keeps the Graph token).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn msal_calls_an_api_that_calls_graph_on_behalf_of_the_user() {
    let tenant = Tenant::builder().https(true).auto_user("first").start().await;
    let alice = tenant.users()[0].clone();
    tenant.grant_consent(&alice, &tenant.api_app().client_id, ["User.Read"]);
    let config = aad_auth_tests::site::login_config(tenant.api_config()).build().expect("site configuration");
    let site = aad_auth_tests::site::Site::start_with(config, None, graph_routes).await;
    let script_config = json!({
        "authority_host": tenant.authority_host(),
        "tenant_id": tenant.tenant_id(),
        "api_client_id": tenant.api_app().client_id,
        "public_client_id": tenant.public_app().client_id,
        "api_url": site.url("/api/me/graph"),
    });
    let result = tokio::task::block_in_place(|| run_script(&tenant, "msal_obo.py", &script_config));
    let expected = json!({ "displayName": alice.name, "userPrincipalName": alice.username });
    for call in ["first", "second", "silent"] {
        assert_eq!(result[format!("{call}_status")], 200, "{call}: {result}");
        assert_eq!(result[format!("{call}_body")], expected, "{call}: {result}");
    }
    assert_eq!(result["silent_source"], "cache", "msal answered from its cache: {result}");
    assert_eq!(tenant.requests(aad_auth::testing::Endpoint::GraphMe), 3);
}
