//! Hostile and malformed input, one row per case D of `docs/security.md`: every answer
//! is a clean 4xx, never a panic, never an echo of the token, never a log line that could be
//! forged.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::sync::Arc;

use aad_auth::testing::SigningAlg;
use aad_auth::{AuthenticationState, Policy, RequireAuth};
use aad_auth_tests::logs::Captured;
use aad_auth_tests::{Harness, app, assert_rows, b64, expect_row, get, segments};
use actix_web::{App, HttpResponse, HttpServer, web};
use serde_json::json;

const INVALID: Option<&str> = Some("invalid_token");

#[actix_web::test]
async fn d01_d02_oversized_tokens_over_real_http() {
    let h = Harness::new().await;
    let auth = h.auth.clone();
    let server = HttpServer::new(move || {
        App::new().configure(auth.configure()).service(
            web::scope("/api")
                .wrap(RequireAuth::new(Policy::api()))
                .route("", web::get().to(|_: AuthenticationState| async { HttpResponse::Ok().finish() })),
        )
    })
    .workers(1)
    .disable_signals()
    .bind(("127.0.0.1", 0))
    .unwrap();
    let port = server.addrs()[0].port();
    let running = server.run();
    let handle = running.handle();
    actix_web::rt::spawn(running);
    let client = reqwest::Client::new();
    let url = format!("http://127.0.0.1:{port}/api");
    let valid = h.tenant.token().member().sign();
    let (header, payload, signature) = segments(&valid);
    let padded = |bytes: usize| {
        let filler = "A".repeat(bytes.saturating_sub(valid.len()));
        format!("{header}.{payload}{filler}.{signature}")
    };
    // 10 000 members: over the token cap (401) or, once encoded, over actix's header limit (431).
    let members: serde_json::Map<String, serde_json::Value> =
        (0..10_000).map(|i| (format!("m{i}"), json!(1))).collect();
    let bomb_header = b64(serde_json::Value::Object(members).to_string().as_bytes());
    let huge_kid = b64(json!({"alg": "RS256", "kid": "k".repeat(1024 * 1024)}).to_string().as_bytes());
    let rows: Vec<(String, String, &[u16])> = vec![
        ("D1 8 KiB".into(), padded(8 * 1024), &[401]),
        ("D1 16 KiB + 1".into(), padded(16 * 1024 + 1), &[401]),
        ("D1 64 KiB".into(), padded(64 * 1024), &[401]),
        ("D1 256 KiB: over the HTTP header limit".into(), padded(256 * 1024), &[431, 400]),
        ("D1 1 MiB".into(), padded(1024 * 1024), &[431, 400]),
        ("D2 JOSE header of 10 000 members".into(), format!("{bomb_header}.{payload}.{signature}"), &[401, 431]),
        ("D2 kid of 1 MB".into(), format!("{huge_kid}.{payload}.{signature}"), &[431, 400]),
    ];
    let mut failures = Vec::new();
    for (name, token, accepted) in &rows {
        match client.get(&url).header("authorization", format!("Bearer {token}")).send().await {
            Ok(response) => {
                let status = response.status().as_u16();
                let body = response.text().await.unwrap_or_default();
                if !accepted.contains(&status) {
                    failures.push(format!("{name}: status {status}, expected one of {accepted:?}"));
                }
                if body.contains(token.as_str()) || body.len() > 4096 {
                    failures.push(format!("{name}: the body echoes input ({} bytes)", body.len()));
                }
            }
            // Closing the connection on a head larger than actix's buffer is also a refusal.
            Err(error) if accepted.contains(&431) => drop(error),
            Err(error) => failures.push(format!("{name}: request failed: {error}")),
        }
    }
    let ok = client.get(&url).bearer_auth(&valid).send().await.unwrap();
    assert_eq!(ok.status().as_u16(), 200, "the server is still serving");
    handle.stop(false).await;
    assert_rows(failures);
}

