//! Certificates for client assertions: [`TestCertificate`] (an RSA key of the emulator's kind
//! and a self-signed certificate, generated at test time) and what the tenant needs of a
//! registered certificate (its thumbprints and public key, read from its DER).

// Reads certificates registered by tests and headers of assertions from the network: no
// indexing, no unchecked arithmetic, no unwrap.
#![cfg_attr(
    not(test),
    deny(clippy::indexing_slicing, clippy::arithmetic_side_effects, clippy::unwrap_used, clippy::expect_used)
)]

use std::sync::Arc;

use super::keys::{SigningAlg, TestKey, b64, pem_block};
use serde_json::{Value, json};

/// A certificate registered on an app, as the tenant keeps it.
#[derive(Debug, Clone)]
pub(crate) struct RegisteredCertificate {
    /// `x5t#S256`: base64url SHA-256 of the DER.
    pub(crate) sha256: String,
    /// `x5t`: base64url SHA-1 of the DER.
    pub(crate) sha1: String,
    /// The SubjectPublicKeyInfo, DER.
    pub(crate) spki: Vec<u8>,
}

impl RegisteredCertificate {
    /// Reads a certificate, PEM (the first `CERTIFICATE` block) or DER.
    pub(crate) fn parse(pem_or_der: &[u8]) -> Option<Self> {
        let der = match pem::parse_many(pem_or_der) {
            Ok(blocks) if !blocks.is_empty() => {
                blocks.into_iter().find(|block| block.tag() == "CERTIFICATE")?.into_contents()
            }
            _ => pem_or_der.to_vec(),
        };
        let spki = subject_public_key_info(&der)?.to_vec();
        Some(Self { sha256: thumbprint(&der, &aws_lc_rs::digest::SHA256), sha1: thumbprint(&der, &SHA1), spki })
    }
}

const SHA1: aws_lc_rs::digest::Algorithm = aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY;

fn thumbprint(der: &[u8], algorithm: &'static aws_lc_rs::digest::Algorithm) -> String {
    b64(aws_lc_rs::digest::digest(algorithm, der).as_ref())
}

/// One DER element: its tag, the whole element, its content, and what follows it.
pub(crate) type Element<'a> = (u8, &'a [u8], &'a [u8], &'a [u8]);

/// One DER element at the start of `input`.
pub(crate) fn element(input: &[u8]) -> Option<Element<'_>> {
    let (&tag, after_tag) = input.split_first()?;
    let (&first, after_length) = after_tag.split_first()?;
    let (length, header) = if first < 0x80 {
        (usize::from(first), 2usize)
    } else {
        let count = usize::from(first & 0x7f);
        if count == 0 || count > 4 {
            return None;
        }
        let bytes = after_length.get(..count)?;
        let length = bytes.iter().fold(0usize, |length, byte| (length << 8) | usize::from(*byte));
        (length, count.checked_add(2)?)
    };
    let end = header.checked_add(length)?;
    Some((tag, input.get(..end)?, input.get(header..end)?, input.get(end..)?))
}

/// The SubjectPublicKeyInfo of an X.509 certificate (RFC 5280 §4.1): the seventh element of
/// the TBSCertificate, counting the optional `[0]` version.
fn subject_public_key_info(certificate: &[u8]) -> Option<&[u8]> {
    let (_, _, certificate, _) = element(certificate)?;
    let (_, _, tbs, _) = element(certificate)?;
    let mut rest = tbs;
    let (tag, _, _, after) = element(rest)?;
    if tag == 0xa0 {
        rest = after;
    }
    // serial, signature algorithm, issuer, validity, subject
    for _ in 0..5 {
        rest = element(rest)?.3;
    }
    let (tag, spki, _, _) = element(rest)?;
    (tag == 0x30).then_some(spki)
}

/// An RSA key (the emulator's [`TestKey`]) and a self-signed certificate for it, made at test
/// time: register [`TestCertificate::cert_pem`] on an app, give the app
/// [`TestCertificate::pem_with_key`] as `AAD_CLIENT_CERTIFICATE`. A test key only.
#[derive(Debug, Clone)]
pub struct TestCertificate {
    key: Arc<TestKey>,
    der: Vec<u8>,
}

impl TestCertificate {
    /// A fresh RSA-2048 key and a self-signed certificate with this common name.
    ///
    /// # Panics
    /// When rcgen cannot use the key: a test set-up failure.
    #[allow(clippy::expect_used)]
    pub fn generate(common_name: &str) -> Self {
        let key = Arc::new(TestKey::generate(format!("cert-{common_name}")));
        let pair = rcgen::KeyPair::from_pem(&key.private_key_pem()).expect("rcgen reads the RSA key");
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("certificate parameters");
        params.distinguished_name.push(rcgen::DnType::CommonName, common_name);
        let certificate = params.self_signed(&pair).expect("self-signed certificate");
        Self { key, der: certificate.der().to_vec() }
    }

    /// The certificate, PEM: what is uploaded to the app registration.
    pub fn cert_pem(&self) -> String {
        pem_block("CERTIFICATE", &self.der)
    }

    /// The certificate and its private key in one PEM file, as `AAD_CLIENT_CERTIFICATE` takes.
    pub fn pem_with_key(&self) -> String {
        format!("{}{}", self.cert_pem(), self.key.private_key_pem())
    }

    /// `x5t#S256`, base64url.
    pub fn thumbprint_sha256(&self) -> String {
        thumbprint(&self.der, &aws_lc_rs::digest::SHA256)
    }

    /// `x5t` (SHA-1), base64url.
    pub fn thumbprint_sha1(&self) -> String {
        thumbprint(&self.der, &SHA1)
    }

    /// A client assertion with these claims, signed with `alg` and headed `x5t#S256` (or `x5t`
    /// with `sha1_header`): for assertions the library would not make (expired, PS256, a wrong
    /// audience).
    pub fn sign_assertion(&self, claims: &Value, alg: &SigningAlg, sha1_header: bool) -> String {
        let header = if sha1_header {
            json!({ "alg": alg.name(), "typ": "JWT", "x5t": self.thumbprint_sha1() })
        } else {
            json!({ "alg": alg.name(), "typ": "JWT", "x5t#S256": self.thumbprint_sha256() })
        };
        self.key.sign_compact(&header, claims, alg)
    }
}

#[cfg(test)]
mod tests {
    use super::{RegisteredCertificate, TestCertificate, subject_public_key_info};

    #[test]
    fn the_public_key_is_found_and_no_truncation_or_garbage_panics() {
        let certificate = TestCertificate::generate("der");
        let registered = RegisteredCertificate::parse(certificate.cert_pem().as_bytes()).unwrap();
        assert!(aws_lc_rs::rsa::PublicKey::from_der(&registered.spki).is_ok(), "a SubjectPublicKeyInfo");
        assert_eq!(registered.sha256, certificate.thumbprint_sha256());
        let pem = certificate.cert_pem();
        let body: String = pem.lines().filter(|line| !line.starts_with("-----")).collect();
        let der = base64::Engine::decode(&base64::engine::general_purpose::STANDARD, body).unwrap();
        assert!(subject_public_key_info(&der).is_some());
        for end in 0..der.len() {
            assert!(subject_public_key_info(&der[..end]).is_none(), "a truncated certificate, {end} bytes");
        }
        for garbage in [&b"\x30\x84\xff\xff\xff\xff"[..], b"\x30\x80", b"\x30", b"", b"not a certificate"] {
            assert!(RegisteredCertificate::parse(garbage).is_none());
        }
    }
}
