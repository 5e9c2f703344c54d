//! The in-memory state of every flow: authorization codes, device codes, refresh tokens and
//! the emulator's browser sessions, with their lifetimes. Gone when the tenant stops.

// Parses network input: no indexing, no unchecked arithmetic, no unwrap (README, Security notes).
#![cfg_attr(
    not(test),
    deny(clippy::indexing_slicing, clippy::arithmetic_side_effects, clippy::unwrap_used, clippy::expect_used)
)]

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

use super::proto::OAuthError;
use super::registry::random_secret;

/// Authorization codes live 10 minutes.
pub(crate) const CODE_SECONDS: i64 = 600;
/// Device codes live 15 minutes (`expires_in: 900`, as Entra).
pub(crate) const DEVICE_CODE_SECONDS: i64 = 900;
/// Refresh tokens: 90 days, 24 hours for single-page apps (as Entra).
pub(crate) const REFRESH_SECONDS: i64 = 90 * 24 * 3600;
pub(crate) const SPA_REFRESH_SECONDS: i64 = 24 * 3600;

/// What an authorization code stands for.
#[derive(Debug, Clone)]
pub(crate) struct AuthCode {
    pub(crate) client_id: String,
    pub(crate) redirect_uri: String,
    pub(crate) scope: String,
    pub(crate) nonce: Option<String>,
    pub(crate) challenge: Option<String>,
    pub(crate) spa: bool,
    pub(crate) user_oid: String,
    /// Authentication contexts the authorize request's `claims` asked for.
    pub(crate) acrs: Vec<String>,
    pub(crate) expires_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum DeviceStatus {
    Pending,
    Approved(String),
    Declined,
}

#[derive(Debug, Clone)]
struct DeviceGrant {
    client_id: String,
    user_code: String,
    scope: String,
    acrs: Vec<String>,
    expires_at: i64,
    status: DeviceStatus,
}

#[derive(Debug, Clone)]
pub(crate) struct RefreshGrant {
    pub(crate) client_id: String,
    pub(crate) scope: String,
    pub(crate) user_oid: String,
    pub(crate) spa: bool,
    /// Authentication contexts satisfied at sign-in; refreshed tokens keep them.
    pub(crate) acrs: Vec<String>,
    pub(crate) expires_at: i64,
}

#[derive(Debug, Default)]
struct FlowState {
    /// Code → grant; `None` once redeemed (kept to tell reuse from garbage).
    codes: HashMap<String, Option<AuthCode>>,
    code_expiry: HashMap<String, i64>,
    devices: HashMap<String, DeviceGrant>,
    refresh: HashMap<String, RefreshGrant>,
    /// Session id (cookie) → user oid.
    sessions: HashMap<String, String>,
}

/// In-flight OAuth state: authorization codes, device codes, refresh tokens and browser
/// sessions. In memory, gone when the tenant stops.
#[derive(Debug, Default)]
pub(crate) struct Flows {
    state: Mutex<FlowState>,
}

/// What redeeming an authorization code finds.
pub(crate) enum Redeem {
    Ok(AuthCode),
    Unknown,
    Used,
}

/// What a device-code poll finds.
pub(crate) enum Poll {
    Approved { user_oid: String, scope: String, acrs: Vec<String> },
    Pending,
    Declined,
    Expired,
    Unknown,
    WrongClient,
}

/// A device code as the `/device` page sees it.
#[derive(Debug, Clone)]
pub(crate) struct PendingDevice {
    pub(crate) client_id: String,
    pub(crate) scope: String,
}

impl Flows {
    fn lock(&self) -> MutexGuard<'_, FlowState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Stores a new authorization code and forgets codes that expired long ago.
    pub(crate) fn insert_code(&self, code: String, grant: AuthCode, now: i64) {
        let mut state = self.lock();
        let stale: Vec<String> = state
            .code_expiry
            .iter()
            .filter(|(_, expiry)| expiry.saturating_add(3600) < now)
            .map(|(code, _)| code.clone())
            .collect();
        for code in stale {
            state.codes.remove(&code);
            state.code_expiry.remove(&code);
        }
        state.code_expiry.insert(code.clone(), grant.expires_at);
        state.codes.insert(code, Some(grant));
    }

    /// Burns `code` (any attempt uses it up) and returns what it stood for.
    pub(crate) fn redeem_code(&self, code: &str) -> Redeem {
        match self.lock().codes.get_mut(code) {
            None => Redeem::Unknown,
            Some(slot) => slot.take().map_or(Redeem::Used, Redeem::Ok),
        }
    }

    /// Stores a refresh token and forgets those that expired long ago (a long-running tenant
    /// stays small; a recently expired one still gets its own error).
    pub(crate) fn insert_refresh(&self, token: String, grant: RefreshGrant, now: i64) {
        let mut state = self.lock();
        state.refresh.retain(|_, grant| grant.expires_at.saturating_add(3600) > now);
        state.refresh.insert(token, grant);
    }

