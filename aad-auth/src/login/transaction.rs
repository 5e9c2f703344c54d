//! Pending logins, kept in a short-lived encrypted cookie: bound to the browser that started
//! them, single use, ten minutes at most, and nothing stored on the server before a login
//! succeeds (so a flood of `/login` requests costs no memory or Redis).

use actix_web::HttpRequest;
use actix_web::cookie::time::Duration as CookieDuration;
use actix_web::cookie::{Cookie, CookieJar, SameSite};
use serde::{Deserialize, Serialize};

use crate::session::Sessions;

/// How long a login may take.
pub(crate) const TRANSACTION_TTL_SECONDS: i64 = 600;
/// Logins started in parallel (tabs) that are kept; older ones are dropped.
const MAX_PENDING: usize = 3;

/// One login in flight.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Transaction {
    pub(crate) state: String,
    pub(crate) nonce: String,
    pub(crate) verifier: String,
    /// Sent again, byte for byte, with the code.
    pub(crate) redirect_uri: String,
    /// Where the browser goes after the login (already checked).
    pub(crate) target: String,
    pub(crate) created_at: i64,
    /// A step-up's authentication contexts (checked ids), which the new token must satisfy.
    #[serde(default)]
    pub(crate) auth_context: Vec<String>,
    /// Incremental consent: the scopes this login asked Entra for besides the configured ones.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) consent_scopes: Vec<String>,
}

fn cookie_name(sessions: &Sessions) -> String {
    format!("{}_login", sessions.cookie_name())
}

/// The pending logins of this browser that have not expired. A missing, tampered or foreign
/// cookie is an empty list.
pub(crate) fn pending(req: &HttpRequest, sessions: &Sessions) -> Vec<Transaction> {
    let name = cookie_name(sessions);
    let Some(cookie) = req.cookie(&name) else { return Vec::new() };
    let mut jar = CookieJar::new();
    jar.add_original(cookie);
    let Some(decrypted) = jar.private(sessions.key()).get(&name) else { return Vec::new() };
    let list: Vec<Transaction> = serde_json::from_str(decrypted.value()).unwrap_or_default();
    let now = sessions.now();
    list.into_iter()
        .filter(|tx| {
            now.saturating_sub(tx.created_at) <= TRANSACTION_TTL_SECONDS && tx.created_at <= now.saturating_add(60)
        })
        .collect()
}

/// The cookie holding `list` (or removing the cookie when it is empty).
pub(crate) fn cookie(sessions: &Sessions, mut list: Vec<Transaction>, path: &str) -> Cookie<'static> {
    let name = cookie_name(sessions);
    if list.len() > MAX_PENDING {
        list.drain(..list.len().saturating_sub(MAX_PENDING));
    }
    let mut cookie = if list.is_empty() {
        let mut removal = Cookie::new(name, "");
        removal.make_removal();
        removal
    } else {
        let value = serde_json::to_string(&list).unwrap_or_default();
        let mut jar = CookieJar::new();
        jar.private_mut(sessions.key()).add(Cookie::new(name.clone(), value));
        let mut encrypted = jar.get(&name).cloned().unwrap_or_else(|| Cookie::new(name, ""));
        encrypted.set_max_age(CookieDuration::seconds(TRANSACTION_TTL_SECONDS));
        encrypted
    };
    cookie.set_path(path.to_owned());
    cookie.set_http_only(true);
    cookie.set_secure(sessions.secure());
    // A Strict cookie would not come back with Entra's redirect to the callback: the login's own
    // cookie is at most Lax (SESSION_SAME_SITE=strict applies to the session cookie).
    cookie.set_same_site(match sessions.same_site() {
        SameSite::Strict => SameSite::Lax,
        other => other,
    });
    cookie
}
