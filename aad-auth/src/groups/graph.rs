//! Microsoft Graph's `checkMemberGroups`, called as the app itself: an app-only token per tenant
//! by client credentials (kept until shortly before it expires), the route's groups in batches
//! of 20 (Graph's limit per call), and Graph's throttling honoured.

// Parses network input: no indexing, no unchecked arithmetic, no unwrap (README, Security notes).
#![cfg_attr(
    not(test),
    deny(clippy::indexing_slicing, clippy::arithmetic_side_effects, clippy::unwrap_used, clippy::expect_used)
)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use futures_util::FutureExt as _;
use futures_util::future::BoxFuture;
use url::Url;

use super::answers::{Outcome, Unavailable};
use crate::client::{ClientConfig, TokenClient};
use crate::clock::SharedClock;
use crate::http::{describe, display_url, read_capped};
use crate::secret::AccessToken;

/// Graph checks at most this many groups per `checkMemberGroups` call.
pub(crate) const MAX_GROUPS_PER_CALL: usize = 20;
/// Graph's answers larger than this are refused (20 GUIDs take about 1 KB).
const MAX_ANSWER_BYTES: usize = 64 * 1024;
/// What the client is told to wait when Graph failed without saying how long.
const RETRY_AFTER: u32 = 5;
/// The longest `Retry-After` of Graph's that is honoured as given.
const MAX_RETRY_AFTER: u32 = 3600;
/// A token is renewed this long before it expires (or at half its life, when that is shorter).
const RENEW_BEFORE: Duration = Duration::from_secs(300);
/// Tenants whose state (token, throttling) is kept; a multi-tenant app past this starts over.
const MAX_TENANTS: usize = 1024;

/// An app-only token and when it is to be renewed.
struct CachedToken {
    token: AccessToken,
    renew_at: SystemTime,
}

/// What is kept per tenant: its token client, its token, and until when Graph throttles us.
struct TenantGraph {
    tokens: TokenClient,
    token: tokio::sync::Mutex<Option<CachedToken>>,
    throttled_until: Mutex<Option<SystemTime>>,
}

/// The Graph client of one app.
pub(crate) struct Graph {
    /// `{graph}/v1.0/users/`.
    users: Url,
    /// `{graph}/.default`.
    scope: String,
    http: reqwest::Client,
    app: ClientConfig,
    clock: SharedClock,
    tenants: Mutex<HashMap<String, Arc<TenantGraph>>>,
}

/// A failure that the client may retry after [`RETRY_AFTER`].
fn unavailable() -> Unavailable {
    Unavailable { retry_after: RETRY_AFTER }
}

impl Graph {
    /// Calls `graph` (an origin) with `http` as the app `app` describes.
    pub(crate) fn new(graph: &Url, app: ClientConfig, http: reqwest::Client, clock: SharedClock) -> Option<Self> {
        let origin = graph.origin().ascii_serialization();
        let users = Url::parse(&format!("{origin}/v1.0/users/")).ok()?;
        Some(Self { users, scope: format!("{origin}/.default"), http, app, clock, tenants: Mutex::default() })
    }

    fn tenant(&self, tid: &str) -> Arc<TenantGraph> {
        let mut tenants = self.tenants.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(tenant) = tenants.get(tid) {
            return tenant.clone();
        }
        if tenants.len() >= MAX_TENANTS {
            tenants.clear();
        }
        let tenant = Arc::new(TenantGraph {
            tokens: TokenClient::with_http(self.app.for_tenant(tid), self.http.clone()),
            token: tokio::sync::Mutex::new(None),
            throttled_until: Mutex::new(None),
        });
        tenants.insert(tid.to_owned(), tenant.clone());
        tenant
    }

