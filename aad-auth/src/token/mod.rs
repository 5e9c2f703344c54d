//! Bearer-token validation: RS256 only, key by `kid` (or `x5t`), then every claim check, each
//! failing with its own [`TokenError`] variant.
//!
//! Tokens that pass are kept in a bounded cache ([`TokenCacheConfig`]): a repeated token costs a
//! keyed fast hash, a lookup and a comparison with the stored token instead of an RSA
//! verification, and is still refused the moment the uncached path would refuse it (expiry,
//! clock skew, its signing key gone from the key store).

// Parses network input: no indexing, no unchecked arithmetic, no unwrap (README, Security notes).
#![cfg_attr(
    not(test),
    deny(clippy::indexing_slicing, clippy::arithmetic_side_effects, clippy::unwrap_used, clippy::expect_used)
)]

mod cache;
mod claims;
pub(crate) mod compact;
mod error;

use std::sync::{Arc, OnceLock};
use std::time::UNIX_EPOCH;

pub use cache::{TokenCacheConfig, TokenCacheStats};
pub use compact::MAX_TOKEN_BYTES;
pub use error::TokenError;
use serde_json::{Map, Value};

use crate::authority::{IssuerPolicy, TokenVersion};
use crate::clock::SharedClock;
use crate::config::{AadAuthConfig, TokenVersions, is_guid};
use crate::keys::{KeyError, KeyRef, KeyStore, SigningKey};
use crate::user::User;
use cache::{Entry, TokenCache};

/// Audiences of Microsoft Graph: tokens for Graph are never for this API (and are not even
/// verifiable: they carry a nonce in the header).
const GRAPH_AUDIENCES: [&str; 2] = ["00000003-0000-0000-c000-000000000000", "https://graph.microsoft.com"];

/// A token that passed every check.
pub struct VerifiedToken {
    /// The decoded payload. The parsed claims are not kept: a cached token outlives its request
    /// by thousands of others, and freeing a map of ~40 allocations that long after they were
    /// made costs a CPU cache miss each (about 5 µs per eviction in the load test's profile,
    /// twice the parse). The user, the times and the checks' results are kept; `claims()`
    /// parses again.
    pub(crate) payload: Vec<u8>,
    /// The claims, parsed from `payload` on first use.
    claims: OnceLock<Map<String, Value>>,
    /// The estimated heap bytes of the parsed claims: the cache weighs an entry as if they were
    /// parsed, so that the memory bound holds whether or not `claims()` is called.
    pub(crate) claims_heap: usize,
    user: User,
    expires_at: i64,
    not_before: Option<i64>,
    issued_at: Option<i64>,
    version: TokenVersion,
    pub(crate) key: Arc<SigningKey>,
    /// The issuer policy the token was checked against (a cached token dies when it changes).
    pub(crate) policy: Arc<IssuerPolicy>,
}

impl VerifiedToken {
    /// All claims, as sent (parsed on the first call; the validation parsed the same bytes into
    /// a JSON object already, so this cannot fail).
    pub fn claims(&self) -> &Map<String, Value> {
        self.claims.get_or_init(|| serde_json::from_slice(&self.payload).unwrap_or_default())
    }
    /// The principal.
    pub fn user(&self) -> &User {
        &self.user
    }
    /// `exp`, in Unix seconds.
    pub fn expires_at(&self) -> i64 {
        self.expires_at
    }
    /// The token version (1 or 2).
    pub fn version(&self) -> u8 {
        match self.version {
            TokenVersion::V1 => 1,
            TokenVersion::V2 => 2,
        }
    }
    pub(crate) fn not_before(&self) -> Option<i64> {
        self.not_before
    }
    fn times(&self) -> Times {
        Times { exp: self.expires_at, nbf: self.not_before(), iat: self.issued_at }
    }
}

impl std::fmt::Debug for VerifiedToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerifiedToken")
            .field("claims", self.claims())
            .field("user", &self.user)
            .field("expires_at", &self.expires_at)
            .field("not_before", &self.not_before)
            .field("issued_at", &self.issued_at)
            .field("version", &self.version)
            .field("key", &self.key)
            .field("policy", &self.policy)
            .finish()
    }
}

