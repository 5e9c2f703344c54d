//! The credentials on their own: the certificate's assertion, the assertion file, and which
//! credential a configuration chooses.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

use base64::Engine as _;
use serde_json::Value;

use super::{AssertionFile, CLIENT_ASSERTION_TYPE, ClientAuth, ClientCertificate, ClientCredential};
use crate::client::ClientConfig;
use crate::testing::TestCertificate;

fn part(jwt: &str, index: usize) -> Value {
    let segment = jwt.split('.').nth(index).unwrap();
    serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(segment).unwrap()).unwrap()
}

fn temp_file(name: &str, content: &str) -> std::path::PathBuf {
    let path = std::env::temp_dir().join(format!("aad-auth-unit-{}-{name}", crate::testing::random_guid()));
    std::fs::write(&path, content).unwrap();
    path
}

#[test]
fn a_certificate_signs_an_rs256_assertion_entra_accepts_the_shape_of() {
    let test = TestCertificate::generate("unit");
    let certificate = ClientCertificate::from_pem(test.pem_with_key().as_bytes(), "unit.pem").unwrap();
    assert_eq!(certificate.thumbprint_sha256(), test.thumbprint_sha256());
    let endpoint = "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token";
    let first = certificate.assertion("client-id", endpoint).unwrap();
    let second = certificate.assertion("client-id", endpoint).unwrap();
    let (header, claims) = (part(first.expose_secret(), 0), part(first.expose_secret(), 1));
    assert_eq!(header["alg"], "RS256");
    assert_eq!(header["x5t#S256"], test.thumbprint_sha256());
    assert_eq!(
        (claims["aud"].as_str(), claims["iss"].as_str(), claims["sub"].as_str()),
        (Some(endpoint), Some("client-id"), Some("client-id"))
    );
    let (iat, nbf, exp) =
        (claims["iat"].as_u64().unwrap(), claims["nbf"].as_u64().unwrap(), claims["exp"].as_u64().unwrap());
    assert_eq!((nbf, exp - iat), (iat, 600), "valid from now for ten minutes");
    assert_ne!(claims["jti"], part(second.expose_secret(), 1)["jti"], "a fresh jti each time");

    // Verifies with the certificate's public key (the tenant's own check).
    let registered = crate::testing::certs::RegisteredCertificate::parse(test.cert_pem().as_bytes()).unwrap();
    let key = aws_lc_rs::signature::UnparsedPublicKey::new(
        &aws_lc_rs::signature::RSA_PKCS1_2048_8192_SHA256,
        &registered.spki,
    );
    let (input, signature) = first.expose_secret().rsplit_once('.').unwrap();
    let signature = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(signature).unwrap();
    assert!(key.verify(input.as_bytes(), &signature).is_ok());

    let shown = format!("{:?}", ClientCredential::Certificate(certificate.clone()));
    let key_line = test.pem_with_key().lines().skip_while(|l| !l.contains("PRIVATE KEY")).nth(1).unwrap().to_owned();
    assert!(shown.contains("PrivateKey([redacted])") && !shown.contains(&key_line), "{shown}");
    let auth = ClientAuth::Assertion(first.clone());
    assert!(!format!("{auth:?}").contains(first.expose_secret()));
    assert_eq!(auth.form()[0], ("client_assertion_type", CLIENT_ASSERTION_TYPE));
}

#[test]
fn a_certificate_file_needs_the_certificate_and_its_own_key() {
    let test = TestCertificate::generate("unit");
    let other = TestCertificate::generate("other");
    let other_key = other.pem_with_key().split("-----END CERTIFICATE-----\n").nth(1).unwrap().to_owned();
    for (pem, expected) in [
        (test.cert_pem(), "no unencrypted RSA private key"),
        (other_key.clone(), "no certificate"),
        (format!("{}{other_key}", test.cert_pem()), "does not belong"),
        ("garbage".to_owned(), "no certificate"),
    ] {
        let error = ClientCertificate::from_pem(pem.as_bytes(), "x.pem").unwrap_err();
        assert!(error.contains(expected), "{error}");
    }
}

