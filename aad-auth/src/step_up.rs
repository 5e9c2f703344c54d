//! Conditional Access authentication contexts (`acrs`, `c1`..`c99`) and the claims challenge that
//! asks a client for a token satisfying one of them (Microsoft's "claims challenge":
//! `error="insufficient_claims"` with `claims` = the base64 of
//! `{"access_token":{"acrs":{"essential":true,"value":"c1"}}}`).
//!
//! The claims JSON is only ever built here, from ids that passed [`is_auth_context_id`]; no
//! caller-supplied JSON is passed on.

// Parses network input: no indexing, no unchecked arithmetic, no unwrap (README, Security notes).
#![cfg_attr(
    not(test),
    deny(clippy::indexing_slicing, clippy::arithmetic_side_effects, clippy::unwrap_used, clippy::expect_used)
)]

use std::fmt;

use base64::Engine as _;
use serde_json::json;

/// Whether `id` is an authentication-context id Entra issues: `c1` to `c99`, lower case, no
/// leading zero.
///
/// ```
/// use aad_auth::is_auth_context_id;
/// assert!(is_auth_context_id("c1") && is_auth_context_id("c99"));
/// assert!(!is_auth_context_id("c0") && !is_auth_context_id("c100") && !is_auth_context_id("C1"));
/// assert!(!is_auth_context_id("c01") && !is_auth_context_id("x1"));
/// ```
pub fn is_auth_context_id(id: &str) -> bool {
    let Some(digits) = id.strip_prefix('c') else { return false };
    !digits.is_empty() && digits.len() <= 2 && !digits.starts_with('0') && digits.bytes().all(|b| b.is_ascii_digit())
}

/// A value given to [`crate::Policy::try_auth_context`] that is not `c1`..`c99`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not an authentication context id (expected c1 to c99): {0:?}")]
pub struct InvalidAuthContext(pub String);

/// The authentication contexts a route requires (any one of them), as a claims challenge.
///
/// ```
/// use aad_auth::ClaimsChallenge;
/// let challenge = ClaimsChallenge::new(["c1"]).unwrap();
/// assert_eq!(challenge.claims_json(), r#"{"access_token":{"acrs":{"essential":true,"value":"c1"}}}"#);
/// let several = ClaimsChallenge::new(["c1", "c25"]).unwrap();
/// assert_eq!(several.claims_json(), r#"{"access_token":{"acrs":{"essential":true,"values":["c1","c25"]}}}"#);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimsChallenge {
    ids: Vec<String>,
}

impl ClaimsChallenge {
    /// A challenge for these ids, in order, duplicates dropped; `None` when there is none or
    /// one is not `c1`..`c99`.
    pub fn new<I: IntoIterator<Item = S>, S: AsRef<str>>(ids: I) -> Option<Self> {
        let mut checked: Vec<String> = Vec::new();
        for id in ids {
            let id = id.as_ref();
            if !is_auth_context_id(id) {
                return None;
            }
            if !checked.iter().any(|known| known == id) {
                checked.push(id.to_owned());
            }
        }
        (!checked.is_empty()).then_some(Self { ids: checked })
    }

    /// The required ids (any one of them satisfies the route).
    pub fn ids(&self) -> &[String] {
        &self.ids
    }

    /// The claims request as Entra takes it in the `claims` parameter: `"value"` for one id,
    /// `"values"` for several.
    pub fn claims_json(&self) -> String {
        let acrs = match self.ids.as_slice() {
            [only] => json!({ "essential": true, "value": only }),
            several => json!({ "essential": true, "values": several }),
        };
        json!({ "access_token": { "acrs": acrs } }).to_string()
    }

    /// The `claims` value of the `WWW-Authenticate` challenge: the claims JSON in base64 (with
    /// padding, as Entra-protected APIs send it and msal's samples decode it).
    pub fn claims_base64(&self) -> String {
        base64::engine::general_purpose::STANDARD.encode(self.claims_json())
    }

    /// The ids joined by commas, as the login route takes them (`auth_context=c1,c2`).
    pub(crate) fn joined(&self) -> String {
        self.ids.join(",")
    }
}

impl fmt::Display for ClaimsChallenge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.ids.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_c1_to_c99() {
        for good in ["c1", "c9", "c10", "c42", "c99"] {
            assert!(is_auth_context_id(good), "{good}");
        }
        for bad in ["", "c", "c0", "c00", "c01", "c100", "C1", "x1", "c1 ", "c-1", "c+1", "c١"] {
            assert!(!is_auth_context_id(bad), "{bad}");
        }
    }

    #[test]
    fn challenges() {
        assert_eq!(ClaimsChallenge::new(Vec::<String>::new()), None);
        assert_eq!(ClaimsChallenge::new(["c1", "c0"]), None);
        let challenge = ClaimsChallenge::new(["c2", "c1", "c2"]).unwrap();
        assert_eq!(challenge.ids(), ["c2", "c1"]);
        assert_eq!(challenge.joined(), "c2,c1");
        let decoded = base64::engine::general_purpose::STANDARD.decode(challenge.claims_base64()).unwrap();
        let value: serde_json::Value = serde_json::from_slice(&decoded).unwrap();
        assert_eq!(value, json!({"access_token": {"acrs": {"essential": true, "values": ["c2", "c1"]}}}));
    }
}