/// What a cache entry says about a token (see [`TokenValidator::answer_from`]).
enum Hit {
    /// The entry is this token's and answers for it.
    Valid,
    /// The entry is another token's.
    OtherToken,
    /// The entry is this token's but no longer valid (times, key or issuer policy).
    Stale,
}

/// What a validator accepts, fixed at start-up.
#[derive(Debug, Clone)]
struct Settings {
    client_id: String,
    api_audience: String,
    client_app_ids: Vec<String>,
    allowed_tenants: Vec<String>,
    allow_any_tenant: bool,
    versions: TokenVersions,
    skew: i64,
}

/// Validates bearer tokens against the tenant's keys. Cheap to clone; clones share the key store.
#[derive(Clone, Debug)]
pub struct TokenValidator {
    settings: Arc<Settings>,
    keys: KeyStore,
    clock: SharedClock,
    /// Verified tokens by a keyed hash of the token (`None`: caching disabled).
    cache: Option<Arc<TokenCache>>,
}

/// The claims of a token whose signature verified, before the claim checks.
pub(crate) struct Verified {
    pub(crate) claims: Map<String, Value>,
    /// The decoded payload `claims` was parsed from.
    pub(crate) payload: Vec<u8>,
    pub(crate) key: Arc<SigningKey>,
    pub(crate) policy: Arc<IssuerPolicy>,
}

impl TokenValidator {
    pub(crate) fn new(config: &AadAuthConfig, keys: KeyStore, clock: SharedClock, cache: TokenCacheConfig) -> Self {
        let settings = Settings {
            client_id: config.client_id().to_owned(),
            api_audience: config.api_audience().to_owned(),
            client_app_ids: config.client_app_ids().to_vec(),
            allowed_tenants: config.allowed_tenants().to_vec(),
            allow_any_tenant: config.allow_any_tenant(),
            versions: config.token_versions(),
            skew: i64::try_from(config.clock_skew().as_secs()).unwrap_or(600),
        };
        Self { settings: Arc::new(settings), keys, clock, cache: TokenCache::new(cache).map(Arc::new) }
    }

    /// The key store behind this validator.
    pub fn keys(&self) -> &KeyStore {
        &self.keys
    }

    /// What the verified-token cache holds (`None` when caching is disabled).
    pub fn cache_stats(&self) -> Option<TokenCacheStats> {
        self.cache.as_ref().map(|cache| cache.stats())
    }

    /// Validates an access token: signature, then every claim. A token that passed before and
    /// would pass again (same bytes, times still good, same signing key in the key store) is
    /// answered from the cache, with the same `Arc`.
    ///
    /// # Errors
    /// The first check that failed.
    pub async fn validate(&self, token: &str) -> Result<Arc<VerifiedToken>, TokenError> {
        let Some(cache) = self.cache.as_deref() else {
            return Box::pin(self.validate_uncached(token)).await.map(Arc::new);
        };
        // The size cap comes before any work, hashing included.
        if token.len() > MAX_TOKEN_BYTES {
            return Err(TokenError::TooLarge);
        }
        let key = cache.key(token.as_bytes());
        // Twice at most: a stale entry is removed and the slot claimed again.
        for _ in 0..2 {
            match cache.get_or_guard(key).await {
                Ok(entry) => match self.answer_from(&entry, token.as_bytes()) {
                    Hit::Valid => return Ok(entry.token),
                    // Another token with the same hash (or a forgery): the full validation, and
                    // the other token's entry stays.
                    Hit::OtherToken => break,
                    Hit::Stale => cache.remove_stale(key, &entry.token),
                },
                Err(guard) => {
                    // On failure the guard is dropped unfilled: errors are never cached.
                    let verified = Arc::new(Box::pin(self.validate_uncached(token)).await?);
                    TokenCache::fill(guard, token, verified.clone());
                    return Ok(verified);
                }
            }
        }
        Box::pin(self.validate_uncached(token)).await.map(Arc::new)
    }