    /// Takes a refresh token once `check` accepts its grant (rotation: it cannot be used
    /// again), with what `check` made of it. A refused attempt leaves the token alone.
    pub(crate) fn take_refresh<T>(
        &self,
        token: &str,
        check: impl FnOnce(&RefreshGrant) -> Result<T, OAuthError>,
    ) -> Result<(RefreshGrant, T), OAuthError> {
        let mut state = self.lock();
        let grant = state.refresh.get(token).ok_or_else(|| {
            OAuthError::invalid_grant(
                70_000,
                "The provided value for the 'refresh_token' is not valid (unknown, revoked, or already used: refresh \
                 tokens rotate).",
            )
        })?;
        let checked = check(grant)?;
        let grant = state
            .refresh
            .remove(token)
            .ok_or_else(|| OAuthError::invalid_grant(70_000, "The refresh token is gone."))?;
        Ok((grant, checked))
    }

    /// Stores a new device code; returns its user code.
    pub(crate) fn insert_device(
        &self,
        device_code: String,
        client_id: String,
        scope: String,
        acrs: Vec<String>,
        expires_at: i64,
    ) -> String {
        let mut state = self.lock();
        let user_code = loop {
            let candidate = user_code();
            if !state.devices.values().any(|grant| grant.user_code == candidate) {
                break candidate;
            }
        };
        state.devices.retain(|_, grant| grant.expires_at.saturating_add(3600) > expires_at);
        let grant = DeviceGrant {
            client_id,
            user_code: user_code.clone(),
            scope,
            acrs,
            expires_at,
            status: DeviceStatus::Pending,
        };
        state.devices.insert(device_code, grant);
        user_code
    }

    /// The pending device code with this user code (case and dashes ignored).
    pub(crate) fn pending_device(&self, user_code: &str, now: i64) -> Option<PendingDevice> {
        let wanted = normalise_user_code(user_code);
        self.lock()
            .devices
            .values()
            .find(|grant| grant.user_code == wanted && grant.status == DeviceStatus::Pending && grant.expires_at > now)
            .map(|grant| PendingDevice { client_id: grant.client_id.clone(), scope: grant.scope.clone() })
    }

    /// Approves (`Some(oid)`) or declines (`None`) the pending device code `user_code`.
    pub(crate) fn decide_device(&self, user_code: &str, user_oid: Option<String>, now: i64) -> bool {
        let wanted = normalise_user_code(user_code);
        let mut state = self.lock();
        let grant = state
            .devices
            .values_mut()
            .find(|grant| grant.user_code == wanted && grant.status == DeviceStatus::Pending && grant.expires_at > now);
        match grant {
            Some(grant) => {
                grant.status = user_oid.map_or(DeviceStatus::Declined, DeviceStatus::Approved);
                true
            }
            None => false,
        }
    }

    /// One poll of the device flow. With an automatic user, a pending code is approved for
    /// them at the first poll.
    pub(crate) fn poll_device(&self, device_code: &str, client_id: &str, now: i64, auto_user: Option<&str>) -> Poll {
        let mut state = self.lock();
        let Some(grant) = state.devices.get_mut(device_code) else {
            return Poll::Unknown;
        };
        if grant.client_id != client_id {
            return Poll::WrongClient;
        }
        if grant.expires_at <= now {
            return Poll::Expired;
        }
        if let (DeviceStatus::Pending, Some(oid)) = (&grant.status, auto_user) {
            grant.status = DeviceStatus::Approved(oid.to_owned());
        }
        match grant.status.clone() {
            DeviceStatus::Pending => Poll::Pending,
            DeviceStatus::Declined => {
                state.devices.remove(device_code);
                Poll::Declined
            }
            DeviceStatus::Approved(user_oid) => {
                let (scope, acrs) = (grant.scope.clone(), grant.acrs.clone());
                state.devices.remove(device_code);
                Poll::Approved { user_oid, scope, acrs }
            }
        }
    }

    /// Starts a browser session for `user_oid`; returns its id (the cookie value).
    pub(crate) fn start_session(&self, user_oid: &str) -> String {
        let id = random_secret(24);
        self.lock().sessions.insert(id.clone(), user_oid.to_owned());
        id
    }

    /// The user of a browser session.
    pub(crate) fn session_user(&self, id: &str) -> Option<String> {
        self.lock().sessions.get(id).cloned()
    }

    /// Ends a browser session.
    pub(crate) fn end_session(&self, id: &str) {
        self.lock().sessions.remove(id);
    }
}

/// Eight letters from an alphabet without look-alikes, shown as `ABCD-EFGH`.
fn user_code() -> String {
    const ALPHABET: &[u8] = b"BCDFGHJKLMNPQRSTVWXZ";
    let raw = random_secret(16);
    raw.bytes()
        .filter_map(|b| usize::from(b).checked_rem(ALPHABET.len()).and_then(|i| ALPHABET.get(i)))
        .take(8)
        .map(|&letter| char::from(letter))
        .collect()
}

fn normalise_user_code(code: &str) -> String {
    code.chars().filter(char::is_ascii_alphanumeric).map(|c| c.to_ascii_uppercase()).collect()
}

/// The user code as shown to people.
pub(crate) fn display_user_code(code: &str) -> String {
    match code.len() {
        8 => format!("{}-{}", &code[..4], &code[4..]),
        _ => code.to_owned(),
    }
}
