//! Two request parameters read as Entra's v2 endpoint reads them:
//!
//! * `claims` (OpenID Connect §5.5; how a client answers a claims challenge): the decoded JSON
//!   `{"access_token":{"acrs":{"essential":true,"value":"c1"}}}` (or `"values":[..]`), whose
//!   authentication contexts the issued access token then carries in `acrs` (the emulated
//!   Conditional Access policy is satisfied at once: no MFA prompt to click through);
//! * `resource` (RFC 8707, which MCP clients send): refused unless it names the resource the
//!   scopes already name, with `invalid_target` AADSTS9010010, as Entra does since its 2026
//!   enforcement (`docs/emulator.md` cites the reports).
//!
//! And the other way round, the challenge Entra sends when Conditional Access requires an
//! authentication context for a resource ([`super::TenantBuilder::require_auth_context_for`]):
//! 400 `interaction_required`, AADSTS50076, and `claims` naming the context.

// Parses network input: no indexing, no unchecked arithmetic, no unwrap (README, Security notes).
#![cfg_attr(
    not(test),
    deny(clippy::indexing_slicing, clippy::arithmetic_side_effects, clippy::unwrap_used, clippy::expect_used)
)]

use serde_json::Value;

use super::Shared;
use super::proto::{OAuthError, Params, param};
use super::scopes::{GRAPH_APP_ID, Resource, ScopeRequest};
use crate::step_up::is_auth_context_id;

/// Longest `claims` value read (Entra's challenges are well under 1 KiB).
const MAX_CLAIMS_LEN: usize = 8 * 1024;

fn invalid_claims() -> OAuthError {
    OAuthError::invalid_request(
        90_100,
        "The 'claims' parameter is not valid: expected the JSON of a claims request such as \
         {\"access_token\":{\"acrs\":{\"essential\":true,\"value\":\"c1\"}}}.",
    )
}

/// The authentication contexts the `claims` parameter asks for (empty without one).
pub(crate) fn requested_acrs(params: &Params) -> Result<Vec<String>, OAuthError> {
    let Some(claims) = param(params, "claims") else { return Ok(Vec::new()) };
    if claims.len() > MAX_CLAIMS_LEN {
        return Err(invalid_claims());
    }
    let value: Value = serde_json::from_str(claims).map_err(|_| invalid_claims())?;
    if !value.is_object() {
        return Err(invalid_claims());
    }
    let Some(acrs) = value.get("access_token").and_then(|token| token.get("acrs")) else {
        // Other claims requests (an id_token claim, `xms_cc`) ask for no authentication context.
        return Ok(Vec::new());
    };
    let mut ids: Vec<String> = Vec::new();
    match (acrs.get("value"), acrs.get("values")) {
        (Some(Value::String(one)), None) => ids.push(one.clone()),
        (None, Some(Value::Array(many))) => {
            for item in many {
                ids.push(item.as_str().ok_or_else(invalid_claims)?.to_owned());
            }
        }
        _ => return Err(invalid_claims()),
    }
    if ids.is_empty() || !ids.iter().all(|id| is_auth_context_id(id)) {
        return Err(invalid_claims());
    }
    Ok(ids)
}

/// `earlier` then the ids of `more` not in it.
pub(crate) fn union(mut earlier: Vec<String>, more: Vec<String>) -> Vec<String> {
    for id in more {
        if !earlier.contains(&id) {
            earlier.push(id);
        }
    }
    earlier
}

/// How a Conditional Access policy names a resource: its client id in lower case (Graph's app
/// id for `https://graph.microsoft.com`), from a client id, `api://{id}` or Graph's URL.
pub(crate) fn resource_id(name: &str) -> String {
    let name = name.trim().trim_end_matches('/').to_ascii_lowercase();
    if name == "https://graph.microsoft.com" {
        return GRAPH_APP_ID.to_owned();
    }
    name.strip_prefix("api://").map_or_else(|| name.clone(), str::to_owned)
}

/// The claims challenge for authentication contexts, as Entra sends it and msal passes it on
/// (`claims_challenge`): `{"access_token":{"acrs":{"essential":true,"value":"c1"}}}`, or
/// `"values"` for several.
fn acrs_challenge(contexts: &[&str]) -> String {
    let acrs = match contexts {
        [one] => serde_json::json!({ "essential": true, "value": one }),
        many => serde_json::json!({ "essential": true, "values": many }),
    };
    serde_json::json!({ "access_token": { "acrs": acrs } }).to_string()
}

