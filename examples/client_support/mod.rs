//! What the client examples (`device_code_client`, `daemon_client`, `on_behalf_of`) share:
//! reading `API_BASE_URL`, `API_SCOPE` and `API_PATHS`, calling the API with a token, and
//! failing with one clear line and a non-zero exit status.
#![allow(dead_code, reason = "each example uses part of this module")]

use std::fmt;
use std::process::ExitCode;
use std::time::Duration;

use aad_auth::client::{ClientConfig, ClientError};
use aad_auth::secret::AccessToken;
use url::Url;

/// Why an example stops: shown as one line on stderr, never with a secret or a token.
#[derive(Debug)]
pub enum Failure {
    /// A variable is missing or malformed (exit status 2).
    Config(String),
    /// Getting the token or calling the API failed (exit status 1).
    Failed(String),
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Config(message) | Self::Failed(message) => f.write_str(message),
        }
    }
}

impl From<aad_auth::ConfigError> for Failure {
    fn from(error: aad_auth::ConfigError) -> Self {
        Self::Config(format!("configuration: {error}"))
    }
}

impl From<ClientError> for Failure {
    fn from(error: ClientError) -> Self {
        match error {
            ClientError::Config(error) => error.into(),
            other => Self::Failed(format!("no token: {other}")),
        }
    }
}

/// Prints the failure and turns it into the exit status.
pub fn exit(program: &str, result: Result<(), Failure>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            eprintln!("{program}: error: {failure}");
            match failure {
                Failure::Config(_) => ExitCode::from(2),
                Failure::Failed(_) => ExitCode::FAILURE,
            }
        }
    }
}

fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().map(|value| value.trim().to_owned()).filter(|value| !value.is_empty())
}

/// The calling app's configuration (`AAD_*`, `.env` included).
pub fn client_config() -> Result<ClientConfig, Failure> {
    Ok(ClientConfig::from_env()?)
}

/// `API_BASE_URL`: where the API runs.
pub fn api_base_url() -> Result<Url, Failure> {
    const EXPECTED: &str = "the base URL of the API to call, such as http://127.0.0.1:8000";
    let text = var("API_BASE_URL").ok_or_else(|| Failure::Config(format!("API_BASE_URL is required: {EXPECTED}")))?;
    match Url::parse(&text) {
        Ok(url) if matches!(url.scheme(), "http" | "https") && url.host().is_some() => Ok(url),
        _ => Err(Failure::Config(format!("API_BASE_URL is invalid: expected {EXPECTED}; got {text:?}"))),
    }
}

/// `API_SCOPE`: the scope of the API, such as `api://{api client id}/user_impersonation` or
/// `{api client id}/.default`.
pub fn api_scope(example: &str) -> Result<String, Failure> {
    let scope = var("API_SCOPE")
        .ok_or_else(|| Failure::Config(format!("API_SCOPE is required: the API's scope, such as {example}")))?;
    if scope.split_whitespace().count() != 1 {
        return Err(Failure::Config(format!("API_SCOPE is invalid: expected one scope, such as {example}")));
    }
    Ok(scope)
}

/// `API_PATHS`: the comma-separated paths to call (default `default`).
pub fn api_paths(default: &str) -> Result<Vec<String>, Failure> {
    let text = var("API_PATHS").unwrap_or_else(|| default.to_owned());
    let paths: Vec<String> = text.split(',').map(str::trim).filter(|p| !p.is_empty()).map(str::to_owned).collect();
    if paths.is_empty() || paths.iter().any(|path| !path.starts_with('/') || path.starts_with("//")) {
        return Err(Failure::Config(format!(
            "API_PATHS is invalid: expected comma-separated paths starting with `/`, such as {default}; got {text:?}"
        )));
    }
    Ok(paths)
}

/// The HTTP client for the API: 10 s timeout, no redirects, and `AAD_CA_FILE`'s roots too (an
/// API served with the same private CA as the local tenant).
pub fn api_http(config: &ClientConfig) -> Result<reqwest::Client, Failure> {
    let mut builder = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .connect_timeout(Duration::from_secs(5))
        .redirect(reqwest::redirect::Policy::none());
    if let Some(path) = config.ca_file() {
        let pem = std::fs::read(path)
            .map_err(|e| Failure::Config(format!("AAD_CA_FILE: cannot read {}: {e}", path.display())))?;
        let certificates = reqwest::Certificate::from_pem_bundle(&pem)
            .map_err(|e| Failure::Config(format!("AAD_CA_FILE: {}: {e}", path.display())))?;
        for certificate in certificates {
            builder = builder.add_root_certificate(certificate);
        }
    }
    builder.build().map_err(|e| Failure::Failed(format!("HTTP client: {e}")))
}

/// `base` joined with `path` (which may carry a query).
pub fn api_url(base: &Url, path: &str) -> Result<Url, Failure> {
    let joined = format!("{}{path}", base.as_str().trim_end_matches('/'));
    Url::parse(&joined).map_err(|_| Failure::Config(format!("API_BASE_URL and API_PATHS make no URL: {joined:?}")))
}

/// An API answer.
#[derive(Debug)]
pub struct Answer {
    /// The HTTP status.
    pub status: u16,
    /// The body (at most 64 KiB shown).
    pub body: String,
    /// The `WWW-Authenticate` header, when there is one.
    pub challenge: Option<String>,
}

/// GETs `url` with the token; a non-2xx answer or no answer is a failure naming the URL.
pub async fn call_api(http: &reqwest::Client, url: &Url, token: &AccessToken) -> Result<Answer, Failure> {
    let answer = send_api(http, url, token).await?;
    require_success(answer, url)
}

/// A non-2xx answer as a failure naming the URL (without its query).
pub fn require_success(answer: Answer, url: &Url) -> Result<Answer, Failure> {
    if (200..300).contains(&answer.status) {
        return Ok(answer);
    }
    let mut shown = url.clone();
    shown.set_query(None);
    let brief: String = answer.body.chars().filter(|c| !c.is_control()).take(300).collect();
    Err(Failure::Failed(format!("the API answered HTTP {} for GET {shown}: {brief}", answer.status)))
}

/// GETs `url` with the token, whatever the status; only no answer is a failure.
pub async fn send_api(http: &reqwest::Client, url: &Url, token: &AccessToken) -> Result<Answer, Failure> {
    let shown = {
        let mut shown = url.clone();
        shown.set_query(None);
        shown
    };
    let response = http.get(url.clone()).bearer_auth(token.expose_secret()).send().await.map_err(|error| {
        let mut reason = if error.is_timeout() { "no answer within 10 s" } else { "the request failed" }.to_owned();
        let mut source = std::error::Error::source(&error);
        while let Some(cause) = source {
            let text = cause.to_string();
            if !reason.contains(&text) {
                reason.push_str(&format!(": {text}"));
            }
            source = cause.source();
        }
        Failure::Failed(format!("the API at {shown} could not be reached: {reason}"))
    })?;
    let status = response.status();
    let challenge = response
        .headers()
        .get(reqwest::header::WWW_AUTHENTICATE)
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned);
    let body = response.text().await.unwrap_or_default();
    let body: String = body.chars().take(64 * 1024).collect();
    Ok(Answer { status: status.as_u16(), body, challenge })
}

/// Seconds left, for display.
pub fn lifetime(token: &aad_auth::client::ClientToken) -> String {
    token.expires_in.map_or_else(|| "an unknown time".to_owned(), |d| format!("{} s", d.as_secs()))
}
