//! Client assertions at the token endpoint, checked as Entra checks them: a certificate's
//! (`private_key_jwt`: the key chosen by `x5t#S256` or `x5t` among the app's certificates,
//! RS256 or PS256, `iss` = `sub` = the client id, `aud` this tenant's token endpoint), or a
//! federated one (`iss` and `sub` of a federated credential of the app, `aud`
//! `api://AzureADTokenExchange`, signed with a key of the issuer's JWKS, found through its
//! discovery document); both within `nbf`..`exp` give or take five minutes. Like Entra, a
//! reused assertion is accepted (msal reuses one for minutes).

// Parses network input: no indexing, no unchecked arithmetic, no unwrap (README, Security notes).
#![cfg_attr(
    not(test),
    deny(clippy::indexing_slicing, clippy::arithmetic_side_effects, clippy::unwrap_used, clippy::expect_used)
)]

use std::time::Duration;

use base64::Engine as _;
use serde_json::{Map, Value};

use super::Shared;
use super::certs::RegisteredCertificate;
use super::proto::OAuthError;
use super::registry::{AppRegistration, FederatedCredential};
use crate::credential::CLIENT_ASSERTION_TYPE;
use crate::log_safe::clip;

/// Entra's leeway on an assertion's `exp` and `nbf`.
const SKEW_SECONDS: i64 = 300;
/// Discovery documents and key sets of federated issuers larger than this are refused.
const MAX_DOCUMENT_BYTES: usize = 256 * 1024;

/// An assertion the tenant accepted (see [`super::Tenant::accepted_assertions`]).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct AcceptedAssertion {
    /// The app it authenticated.
    pub client_id: String,
    /// `iss` (the client id for a certificate's assertion).
    pub issuer: String,
    /// `sub`.
    pub subject: String,
    /// `jti`, when it has one.
    pub jti: Option<String>,
    /// The `x5t#S256` thumbprint of the certificate that verified it (certificate assertions).
    pub certificate: Option<String>,
}

/// The credentials the tenant knows for one app, besides its secret.
#[derive(Debug, Clone, Default)]
pub(crate) struct AppCredentials {
    pub(crate) certificates: Vec<RegisteredCertificate>,
    pub(crate) federated: Vec<FederatedCredential>,
}

impl AppCredentials {
    pub(crate) fn is_empty(&self) -> bool {
        self.certificates.is_empty() && self.federated.is_empty()
    }
}

fn invalid(code: u32, description: impl Into<String>) -> OAuthError {
    OAuthError::invalid_client(code, description)
}

/// A compact JWS, decoded but not verified.
struct Jws<'a> {
    header: Map<String, Value>,
    claims: Map<String, Value>,
    signing_input: &'a str,
    signature: Vec<u8>,
}

fn decode(assertion: &str) -> Option<Jws<'_>> {
    let (signing_input, signature) = assertion.rsplit_once('.')?;
    let (header, claims) = signing_input.split_once('.')?;
    let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let json = |part: &str| -> Option<Map<String, Value>> {
        serde_json::from_slice(&engine.decode(part.trim_end_matches('=')).ok()?).ok()
    };
    Some(Jws {
        header: json(header)?,
        claims: json(claims)?,
        signing_input,
        signature: engine.decode(signature.trim_end_matches('=')).ok()?,
    })
}

fn text<'a>(map: &'a Map<String, Value>, name: &str) -> Option<&'a str> {
    map.get(name).and_then(Value::as_str)
}

