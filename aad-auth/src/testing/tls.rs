//! The https tenant's certificate: one self-signed certificate for `127.0.0.1` (and
//! `localhost`), generated at start, written to a PEM file that clients trust.
//!
//! A single self-signed certificate, not a CA and a leaf: Python 3.13 refuses a leaf without an
//! Authority Key Identifier, which rcgen's CA-issued leaves lack, and a self-signed certificate
//! avoids the question (`docs/emulator.md`, TLS).

use std::path::PathBuf;
use std::sync::Arc;

use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

use super::registry::random_guid;

/// A directory removed on drop (holds the https certificate).
#[derive(Debug)]
pub(crate) struct TempDir(pub(crate) PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A certificate ready to serve, and where its PEM lives.
pub(crate) struct Tls {
    pub(crate) config: rustls::ServerConfig,
    pub(crate) pem_path: PathBuf,
    pub(crate) dir: TempDir,
}

/// Generates the certificate, writes it to a fresh temporary directory and builds the rustls
/// configuration.
///
/// # Panics
/// When the certificate cannot be made or written: a test set-up failure.
#[allow(clippy::expect_used, reason = "a tenant that cannot make its certificate is a set-up failure")]
pub(crate) fn self_signed() -> Tls {
    let mut params =
        rcgen::CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()]).expect("certificate names");
    params.distinguished_name = rcgen::DistinguishedName::new();
    params.distinguished_name.push(rcgen::DnType::CommonName, "aad-auth local tenant");
    let key = rcgen::KeyPair::generate().expect("certificate key");
    let cert = params.self_signed(&key).expect("self-signed certificate");

    let dir = std::env::temp_dir().join(format!("aad-auth-tenant-{}", random_guid()));
    std::fs::create_dir_all(&dir).expect("create the tenant's temporary directory");
    let dir = TempDir(std::path::absolute(&dir).unwrap_or(dir));
    let pem_path = dir.0.join("ca.pem");
    std::fs::write(&pem_path, cert.pem()).expect("write the tenant's certificate");

    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .with_no_client_auth()
        .with_single_cert(
            vec![CertificateDer::from(cert.der().to_vec())],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
        )
        .expect("TLS server configuration");
    Tls { config, pem_path, dir }
}
