//! RSA signing keys for the local tenant, and JWS signing with any algorithm (including the
//! wrong ones, for attack tests).

use aws_lc_rs::rsa::{KeyPair, KeySize};
use aws_lc_rs::signature::{self, KeyPair as _};
use base64::Engine as _;
use serde_json::{Value, json};

/// An RSA-2048 key pair with a key id, as the tenant publishes it.
pub struct TestKey {
    kid: String,
    pair: KeyPair,
}

impl std::fmt::Debug for TestKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestKey").field("kid", &self.kid).finish_non_exhaustive()
    }
}

/// The signature algorithm a test token is signed with.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SigningAlg {
    /// RS256 (the only one the validator accepts).
    Rs256,
    /// RS384 with the RSA key.
    Rs384,
    /// RS512 with the RSA key.
    Rs512,
    /// PS256 with the RSA key.
    Ps256,
    /// HS256 with this secret (algorithm-confusion attacks).
    Hs256(Vec<u8>),
    /// No signature at all (`alg: none` attacks); the signature segment is empty.
    Unsigned,
}

impl SigningAlg {
    /// The `alg` header value.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Rs256 => "RS256",
            Self::Rs384 => "RS384",
            Self::Rs512 => "RS512",
            Self::Ps256 => "PS256",
            Self::Hs256(_) => "HS256",
            Self::Unsigned => "none",
        }
    }
}

/// A PEM block with 64-character lines.
pub(crate) fn pem_block(tag: &str, der: &[u8]) -> String {
    let body = base64::engine::general_purpose::STANDARD.encode(der);
    let lines: Vec<&str> = body.as_bytes().chunks(64).map(|c| std::str::from_utf8(c).unwrap_or_default()).collect();
    format!("-----BEGIN {tag}-----\n{}\n-----END {tag}-----\n", lines.join("\n"))
}

pub(crate) fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

impl TestKey {
    /// A fresh RSA-2048 key with this key id.
    ///
    /// # Panics
    /// If the system cannot generate a key (out of entropy): a test-only failure.
    #[allow(clippy::expect_used)]
    pub fn generate(kid: impl Into<String>) -> Self {
        let pair = KeyPair::generate(KeySize::Rsa2048).expect("RSA key generation");
        Self { kid: kid.into(), pair }
    }

    /// The key id.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// Modulus and exponent, base64url.
    fn components(&self) -> (String, String) {
        let public = self.pair.public_key();
        let components = aws_lc_rs::rsa::PublicKeyComponents::<Vec<u8>>::from(public);
        (b64(&components.n), b64(&components.e))
    }

    /// The public key as Entra publishes it: no `alg`, `use: sig`, `x5t` = `kid`, and `issuer`.
    pub fn jwk(&self, issuer: Option<&str>) -> Value {
        let (n, e) = self.components();
        // Entra's shape: `kid` and `x5t` the same thumbprint, no `alg`, the cloud's name.
        let mut jwk = json!({
            "kty": "RSA", "use": "sig", "kid": self.kid, "x5t": self.kid, "n": n, "e": e,
            "cloud_instance_name": "microsoftonline.com",
        });
        if let (Some(issuer), Some(object)) = (issuer, jwk.as_object_mut()) {
            object.insert("issuer".into(), Value::String(issuer.into()));
        }
        jwk
    }

    /// The public key in PEM (SubjectPublicKeyInfo), as used by RS→HS confusion attacks.
    pub fn public_key_pem(&self) -> String {
        let der = self.public_key_der();
        let body = base64::engine::general_purpose::STANDARD.encode(&der);
        let lines: Vec<&str> = body.as_bytes().chunks(64).map(|c| std::str::from_utf8(c).unwrap_or_default()).collect();
        format!("-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n", lines.join("\n"))
    }

    /// The public key, DER (SubjectPublicKeyInfo).
    #[allow(clippy::expect_used)]
    pub fn public_key_der(&self) -> Vec<u8> {
        use aws_lc_rs::encoding::AsDer;
        self.pair.public_key().as_der().expect("public key DER").as_ref().to_vec()
    }

    /// The private key as PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`): for a test certificate's
    /// key file. A test key only.
    #[allow(clippy::expect_used)]
    pub fn private_key_pem(&self) -> String {
        use aws_lc_rs::encoding::{AsDer, Pkcs8V1Der};
        let der: Pkcs8V1Der<'static> = self.pair.as_der().expect("PKCS#8 export of a generated key");
        pem_block("PRIVATE KEY", der.as_ref())
    }

    /// The raw modulus bytes.
    pub fn modulus(&self) -> Vec<u8> {
        aws_lc_rs::rsa::PublicKeyComponents::<Vec<u8>>::from(self.pair.public_key()).n
    }

    /// Signs a header and claims and returns the compact JWS.
    pub fn sign_compact(&self, header: &Value, claims: &Value, alg: &SigningAlg) -> String {
        self.sign_raw(header.to_string().as_bytes(), claims.to_string().as_bytes(), alg)
    }

    /// Signs arbitrary header and payload bytes (not necessarily JSON, for malformed-input
    /// tests) and returns the compact JWS.
    #[allow(clippy::expect_used)]
    pub fn sign_raw(&self, header: &[u8], payload: &[u8], alg: &SigningAlg) -> String {
        let signing_input = format!("{}.{}", b64(header), b64(payload));
        let signature = match alg {
            SigningAlg::Unsigned => Vec::new(),
            SigningAlg::Hs256(secret) => {
                let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, secret);
                aws_lc_rs::hmac::sign(&key, signing_input.as_bytes()).as_ref().to_vec()
            }
            rsa => {
                let padding: &'static dyn signature::RsaEncoding = match rsa {
                    SigningAlg::Rs384 => &signature::RSA_PKCS1_SHA384,
                    SigningAlg::Rs512 => &signature::RSA_PKCS1_SHA512,
                    SigningAlg::Ps256 => &signature::RSA_PSS_SHA256,
                    _ => &signature::RSA_PKCS1_SHA256,
                };
                let mut out = vec![0; self.pair.public_modulus_len()];
                let rng = aws_lc_rs::rand::SystemRandom::new();
                self.pair.sign(padding, &rng, signing_input.as_bytes(), &mut out).expect("RSA signing");
                out
            }
        };
        format!("{signing_input}.{}", b64(&signature))
    }
}