/// RS256 or PS256 with `alg`'s padding, against a public key (SubjectPublicKeyInfo or PKCS#1
/// DER).
fn signature_holds(jws: &Jws<'_>, public_key: &[u8]) -> bool {
    use aws_lc_rs::signature::{RSA_PKCS1_2048_8192_SHA256, RSA_PSS_2048_8192_SHA256};
    let Ok(key) = aws_lc_rs::rsa::PublicKey::from_der(public_key) else { return false };
    let components = aws_lc_rs::rsa::PublicKeyComponents::<Vec<u8>>::from(&key);
    let verify = |algorithm| {
        aws_lc_rs::signature::RsaPublicKeyComponents { n: &components.n, e: &components.e }
            .verify(algorithm, jws.signing_input.as_bytes(), &jws.signature)
            .is_ok()
    };
    match text(&jws.header, "alg") {
        Some("RS256") => verify(&RSA_PKCS1_2048_8192_SHA256),
        Some("PS256") => verify(&RSA_PSS_2048_8192_SHA256),
        _ => false,
    }
}

/// `nbf`..`exp`, with Entra's leeway; `exp` is required.
fn in_time(shared: &Shared, claims: &Map<String, Value>) -> Result<(), OAuthError> {
    let now = shared.clock.unix_seconds();
    let number = |name: &str| claims.get(name).and_then(Value::as_i64);
    let expired = number("exp").is_none_or(|exp| exp.saturating_add(SKEW_SECONDS) < now);
    let early = number("nbf").is_some_and(|nbf| nbf > now.saturating_add(SKEW_SECONDS));
    if expired || early {
        return Err(invalid(
            700_024,
            format!(
                "Client assertion is not within its valid time range. Current time: {now}, assertion valid from \
                 {}, expiry time of assertion {}.",
                number("nbf").map_or_else(|| "(none)".to_owned(), |nbf| nbf.to_string()),
                number("exp").map_or_else(|| "(none)".to_owned(), |exp| exp.to_string()),
            ),
        ));
    }
    Ok(())
}

/// The token-endpoint URLs Entra accepts as a certificate assertion's `aud`: the v2 and v1
/// token endpoints and the authority, by tenant id or domain, or `organizations`/`common` (a
/// multi-tenant app's authority, whose token endpoint msal names), with or without a trailing
/// slash.
fn audience_accepted(shared: &Shared, audience: &str) -> bool {
    let audience = audience.trim_end_matches('/');
    [shared.tenant_id.as_str(), shared.domain.as_str(), "organizations", "common"].iter().any(|tenant| {
        let authority = format!("{}/{tenant}", shared.base_url);
        [
            format!("{authority}/oauth2/v2.0/token"),
            format!("{authority}/oauth2/token"),
            format!("{authority}/v2.0"),
            authority.clone(),
        ]
        .iter()
        .any(|accepted| accepted.eq_ignore_ascii_case(audience))
    })
}

fn audiences(claims: &Map<String, Value>) -> Vec<&str> {
    match claims.get("aud") {
        Some(Value::String(one)) => vec![one.as_str()],
        Some(Value::Array(many)) => many.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    }
}

/// Checks `client_assertion` (of type `assertion_type`) for `app`; the accepted assertion is
/// recorded.
pub(crate) async fn verify(
    shared: &Shared,
    app: &AppRegistration,
    assertion_type: Option<&str>,
    assertion: &str,
) -> Result<(), OAuthError> {
    if assertion_type != Some(CLIENT_ASSERTION_TYPE) {
        return Err(invalid(
            700_021,
            format!(
                "Client assertion type is not supported: the parameter 'client_assertion_type' must be \
                 '{CLIENT_ASSERTION_TYPE}'."
            ),
        ));
    }
    let jws = decode(assertion).ok_or_else(|| invalid(50_027, "JWT token is invalid or malformed."))?;
    let credentials = shared.app_credentials(&app.client_id);
    // A token of an issuer the app trusts is federated (Entra's own tokens, a managed
    // identity's, carry `x5t` too); otherwise a thumbprint header names a certificate.
    let issuer = text(&jws.claims, "iss").unwrap_or_default();
    let federated = credentials.federated.iter().any(|credential| credential.issuer == issuer)
        || !(jws.header.contains_key("x5t#S256") || jws.header.contains_key("x5t"));
    let accepted = if federated {
        federated_assertion(shared, app, &credentials, &jws).await?
    } else {
        certificate_assertion(shared, app, &credentials, &jws)?
    };
    shared.record_assertion(accepted);
    Ok(())
}

