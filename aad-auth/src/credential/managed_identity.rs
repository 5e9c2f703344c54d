//! A managed identity's token as the app's federated assertion: the App Service / Container
//! Apps protocol (`GET {IDENTITY_ENDPOINT}?resource=api://AzureADTokenExchange&api-version=2019-08-01`
//! with `X-IDENTITY-HEADER: {IDENTITY_HEADER}`), the token kept until shortly before it expires.

use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use url::Url;

use super::{CredentialError, TOKEN_EXCHANGE_AUDIENCE};
use crate::http::{describe, display_url, read_capped};
use crate::secret::{ClientAssertion, IdentityHeader};

/// The App Service managed identity protocol version.
const API_VERSION: &str = "2019-08-01";
/// Answers larger than this are refused.
const MAX_ANSWER_BYTES: usize = 64 * 1024;
/// A token is fetched again this long before it expires (or at half its life when shorter).
const RENEW_BEFORE: Duration = Duration::from_secs(300);

/// The managed identity endpoint's answer.
#[derive(Deserialize)]
struct Answer {
    access_token: String,
    /// Unix seconds, a string in App Service's answers (a number is accepted too).
    expires_on: Option<serde_json::Value>,
}

#[derive(Debug)]
struct Cached {
    assertion: ClientAssertion,
    renew_at: u64,
}

/// A managed identity of App Service or Container Apps (`AAD_MANAGED_IDENTITY`,
/// `IDENTITY_ENDPOINT`, `IDENTITY_HEADER`): its token for `api://AzureADTokenExchange` is the
/// app's client assertion, which the app registration trusts through a federated credential
/// (issuer: the tenant's, subject: the identity's object id).
///
/// Clones share the kept token. `Debug` never shows the header or the token.
#[derive(Debug, Clone)]
pub struct ManagedIdentity {
    endpoint: Url,
    header: IdentityHeader,
    client_id: Option<String>,
    cached: Arc<tokio::sync::Mutex<Option<Cached>>>,
}

impl ManagedIdentity {
    /// The identity served at `endpoint` (`IDENTITY_ENDPOINT`) with the secret `header`
    /// (`IDENTITY_HEADER`); `client_id` selects a user-assigned identity (`None`: the
    /// system-assigned one).
    pub(crate) fn new(endpoint: Url, header: IdentityHeader, client_id: Option<String>) -> Self {
        Self { endpoint, header, client_id, cached: Arc::default() }
    }

    /// `IDENTITY_ENDPOINT`.
    pub fn endpoint(&self) -> &Url {
        &self.endpoint
    }

    /// The user-assigned identity's client id, `None` for the system-assigned identity.
    pub fn client_id(&self) -> Option<&str> {
        self.client_id.as_deref()
    }

    /// The identity's token, from the cache while it has more than [`RENEW_BEFORE`] to live.
    pub(crate) async fn assertion(&self, http: &reqwest::Client) -> Result<ClientAssertion, CredentialError> {
        let mut cached = self.cached.lock().await;
        let now = super::unix_now();
        if let Some(kept) = cached.as_ref()
            && now < kept.renew_at
        {
            return Ok(kept.assertion.clone());
        }
        let fresh = self.fetch(http, now).await?;
        let assertion = fresh.assertion.clone();
        *cached = Some(fresh);
        Ok(assertion)
    }

    async fn fetch(&self, http: &reqwest::Client, now: u64) -> Result<Cached, CredentialError> {
        let shown = display_url(&self.endpoint);
        let problem = |reason: String| CredentialError::Endpoint { url: shown.clone(), reason };
        let mut url = self.endpoint.clone();
        url.query_pairs_mut().append_pair("resource", TOKEN_EXCHANGE_AUDIENCE).append_pair("api-version", API_VERSION);
        if let Some(client_id) = &self.client_id {
            url.query_pairs_mut().append_pair("client_id", client_id);
        }
        let mut response = http
            .get(url)
            .header("X-IDENTITY-HEADER", self.header.expose_secret())
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(|error| problem(describe(&error)))?;
        let status = response.status();
        let body =
            read_capped(&mut response, &shown, MAX_ANSWER_BYTES).await.map_err(|error| problem(error.to_string()))?;
        if !status.is_success() {
            let hint = match status.as_u16() {
                400 | 401 | 403 => " (check IDENTITY_HEADER, and that the identity is enabled on the app)",
                _ => "",
            };
            return Err(problem(format!("HTTP {}{hint}", status.as_u16())));
        }
        let answer: Answer = serde_json::from_slice(&body)
            .map_err(|error| problem(format!("not a token answer ({:?} error)", error.classify())))?;
        if answer.access_token.trim().is_empty() {
            return Err(problem("an empty access_token".into()));
        }
        let expires_on = match answer.expires_on {
            Some(serde_json::Value::String(text)) => text.trim().parse::<u64>().ok(),
            Some(serde_json::Value::Number(number)) => number.as_u64(),
            _ => None,
        }
        .ok_or_else(|| problem("no expires_on (unix seconds) in the answer".into()))?;
        let lifetime = expires_on.saturating_sub(now);
        let renew_at = now.saturating_add(lifetime.saturating_sub(RENEW_BEFORE.as_secs()).max(lifetime / 2));
        Ok(Cached { assertion: ClientAssertion::new(answer.access_token), renew_at })
    }
}
