//! The one outbound HTTP layer, for discovery, JWKS, the login's token calls and the client
//! helpers: one client builder (timeouts, user agent, redirect policy, extra trusted roots from
//! `AAD_CA_FILE`, `HTTPS_PROXY` honoured), size-capped reads, one adapter for openidconnect's
//! token requests, and one way to describe a failure without leaking a URL's query.

// Parses network input: no indexing, no unchecked arithmetic, no unwrap (README, Security notes).
#![cfg_attr(
    not(test),
    deny(clippy::indexing_slicing, clippy::arithmetic_side_effects, clippy::unwrap_used, clippy::expect_used)
)]

use std::time::Duration;

use reqwest::redirect::Policy;
use url::Url;

/// Every outbound call gives up after this long (slow or hanging identity provider), unless the
/// app sets another timeout (`AadAuthBuilder::http_timeout`, for tests).
pub(crate) const TIMEOUT: Duration = Duration::from_secs(10);
/// Connecting gives up after this long, or after the whole timeout if that is shorter.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const MAX_REDIRECTS: usize = 3;

/// Why an outbound call failed. Messages never carry response bodies or credentials.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FetchError {
    /// The request could not be sent or timed out.
    #[error("request to {url} failed: {reason}")]
    Transport {
        /// The URL, without query.
        url: String,
        /// What went wrong.
        reason: String,
    },
    /// The server answered with a non-success status.
    #[error("{url} answered HTTP {status}")]
    Status {
        /// The URL, without query.
        url: String,
        /// The status code.
        status: u16,
    },
    /// The body exceeded the size cap.
    #[error("{url} sent more than {limit} bytes")]
    TooLarge {
        /// The URL, without query.
        url: String,
        /// The cap.
        limit: usize,
    },
    /// The body is not the JSON document expected.
    #[error("{url} sent an invalid document: {reason}")]
    Invalid {
        /// The URL, without query.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
}

/// Which redirects a client follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Redirects {
    /// Up to three on the same scheme and host (discovery and JWKS), so that a compromised or
    /// misconfigured endpoint cannot send key fetches elsewhere (SSRF).
    SameHost,
    /// None (token endpoints: a POST carrying a secret or a code is never re-sent elsewhere).
    Never,
}

/// Why a client could not be built.
#[derive(Debug)]
pub(crate) enum ClientBuildError {
    /// `AAD_CA_FILE`'s certificates cannot be read.
    CaFile(String),
    /// The TLS or proxy set-up failed.
    Build(String),
}

impl std::fmt::Display for ClientBuildError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::CaFile(reason) => write!(f, "AAD_CA_FILE: {reason}"),
            Self::Build(reason) => f.write_str(reason),
        }
    }
}

/// Builds an outbound client: `timeout` for the whole call, the user agent, `redirects`, and
/// `ca_pem`'s certificates trusted besides the system roots.
pub(crate) fn client(
    ca_pem: Option<&[u8]>,
    timeout: Duration,
    redirects: Redirects,
) -> Result<reqwest::Client, ClientBuildError> {
    let policy = match redirects {
        Redirects::Never => Policy::none(),
        Redirects::SameHost => Policy::custom(|attempt| {
            let same_host = attempt.previous().first().is_some_and(|first| {
                first.host_str() == attempt.url().host_str() && first.scheme() == attempt.url().scheme()
            });
            if attempt.previous().len() > MAX_REDIRECTS || !same_host { attempt.stop() } else { attempt.follow() }
        }),
    };
    let mut builder = reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(CONNECT_TIMEOUT.min(timeout))
        .user_agent(concat!("aad-auth/", env!("CARGO_PKG_VERSION")))
        .redirect(policy);
    if let Some(pem) = ca_pem {
        let certificates =
            reqwest::Certificate::from_pem_bundle(pem).map_err(|e| ClientBuildError::CaFile(e.to_string()))?;
        for certificate in certificates {
            builder = builder.add_root_certificate(certificate);
        }
    }
    builder.build().map_err(|e| ClientBuildError::Build(describe(&e)))
}

/// A reqwest error as one line: the kind, then the chain of causes (connection refused,
/// certificate not trusted, ...), never the URL's query.
pub(crate) fn describe(error: &reqwest::Error) -> String {
    if error.is_timeout() {
        return "no answer in time".to_owned();
    }
    let mut parts: Vec<String> = Vec::new();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        let text = cause.to_string();
        if !parts.iter().any(|seen| seen.contains(&text)) {
            parts.push(text);
        }
        source = cause.source();
    }
    let kind = if error.is_connect() {
        "connection failed"
    } else if error.is_body() || error.is_decode() {
        "the answer could not be read"
    } else {
        "the request failed"
    };
    if parts.is_empty() { kind.to_owned() } else { format!("{kind}: {}", parts.join(": ")) }
}