#[actix_web::test]
async fn an_assertion_file_is_read_at_every_use_and_must_hold_a_jwt() {
    let path = temp_file("token", "a.b.c\n");
    let file = AssertionFile::new("AAD_CLIENT_ASSERTION_FILE", &path);
    assert_eq!(file.read().await.unwrap().expose_secret(), "a.b.c");
    std::fs::write(&path, "d.e.f").unwrap();
    assert_eq!(file.read().await.unwrap().expose_secret(), "d.e.f", "not cached");
    for bad in ["", "not a jwt", "a.b", "a.b.c.d", "a.b.c d"] {
        std::fs::write(&path, bad).unwrap();
        let error = file.read().await.unwrap_err().to_string();
        assert!(error.contains("AAD_CLIENT_ASSERTION_FILE") && error.contains("not a JWT"), "{bad:?}: {error}");
    }
    std::fs::remove_file(&path).unwrap();
    let error = file.read().await.unwrap_err().to_string();
    assert!(error.contains(&path.display().to_string()), "{error}");
}

fn chosen(vars: &[(&str, &str)]) -> Result<Option<&'static str>, crate::ConfigError> {
    let lookup = |name: &str| match name {
        "AAD_CLIENT_ID" => Some("11111111-2222-3333-4444-555555555555".to_owned()),
        "AAD_TENANT_ID" => Some("contoso.onmicrosoft.com".to_owned()),
        _ => vars.iter().find(|(var, _)| *var == name).map(|(_, value)| (*value).to_owned()),
    };
    let client = ClientConfig::from_lookup(lookup)?.client_credential().map(ClientCredential::variable);
    let api = crate::AadAuthConfig::from_lookup(lookup)?.client_credential().map(ClientCredential::variable);
    assert_eq!(client, api, "the API and the client choose alike");
    Ok(client)
}

#[test]
fn which_credential_a_configuration_chooses() {
    let token = temp_file("token", "a.b.c");
    let token = token.display().to_string();
    assert_eq!(chosen(&[]).unwrap(), None);
    assert_eq!(chosen(&[("AZURE_FEDERATED_TOKEN_FILE", &token)]).unwrap(), Some("AZURE_FEDERATED_TOKEN_FILE"));
    assert_eq!(
        chosen(&[("AAD_CLIENT_ASSERTION_FILE", &token), ("AZURE_FEDERATED_TOKEN_FILE", "/nowhere")]).unwrap(),
        Some("AAD_CLIENT_ASSERTION_FILE")
    );
    let identity = [
        ("AAD_MANAGED_IDENTITY", "true"),
        ("IDENTITY_ENDPOINT", "http://localhost:42356/msi/token"),
        ("IDENTITY_HEADER", "h"),
        ("AZURE_FEDERATED_TOKEN_FILE", "/nowhere"),
    ];
    assert_eq!(chosen(&identity).unwrap(), Some("AAD_MANAGED_IDENTITY"));
    // App Service sets IDENTITY_* whenever an identity is enabled: without AAD_MANAGED_IDENTITY
    // they choose nothing.
    assert_eq!(chosen(&identity[1..3]).unwrap(), None);
    assert_eq!(chosen(&[("AAD_MANAGED_IDENTITY", "false"), ("IDENTITY_HEADER", "h")]).unwrap(), None);

    let missing = chosen(&[("AAD_MANAGED_IDENTITY", "true")]).unwrap_err();
    assert_eq!(missing.variables(), vec!["IDENTITY_ENDPOINT", "IDENTITY_HEADER"], "{missing}");
    let remote_http =
        [("AAD_MANAGED_IDENTITY", "true"), ("IDENTITY_ENDPOINT", "http://169.254.1.1/msi"), ("IDENTITY_HEADER", "h")];
    assert_eq!(chosen(&remote_http).unwrap_err().variables(), vec!["IDENTITY_ENDPOINT"]);
    let bad_flag = chosen(&[("AAD_MANAGED_IDENTITY", "maybe")]).unwrap_err();
    assert_eq!(bad_flag.variables(), vec!["AAD_MANAGED_IDENTITY"]);
    let all = chosen(&[
        ("AAD_CLIENT_SECRET", "s"),
        ("AAD_CLIENT_CERTIFICATE", "/nowhere.pem"),
        ("AAD_CLIENT_ASSERTION_FILE", &token),
        ("AAD_MANAGED_IDENTITY", "true"),
    ])
    .unwrap_err();
    assert_eq!(
        all.variables(),
        vec!["AAD_CLIENT_SECRET", "AAD_CLIENT_CERTIFICATE", "AAD_CLIENT_ASSERTION_FILE", "AAD_MANAGED_IDENTITY"],
        "one problem naming all, no second one about a file: {all}"
    );
    std::fs::remove_file(&token).ok();
}

