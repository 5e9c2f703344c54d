//! A certificate credential: the PEM file of `AAD_CLIENT_CERTIFICATE` (the certificate and its
//! RSA private key), and the client assertions (`private_key_jwt`) signed with it.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use aws_lc_rs::signature::{self, KeyPair as _};
use base64::Engine as _;
use serde_json::json;

use crate::secret::ClientAssertion;

/// How long an assertion is valid (Entra's documented example and msal use 10 minutes).
const ASSERTION_LIFETIME_SECONDS: u64 = 600;

/// The private key; `Debug` never shows it.
#[derive(Clone)]
struct PrivateKey(Arc<aws_lc_rs::rsa::KeyPair>);

impl std::fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PrivateKey([redacted])")
    }
}

/// A certificate registered on the app and its private key (`AAD_CLIENT_CERTIFICATE`).
///
/// `Debug` shows the file and the certificate's thumbprint, never the key.
#[derive(Debug, Clone)]
pub struct ClientCertificate {
    path: PathBuf,
    /// `x5t#S256`: base64url of the SHA-256 of the DER certificate.
    thumbprint: String,
    key: PrivateKey,
}

impl ClientCertificate {
    /// Reads a PEM file holding one certificate (`-----BEGIN CERTIFICATE-----`, the first is
    /// the app's when there is a chain) and its RSA private key (`PRIVATE KEY`, PKCS#8, or `RSA
    /// PRIVATE KEY`, PKCS#1; unencrypted).
    ///
    /// # Errors
    /// Why the file cannot be used, without its content.
    pub fn from_file(path: impl Into<PathBuf>) -> Result<Self, String> {
        let path = path.into();
        let bytes = std::fs::read(&path).map_err(|error| error.to_string())?;
        Self::from_pem(&bytes, path)
    }

    /// Parses the PEM text of a certificate and its key; `path` is only shown.
    ///
    /// # Errors
    /// Why the text cannot be used, without its content.
    pub fn from_pem(pem_text: &[u8], path: impl Into<PathBuf>) -> Result<Self, String> {
        let blocks = pem::parse_many(pem_text).map_err(|_| "not PEM text".to_owned())?;
        let certificate = blocks
            .iter()
            .find(|block| block.tag() == "CERTIFICATE")
            .ok_or("no certificate (-----BEGIN CERTIFICATE-----) in it")?;
        let key = blocks
            .iter()
            .find_map(|block| match block.tag() {
                "PRIVATE KEY" => Some(aws_lc_rs::rsa::KeyPair::from_pkcs8(block.contents())),
                "RSA PRIVATE KEY" => Some(aws_lc_rs::rsa::KeyPair::from_der(block.contents())),
                _ => None,
            })
            .ok_or(
                "no unencrypted RSA private key (-----BEGIN PRIVATE KEY----- or -----BEGIN RSA PRIVATE KEY-----) in \
                 it",
            )?
            .map_err(|_| "the private key is not a usable RSA key (2048 bits or more)".to_owned())?;
        // The certificate's public key holds the key's modulus: a key of another certificate
        // would make every assertion fail as AADSTS700027, far from the cause.
        let modulus = aws_lc_rs::rsa::PublicKeyComponents::<Vec<u8>>::from(key.public_key()).n;
        let modulus = modulus.strip_prefix(&[0u8]).unwrap_or(&modulus);
        if modulus.is_empty() || !certificate.contents().windows(modulus.len()).any(|window| window == modulus) {
            return Err("the private key does not belong to the (first) certificate in it".into());
        }
        let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, certificate.contents());
        Ok(Self {
            path: path.into(),
            thumbprint: base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest.as_ref()),
            key: PrivateKey(Arc::new(key)),
        })
    }

    /// The file it was read from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The certificate's SHA-256 thumbprint, base64url (the `x5t#S256` header of its assertions).
    pub fn thumbprint_sha256(&self) -> &str {
        &self.thumbprint
    }

    /// A client assertion for `client_id` at `token_endpoint`: RS256, header `x5t#S256`; `aud`
    /// the token endpoint, `iss` = `sub` = the client id, a random `jti`, valid from now for 10
    /// minutes.
    pub(crate) fn assertion(&self, client_id: &str, token_endpoint: &str) -> Result<ClientAssertion, String> {
        let now = super::unix_now();
        let header = json!({ "alg": "RS256", "typ": "JWT", "x5t#S256": self.thumbprint });
        let claims = json!({
            "aud": token_endpoint,
            "iss": client_id,
            "sub": client_id,
            "jti": super::random_id()?,
            "nbf": now,
            "iat": now,
            "exp": now.saturating_add(ASSERTION_LIFETIME_SECONDS),
        });
        let b64 =
            |value: &serde_json::Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(value.to_string());
        let signing_input = format!("{}.{}", b64(&header), b64(&claims));
        let mut signature = vec![0; self.key.0.public_modulus_len()];
        self.key
            .0
            .sign(
                &signature::RSA_PKCS1_SHA256,
                &aws_lc_rs::rand::SystemRandom::new(),
                signing_input.as_bytes(),
                &mut signature,
            )
            .map_err(|_| "signing the client assertion failed".to_owned())?;
        let signature = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&signature);
        Ok(ClientAssertion::new(format!("{signing_input}.{signature}")))
    }
}
