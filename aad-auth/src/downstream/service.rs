//! Getting and keeping tokens for other APIs: a signed-in browser user's by the refresh token of
//! its session, a bearer caller's by on-behalf-of, the app's own by client credentials.
//!
//! Where they are kept: a session's tokens inside its server-side token entry (so logout, the
//! idle timeout and the session's end remove them with it); on-behalf-of and app tokens in the
//! same store under a digest of (incoming token, scopes) or (tenant, scopes). Memory, or Redis
//! sealed with AES-256-GCM, as the sessions' tokens are. Each is used until
//! [`RENEW_MARGIN_SECONDS`] before it expires; concurrent requests for one token share one call
//! to Entra ([`Flights`]).

// Parses network input: no indexing, no unchecked arithmetic, no unwrap (README, Security notes).
#![cfg_attr(
    not(test),
    deny(clippy::indexing_slicing, clippy::arithmetic_side_effects, clippy::unwrap_used, clippy::expect_used)
)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use futures_util::FutureExt as _;
use serde::{Deserialize, Serialize};

use super::flight::{Flights, Key};
use crate::client::{ClientConfig, ClientError, ClientToken, TokenClient};
use crate::clock::SharedClock;
use crate::config::Tenant;
use crate::error::DownstreamClaims;
use crate::secret::{AccessToken, RefreshToken};
use crate::session::{DownstreamToken, TokenCache};

/// A kept token is used until this many seconds before it expires (as Microsoft.Identity.Web).
pub(crate) const RENEW_MARGIN_SECONDS: i64 = 300;
/// Token clients kept, one per tenant (a multi-tenant app serves users of many).
const MAX_TENANT_CLIENTS: usize = 1000;

/// Why no token: what the request is answered with is the caller's choice (`super`).
#[derive(Debug, Clone)]
pub(crate) enum Failure {
    /// The user must consent or sign in again (`consent_required`, `interaction_required`,
    /// `invalid_grant`, no refresh token).
    Interaction,
    /// Entra's claims challenge (Conditional Access on the downstream API).
    Claims(DownstreamClaims),
    /// Entra unreachable or answering nonsense.
    Unavailable,
    /// Entra refused the app itself (credential, scope, permission): a configuration problem.
    Refused,
}

/// A token as kept: the value and its expiry (Unix seconds).
#[derive(Clone, Serialize, Deserialize)]
struct Kept {
    access_token: String,
    expires_at: i64,
}

type Outcome = Result<Kept, Failure>;

/// The downstream-token service of one app, shared by every worker.
pub(crate) struct Downstream {
    app: ClientConfig,
    http: reqwest::Client,
    clients: Mutex<HashMap<String, TokenClient>>,
    store: TokenCache,
    flights: Arc<Flights<Outcome>>,
    clock: SharedClock,
}

impl std::fmt::Debug for Downstream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Downstream").field("app", &self.app).finish_non_exhaustive()
    }
}

impl Downstream {
    /// `store`: the sessions' token store (memory or Redis), or a memory one for a bearer-only
    /// app; `http` calls the token endpoint (no redirects).
    pub(crate) fn new(app: ClientConfig, http: reqwest::Client, store: TokenCache, clock: SharedClock) -> Self {
        Self { app, http, clients: Mutex::new(HashMap::new()), store, flights: Flights::new(), clock }
    }

    /// The token client for a user of tenant `tid`: the configured tenant's, or for a
    /// multi-tenant app (`common`, `organizations`) the user's own tenant's.
    fn client(&self, tid: &str) -> TokenClient {
        let tid = if self.multi_tenant() { tid.to_ascii_lowercase() } else { String::new() };
        let mut clients = self.clients.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(client) = clients.get(&tid) {
            return client.clone();
        }
        if clients.len() >= MAX_TENANT_CLIENTS {
            clients.clear();
        }
        // A single-tenant app keeps its configuration as it is (a domain, or its own discovery
        // URL, stay as configured).
        let config = if tid.is_empty() { self.app.clone() } else { self.app.for_tenant(&tid) };
        let client = TokenClient::with_http(config, self.http.clone());
        clients.insert(tid, client.clone());
        client
    }