    /// The cached validation of `token` if it is in the cache and still valid, without waiting
    /// and without any other work: the request path tries this on the raw header bytes before
    /// parsing the header, which costs more than the hit itself. `None` means "not known here",
    /// never "invalid": call [`validate`](Self::validate) then. Only a token that was validated
    /// in full (so base64url segments and dots only) is ever in the cache, so a hit implies the
    /// bytes are a well-formed token.
    pub(crate) fn cached(&self, token: &[u8]) -> Option<Arc<VerifiedToken>> {
        let cache = self.cache.as_deref()?;
        if token.len() > MAX_TOKEN_BYTES {
            return None;
        }
        let entry = cache.peek(cache.key(token))?;
        matches!(self.answer_from(&entry, token), Hit::Valid).then_some(entry.token)
    }

    /// Whether a cache entry answers for `token`. The key only finds the entry; only the very same
    /// bytes are answered from it, and only while the uncached path would still accept them.
    fn answer_from(&self, entry: &Entry, token: &[u8]) -> Hit {
        if !entry.is_for(token) {
            Hit::OtherToken
        } else if self.still_valid(&entry.token) {
            Hit::Valid
        } else {
            Hit::Stale
        }
    }

    /// The full validation, without the cache. Its future (the key store's fetch included) is
    /// about 1 KB: `validate` boxes it, on a miss only, so that a cache hit's future stays small.
    async fn validate_uncached(&self, token: &str) -> Result<VerifiedToken, TokenError> {
        let verified = self.verify_signature(token).await?;
        self.check_access_token(verified)
    }

    /// Whether the uncached path would still accept a token it accepted before: the time checks
    /// again, with the same skew, and the same key and issuer policy still in force. Everything
    /// else it checked depends only on the token's bytes and this validator's fixed settings.
    fn still_valid(&self, token: &VerifiedToken) -> bool {
        let now = self.clock.now();
        let unix = now.duration_since(UNIX_EPOCH).map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
        token.times().check(unix, self.settings.skew).is_ok() && self.keys.still_trusts(&token.key, &token.policy, now)
    }

    /// Steps 1–4: size and shape, header, key, signature. Nothing about the claims is trusted
    /// before the signature verifies.
    pub(crate) async fn verify_signature(&self, token: &str) -> Result<Verified, TokenError> {
        // 1. Size and shape, before any decoding.
        let compact = compact::split(token)?;
        // 2. Header: RS256 only; key material named by the token is ignored.
        let header = compact::header(&compact)?;
        if header.alg != "RS256" {
            return Err(TokenError::DisallowedAlgorithm);
        }
        if header.typ.as_deref().is_some_and(|typ| !typ.eq_ignore_ascii_case("JWT")) {
            return Err(TokenError::UnsupportedType);
        }
        if header.crit.is_some() {
            return Err(TokenError::CriticalHeader);
        }
        let key_ref = match (&header.kid, &header.x5t) {
            (Some(kid), _) => KeyRef::Kid(kid),
            (None, Some(x5t)) => KeyRef::X5t(x5t),
            (None, None) => return Err(TokenError::MissingKeyId),
        };
        // 3. The key, refreshing the set once if it is new.
        let (key, policy) = self.keys.key(key_ref).await.map_err(|error| match error {
            KeyError::Unavailable => TokenError::KeysUnavailable,
            KeyError::Unknown => TokenError::UnknownKey,
        })?;
        // 4. The signature.
        let signature = compact::decode(compact.signature)?;
        key.public_key
            .verify_sig(compact.signing_input.as_bytes(), &signature)
            .map_err(|_| TokenError::BadSignature)?;
        let payload = compact::decode(compact.payload)?;
        let claims = claims::parse(&payload).map_err(TokenError::Malformed)?;
        Ok(Verified { claims, payload, key, policy })
    }