/// Conditional Access for `resource`: every authentication context a policy requires must be
/// among `satisfied` (the incoming token's `acrs`, or what the sign-in satisfied); else 400
/// `interaction_required` (AADSTS50076) with the `claims` challenge to sign in again with.
pub(crate) fn require_auth_contexts(
    shared: &Shared,
    resource: &Resource,
    satisfied: &[String],
) -> Result<(), OAuthError> {
    let id = resource.client_id().to_ascii_lowercase();
    let missing: Vec<&str> = shared
        .auth_context_policies
        .iter()
        .filter(|(policy_resource, context)| *policy_resource == id && !satisfied.contains(context))
        .map(|(_, context)| context.as_str())
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    Err(OAuthError::bad_request(
        "interaction_required",
        50_076,
        format!(
            "Due to a configuration change made by your administrator, or because you moved to a new location, you \
             must use multi-factor authentication to access '{}'.",
            resource.client_id()
        ),
    )
    .with_claims(acrs_challenge(&missing)))
}

/// A `resource` parameter must name the resource of the scopes (`api://{id}`, `{id}`, or its
/// Application ID URI); anything else, such as an MCP server's URL, is AADSTS9010010.
pub(crate) fn check_resource(params: &Params, scopes: Option<&ScopeRequest>) -> Result<(), OAuthError> {
    let Some(resource) = param(params, "resource") else { return Ok(()) };
    let wanted = resource.trim_end_matches('/');
    let matches = scopes.is_some_and(|request| match &request.resource {
        Resource::App { app, .. } => {
            wanted.eq_ignore_ascii_case(&app.client_id)
                || wanted.eq_ignore_ascii_case(&format!("api://{}", app.client_id))
        }
        Resource::Graph => {
            wanted.eq_ignore_ascii_case("https://graph.microsoft.com")
                || wanted.eq_ignore_ascii_case(super::scopes::GRAPH_APP_ID)
        }
    });
    if matches {
        return Ok(());
    }
    Err(OAuthError::bad_request(
        "invalid_target",
        9_010_010,
        "The resource parameter provided in the request doesn't match with the requested scopes. The v2.0 endpoint \
         takes the resource from the scope parameter: request '{resource}/.default' or its named scopes, and send \
         no 'resource' parameter."
            .into(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> Params {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    #[test]
    fn claims_requests() {
        let one = r#"{"access_token":{"acrs":{"essential":true,"value":"c1"}}}"#;
        assert_eq!(requested_acrs(&params(&[("claims", one)])).unwrap(), ["c1"]);
        let many = r#"{"access_token":{"acrs":{"essential":true,"values":["c2","c3"]}}}"#;
        assert_eq!(requested_acrs(&params(&[("claims", many)])).unwrap(), ["c2", "c3"]);
        assert!(requested_acrs(&params(&[])).unwrap().is_empty());
        assert!(
            requested_acrs(&params(&[("claims", r#"{"id_token":{"auth_time":{"essential":true}}}"#)]))
                .unwrap()
                .is_empty()
        );
        for bad in [
            "eyJhY2Nlc3NfdG9rZW4iOnt9fQ==",
            r#"{"access_token":{"acrs":{"essential":true,"value":"c0"}}}"#,
            r#"{"access_token":{"acrs":{"essential":true,"values":[]}}}"#,
            r#"{"access_token":{"acrs":{"essential":true,"values":[1]}}}"#,
            r#"{"access_token":{"acrs":{"essential":true}}}"#,
            "[]",
        ] {
            assert_eq!(requested_acrs(&params(&[("claims", bad)])).unwrap_err().code, 90_100, "{bad}");
        }
        assert_eq!(union(vec!["c1".into()], vec!["c2".into(), "c1".into()]), ["c1", "c2"]);
    }

    #[test]
    fn challenges_are_claims_requests_the_tenant_reads_back() {
        for contexts in [vec!["c1"], vec!["c1", "c7"]] {
            let challenge = acrs_challenge(&contexts);
            assert_eq!(requested_acrs(&params(&[("claims", &challenge)])).unwrap(), contexts, "{challenge}");
        }
        assert_eq!(acrs_challenge(&["c1"]), r#"{"access_token":{"acrs":{"essential":true,"value":"c1"}}}"#);
        assert_eq!(resource_id("api://ABC/"), "abc");
        assert_eq!(resource_id("https://graph.microsoft.com/"), GRAPH_APP_ID);
    }

    #[actix_web::test]
    #[should_panic(expected = "an authentication context id is c1 to c99")]
    async fn a_policy_names_a_context_the_tenant_can_issue() {
        let _tenant = crate::testing::Tenant::builder().require_auth_context_for("api://x", "mfa").start().await;
    }
}