#[actix_web::test]
async fn d03_d05_d06_d08_malformed_tokens_are_clean_401s() {
    let h = Harness::new().await;
    let app = app(&h.auth).await;
    let valid = h.tenant.token().member().sign();
    let (header, payload, signature) = segments(&valid);
    // A key the tenant publishes, so these get past the signature to the payload parser.
    let published = Arc::new(aad_auth::testing::TestKey::generate("published-for-d-cases"));
    h.tenant.publish_key(published.clone());
    let claims = json!(h.tenant.token().member().claims()).to_string();
    let genuine_header = json!({"typ": "JWT", "alg": "RS256", "kid": published.kid()}).to_string();
    let signed = |header: &[u8], payload: &[u8]| published.sign_raw(header, payload, &SigningAlg::Rs256);
    let depth = 5000;
    let nested = format!("{{\"a\":{}{}}}", "[".repeat(depth), "]".repeat(depth));
    let std_b64 = |bytes: &[u8]| {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD.encode(bytes)
    };
    let rows: Vec<(&str, String)> = vec![
        ("D3 payload nested 5000 levels", signed(genuine_header.as_bytes(), nested.as_bytes())),
        ("D5 = padding on the payload", format!("{header}.{payload}==.{signature}")),
        (
            "D5 +/ alphabet",
            format!("{}.{}.{signature}", std_b64(genuine_header.as_bytes()), std_b64(claims.as_bytes())),
        ),
        ("D5 embedded space", format!("{header}.{} {}.{signature}", &payload[..10], &payload[10..])),
        ("D5 invalid characters", format!("{header}.{payload}*&.{signature}")),
        ("D5 non-canonical trailing bits", format!("{header}.{}.{signature}", noncanonical(&payload))),
        ("D5 empty header", format!(".{payload}.{signature}")),
        ("D5 empty payload", format!("{header}..{signature}")),
        ("D5 two segments", format!("{header}.{payload}")),
        ("D5 four segments", format!("{header}.{payload}.{signature}.x")),
        ("D5 six segments", format!("{header}.{payload}.{signature}.x.y.z")),
        ("D5 trailing dot", format!("{valid}.")),
        ("D5 leading space in the token", format!(" {valid}")),
        ("D6 header not JSON", format!("{}.{payload}.{signature}", b64(b"not json"))),
        ("D6 header a JSON array", format!("{}.{payload}.{signature}", b64(b"[1,2]"))),
        ("D6 header a JSON string", format!("{}.{payload}.{signature}", b64(b"\"RS256\""))),
        ("D6 header invalid UTF-8", format!("{}.{payload}.{signature}", b64(&[0xff, 0xfe, 0x7b]))),
        (
            "D6 header with a BOM",
            format!("{}.{payload}.{signature}", b64(format!("\u{feff}{genuine_header}").as_bytes())),
        ),
        ("D6 header trailing comma", format!("{}.{payload}.{signature}", b64(b"{\"alg\":\"RS256\",}"))),
        ("D6 payload not JSON", signed(genuine_header.as_bytes(), b"not json")),
        ("D6 payload a JSON array", signed(genuine_header.as_bytes(), b"[1,2,3]")),
        ("D6 payload a JSON number", signed(genuine_header.as_bytes(), b"42")),
        ("D6 payload invalid UTF-8", signed(genuine_header.as_bytes(), &[0x7b, 0xff, 0x7d])),
        ("D6 payload with a BOM", signed(genuine_header.as_bytes(), format!("\u{feff}{claims}").as_bytes())),
        (
            "D6 payload trailing comma",
            signed(genuine_header.as_bytes(), format!("{},}}", &claims[..claims.len() - 1]).as_bytes()),
        ),
        ("D8 empty signature", format!("{header}.{payload}.")),
        ("D8 1-byte signature", format!("{header}.{payload}.{}", b64(&[1]))),
        ("D8 255-byte signature", format!("{header}.{payload}.{}", b64(&[1; 255]))),
        ("D8 257-byte signature", format!("{header}.{payload}.{}", b64(&[1; 257]))),
        ("D8 4 KiB signature", format!("{header}.{payload}.{}", b64(&[1; 4096]))),
    ];
    let mut failures = Vec::new();
    for (name, token) in &rows {
        let reply = get(&app, "/api", Some(token)).await;
        failures.extend(expect_row(name, &reply, 401, INVALID, token));
        if reply.body.len() > 512 {
            failures.push(format!("{name}: an error body of {} bytes", reply.body.len()));
        }
    }
    assert_rows(failures);
    assert_eq!(get(&app, "/api", Some(&valid)).await.status, 200);
}

/// Changes the last character of a base64url segment so that its unused low bits are set.
fn noncanonical(segment: &str) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let last = segment.as_bytes()[segment.len() - 1];
    let index = ALPHABET.iter().position(|c| *c == last).unwrap();
    let unused_bits = match segment.len() % 4 {
        2 => 0b1111,
        3 => 0b11,
        _ => return format!("{segment}A"),
    };
    let changed = ALPHABET[(index | unused_bits) & 63] as char;
    let changed = if changed as u8 == last { ALPHABET[(index ^ 1) & 63] as char } else { changed };
    format!("{}{changed}", &segment[..segment.len() - 1])
}

#[actix_web::test]
async fn d10_logs_are_escaped_and_never_hold_tokens() {
    let (captured, _guard) = Captured::start();
    let h = Harness::new().await;
    let app = app(&h.auth).await;
    let injections = ["kid\r\nINFO forged log line", "\u{1b}[31mred\u{1b}[0m", &"k".repeat(10_000)];
    let mut tokens = vec![h.tenant.token().member().sign(), h.tenant.token().member().expired().sign()];
    for kid in injections {
        tokens.push(h.tenant.token().member().header("kid", json!(kid)).sign());
    }
    tokens.push(h.tenant.token().member().claim("iss", json!("https://evil.example/\r\nforged")).sign());
    for token in &tokens {
        let _ = get(&app, "/api", Some(token)).await;
    }
    let logs = captured.text();
    assert!(logs.contains("unknown signing key"), "the unknown kids were logged (debug): {logs}");
    assert!(!logs.contains("\r\nINFO forged"), "CR/LF from a kid reached the log");
    assert!(!logs.contains('\u{1b}'), "an ANSI escape from a kid reached the log");
    assert!(!logs.contains(&"k".repeat(200)), "a 10 KB kid was logged untruncated");
    for token in &tokens {
        let (_, payload, signature) = segments(token);
        assert!(!logs.contains(&payload) && !logs.contains(&signature), "a token reached the log");
    }
}