    /// Whether user `oid` of tenant `tid` is in any of `groups` (transitively, as Graph decides).
    pub(crate) fn is_member(
        self: Arc<Self>,
        tid: String,
        oid: String,
        groups: Vec<String>,
    ) -> BoxFuture<'static, Outcome> {
        async move {
            if !crate::config::is_guid(&oid) || !crate::config::is_guid(&tid) {
                // Entra's object and tenant ids are GUIDs; anything else names nobody Graph knows.
                return Ok(false);
            }
            let tenant = self.tenant(&tid);
            for batch in groups.chunks(MAX_GROUPS_PER_CALL) {
                if self.check_batch(&tenant, &oid, batch).await? {
                    return Ok(true);
                }
            }
            Ok(false)
        }
        .boxed()
    }

    /// One `checkMemberGroups` call; a refused token is renewed and the call made once more.
    async fn check_batch(&self, tenant: &TenantGraph, oid: &str, batch: &[String]) -> Outcome {
        for attempt in 0..2 {
            self.still_throttled(tenant)?;
            let token = self.token(tenant).await?;
            match self.call(tenant, &token, oid, batch).await? {
                Answer::Groups(found) => return Ok(found.iter().any(|id| batch.contains(id))),
                Answer::NoSuchUser => return Ok(false),
                Answer::TokenRefused if attempt == 0 => {
                    *tenant.token.lock().await = None;
                }
                Answer::TokenRefused => {
                    tracing::error!("Microsoft Graph refused the app's token twice (401); groups overage unresolved");
                    return Err(unavailable());
                }
            }
        }
        Err(unavailable())
    }

    /// 503 while Graph's `Retry-After` has not elapsed: no call is made before it does.
    fn still_throttled(&self, tenant: &TenantGraph) -> Result<(), Unavailable> {
        let until = *tenant.throttled_until.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let Some(until) = until else { return Ok(()) };
        match until.duration_since(self.clock.now()) {
            Ok(left) if !left.is_zero() => {
                let seconds = left.as_secs().saturating_add(u64::from(left.subsec_nanos() > 0));
                Err(Unavailable { retry_after: u32::try_from(seconds).unwrap_or(MAX_RETRY_AFTER).max(1) })
            }
            _ => Ok(()),
        }
    }

    /// No call to the tenant's Graph for `seconds`.
    fn throttle(&self, tenant: &TenantGraph, seconds: u32) {
        let now = self.clock.now();
        let until = now.checked_add(Duration::from_secs(u64::from(seconds))).unwrap_or(now);
        *tenant.throttled_until.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(until);
    }

    /// The tenant's app-only token for Graph, fetched when there is none or it is due for
    /// renewal; concurrent requests wait for one fetch.
    async fn token(&self, tenant: &TenantGraph) -> Result<AccessToken, Unavailable> {
        let mut slot = tenant.token.lock().await;
        let now = self.clock.now();
        if let Some(cached) = slot.as_ref()
            && cached.renew_at > now
        {
            return Ok(cached.token.clone());
        }
        let fetched = tenant.tokens.client_credentials(&self.scope).await.map_err(|error| {
            tracing::error!(%error, "cannot get an app-only token for Microsoft Graph; groups overage unresolved");
            unavailable()
        })?;
        let lifetime = fetched.expires_in.unwrap_or_default();
        let renew_in = lifetime.saturating_sub(RENEW_BEFORE).max(lifetime.checked_div(2).unwrap_or_default());
        let renew_at = now.checked_add(renew_in).unwrap_or(now);
        *slot = Some(CachedToken { token: fetched.access_token.clone(), renew_at });
        Ok(fetched.access_token)
    }

    async fn call(
        &self,
        tenant: &TenantGraph,
        token: &AccessToken,
        oid: &str,
        batch: &[String],
    ) -> Result<Answer, Unavailable> {
        let url = self.users.join(&format!("{oid}/checkMemberGroups")).map_err(|_| unavailable())?;
        let shown = display_url(&self.users);
        let sent = self
            .http
            .post(url)
            .bearer_auth(token.expose_secret())
            .header(reqwest::header::ACCEPT, "application/json")
            .json(&serde_json::json!({ "groupIds": batch }))
            .send()
            .await;
        let mut response = sent.map_err(|error| {
            tracing::warn!(graph = %shown, reason = %describe(&error), "Microsoft Graph unreachable; groups overage unresolved");
            unavailable()
        })?;
        let status = response.status().as_u16();
        match status {
            200 => {}
            401 => return Ok(Answer::TokenRefused),
            404 => return Ok(Answer::NoSuchUser),
            429 => {
                let seconds = retry_after(response.headers()).unwrap_or(RETRY_AFTER).clamp(1, MAX_RETRY_AFTER);
                self.throttle(tenant, seconds);
                tracing::warn!(
                    retry_after = seconds,
                    "Microsoft Graph throttles the app (429); groups overage unresolved"
                );
                return Err(Unavailable { retry_after: seconds });
            }
            403 => {
                tracing::error!(
                    "Microsoft Graph refused checkMemberGroups (403): grant the app the application permissions \
                     User.Read.All and GroupMember.Read.All on Microsoft Graph, with admin consent (README, Groups \
                     overage); groups overage unresolved"
                );
                return Err(unavailable());
            }
            _ => {
                tracing::warn!(graph = %shown, status, "Microsoft Graph failed; groups overage unresolved");
                return Err(unavailable());
            }
        }
        let body = read_capped(&mut response, &shown, MAX_ANSWER_BYTES).await.map_err(|error| {
            tracing::warn!(%error, "Microsoft Graph's answer could not be read; groups overage unresolved");
            unavailable()
        })?;
        let answer: GroupIds = serde_json::from_slice(&body).map_err(|_| {
            tracing::warn!(graph = %shown, "Microsoft Graph's answer is not a list of group ids; groups overage unresolved");
            unavailable()
        })?;
        Ok(Answer::Groups(answer.value))
    }
}

/// What one call said.
enum Answer {
    /// The groups of the batch the user is in.
    Groups(Vec<String>),
    /// 404: no such user in the directory (deleted since the token was issued): in no group.
    NoSuchUser,
    /// 401: the token is not (or no longer) accepted.
    TokenRefused,
}

#[derive(serde::Deserialize)]
struct GroupIds {
    value: Vec<String>,
}

/// `Retry-After` in seconds (Graph sends seconds; an HTTP date is not used by it).
fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<u32> {
    let value = headers.get(reqwest::header::RETRY_AFTER)?.to_str().ok()?;
    value.trim().parse::<u32>().ok()
}