#[cfg(feature = "fuzzing")]
#[test]
fn the_fuzz_contract_holds_for_credential_settings() {
    // The variables naming files are never set by the fuzz target; the others are, and no
    // message may carry IDENTITY_HEADER's or AAD_CLIENT_SECRET's value.
    let variables = crate::__fuzz::config_variables();
    for var in ["AAD_MANAGED_IDENTITY", "IDENTITY_ENDPOINT", "IDENTITY_HEADER"] {
        assert!(variables.contains(&var), "{var}");
    }
    for var in ["AAD_CLIENT_CERTIFICATE", "AAD_CLIENT_ASSERTION_FILE", "AZURE_FEDERATED_TOKEN_FILE"] {
        assert!(!variables.contains(&var), "{var} names a file");
    }
    for input in [
        "AAD_MANAGED_IDENTITY=true\nIDENTITY_ENDPOINT=ftp://example\nIDENTITY_HEADER=header-Value-0123456789",
        "AAD_MANAGED_IDENTITY=true\nAAD_CLIENT_SECRET=Secret-value-0123456789\nIDENTITY_HEADER=header-Value-0123456789",
        "AAD_MANAGED_IDENTITY=header-Value-0123456789\nIDENTITY_HEADER=header-Value-0123456789",
    ] {
        assert!(crate::__fuzz::config_values_hold(input), "{input}");
    }
}

#[test]
fn a_pkcs1_key_is_read_as_well_as_pkcs8() {
    let test = TestCertificate::generate("pkcs1");
    let pkcs8 = test.pem_with_key();
    let key_pem = pkcs8.split("-----END CERTIFICATE-----\n").nth(1).unwrap();
    let body: String = key_pem.lines().filter(|line| !line.starts_with("-----")).collect();
    let der = base64::engine::general_purpose::STANDARD.decode(body).unwrap();
    // PrivateKeyInfo ::= SEQUENCE { version, algorithm, privateKey OCTET STRING (RSAPrivateKey) }
    let (_, _, info, _) = crate::testing::certs::element(&der).unwrap();
    let after_version = crate::testing::certs::element(info).unwrap().3;
    let after_algorithm = crate::testing::certs::element(after_version).unwrap().3;
    let (tag, _, rsa_private_key, _) = crate::testing::certs::element(after_algorithm).unwrap();
    assert_eq!(tag, 0x04);
    let pkcs1 = format!(
        "{}-----BEGIN RSA PRIVATE KEY-----\n{}\n-----END RSA PRIVATE KEY-----\n",
        test.cert_pem(),
        base64::engine::general_purpose::STANDARD.encode(rsa_private_key)
    );
    let certificate = ClientCertificate::from_pem(pkcs1.as_bytes(), "pkcs1.pem").unwrap();
    assert_eq!(certificate.thumbprint_sha256(), test.thumbprint_sha256());
    assert!(certificate.assertion("client", "https://login.example/t/oauth2/v2.0/token").is_ok());
}
