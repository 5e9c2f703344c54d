//! The client examples as users run them: built binaries against a running `dev_tenant` (https,
//! the first user approving device codes) and a running `basic` demo configured with the
//! tenant's API app. Each must exit 0 after a 200 from the API, and fail with a non-zero status
//! and a clear message (never a secret or a token) when the secret is wrong, the API is down or a
//! variable is missing.

#![allow(clippy::expect_used, reason = "a failed set-up step is a failed test")]

use std::time::Duration;

use aad_auth::client::{ClientConfig, TokenClient};
use aad_auth::secret::AccessToken;
use serde_json::{Value, json};

use aad_auth_tests::example_processes::{
    Basic, DevTenant, Finished, closed_port, command, run, spawn, start_basic, start_dev_tenant, start_dev_tenant_with,
};

const RUN_TIMEOUT: Duration = Duration::from_secs(90);

/// A tenant and the demo API against it.
struct Setup {
    tenant: DevTenant,
    basic: Basic,
}

fn setup() -> Setup {
    let tenant = start_dev_tenant();
    let basic = start_basic(&tenant);
    Setup { tenant, basic }
}

impl Setup {
    fn api(&self) -> String {
        self.tenant.get("api_client_id")
    }

    fn secret(&self) -> String {
        self.tenant.get("api_client_secret")
    }

    /// Runs `example` as `client_id` (with `secret`), calling the demo with `API_SCOPE=scope`,
    /// plus `extra` variables.
    fn run(
        &self,
        example: &str,
        client_id: &str,
        secret: Option<&str>,
        scope: &str,
        extra: &[(&str, &str)],
    ) -> Finished {
        let mut command = command(example);
        command
            .envs(self.tenant.aad_env(client_id, secret))
            .env("API_BASE_URL", &self.basic.base_url)
            .env("API_SCOPE", scope);
        for (name, value) in extra {
            command.env(name, value);
        }
        run(example, command, RUN_TIMEOUT)
    }

    fn device_code_client(&self, extra: &[(&str, &str)]) -> Finished {
        let scope = format!("api://{}/user_impersonation", self.api());
        self.run("device_code_client", &self.tenant.get("public_client_id"), None, &scope, extra)
    }

    fn daemon_client(&self, secret: &str, extra: &[(&str, &str)]) -> Finished {
        self.run("daemon_client", &self.api(), Some(secret), &format!("{}/.default", self.api()), extra)
    }

    /// A user's token for the demo API, by the device code flow of `aad_auth::client` (the first
    /// user approves it), over https with the tenant's certificate.
    fn user_token(&self) -> AccessToken {
        let config = ClientConfig::builder(self.tenant.get("public_client_id"), self.tenant.get("tenant_id"))
            .authority_host(self.tenant.get("authority_host"))
            .ca_file(self.tenant.get("ca_cert"))
            .build()
            .expect("client configuration");
        let scope = format!("api://{}/user_impersonation", self.api());
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        runtime
            .block_on(async { TokenClient::new(config)?.device_code([scope], |_| {}).await })
            .expect("a user token")
            .access_token
    }
}

fn assert_success(finished: &Finished) {
    assert!(finished.status.success(), "expected exit 0:\n{}", finished.output());
}

fn assert_failure(finished: &Finished, code: i32) {
    assert_eq!(finished.status.code(), Some(code), "expected exit {code}:\n{}", finished.output());
}

fn assert_no_leak(finished: &Finished, secrets: &[&str]) {
    let output = finished.output();
    for secret in secrets {
        assert!(!output.contains(secret), "a secret or token was printed:\n{output}");
    }
}

#[test]
fn device_code_client_prints_the_code_message_and_gets_200_from_hello() {
    let setup = setup();
    let finished = setup.device_code_client(&[]);
    assert_success(&finished);
    assert!(finished.stderr.contains("enter the code"), "the code message is shown:\n{}", finished.output());
    assert!(finished.stdout.contains("GET /hello -> HTTP 200"), "{}", finished.output());
    let body = finished.stdout.lines().nth(1).unwrap_or_default();
    assert_eq!(serde_json::from_str::<Value>(body).ok(), Some(json!({ "hello": "world" })), "{}", finished.output());
}

