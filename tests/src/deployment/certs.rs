//! A test certificate authority and one server certificate signed by it, made with rcgen (no
//! `openssl` invocation, nothing from the host's trust store).
//!
//! Why a CA rather than one self-signed certificate: Redis and nginx present the server
//! certificate, and every client (the app's Redis client, reqwest here, the app's `AAD_CA_FILE`)
//! trusts the CA, as in a deployment with an internal CA. The server certificate names
//! `localhost`, `127.0.0.1` (an IP SAN: rustls checks IP addresses against IP SANs only) and
//! `app.test` (a non-loopback public name, resolved to 127.0.0.1 by the client).

use std::path::PathBuf;

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};

use super::TempDir;

/// The names the server certificate is valid for.
pub const SERVER_NAMES: [&str; 3] = ["localhost", "127.0.0.1", "app.test"];

/// The CA and the server certificate, as PEM files in a temporary directory.
#[derive(Debug)]
pub struct TestPki {
    /// The CA certificate (PEM), for clients to trust.
    pub ca_pem: String,
    /// `ca.pem`: the CA certificate.
    pub ca_path: PathBuf,
    /// `server.pem`: the server certificate followed by the CA (the chain nginx and Redis send).
    pub cert_path: PathBuf,
    /// `server.key`: the server certificate's private key (PKCS#8 PEM).
    pub key_path: PathBuf,
    dir: TempDir,
}

impl TestPki {
    /// A new CA (ECDSA P-256) and a server certificate for [`SERVER_NAMES`].
    pub fn new() -> Self {
        let dir = TempDir::new("pki");

        let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("CA parameters");
        ca_params.distinguished_name = DistinguishedName::new();
        ca_params.distinguished_name.push(DnType::CommonName, "aad-auth deployment test CA");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let ca_key = KeyPair::generate().expect("CA key");
        let ca_cert = ca_params.self_signed(&ca_key).expect("self-signed CA certificate");
        let issuer = Issuer::new(ca_params, ca_key);

        let mut server_params =
            CertificateParams::new(SERVER_NAMES.iter().map(|name| (*name).to_owned()).collect::<Vec<_>>())
                .expect("server certificate parameters");
        server_params.distinguished_name = DistinguishedName::new();
        server_params.distinguished_name.push(DnType::CommonName, "localhost");
        server_params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        server_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let server_key = KeyPair::generate().expect("server key");
        let server_cert = server_params.signed_by(&server_key, &issuer).expect("server certificate signed by the CA");

        let ca_pem = ca_cert.pem();
        let ca_path = dir.path().join("ca.pem");
        let cert_path = dir.path().join("server.pem");
        let key_path = dir.path().join("server.key");
        std::fs::write(&ca_path, &ca_pem).expect("write ca.pem");
        std::fs::write(&cert_path, format!("{}{ca_pem}", server_cert.pem())).expect("write server.pem");
        std::fs::write(&key_path, server_key.serialize_pem()).expect("write server.key");
        Self { ca_pem, ca_path, cert_path, key_path, dir }
    }

    /// Writes `bundle.pem`: `others` (PEM text) followed by the CA, for `AAD_CA_FILE`, which then
    /// trusts both the local tenant's self-signed certificate and this CA (Redis's certificate).
    pub fn bundle_with(&self, others: &[&str]) -> PathBuf {
        let mut bundle = String::new();
        for pem in others.iter().copied().chain([self.ca_pem.as_str()]) {
            bundle.push_str(pem);
            if !bundle.ends_with('\n') {
                bundle.push('\n');
            }
        }
        let path = self.dir.path().join("bundle.pem");
        std::fs::write(&path, bundle).expect("write bundle.pem");
        path
    }
}
