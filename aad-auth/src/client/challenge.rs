//! Reading an API's claims challenge (Conditional Access step-up) on the client side.

// Parses network input: no indexing, no unchecked arithmetic, no unwrap (README, Security notes).
#![cfg_attr(
    not(test),
    deny(clippy::indexing_slicing, clippy::arithmetic_side_effects, clippy::unwrap_used, clippy::expect_used)
)]

use base64::Engine as _;

/// Longest `claims` value read (Microsoft's challenges are a few hundred bytes).
const MAX_CLAIMS_LEN: usize = 8 * 1024;

/// The claims request of a `WWW-Authenticate` header whose `Bearer` challenge says
/// `error="insufficient_claims"`: its `claims` parameter, base64-decoded, as the JSON text Entra
/// takes in the `claims` request parameter (and msal in `claims_challenge`). `None` for any
/// other challenge, or a `claims` value that is not base64 of a JSON object.
///
/// ```
/// let header = r#"Bearer realm="api", error="insufficient_claims", claims="eyJhY2Nlc3NfdG9rZW4iOnsiYWNycyI6eyJlc3NlbnRpYWwiOnRydWUsInZhbHVlIjoiYzEifX19""#;
/// assert_eq!(
///     aad_auth::client::claims_challenge(header).as_deref(),
///     Some(r#"{"access_token":{"acrs":{"essential":true,"value":"c1"}}}"#)
/// );
/// assert_eq!(aad_auth::client::claims_challenge(r#"Bearer error="invalid_token""#), None);
/// ```
pub fn claims_challenge(www_authenticate: &str) -> Option<String> {
    if parameter(www_authenticate, "error")? != "insufficient_claims" {
        return None;
    }
    let encoded = parameter(www_authenticate, "claims")?;
    if encoded.len() > MAX_CLAIMS_LEN {
        return None;
    }
    let engine = base64::engine::general_purpose::STANDARD;
    let decoded = engine
        .decode(encoded)
        .or_else(|_| base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(encoded.trim_end_matches('=')))
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(&text).ok()?;
    Some(text)
}

/// The quoted value of `name="..."` in a challenge (values of these parameters hold no quotes).
fn parameter<'a>(challenge: &'a str, name: &str) -> Option<&'a str> {
    let mut rest = challenge;
    loop {
        let at = rest.find(name)?;
        let before = rest.get(..at)?;
        let after = rest.get(at.checked_add(name.len())?..)?;
        let boundary = before.is_empty() || before.ends_with([' ', ',']);
        if boundary && let Some(value) = after.strip_prefix("=\"") {
            return value.split_once('"').map(|(value, _)| value);
        }
        rest = after;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_an_insufficient_claims_challenge_with_json_claims() {
        let good = base64::engine::general_purpose::STANDARD.encode(r#"{"access_token":{}}"#);
        let header = format!(r#"Bearer realm="r", client_id="x", error="insufficient_claims", claims="{good}""#);
        assert_eq!(claims_challenge(&header).as_deref(), Some(r#"{"access_token":{}}"#));
        let not_json = base64::engine::general_purpose::STANDARD.encode("not json");
        for header in [
            format!(r#"Bearer error="insufficient_claims", claims="{not_json}""#),
            r#"Bearer error="insufficient_claims", claims="%%%""#.to_owned(),
            r#"Bearer error="insufficient_claims""#.to_owned(),
            format!(r#"Bearer error="invalid_token", claims="{good}""#),
            format!(r#"Bearer xerror="insufficient_claims", claims="{good}""#),
            String::new(),
        ] {
            assert_eq!(claims_challenge(&header), None, "{header}");
        }
    }
}