    /// Steps 5–12 for access tokens.
    fn check_access_token(&self, verified: Verified) -> Result<VerifiedToken, TokenError> {
        let Verified { claims, payload, key, policy } = verified;
        let settings = &*self.settings;
        // 5. Lifetime, with the configured skew.
        let times = self.check_times(&claims)?;
        // 6. Version.
        let version = match str_claim(&claims, "ver")? {
            Some("2.0") => TokenVersion::V2,
            Some("1.0") => TokenVersion::V1,
            Some(_) => return Err(TokenError::UnknownVersion),
            None => return Err(TokenError::MissingClaim("ver")),
        };
        let accepted = match version {
            TokenVersion::V1 => settings.versions.v1,
            TokenVersion::V2 => settings.versions.v2,
        };
        if !accepted {
            return Err(TokenError::VersionNotAccepted);
        }
        // 7. Tenant and issuer.
        let tid = self.check_tenant(&claims, &policy)?;
        let iss = str_claim(&claims, "iss")?.ok_or(TokenError::MissingClaim("iss"))?;
        if !policy.accepts(iss, version, tid) {
            return Err(TokenError::InvalidIssuer);
        }
        if !policy.key_issuer_covers(key.issuer.as_deref(), tid, iss) {
            return Err(TokenError::KeyNotForTenant);
        }
        // 8. Audience: the client id or the Application ID URI; Graph never.
        check_audience(&claims, &[&settings.client_id, &settings.api_audience])?;
        // 9. Subject and object id: the identity is (tid, oid).
        str_claim(&claims, "sub")?.filter(|s| !s.is_empty()).ok_or(TokenError::MissingClaim("sub"))?;
        str_claim(&claims, "oid")?.filter(|s| !s.is_empty()).ok_or(TokenError::MissingClaim("oid"))?;
        // 10. An access token for an API carries delegated scopes or app roles; an id_token
        //     (or any token without either) is refused.
        let scp = str_claim(&claims, "scp")?;
        let roles = match claims.get("roles") {
            None => None,
            Some(Value::Array(items)) if items.iter().all(Value::is_string) => Some(items.len()),
            Some(_) => return Err(TokenError::InvalidClaim("roles")),
        };
        if scp.is_none_or(|scp| scp.trim().is_empty()) && roles.unwrap_or(0) == 0 {
            return Err(TokenError::NotAnAccessToken);
        }
        // An id_token carries `roles` when the user holds app roles; its own claims give it away.
        if ID_TOKEN_CLAIMS.iter().any(|name| claims.contains_key(*name)) {
            return Err(TokenError::NotAnAccessToken);
        }
        if claims.get("groups").is_some_and(|groups| !groups.as_array().is_some_and(|g| g.iter().all(Value::is_string)))
        {
            return Err(TokenError::InvalidClaim("groups"));
        }
        // 11. The calling application, when an allow-list is configured.
        if !settings.client_app_ids.is_empty() {
            let app = str_claim(&claims, "azp")?.or(str_claim(&claims, "appid")?);
            if !app.is_some_and(|app| settings.client_app_ids.iter().any(|allowed| allowed == app)) {
                return Err(TokenError::ClientAppNotAllowed);
            }
        }
        // 12. The principal.
        let home = [policy.v2_issuer(tid), policy.v1_issuer(tid)];
        let user = User::from_claims(&claims, &[&home[0], &home[1]]);
        // The map is dropped here, while its memory is still in cache (see `VerifiedToken`).
        Ok(VerifiedToken {
            payload,
            claims: OnceLock::new(),
            claims_heap: cache::map_heap(&claims),
            user,
            expires_at: times.exp,
            not_before: times.nbf,
            issued_at: times.iat,
            version,
            key,
            policy,
        })
    }

    /// `exp` required; `nbf` and `iat` enforced when present; all with the skew. Non-numeric
    /// values are refused (a string `exp` is not a time).
    pub(crate) fn check_times(&self, claims: &Map<String, Value>) -> Result<Times, TokenError> {
        let now = self.clock.unix_seconds();
        let skew = self.settings.skew;
        let exp = time_claim(claims, "exp")?.ok_or(TokenError::MissingClaim("exp"))?;
        let nbf = time_claim(claims, "nbf")?;
        let iat = time_claim(claims, "iat")?;
        let times = Times { exp, nbf, iat };
        times.check(now, skew)?;
        Ok(times)
    }