fn certificate_assertion(
    shared: &Shared,
    app: &AppRegistration,
    credentials: &AppCredentials,
    jws: &Jws<'_>,
) -> Result<AcceptedAssertion, OAuthError> {
    let sha256 = text(&jws.header, "x5t#S256");
    let sha1 = text(&jws.header, "x5t");
    let certificate = credentials
        .certificates
        .iter()
        .find(|cert| sha256.map_or_else(|| sha1 == Some(cert.sha1.as_str()), |thumb| thumb == cert.sha256))
        .ok_or_else(|| {
            invalid(
                700_027,
                format!(
                    "The certificate with identifier used to sign the client assertion is not registered on \
                     application. [Reason - The key was not found., Thumbprint of key used by client: '{}', Please \
                     visit the Azure Portal, Graph Explorer or directly use MS Graph to see configured keys for app \
                     Id '{}'.]",
                    clip(sha256.or(sha1).unwrap_or_default()),
                    app.client_id
                ),
            )
        })?;
    if !signature_holds(jws, &certificate.spki) {
        return Err(invalid(700_027, "Client assertion failed signature validation."));
    }
    let client_id = app.client_id.as_str();
    if text(&jws.claims, "iss") != Some(client_id) || text(&jws.claims, "sub") != Some(client_id) {
        return Err(invalid(700_021, "Client assertion application identifier doesn't match 'client_id' parameter."));
    }
    if !audiences(&jws.claims).iter().any(|audience| audience_accepted(shared, audience)) {
        return Err(invalid(
            700_021,
            format!(
                "The audience of the client assertion is not this tenant's token endpoint ({}/{}/oauth2/v2.0/token).",
                shared.base_url, shared.tenant_id
            ),
        ));
    }
    in_time(shared, &jws.claims)?;
    Ok(AcceptedAssertion {
        client_id: client_id.to_owned(),
        issuer: client_id.to_owned(),
        subject: client_id.to_owned(),
        jti: text(&jws.claims, "jti").map(str::to_owned),
        certificate: Some(certificate.sha256.clone()),
    })
}

async fn federated_assertion(
    shared: &Shared,
    app: &AppRegistration,
    credentials: &AppCredentials,
    jws: &Jws<'_>,
) -> Result<AcceptedAssertion, OAuthError> {
    let issuer = text(&jws.claims, "iss").unwrap_or_default();
    let subject = text(&jws.claims, "sub").unwrap_or_default();
    let trusted: Vec<&FederatedCredential> =
        credentials.federated.iter().filter(|credential| credential.issuer == issuer).collect();
    if trusted.is_empty() {
        return Err(invalid(
            700_211,
            format!("No matching federated identity record found for presented assertion issuer '{}'.", clip(issuer)),
        ));
    }
    let keys = issuer_keys(shared, issuer).await?;
    let kid = text(&jws.header, "kid");
    let verified = keys
        .iter()
        .filter(|(key_id, _)| kid.is_none_or(|kid| key_id.as_deref() == Some(kid)))
        .any(|(_, key)| signature_holds(jws, key));
    if !verified {
        return Err(invalid(700_027, "Client assertion failed signature validation."));
    }
    in_time(shared, &jws.claims)?;
    let audiences = audiences(&jws.claims);
    let matching = trusted.iter().find(|credential| {
        credential.subject == subject && audiences.iter().any(|audience| *audience == credential.audience)
    });
    if matching.is_none() {
        return Err(invalid(
            70_021,
            format!(
                "No matching federated identity record found for presented assertion. Assertion Issuer: '{}'. \
                 Assertion Subject: '{}'. Assertion Audience: '{}'.",
                clip(issuer),
                clip(subject),
                clip(&audiences.join(",")),
            ),
        ));
    }
    Ok(AcceptedAssertion {
        client_id: app.client_id.clone(),
        issuer: issuer.to_owned(),
        subject: subject.to_owned(),
        jti: text(&jws.claims, "jti").map(str::to_owned),
        certificate: None,
    })
}

