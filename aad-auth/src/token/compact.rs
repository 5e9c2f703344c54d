//! Splitting and decoding a compact JWS, strictly and cheaply, before any cryptography.

use base64::Engine as _;
use serde::Deserialize;

use super::TokenError;

/// Tokens above this size are refused before decoding (Entra tokens are 1–8 KiB; a user in
/// hundreds of groups gets an overage claim instead of a longer token).
pub const MAX_TOKEN_BYTES: usize = 16 * 1024;
/// An RSA-8192 signature, base64url-encoded.
const MAX_SIGNATURE_CHARS: usize = 1366;

/// The three segments of a compact JWS.
pub(crate) struct Compact<'a> {
    pub(crate) signing_input: &'a str,
    pub(crate) payload: &'a str,
    pub(crate) signature: &'a str,
    pub(crate) header: &'a str,
}

/// The JOSE header fields this crate reads. `jku`, `x5u`, `jwk` and `x5c` are deliberately not
/// read: key material named by the token is never trusted.
#[derive(Deserialize)]
pub(crate) struct Header {
    pub(crate) alg: String,
    #[serde(default)]
    pub(crate) kid: Option<String>,
    #[serde(default)]
    pub(crate) x5t: Option<String>,
    #[serde(default)]
    pub(crate) typ: Option<String>,
    #[serde(default)]
    pub(crate) crit: Option<serde::de::IgnoredAny>,
}

/// The base64url alphabet. Checked in fixed 32-byte blocks without an early exit inside a block,
/// so that the loop compiles to vector compares (it runs over every byte of every new token).
fn is_base64url(segment: &str) -> bool {
    let valid = |b: u8| b.is_ascii_alphanumeric() || b == b'-' || b == b'_';
    let (blocks, tail) = segment.as_bytes().as_chunks::<32>();
    blocks.iter().all(|block| block.iter().fold(true, |ok, &b| ok & valid(b))) && tail.iter().all(|&b| valid(b))
}

pub(crate) fn split(token: &str) -> Result<Compact<'_>, TokenError> {
    if token.len() > MAX_TOKEN_BYTES {
        return Err(TokenError::TooLarge);
    }
    let mut parts = token.split('.');
    let (Some(header), Some(payload), Some(signature), None) = (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(TokenError::Malformed("expected three dot-separated segments"));
    };
    if header.is_empty() || payload.is_empty() {
        return Err(TokenError::Malformed("empty header or payload"));
    }
    if signature.is_empty() {
        return Err(TokenError::Malformed("no signature"));
    }
    if signature.len() > MAX_SIGNATURE_CHARS {
        return Err(TokenError::Malformed("signature too long"));
    }
    if !(is_base64url(header) && is_base64url(payload) && is_base64url(signature)) {
        return Err(TokenError::Malformed("not base64url"));
    }
    // The header, the dot and the payload: a prefix of `token` by construction of the split.
    let signing_input = token
        .get(..header.len().saturating_add(1).saturating_add(payload.len()))
        .ok_or(TokenError::Malformed("expected three dot-separated segments"))?;
    Ok(Compact { signing_input, payload, signature, header })
}

pub(crate) fn decode(segment: &str) -> Result<Vec<u8>, TokenError> {
    // Strict: no padding, canonical trailing bits.
    base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(segment).map_err(|_| TokenError::Malformed("not base64url"))
}

pub(crate) fn header(compact: &Compact<'_>) -> Result<Header, TokenError> {
    let bytes = decode(compact.header)?;
    serde_json::from_slice(&bytes).map_err(|_| TokenError::Malformed("header is not a JOSE header"))
}

#[cfg(test)]
mod tests {
    use super::is_base64url;

    #[test]
    fn every_byte_is_checked() {
        for len in [0, 1, 31, 32, 33, 64, 100, 1400] {
            let good = "aZ09-_".repeat(len).chars().take(len).collect::<String>();
            assert!(is_base64url(&good), "{len}");
            for at in 0..len {
                for bad in ['.', '=', '+', '/', ' ', '\u{e9}'] {
                    let mut chars: Vec<char> = good.chars().collect();
                    chars[at] = bad;
                    assert!(!is_base64url(&chars.into_iter().collect::<String>()), "{len} {at} {bad:?}");
                }
            }
        }
    }
}
