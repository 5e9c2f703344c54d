//! Writes the seed corpus, `fuzz/corpus/<target>/seed-*`: real-shaped tokens minted by a local
//! tenant, the tenant's own discovery and JWKS documents, and hand-written edge cases (the
//! security table's header, open-redirect and configuration rows).
//!
//! `cargo run --example mint_seeds` from `fuzz/` (rewrites every `seed-*` file; other files in
//! the corpus directories are left alone). The tenant's key is new on every run, so minted
//! tokens change each time; they are shapes, not valid tokens (the `validate` target mints its
//! own valid ones from `\x01{claims}` inputs).

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use aad_auth::testing::{SigningAlg, Tenant};
use serde_json::{Value, json};

/// The tenant and port the `discovery` hook's loopback authority expects.
const TENANT_ID: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
const HOOK_HOST: &str = "127.0.0.1:8400";

struct Corpus {
    root: PathBuf,
}

impl Corpus {
    fn write(&self, target: &str, name: &str, bytes: impl AsRef<[u8]>) {
        let dir = self.root.join(target);
        std::fs::create_dir_all(&dir).expect("create the corpus directory");
        std::fs::write(dir.join(format!("seed-{name}")), bytes).expect("write a seed");
    }

    fn clear(&self, target: &str) {
        let Ok(entries) = std::fs::read_dir(self.root.join(target)) else { return };
        for entry in entries.flatten() {
            if entry.file_name().to_string_lossy().starts_with("seed-") {
                std::fs::remove_file(entry.path()).expect("remove an old seed");
            }
        }
    }
}

/// A plain HTTP/1.1 GET against the tenant (no client library needed for three documents).
fn get(tenant: &Tenant, path: &str) -> String {
    let host = tenant.authority_host().trim_start_matches("http://").to_owned();
    let mut stream = std::net::TcpStream::connect(&host).expect("connect to the tenant");
    write!(stream, "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n").expect("send");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("read");
    let (head, body) = response.split_once("\r\n\r\n").expect("an HTTP response");
    assert!(head.starts_with("HTTP/1.1 200"), "{path}: {head}");
    assert!(!head.to_ascii_lowercase().contains("chunked"), "{path}: chunked");
    body.to_owned()
}

/// Unpadded base64url, decoded (the tokens' payloads).
fn base64url_decode(text: &str) -> Vec<u8> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut bits = 0u32;
    let mut count = 0;
    let mut out = Vec::new();
    for c in text.bytes() {
        let value = ALPHABET.iter().position(|&a| a == c).expect("base64url") as u32;
        bits = (bits << 6) | value;
        count += 6;
        if count >= 8 {
            count -= 8;
            out.push((bits >> count) as u8);
            bits &= (1 << count) - 1;
        }
    }
    out
}

fn pretty(value: &Value) -> String {
    serde_json::to_string_pretty(value).expect("JSON")
}