    fn multi_tenant(&self) -> bool {
        matches!(self.app.tenant(), Tenant::Common | Tenant::Organizations | Tenant::Consumers)
    }

    /// A token for `scopes` from the refresh token of session `sid` (tenant `tid`).
    pub(crate) async fn for_session(&self, sid: &str, tid: &str, scopes: &[String]) -> Result<AccessToken, Failure> {
        let scopes_key = scopes_key(scopes);
        let now = self.clock.unix_seconds();
        let entry = self.store.get(sid).await.ok_or(Failure::Interaction)?;
        if let Some(kept) = entry.downstream_token(&scopes_key, now, RENEW_MARGIN_SECONDS) {
            return Ok(AccessToken::new(kept.access_token.clone()));
        }
        let (store, client, clock) = (self.store.clone(), self.client(tid), self.clock.clone());
        let (sid, scopes) = (sid.to_owned(), scopes.to_vec());
        let key = digest(&["session", &sid, &scopes_key]);
        let kept = self
            .flights
            .join(key, move || {
                async move {
                    // Read again: a flight that just ended (here or on another instance) may
                    // have kept it, and the refresh token may have been rotated since.
                    let entry = store.get(&sid).await.ok_or(Failure::Interaction)?;
                    let now = clock.unix_seconds();
                    if let Some(kept) = entry.downstream_token(&scopes_key, now, RENEW_MARGIN_SECONDS) {
                        return Ok(Kept { access_token: kept.access_token.clone(), expires_at: kept.expires_at });
                    }
                    let refresh = entry.refresh_token.clone().map(RefreshToken::new).ok_or(Failure::Interaction)?;
                    let token = client.refresh_token(&refresh, scopes).await.map_err(|e| failure(&e, true))?;
                    let kept = kept(&token, now);
                    let keep = kept.expires_at.saturating_sub(RENEW_MARGIN_SECONDS) > now;
                    // Into the entry as it is now, and only if the session still has one.
                    store
                        .update(&sid, |entry| {
                            if let Some(rotated) = token.refresh_token {
                                entry.refresh_token = Some(rotated.expose_secret().to_owned());
                            }
                            if keep {
                                entry.keep_downstream(DownstreamToken {
                                    scopes: scopes_key,
                                    access_token: kept.access_token.clone(),
                                    expires_at: kept.expires_at,
                                });
                            }
                        })
                        .await;
                    Ok(kept)
                }
                .boxed()
            })
            .await?;
        Ok(AccessToken::new(kept.access_token))
    }

    /// A token for `scopes` on behalf of the caller whose access token is `incoming` (tenant
    /// `tid`).
    pub(crate) async fn on_behalf_of(
        &self,
        incoming: &str,
        tid: &str,
        scopes: &[String],
    ) -> Result<AccessToken, Failure> {
        let incoming_digest = URL_SAFE_NO_PAD.encode(digest(&[incoming]));
        let key = digest(&["obo", tid, &incoming_digest, &scopes_key(scopes)]);
        let client = self.client(tid);
        let incoming = AccessToken::new(incoming);
        let scopes = scopes.to_vec();
        self.kept_or_fetch(key, move || async move {
            client.on_behalf_of(&incoming, scopes).await.map_err(|error| failure(&error, true))
        })
        .await
    }

    /// The app's own token for `scope` (`{resource}/.default`), by client credentials.
    pub(crate) async fn for_app(&self, scope: &str) -> Result<AccessToken, Failure> {
        if self.multi_tenant() {
            tracing::error!(
                "no app token: AAD_TENANT_ID names no one tenant (common or organizations), and Entra issues app \
                 tokens only in a tenant; set AAD_TENANT_ID to the app's home tenant"
            );
            return Err(Failure::Refused);
        }
        let tenant = self.app.tenant().as_path_segment().to_owned();
        let key = digest(&["app", &tenant, &scopes_key(&[scope.to_owned()])]);
        let client = self.client(&tenant);
        let scope = scope.to_owned();
        self.kept_or_fetch(key, move || async move {
            client.client_credentials(&scope).await.map_err(|error| failure(&error, false))
        })
        .await
    }