/// The demo's `/api/sensitive` needs the authentication context `c1`: the client gets the claims
/// challenge, signs in again with the claims, and the one retry succeeds.
#[test]
fn device_code_client_answers_a_claims_challenge_and_retries_once() {
    let setup = setup();
    let finished = setup.device_code_client(&[("API_PATHS", "/api/sensitive,/hello")]);
    assert_success(&finished);
    assert!(finished.stderr.contains("claims challenge"), "{}", finished.output());
    assert_eq!(finished.stderr.matches("enter the code").count(), 2, "two sign-ins:\n{}", finished.output());
    assert!(finished.stdout.contains("GET /api/sensitive -> HTTP 200"), "{}", finished.output());
    let body = finished.stdout.lines().nth(1).unwrap_or_default();
    assert_eq!(
        serde_json::from_str::<Value>(body).ok().map(|b| b["acrs"].clone()),
        Some(json!(["c1"])),
        "{}",
        finished.output()
    );
    // The stepped-up token serves the next call too, without another sign-in.
    assert!(finished.stdout.contains("GET /hello -> HTTP 200"), "{}", finished.output());
}

#[test]
fn daemon_client_gets_an_app_only_token_and_200s() {
    let setup = setup();
    let finished = setup.daemon_client(&setup.secret(), &[]);
    assert_success(&finished);
    let answer = finished
        .stdout
        .lines()
        .find_map(|line| serde_json::from_str::<Value>(line).ok().filter(|value| value.get("app_only").is_some()))
        .unwrap_or_else(|| panic!("no /test_auth_decorator answer:\n{}", finished.output()));
    assert_eq!(answer["app_only"], json!(true), "{answer}");
    assert_eq!(answer["hello"], json!("daemon"), "{answer}");
    assert_no_leak(&finished, &[&setup.secret()]);
}