/// The RSA keys (kid, PKCS#1 DER) of a federated issuer: this tenant's own keys for its own
/// issuer (a managed identity's token), else the JWKS named by `{issuer}/.well-known/openid-configuration`.
async fn issuer_keys(shared: &Shared, issuer: &str) -> Result<Vec<(Option<String>, Vec<u8>)>, OAuthError> {
    let jwks = if issuer == shared.v2_issuer(&shared.tenant_id) {
        let keys: Vec<Value> = shared.published_keys().iter().map(|key| key.jwk(None)).collect();
        serde_json::json!({ "keys": keys })
    } else {
        fetch_jwks(issuer).await.map_err(|reason| {
            invalid(
                700_027,
                format!(
                    "Client assertion failed signature validation: the keys of issuer '{}' {reason}.",
                    clip(issuer)
                ),
            )
        })?
    };
    let keys = jwks.get("keys").and_then(Value::as_array).cloned().unwrap_or_default();
    let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    Ok(keys
        .iter()
        .filter(|key| key.get("kty").and_then(Value::as_str) == Some("RSA"))
        .filter_map(|key| {
            let n = engine.decode(key.get("n")?.as_str()?).ok()?;
            let e = engine.decode(key.get("e")?.as_str()?).ok()?;
            let public = aws_lc_rs::rsa::PublicKeyComponents { n, e };
            let der = aws_lc_rs::encoding::AsDer::<aws_lc_rs::encoding::PublicKeyX509Der>::as_der(&public).ok()?;
            Some((key.get("kid").and_then(Value::as_str).map(str::to_owned), der.as_ref().to_vec()))
        })
        .collect())
}

async fn fetch_jwks(issuer: &str) -> Result<Value, String> {
    let issuer_url = url::Url::parse(issuer).map_err(|_| "cannot be found: the issuer is not a URL".to_owned())?;
    let secure =
        issuer_url.scheme() == "https" || (issuer_url.scheme() == "http" && crate::config::is_loopback(&issuer_url));
    if !secure {
        return Err("cannot be fetched: the issuer must be https".into());
    }
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|_| "cannot be fetched".to_owned())?;
    let get = |url: String| {
        let http = http.clone();
        async move {
            let url = url::Url::parse(&url).map_err(|_| "name no valid URL".to_owned())?;
            let body = crate::http::get_bytes(&http, &url, MAX_DOCUMENT_BYTES).await.map_err(|e| e.to_string())?;
            serde_json::from_slice::<Value>(&body).map_err(|_| "are not JSON".to_owned())
        }
    };
    let discovery = get(format!("{}/.well-known/openid-configuration", issuer.trim_end_matches('/'))).await?;
    let jwks_uri = discovery.get("jwks_uri").and_then(Value::as_str).ok_or("have no jwks_uri")?.to_owned();
    get(jwks_uri).await
}

#[cfg(test)]
mod tests {
    use super::decode;

    #[test]
    fn malformed_assertions_are_not_decoded() {
        for text in ["", ".", "..", "a.b.c", "e30.e30", "e30.e30.!!", "W10.e30.", "e30.W10.", "e30.e30.e30.e30"] {
            assert!(decode(text).is_none(), "{text:?}");
        }
        let decoded = decode("e30.eyJhIjoxfQ.AAEC").expect("header {}, claims {a: 1}, signature 0,1,2");
        assert_eq!((decoded.signing_input, decoded.signature.as_slice()), ("e30.eyJhIjoxfQ", &[0u8, 1, 2][..]));
    }
}