    /// `tid`: a GUID, exactly once (no `TID` twin), the configured tenant or one allowed.
    pub(crate) fn check_tenant<'c>(
        &self,
        claims: &'c Map<String, Value>,
        policy: &IssuerPolicy,
    ) -> Result<&'c str, TokenError> {
        let tid = str_claim(claims, "tid")?.ok_or(TokenError::MissingClaim("tid"))?;
        if claims.keys().filter(|name| name.eq_ignore_ascii_case("tid")).count() > 1 {
            return Err(TokenError::InvalidClaim("tid"));
        }
        if !is_guid(tid) {
            return Err(TokenError::InvalidClaim("tid"));
        }
        let allowed = if policy.is_multi_tenant() {
            self.settings.allow_any_tenant || self.settings.allowed_tenants.iter().any(|t| t.eq_ignore_ascii_case(tid))
        } else {
            policy.tenant_guid().is_none_or(|guid| guid.eq_ignore_ascii_case(tid))
        };
        if allowed { Ok(tid) } else { Err(TokenError::TenantNotAllowed) }
    }

    /// Validates an id_token from the token endpoint (OpenID Connect Core §3.1.3.7): signature,
    /// issuer and tenant as for access tokens, `aud` = this client (with `azp` when there are
    /// several audiences), `iat` required and recent, `nonce` equal to the login's.
    ///
    /// # Errors
    /// The first check that failed.
    pub(crate) async fn validate_id_token(&self, token: &str, nonce: &str) -> Result<IdTokenClaims, TokenError> {
        let Verified { claims, key, policy, .. } = self.verify_signature(token).await?;
        let times = self.check_times(&claims)?;
        let iat = times.iat.ok_or(TokenError::MissingClaim("iat"))?;
        if self.clock.unix_seconds().saturating_sub(iat) > ID_TOKEN_MAX_AGE_SECONDS.saturating_add(self.settings.skew) {
            return Err(TokenError::TooOld);
        }
        let version = match str_claim(&claims, "ver")? {
            Some("1.0") => TokenVersion::V1,
            _ => TokenVersion::V2,
        };
        let tid = self.check_tenant(&claims, &policy)?;
        let iss = str_claim(&claims, "iss")?.ok_or(TokenError::MissingClaim("iss"))?;
        // id_tokens come from the v2 endpoint; B2C-style authorities accept their own issuer.
        if !(policy.accepts(iss, TokenVersion::V2, tid) || (!policy.is_entra() && policy.accepts(iss, version, tid))) {
            return Err(TokenError::InvalidIssuer);
        }
        if !policy.key_issuer_covers(key.issuer.as_deref(), tid, iss) {
            return Err(TokenError::KeyNotForTenant);
        }
        let client_id = self.settings.client_id.as_str();
        check_audience(&claims, &[client_id])?;
        if claims.get("aud").is_some_and(Value::is_array) && str_claim(&claims, "azp")? != Some(client_id) {
            return Err(TokenError::InvalidAudience);
        }
        let sent = str_claim(&claims, "nonce")?.ok_or(TokenError::MissingClaim("nonce"))?;
        if aws_lc_rs::constant_time::verify_slices_are_equal(sent.as_bytes(), nonce.as_bytes()).is_err() {
            return Err(TokenError::NonceMismatch);
        }
        str_claim(&claims, "sub")?.filter(|s| !s.is_empty()).ok_or(TokenError::MissingClaim("sub"))?;
        str_claim(&claims, "oid")?.filter(|s| !s.is_empty()).ok_or(TokenError::MissingClaim("oid"))?;
        let home = [policy.v2_issuer(tid), policy.v1_issuer(tid)];
        let user = User::from_claims(&claims, &[&home[0], &home[1]]);
        Ok(IdTokenClaims { user, expires_at: times.exp })
    }
}