fn main() {
    let root =
        std::env::args().nth(1).map_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus"), PathBuf::from);
    let corpus = Corpus { root };
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let tenant = runtime.block_on(Tenant::builder().tenant_id(TENANT_ID).start());
    let port_host = tenant.authority_host().trim_start_matches("http://").to_owned();
    let local = |text: &str| text.replace(&port_host, HOOK_HOST);

    for target in [
        "validate",
        "compact_token",
        "jwks",
        "discovery",
        "authorization_header",
        "redirect_target",
        "config_values",
        "emulator_form",
    ] {
        corpus.clear(target);
    }

    // Tokens: every preset, and the algorithm and header attacks.
    let tokens = [
        ("member", tenant.token().member().sign()),
        ("guest", tenant.token().guest().sign()),
        ("app-only", tenant.token().app_only().sign()),
        ("v1", tenant.token().member().v1().sign()),
        ("expired", tenant.token().member().expired().sign()),
        ("graph", tenant.token().member().graph_audience().sign()),
        ("id-token", tenant.token().member().id_token().sign()),
        ("overage", tenant.token().member().groups_overage().sign()),
        ("hs256", tenant.token().member().alg(SigningAlg::Hs256(b"secret".to_vec())).sign()),
        ("alg-none", tenant.token().member().alg(SigningAlg::Unsigned).sign()),
        ("ps256", tenant.token().member().alg(SigningAlg::Ps256).sign()),
        ("no-kid", tenant.token().member().without_header("kid").sign()),
        ("x5t-only", tenant.token().member().without_header("kid").header("x5t", json!("abc")).sign()),
        ("crit", tenant.token().member().header("crit", json!(["exp"])).sign()),
        ("jku", tenant.token().member().header("jku", json!("https://evil.example/keys")).sign()),
    ];
    for (name, token) in &tokens {
        corpus.write("validate", &format!("token-{name}"), token);
        corpus.write("compact_token", &format!("token-{name}"), token);
    }
    let member = &tokens[0].1;
    let mut segments = member.split('.');
    let (header, payload, signature) =
        (segments.next().unwrap_or_default(), segments.next().unwrap_or_default(), segments.next().unwrap_or_default());
    let malformed = [
        ("empty", String::new()),
        ("one-segment", header.to_owned()),
        ("two-segments", format!("{header}.{payload}")),
        ("four-segments", format!("{member}.x")),
        ("trailing-dot", format!("{member}.")),
        ("empty-header", format!(".{payload}.{signature}")),
        ("empty-payload", format!("{header}..{signature}")),
        ("empty-signature", format!("{header}.{payload}.")),
        ("padding", format!("{header}.{payload}==.{signature}")),
        ("std-alphabet", format!("{header}.{payload}.{}", signature.replace('-', "+").replace('_', "/"))),
        ("space", format!("{header}.{} {}.{signature}", &payload[..10], &payload[10..])),
        ("header-not-json", "bm90IGpzb24.e30.c2ln".to_owned()),
        ("header-array", "WzEsMl0.e30.c2ln".to_owned()),
        ("short", "e30.e30.e30".to_owned()),
    ];
    for (name, token) in &malformed {
        corpus.write("validate", &format!("malformed-{name}"), token);
        corpus.write("compact_token", &format!("malformed-{name}"), token);
    }
    // `validate`'s minting inputs: a marker byte (1-6: the algorithm), then claims to merge.
    let mints: [(&str, u8, Value); 16] = [
        ("default", 1, json!({})),
        ("scope", 1, json!({ "scp": "user_impersonation other" })),
        ("roles-only", 1, json!({ "scp": null, "roles": ["Admin"] })),
        ("unknown-kid", 1, json!({ "h:kid": "unknown-kid" })),
        ("no-kid-x5t", 1, json!({ "h:kid": null, "h:x5t": "unknown" })),
        ("alg-header-none", 1, json!({ "h:alg": "none" })),
        ("wrong-audience", 1, json!({ "aud": "api://other" })),
        ("expired", 1, json!({ "exp": 1, "nbf": 0, "iat": 0 })),
        ("v1", 1, json!({ "ver": "1.0", "iss": "https://sts.windows.net/x/" })),
        ("no-tid", 1, json!({ "tid": null })),
        ("nonce", 1, json!({ "nonce": "n" })),
        ("groups-numbers", 1, json!({ "groups": [1, 2] })),
        ("rs384", 2, json!({})),
        ("ps256", 4, json!({})),
        ("hs256", 5, json!({ "h:alg": "RS256" })),
        ("unsigned", 6, json!({})),
    ];
    // Raw payloads (7) and raw header + newline + payload (8), signed with the target's own key.
    let member_payload = base64url_decode(payload);
    let raws: [(&str, Vec<u8>); 7] = [
        ("raw-member", [&[7u8][..], &member_payload[..]].concat()),
        ("raw-not-json", b"\x07not json".to_vec()),
        ("raw-array", b"\x07[1,2]".to_vec()),
        ("raw-nested", [&[7u8][..], "[".repeat(200).as_bytes()].concat()),
        ("raw-bom", [&[7u8][..], "\u{feff}".as_bytes(), &member_payload[..]].concat()),
        ("raw-header", [&b"\x08{\"alg\":\"RS256\",\"kid\":\"fuzz-raw-key\"}\n"[..], &member_payload[..]].concat()),
        ("raw-header-crit", b"\x08{\"alg\":\"RS256\",\"kid\":\"fuzz-raw-key\",\"crit\":[\"b64\"]}\n{}".to_vec()),
    ];
    for (name, bytes) in raws {
        corpus.write("validate", &name, bytes);
    }
    for (name, marker, claims) in mints {
        let mut bytes = vec![marker];
        bytes.extend_from_slice(claims.to_string().as_bytes());
        corpus.write("validate", &format!("mint-{name}"), bytes);
    }

    // Discovery: the tenant's own documents (v2, multi-tenant, v1), moved to the loopback
    // authority the hook knows, and the refusals a document can earn.
    let v2 = local(&get(&tenant, &format!("/{TENANT_ID}/v2.0/.well-known/openid-configuration")));
    let common = local(&get(&tenant, "/common/v2.0/.well-known/openid-configuration"));
    let v1 = local(&get(&tenant, &format!("/{TENANT_ID}/.well-known/openid-configuration")));
    corpus.write("discovery", "emulator-v2", &v2);
    corpus.write("discovery", "emulator-common", &common);
    corpus.write("discovery", "emulator-v1", &v1);
    let document: Value = serde_json::from_str(&v2).expect("discovery JSON");
    let entra = |issuer: &str, jwks: &str| {
        pretty(&json!({
            "issuer": issuer,
            "jwks_uri": jwks,
            "authorization_endpoint": "https://login.microsoftonline.com/common/oauth2/v2.0/authorize",
            "token_endpoint": "https://login.microsoftonline.com/common/oauth2/v2.0/token",
        }))
    };
    let keys = "https://login.microsoftonline.com/common/discovery/v2.0/keys";
    corpus.write(
        "discovery",
        "entra-tenant",
        entra(&format!("https://login.microsoftonline.com/{TENANT_ID}/v2.0"), keys),
    );
    corpus.write("discovery", "entra-multi", entra("https://login.microsoftonline.com/{tenantid}/v2.0", keys));
    corpus.write(
        "discovery",
        "jwks-other-host",
        entra("https://login.microsoftonline.com/{tenantid}/v2.0", "https://evil.example/keys"),
    );
    corpus.write(
        "discovery",
        "jwks-http",
        entra("https://login.microsoftonline.com/{tenantid}/v2.0", "http://login.microsoftonline.com/keys"),
    );
    corpus.write("discovery", "wrong-issuer", entra("https://evil.example/x/v2.0", keys));
    let mut edited = document.clone();
    edited["token_endpoint"] = json!(null);
    edited["device_authorization_endpoint"] = json!("not a url");
    corpus.write("discovery", "bad-optional", pretty(&edited));
    let mut missing = document;
    if let Some(object) = missing.as_object_mut() {
        object.remove("jwks_uri");
    }
    corpus.write("discovery", "no-jwks-uri", pretty(&missing));
    corpus.write("discovery", "not-json", "<html>login</html>");
    corpus.write("discovery", "array", "[]");

    // JWKS: the tenant's set, and a key of every kind the parser skips.
    let jwks_text = get(&tenant, &format!("/{TENANT_ID}/discovery/v2.0/keys"));
    corpus.write("jwks", "emulator", &jwks_text);
    let set: Value = serde_json::from_str(&jwks_text).expect("JWKS JSON");
    let key = set["keys"][0].clone();
    let variant = |edit: &dyn Fn(&mut serde_json::Map<String, Value>)| {
        let mut key = key.clone();
        if let Some(object) = key.as_object_mut() {
            edit(object);
        }
        pretty(&json!({ "keys": [key] }))
    };
    corpus.write("jwks", "alg-rs384", variant(&|k| drop(k.insert("alg".into(), json!("RS384")))));
    corpus.write("jwks", "use-enc", variant(&|k| drop(k.insert("use".into(), json!("enc")))));
    corpus.write("jwks", "key-ops", variant(&|k| drop(k.insert("key_ops".into(), json!(["encrypt"])))));
    corpus.write("jwks", "no-kid", variant(&|k| drop(k.remove("kid"))));
    corpus.write("jwks", "no-ids", variant(&|k| drop((k.remove("kid"), k.remove("x5t")))));
    corpus.write("jwks", "small-modulus", variant(&|k| drop(k.insert("n".into(), json!("AQAB")))));
    corpus.write("jwks", "padded", variant(&|k| drop(k.insert("e".into(), json!("AQAB==")))));
    corpus.write(
        "jwks",
        "issuer",
        variant(&|k| drop(k.insert("issuer".into(), json!("https://login.microsoftonline.com/{tenantid}/v2.0")))),
    );
    corpus.write(
        "jwks",
        "decoys",
        pretty(&json!({ "keys": [
            { "kty": "EC", "kid": "ec", "crv": "P-256", "x": "AA", "y": "AA" },
            { "kty": "oct", "kid": "hmac", "k": "c2VjcmV0" },
            "not an object",
            { "kty": "RSA", "kid": "broken", "n": 5, "e": "AQAB" },
            key,
        ]})),
    );
    corpus.write("jwks", "no-keys", "{\"keys\":{}}");
    corpus.write("jwks", "empty", "{\"keys\":[]}");

    // Authorization headers (one value a line; `?` starts the query string).
    let headers: [(&str, &[u8]); 16] = [
        ("bearer", b"Bearer abc.def.ghi"),
        ("lowercase", b"bearer abc"),
        ("uppercase", b"BEARER abc"),
        ("basic", b"Basic dXNlcjpwYXNz"),
        ("negotiate", b"Negotiate YIIB"),
        ("scheme-only", b"Bearer"),
        ("no-token", b"Bearer "),
        ("two-spaces", b"Bearer  abc"),
        ("two-tokens", b"Bearer abc def"),
        ("tab", b"Bearer\tabc"),
        ("trailing-tab", b"Bearer abc\t"),
        ("non-ascii", b"Bearer abc\xc3\xa9"),
        ("obs-text", b"Bearer \x80\xff"),
        ("two-headers", b"Bearer a\nBearer b"),
        ("query-too", b"Bearer abc\n?access_token=abc"),
        ("query-only", b"?access_token=abc&x=1"),
    ];
    for (name, value) in headers {
        corpus.write("authorization_header", name, value);
    }
    corpus.write("authorization_header", "minted", format!("Bearer {member}"));

    // Redirect targets: `docs/security.md` rows R1-R18.
    let targets = [
        "/dashboard?tab=2#x",
        "/",
        "/a/b/c",
        "/view/?param=https://example.com",
        "/x?next=//evil.example",
        "https://evil.example",
        "//evil.example",
        "///evil.example",
        "/\\evil.example",
        "\\\\evil.example",
        "\\/evil.example",
        "/\\/evil.example",
        "https:evil.example",
        "http:/\\/evil.example",
        "http:999999999",
        "javascript:alert(1)",
        "java\nscript:alert(1)",
        "data:text/html,x",
        "https://app.example.com@evil.example",
        "http://testserver\\@evil.example",
        "/\t/evil.example",
        "/\n/evil.example",
        "/\r\n/evil.example",
        "/\0",
        "/login",
        "/login?redirect=/x",
        "/oauth/aad/redirect?code=x",
        "/login-help",
        "/%2F%2Fevil.example",
        "/..//evil.example",
        "/./\u{3000}/evil.example",
        "/\u{ff0f}evil.example",
        "/?#//evil",
    ];
    for (index, target) in targets.iter().enumerate() {
        corpus.write("redirect_target", &format!("r{index:02}"), target);
    }

    // Configuration values (one variable a line).
    let configs = [
        ("lists", "AAD_SCOPES=a, b ,,c\nAAD_ROLES=[\"Admin\", \" Reader \", \"\"]\nAAD_CLIENT_APP_IDS=x"),
        ("bad-json-list", "AAD_SCOPES=[\"a\", 1]"),
        ("versions", "AAD_TOKEN_VERSIONS=1,2.0"),
        ("bad-versions", "AAD_TOKEN_VERSIONS=3"),
        (
            "durations",
            "AAD_CLOCK_SKEW_SECONDS=600\nAAD_JWKS_CACHE_TTL=60\nSESSION_MAX_AGE=60\nSESSION_IDLE_TIMEOUT=31622400",
        ),
        (
            "bad-durations",
            "AAD_CLOCK_SKEW_SECONDS=601\nAAD_JWKS_CACHE_TTL=59\nSESSION_MAX_AGE=-1\nAAD_JWKS_STALE_TTL=1e3",
        ),
        ("flags", "AAD_ALLOW_GUESTS=no\nAUTH_ENABLED=ON\nAUTH_DEV_MODE=1\nSESSION_HTTPS_ONLY=maybe"),
        ("multi-tenant", "AAD_TENANT_ID=common\nAAD_ALLOWED_TENANTS=72F988BF-86F1-41AF-91AB-2D7CD011DB47, not-a-guid"),
        ("any-tenant", "AAD_TENANT_ID=organizations\nAAD_ALLOW_ANY_TENANT=yes"),
        ("domain", "AAD_TENANT_ID=contoso.onmicrosoft.com"),
        (
            "urls",
            "AAD_AUTHORITY_HOST=http://localhost:1234\nAAD_REDIRECT_URI=http://127.0.0.1/cb\nAAD_PUBLIC_BASE_URL=https://app.example.com/base?x",
        ),
        ("openid", "AAD_OPENID_CONFIG_URL=https://login.example.com/t/v2.0/.well-known/openid-configuration?appid=x"),
        ("proxies", "AAD_TRUSTED_PROXIES=10.0.0.0/8, ::1, 192.168.1.1, nope"),
        ("prompt", "AAD_PROMPT=select_account\nAAD_DOMAIN_HINT=contoso.com"),
        ("routes", "AUTH_LOGIN_UI_ROUTE=/signin\nOAUTH_BASE_ROUTE=//oauth\nAUTH_USER_ROUTE=\nAPP_HOME_ROUTE=/home?x"),
        (
            "session",
            "SESSION_SECRET=dGhpcyBpcyBhIHNlc3Npb24gc2VjcmV0IG9mIGF0IGxlYXN0IHNpeHR5LWZvdXIgYnl0ZXMsIGJhc2U2NC1lbmNvZGVkISE=\nSESSION_COOKIE=sid\nSESSION_SAME_SITE=None\nSESSION_HTTPS_ONLY=false",
        ),
        (
            "bad-secret",
            "SESSION_SECRET=short-secret-value\nAAD_CLIENT_SECRET=client-secret-value-1\nAAD_CLIENT_ID=not a guid",
        ),
        ("store", "SESSION_STORE=redis://:password-in-url@localhost:6379/0\nSESSION_COOKIE=a b"),
        ("bad-store", "SESSION_STORE=https://user:hunter2hunter2@example.com/"),
        ("positional", "6f1c1b3e-2a4d-4c5e-9f7a-0b1c2d3e4f50\ncommon\nsecret\nhttps://login.microsoftonline.com"),
        ("disabled", "AUTH_ENABLED=false\nAAD_CLIENT_ID=\nAAD_TENANT_ID="),
    ];
    for (name, text) in configs {
        corpus.write("config_values", name, text);
    }

    // Emulator form bodies and query strings.
    let api = tenant.api_app().client_id;
    let public = tenant.public_app().client_id;
    let forms = [
        (
            "code",
            format!(
                "grant_type=authorization_code&client_id={public}&code=1.emulator.abc&redirect_uri=http%3A%2F%2F127.0.0.1%3A8000%2Fcb&code_verifier=dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk&scope=openid+offline_access"
            ),
        ),
        (
            "client-credentials",
            format!(
                "grant_type=client_credentials&client_id={api}&client_secret=s%26cret&scope=api%3A%2F%2F{api}%2F.default"
            ),
        ),
        ("refresh", format!("grant_type=refresh_token&client_id={public}&refresh_token=rt&scope=openid%20profile")),
        (
            "device",
            format!("grant_type=urn:ietf:params:oauth:grant-type:device_code&client_id={public}&device_code=dc"),
        ),
        (
            "obo",
            format!(
                "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&requested_token_use=on_behalf_of&assertion={member}&scope=User.Read"
            ),
        ),
        (
            "authorize",
            format!(
                "client_id={public}&response_type=code&redirect_uri=http://localhost/cb&scope=openid%20profile&state=s&nonce=n&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256&prompt=login&login_hint=alice%40contoso.onmicrosoft.com&response_mode=query"
            ),
        ),
        ("signin", "emulator_action=signin&emulator_user=00000000-0000-0000-0000-000000000000&state=x".to_owned()),
        ("logout", "post_logout_redirect_uri=https%3A%2F%2Fevil.example%2F&client_id=x&state=%F0%9F%98%80".to_owned()),
        ("repeated", "grant_type=a&grant_type=b&scope=&scope=x".to_owned()),
        ("odd-encoding", "%zz=%&+=+&==&&a%00=b%ff".to_owned()),
    ];
    for (name, text) in forms {
        corpus.write("emulator_form", name, text);
    }
    println!("seeds written to {}", corpus.root.display());
}
