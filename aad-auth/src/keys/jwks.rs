//! Parsing a JWKS into usable signing keys, one key at a time: a key this crate cannot use is
//! skipped, never the whole set (Entra keys carry no `alg`; decoys of other types are ignored).

// Parses network input: no indexing, no unchecked arithmetic, no unwrap (README, Security notes).
#![cfg_attr(
    not(test),
    deny(clippy::indexing_slicing, clippy::arithmetic_side_effects, clippy::unwrap_used, clippy::expect_used)
)]

use aws_lc_rs::signature::{self, ParsedPublicKey, RsaPublicKeyComponents};
use base64::Engine as _;
use jsonwebtoken::jwk::{AlgorithmParameters, Jwk, KeyAlgorithm, KeyOperations, PublicKeyUse};

/// RSA moduli below 2048 bits are refused (RFC 7518 §3.3); above 8192 bits they are not keys
/// anyone issues and only cost CPU.
const MIN_MODULUS_BYTES: usize = 256;
const MAX_MODULUS_BYTES: usize = 1024;
/// A JWKS is refused past this many keys (Entra publishes a handful).
pub(crate) const MAX_KEYS: usize = 100;
const MAX_ID_LEN: usize = 256;

/// A verified-usable RS256 public key.
pub(crate) struct SigningKey {
    pub(crate) kid: Option<String>,
    pub(crate) x5t: Option<String>,
    /// The per-key `issuer` Entra publishes; keys scoped to one tenant verify only its tokens.
    pub(crate) issuer: Option<String>,
    /// Parsed once here, so that a verification does no key parsing.
    pub(crate) public_key: ParsedPublicKey,
    /// Modulus and exponent, to tell a re-published key from a changed one under the same `kid`.
    pub(crate) material: Vec<u8>,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .field("x5t", &self.x5t)
            .field("issuer", &self.issuer)
            .finish_non_exhaustive()
    }
}

/// Why one key of a set was skipped (logged at debug level, never fatal for the set).
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Skip {
    NotAnObject,
    Unparseable,
    NotRsa,
    NotForSignatures,
    OtherAlgorithm,
    NoIdentifier,
    BadComponents,
    WeakModulus,
}

/// Keys skipped while parsing a set: their `kid` (if any) and why.
pub(crate) type Skipped = Vec<(Option<String>, Skip)>;

/// Parses a JWKS document into usable keys and the reasons others were skipped.
pub(crate) fn parse(body: &[u8]) -> Result<(Vec<SigningKey>, Skipped), String> {
    let document: serde_json::Value = serde_json::from_slice(body).map_err(|e| format!("not JSON: {e}"))?;
    let keys = document.get("keys").and_then(serde_json::Value::as_array).ok_or("no `keys` array")?;
    if keys.len() > MAX_KEYS {
        return Err(format!("{} keys is more than the {MAX_KEYS} accepted", keys.len()));
    }
    let mut usable = Vec::new();
    let mut skipped = Vec::new();
    for entry in keys {
        match parse_key(entry) {
            Ok(key) => usable.push(key),
            Err(reason) => {
                let kid = entry.get("kid").and_then(serde_json::Value::as_str).map(crate::log_safe::clip);
                skipped.push((kid, reason));
            }
        }
    }
    Ok((usable, skipped))
}

fn parse_key(entry: &serde_json::Value) -> Result<SigningKey, Skip> {
    let object = entry.as_object().ok_or(Skip::NotAnObject)?;
    if object.get("kty").and_then(serde_json::Value::as_str) != Some("RSA") {
        return Err(Skip::NotRsa);
    }
    let jwk: Jwk = serde_json::from_value(entry.clone()).map_err(|_| Skip::Unparseable)?;
    let common = &jwk.common;
    match &common.public_key_use {
        None | Some(PublicKeyUse::Signature) => {}
        Some(_) => return Err(Skip::NotForSignatures),
    }
    if let Some(operations) = &common.key_operations
        && !operations.iter().any(|op| matches!(op, KeyOperations::Verify))
    {
        return Err(Skip::NotForSignatures);
    }
    // Entra publishes keys without `alg`; one that names another algorithm is not ours to use.
    if common.key_algorithm.is_some_and(|alg| alg != KeyAlgorithm::RS256) {
        return Err(Skip::OtherAlgorithm);
    }
    let kid = common.key_id.clone().filter(|kid| !kid.is_empty() && kid.len() <= MAX_ID_LEN);
    let x5t = common.x509_sha1_fingerprint.clone().filter(|x5t| !x5t.is_empty() && x5t.len() <= MAX_ID_LEN);
    if kid.is_none() && x5t.is_none() {
        return Err(Skip::NoIdentifier);
    }
    let AlgorithmParameters::RSA(rsa) = &jwk.algorithm else {
        return Err(Skip::NotRsa);
    };
    let n = decode_component(&rsa.n).ok_or(Skip::BadComponents)?;
    let e = decode_component(&rsa.e).ok_or(Skip::BadComponents)?;
    let n_significant = n.iter().position(|byte| *byte != 0).map_or(0, |first| n.len().saturating_sub(first));
    if n_significant < MIN_MODULUS_BYTES {
        return Err(Skip::WeakModulus);
    }
    if n_significant > MAX_MODULUS_BYTES || e.is_empty() || e.len() > 8 {
        return Err(Skip::BadComponents);
    }
    let public_key = RsaPublicKeyComponents { n: &n, e: &e }
        .to_parsed_public_key(&signature::RSA_PKCS1_2048_8192_SHA256)
        .map_err(|_| Skip::BadComponents)?;
    let issuer = object.get("issuer").and_then(serde_json::Value::as_str).map(str::to_owned);
    let mut material = n;
    material.extend_from_slice(&e);
    Ok(SigningKey { kid, x5t, issuer, public_key, material })
}

/// `n` and `e` in base64url (RFC 7518 §6.3.1) or, as Azure AD published them until about 2016,
/// in the standard alphabet with padding. Leniency here costs nothing: the key set comes from
/// the provider over TLS, not from the token.
fn decode_component(value: &str) -> Option<Vec<u8>> {
    use base64::engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE_NO_PAD};
    let value = value.trim_end_matches('=');
    URL_SAFE_NO_PAD.decode(value).or_else(|_| STANDARD_NO_PAD.decode(value)).ok()
}