/// The HTTP client openidconnect calls for token requests: our client, with a size cap on the
/// answer (openidconnect's own reqwest adapter reads any size).
pub(crate) async fn send_token_request(
    client: &reqwest::Client,
    request: openidconnect::HttpRequest,
    limit: usize,
) -> Result<openidconnect::HttpResponse, FetchError> {
    let (parts, body) = request.into_parts();
    let url = Url::parse(&parts.uri.to_string())
        .map_err(|e| FetchError::Invalid { url: "the token endpoint".into(), reason: e.to_string() })?;
    let shown = display_url(&url);
    let mut response = client
        .request(parts.method, url)
        .headers(parts.headers)
        .body(body)
        .send()
        .await
        .map_err(|error| FetchError::Transport { url: shown.clone(), reason: describe(&error) })?;
    let status = response.status();
    let headers = response.headers().clone();
    let body = read_capped(&mut response, &shown, limit).await?;
    let mut out = openidconnect::http::Response::new(body);
    *out.status_mut() = status;
    *out.headers_mut() = headers;
    Ok(out)
}

/// A URL as shown in errors and logs: scheme, host, port and path only.
pub(crate) fn display_url(url: &Url) -> String {
    let mut shown = url.clone();
    shown.set_query(None);
    shown.set_fragment(None);
    let _ = shown.set_password(None);
    let _ = shown.set_username("");
    shown.to_string()
}

/// GETs `url` and returns at most `limit` bytes of a 2xx body.
pub(crate) async fn get_bytes(client: &reqwest::Client, url: &Url, limit: usize) -> Result<Vec<u8>, FetchError> {
    match get_conditional(client, url, limit, None).await? {
        Conditional::Modified { body, .. } => Ok(body),
        // Without `If-None-Match` a 304 is an error status (below); this arm is never taken.
        Conditional::NotModified => Err(FetchError::Status { url: display_url(url), status: 304 }),
    }
}

/// What a conditional GET returned.
pub(crate) enum Conditional {
    /// 304: the representation named by the `ETag` sent is still current.
    NotModified,
    /// A 2xx body, and its `ETag` if the server sent one.
    Modified { body: Vec<u8>, etag: Option<String> },
}

/// GETs `url` with `If-None-Match: etag` when an `etag` is given (RFC 9110 §13.1.2); a 2xx body
/// is capped at `limit` bytes, and any other status (a 304 to an unconditional request too) is
/// an error.
pub(crate) async fn get_conditional(
    client: &reqwest::Client,
    url: &Url,
    limit: usize,
    etag: Option<&str>,
) -> Result<Conditional, FetchError> {
    let shown = display_url(url);
    let transport = |error: reqwest::Error| FetchError::Transport { url: shown.clone(), reason: describe(&error) };
    let mut request = client.get(url.clone()).header("accept", "application/json");
    if let Some(etag) = etag {
        request = request.header("if-none-match", etag);
    }
    let mut response = request.send().await.map_err(transport)?;
    if response.status() == reqwest::StatusCode::NOT_MODIFIED && etag.is_some() {
        return Ok(Conditional::NotModified);
    }
    let etag = response.headers().get("etag").and_then(|value| value.to_str().ok()).map(str::to_owned);
    let body = read_body(&mut response, &shown, limit).await?;
    Ok(Conditional::Modified { body, etag })
}

/// Reads a response body with a size cap, failing on non-2xx statuses.
pub(crate) async fn read_body(
    response: &mut reqwest::Response,
    shown: &str,
    limit: usize,
) -> Result<Vec<u8>, FetchError> {
    let status = response.status();
    if !status.is_success() {
        return Err(FetchError::Status { url: shown.to_owned(), status: status.as_u16() });
    }
    read_capped(response, shown, limit).await
}

/// Reads a body of any status with a size cap.
pub(crate) async fn read_capped(
    response: &mut reqwest::Response,
    shown: &str,
    limit: usize,
) -> Result<Vec<u8>, FetchError> {
    if response.content_length().is_some_and(|length| length > limit as u64) {
        return Err(FetchError::TooLarge { url: shown.to_owned(), limit });
    }
    let mut body = Vec::new();
    loop {
        let chunk = response
            .chunk()
            .await
            .map_err(|error| FetchError::Transport { url: shown.to_owned(), reason: describe(&error) })?;
        let Some(chunk) = chunk else { break };
        if body.len().saturating_add(chunk.len()) > limit {
            return Err(FetchError::TooLarge { url: shown.to_owned(), limit });
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}