#[test]
fn daemon_client_with_a_certificate_instead_of_the_secret() {
    let certificate = aad_auth::testing::TestCertificate::generate("daemon");
    let dir = std::env::temp_dir().join(format!("aad-auth-daemon-{}", aad_auth::testing::random_guid()));
    std::fs::create_dir_all(&dir).expect("temporary directory");
    let (cert, both) = (dir.join("cert.pem"), dir.join("daemon.pem"));
    std::fs::write(&cert, certificate.cert_pem()).expect("cert.pem");
    std::fs::write(&both, certificate.pem_with_key()).expect("daemon.pem");
    let tenant = start_dev_tenant_with(&[("DEV_TENANT_API_CERTIFICATE", &cert.display().to_string())]);
    let basic = start_basic(&tenant);
    let setup = Setup { tenant, basic };
    let both = both.display().to_string();
    let finished = setup.run(
        "daemon_client",
        &setup.api(),
        None,
        &format!("{}/.default", setup.api()),
        &[("AAD_CLIENT_CERTIFICATE", &both)],
    );
    assert_success(&finished);
    assert!(finished.stderr.contains("authenticating with AAD_CLIENT_CERTIFICATE"), "{}", finished.output());
    assert!(finished.stdout.contains("-> HTTP 200"), "{}", finished.output());
    let key_line =
        certificate.pem_with_key().lines().skip_while(|l| !l.contains("PRIVATE KEY")).nth(1).unwrap_or("").to_owned();
    assert_no_leak(&finished, &[&key_line]);

    // Another certificate than the registered one: Entra's AADSTS700027, named, exit 1.
    let other = aad_auth::testing::TestCertificate::generate("other");
    let wrong = dir.join("other.pem");
    std::fs::write(&wrong, other.pem_with_key()).expect("other.pem");
    let wrong = wrong.display().to_string();
    let finished = setup.run(
        "daemon_client",
        &setup.api(),
        None,
        &format!("{}/.default", setup.api()),
        &[("AAD_CLIENT_CERTIFICATE", &wrong)],
    );
    assert_failure(&finished, 1);
    assert!(finished.stderr.contains("AADSTS700027"), "{}", finished.output());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_wrong_secret_fails_with_a_clear_message_that_does_not_print_it() {
    let setup = setup();
    let wrong = "Wr0ng-client-secret-value-for-the-test";
    let finished = setup.daemon_client(wrong, &[]);
    assert_failure(&finished, 1);
    assert!(
        finished.stderr.contains("invalid_client") && finished.stderr.contains("AAD_CLIENT_SECRET"),
        "{}",
        finished.output()
    );
    assert_no_leak(&finished, &[wrong, &setup.secret()]);
}

#[test]
fn an_api_that_is_down_or_refuses_is_a_failure() {
    let setup = setup();
    let down = format!("http://127.0.0.1:{}", closed_port());
    for finished in [
        setup.daemon_client(&setup.secret(), &[("API_BASE_URL", &down)]),
        setup.device_code_client(&[("API_BASE_URL", &down)]),
    ] {
        assert_failure(&finished, 1);
        assert!(finished.stderr.contains("could not be reached"), "{}", finished.output());
        assert!(finished.stderr.contains(&down), "the message names the URL:\n{}", finished.output());
    }

    // A 403: the app holds the role Reader, not Admin; and an app-only token has no scopes, so
    // `/hello` (scopes("user_impersonation")) refuses it.
    for path in ["/admin", "/hello"] {
        let finished = setup.daemon_client(&setup.secret(), &[("API_PATHS", path)]);
        assert_failure(&finished, 1);
        assert!(finished.stderr.contains("HTTP 403"), "{path}: {}", finished.output());
    }
}

#[test]
fn a_missing_or_bad_variable_is_named() {
    let setup = setup();
    let finished = setup.device_code_client(&[("API_SCOPE", "")]);
    assert_failure(&finished, 2);
    assert!(finished.stderr.contains("API_SCOPE is required"), "{}", finished.output());

    let finished = setup.daemon_client(&setup.secret(), &[("API_BASE_URL", "not a url")]);
    assert_failure(&finished, 2);
    assert!(finished.stderr.contains("API_BASE_URL is invalid"), "{}", finished.output());

    let finished = setup.run("daemon_client", &setup.api(), None, &format!("{}/.default", setup.api()), &[]);
    assert_failure(&finished, 2);
    assert!(finished.stderr.contains("AAD_CLIENT_SECRET is required"), "{}", finished.output());

    let finished = setup.device_code_client(&[("AAD_TENANT_ID", "not a tenant")]);
    assert_failure(&finished, 2);
    assert!(finished.stderr.contains("AAD_TENANT_ID"), "{}", finished.output());
}

#[test]
fn on_behalf_of_server_calls_the_downstream_api_as_the_caller() {
    let setup = setup();
    let token = setup.user_token();
    let mut command = command("on_behalf_of");
    command
        .envs(setup.tenant.aad_env(&setup.api(), Some(&setup.secret())))
        .env("API_BASE_URL", &setup.basic.base_url)
        .env("API_SCOPE", format!("{}/.default", setup.api()))
        .env("HOST", "127.0.0.1")
        .env("PORT", "0");
    let server = spawn("on_behalf_of", command);
    let line = server.line(Duration::from_secs(60), |line| line.starts_with("listening on "));
    let base = line.trim_start_matches("listening on ").trim().to_owned();

    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let http = reqwest::Client::builder().no_proxy().build().expect("client");
    let url = format!("{base}/call-downstream");
    let (anonymous, status, body) = runtime.block_on(async {
        let anonymous = http.get(&url).send().await.expect("GET without a token").status();
        let response = http.get(&url).bearer_auth(token.expose_secret()).send().await.expect("GET with a token");
        let status = response.status();
        (anonymous, status, response.text().await.unwrap_or_default())
    });
    assert_eq!(anonymous, reqwest::StatusCode::UNAUTHORIZED);
    assert_eq!(status, reqwest::StatusCode::OK, "{body}\nstderr:\n{}", server.stderr());
    let body: Value = serde_json::from_str(&body).expect("JSON");
    assert!(body["caller"].as_str().is_some_and(|name| !name.is_empty()), "{body}");
    assert_eq!(body["downstream"], json!([{ "path": "/hello", "status": 200, "body": { "hello": "world" } }]));
    assert!(!server.stderr().contains(token.expose_secret()), "the token was logged");
}

#[test]
fn on_behalf_of_once_mode_exits_0_or_fails_cleanly() {
    let setup = setup();
    let token = setup.user_token();
    let scope = format!("{}/.default", setup.api());
    let once = |secret: &str, extra: &[(&str, &str)]| {
        let mut all = vec![("OBO_INCOMING_TOKEN", token.expose_secret())];
        all.extend_from_slice(extra);
        setup.run("on_behalf_of", &setup.api(), Some(secret), &scope, &all)
    };

    let finished = once(&setup.secret(), &[]);
    assert_success(&finished);
    assert!(finished.stdout.contains("GET /hello -> HTTP 200\n{\"hello\":\"world\"}"), "{}", finished.output());

    let wrong = "Wr0ng-client-secret-value-for-the-test";
    let finished = once(wrong, &[]);
    assert_failure(&finished, 1);
    assert!(
        finished.stderr.contains("on-behalf-of") && finished.stderr.contains("AAD_CLIENT_SECRET"),
        "{}",
        finished.output()
    );
    assert_no_leak(&finished, &[wrong, &setup.secret(), token.expose_secret()]);

    let down = format!("http://127.0.0.1:{}", closed_port());
    let finished = once(&setup.secret(), &[("API_BASE_URL", &down)]);
    assert_failure(&finished, 1);
    assert!(finished.stderr.contains("could not be reached"), "{}", finished.output());
    assert_no_leak(&finished, &[token.expose_secret()]);
}