    /// The token kept under `key`, else the one `fetch` gets (one flight per key), kept until
    /// shortly before it expires.
    async fn kept_or_fetch<F, Fut>(&self, key: Key, fetch: F) -> Result<AccessToken, Failure>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Result<ClientToken, Failure>> + Send + 'static,
    {
        let name = format!("downstream:{}", URL_SAFE_NO_PAD.encode(key));
        if let Some(kept) = self.kept(&name).await {
            return Ok(AccessToken::new(kept.access_token));
        }
        let (store, clock) = (self.store.clone(), self.clock.clone());
        let kept = self
            .flights
            .join(key, move || {
                // Made only by the request that starts the flight.
                let pending = fetch();
                async move {
                    let token = pending.await?;
                    let kept = kept(&token, clock.unix_seconds());
                    if let Ok(json) = serde_json::to_vec(&kept) {
                        store.put_blob(&name, json, kept.expires_at.saturating_sub(RENEW_MARGIN_SECONDS)).await;
                    }
                    Ok(kept)
                }
                .boxed()
            })
            .await?;
        Ok(AccessToken::new(kept.access_token))
    }

    async fn kept(&self, name: &str) -> Option<Kept> {
        let kept: Kept = serde_json::from_slice(&self.store.get_blob(name).await?).ok()?;
        (kept.expires_at.saturating_sub(RENEW_MARGIN_SECONDS) > self.clock.unix_seconds()).then_some(kept)
    }
}

/// What is kept of a token response received at `now`. A response without `expires_in` is
/// used once and not kept.
fn kept(token: &ClientToken, now: i64) -> Kept {
    let lifetime = token.expires_in.map_or(0, |lifetime| i64::try_from(lifetime.as_secs()).unwrap_or(0));
    Kept { access_token: token.access_token.expose_secret().to_owned(), expires_at: now.saturating_add(lifetime) }
}

/// The failure for a token client's error; `for_user` flows may need the user, the app's own
/// flow never does. Details go to the log (already free of secrets), never to the caller.
fn failure(error: &ClientError, for_user: bool) -> Failure {
    match error {
        ClientError::ClaimsChallenge { claims, .. } if for_user => {
            DownstreamClaims::from_entra(claims).map_or(Failure::Interaction, Failure::Claims)
        }
        error if for_user && error.needs_user_interaction() => {
            tracing::debug!(%error, "a downstream token needs the user");
            Failure::Interaction
        }
        ClientError::Unreachable { .. } | ClientError::InvalidResponse { .. } | ClientError::Discovery { .. } => {
            tracing::warn!(%error, "no downstream token: the identity provider is unavailable");
            Failure::Unavailable
        }
        // Entra's own outages and throttling come as OAuth errors.
        ClientError::Refused { error: code, .. }
            if matches!(code.as_str(), "temporarily_unavailable" | "server_error") =>
        {
            tracing::warn!(%error, "no downstream token: the identity provider is unavailable");
            Failure::Unavailable
        }
        error => {
            tracing::error!(%error, hint = error.hint().unwrap_or(""), "no downstream token: the app's request was refused");
            Failure::Refused
        }
    }
}

/// The scopes as one key: trimmed, sorted, without duplicates, joined by spaces.
pub(crate) fn scopes_key(scopes: &[String]) -> String {
    let mut sorted: Vec<&str> = scopes.iter().map(|scope| scope.trim()).filter(|scope| !scope.is_empty()).collect();
    sorted.sort_unstable();
    sorted.dedup();
    sorted.join(" ")
}

/// SHA-256 of the parts, each followed by a 0 byte (so that boundaries count).
fn digest(parts: &[&str]) -> Key {
    let mut context = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256);
    for part in parts {
        context.update(part.as_bytes());
        context.update(&[0]);
    }
    let mut key = [0u8; 32];
    key.copy_from_slice(context.finish().as_ref());
    key
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_keys_ignore_order_space_and_duplicates() {
        let key = |scopes: &[&str]| scopes_key(&scopes.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>());
        assert_eq!(key(&["b", " a", "b", ""]), "a b");
        assert_eq!(key(&["a", "b"]), key(&["b", "a"]));
        assert_ne!(digest(&["ab", "c"]), digest(&["a", "bc"]));
    }
}