/// Claims only id_tokens carry (OpenID Connect Core §2, §3.3.2.11): a token with one is not an
/// access token, whatever else it holds.
const ID_TOKEN_CLAIMS: [&str; 3] = ["nonce", "at_hash", "c_hash"];

/// An id_token older than this (plus the skew) is refused at login: it was just issued by the
/// token endpoint, so an old one is a replay.
const ID_TOKEN_MAX_AGE_SECONDS: i64 = 600;

/// What a login learns from a valid id_token.
#[derive(Debug, Clone)]
pub(crate) struct IdTokenClaims {
    pub(crate) user: User,
    pub(crate) expires_at: i64,
}

/// Lifetime claims of a token.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Times {
    pub(crate) exp: i64,
    pub(crate) nbf: Option<i64>,
    pub(crate) iat: Option<i64>,
}

impl Times {
    /// The time checks, shared by the full validation and cache hits so that both refuse the
    /// same tokens at the same instant.
    fn check(&self, now: i64, skew: i64) -> Result<(), TokenError> {
        if now > self.exp.saturating_add(skew) {
            return Err(TokenError::Expired);
        }
        if let Some(nbf) = self.nbf
            && (nbf > self.exp || now.saturating_add(skew) < nbf)
        {
            return Err(TokenError::NotYetValid);
        }
        if self.iat.is_some_and(|iat| iat > now.saturating_add(skew)) {
            return Err(TokenError::IssuedInFuture);
        }
        Ok(())
    }
}

/// Hooks for the criterion benchmarks (`aad-auth/benches`). Not a public API.
#[cfg(feature = "testing")]
#[doc(hidden)]
pub mod bench {
    use super::{KeyRef, TokenValidator};

    /// The key-store lookup a validation does for `kid` (no fetch once the keys are loaded).
    pub async fn key_lookup(validator: &TokenValidator, kid: &str) -> bool {
        validator.keys.key(KeyRef::Kid(kid)).await.is_ok()
    }
}

pub(crate) fn str_claim<'c>(claims: &'c Map<String, Value>, name: &'static str) -> Result<Option<&'c str>, TokenError> {
    match claims.get(name) {
        None => Ok(None),
        Some(Value::String(value)) => Ok(Some(value)),
        Some(_) => Err(TokenError::InvalidClaim(name)),
    }
}

fn time_claim(claims: &Map<String, Value>, name: &'static str) -> Result<Option<i64>, TokenError> {
    match claims.get(name) {
        None => Ok(None),
        Some(Value::Number(number)) => number
            .as_i64()
            .or_else(|| number.as_f64().filter(|f| f.is_finite() && f.abs() < 1e15).map(|f| f.floor() as i64))
            .map(Some)
            .ok_or(TokenError::InvalidClaim(name)),
        Some(_) => Err(TokenError::InvalidClaim(name)),
    }
}

/// `aud` as a string or an array of strings; one of `accepted` must be present. Extra audiences
/// next to ours are tolerated in access tokens (RFC 7519 §4.1.3); a Graph audience is not.
pub(crate) fn check_audience(claims: &Map<String, Value>, accepted: &[&str]) -> Result<(), TokenError> {
    let matches = |aud: &str| accepted.contains(&aud);
    match claims.get("aud") {
        None => Err(TokenError::MissingClaim("aud")),
        Some(Value::String(aud)) if matches(aud) => Ok(()),
        Some(Value::Array(items)) if items.iter().all(Value::is_string) => {
            let auds: Vec<&str> = items.iter().filter_map(Value::as_str).collect();
            if auds.iter().any(|aud| GRAPH_AUDIENCES.contains(aud)) || !auds.iter().any(|aud| matches(aud)) {
                Err(TokenError::InvalidAudience)
            } else {
                Ok(())
            }
        }
        Some(Value::String(_)) => Err(TokenError::InvalidAudience),
        Some(_) => Err(TokenError::InvalidClaim("aud")),
    }
}
