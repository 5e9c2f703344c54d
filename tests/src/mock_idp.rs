//! A deliberately simple identity provider whose discovery document and JWKS a test controls
//! byte for byte (malformed documents, decoy keys, foreign hosts), with request counters.

use std::net::TcpListener;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use actix_web::{HttpResponse, web};
use serde_json::{Value, json};

#[derive(Default)]
pub struct MockState {
    pub discovery: Mutex<Option<Value>>,
    pub discovery_raw: Mutex<Option<(u16, String)>>,
    pub jwks: Mutex<Value>,
    pub jwks_raw: Mutex<Option<(u16, String)>>,
    /// Sent as the JWKS's `ETag`; a request whose `If-None-Match` equals it gets a 304.
    pub jwks_etag: Mutex<Option<String>>,
    /// Keys published only in the JWKS of `?appid=<key>` (Entra's custom signing keys), on top
    /// of the tenant's.
    pub app_jwks: Mutex<std::collections::HashMap<String, Vec<Value>>>,
    /// The `If-None-Match` of every JWKS request, in order.
    pub jwks_if_none_match: Mutex<Vec<Option<String>>>,
    pub token_response: Mutex<Option<(u16, String)>>,
    pub token_requests: Mutex<Vec<String>>,
    pub discovery_hits: AtomicU64,
    pub jwks_hits: AtomicU64,
    pub other_hits: AtomicU64,
}

pub struct MockIdp {
    pub base: String,
    pub state: Arc<MockState>,
    handle: actix_web::dev::ServerHandle,
}

impl Drop for MockIdp {
    fn drop(&mut self) {
        drop(self.handle.stop(false));
    }
}

impl MockIdp {
    /// Serves `/{tid}/v2.0/.well-known/openid-configuration` (issuer `{base}/{tid}/v2.0`,
    /// `jwks_uri` `{base}/{tid}/keys`) and that JWKS, both replaceable.
    pub async fn start(tid: &str) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
        let state = Arc::new(MockState::default());
        *state.discovery.lock().unwrap() = Some(json!({
            "issuer": format!("{base}/{tid}/v2.0"),
            "jwks_uri": format!("{base}/{tid}/keys"),
            "authorization_endpoint": format!("{base}/{tid}/oauth2/v2.0/authorize"),
            "token_endpoint": format!("{base}/{tid}/oauth2/v2.0/token"),
        }));
        *state.jwks.lock().unwrap() = json!({ "keys": [] });
        let (sender, receiver) = tokio::sync::oneshot::channel();
        let server_state = state.clone();
        std::thread::spawn(move || {
            actix_web::rt::System::new().block_on(async move {
                let data = web::Data::from(server_state);
                let server = actix_web::HttpServer::new(move || {
                    actix_web::App::new()
                        .app_data(data.clone())
                        .route("/{tid}/v2.0/.well-known/openid-configuration", web::get().to(discovery))
                        .route("/{tid}/keys", web::get().to(jwks))
                        .route("/{tid}/oauth2/v2.0/token", web::post().to(token))
                        .default_service(web::to(other))
                })
                .workers(1)
                .disable_signals()
                .listen(listener)
                .unwrap()
                .run();
                let _ = sender.send(server.handle());
                let _ = server.await;
            });
        });
        let handle = receiver.await.unwrap();
        Self { base, state, handle }
    }

    pub fn set_discovery(&self, document: Value) {
        *self.state.discovery.lock().unwrap() = Some(document);
    }

    pub fn discovery(&self) -> Value {
        self.state.discovery.lock().unwrap().clone().unwrap()
    }

    pub fn set_discovery_raw(&self, status: u16, body: impl Into<String>) {
        *self.state.discovery_raw.lock().unwrap() = Some((status, body.into()));
    }

    pub fn set_jwks(&self, keys: Vec<Value>) {
        *self.state.jwks.lock().unwrap() = json!({ "keys": keys });
    }

    /// Publishes `keys` for the app `appid` only: in the JWKS that discovery with `?appid=`
    /// points to (`{jwks_uri}?appid=..`), as Entra does for apps with custom signing keys.
    pub fn set_app_jwks(&self, appid: &str, keys: Vec<Value>) {
        self.state.app_jwks.lock().unwrap().insert(appid.to_owned(), keys);
    }

    /// Sends `etag` with the JWKS and answers 304 to requests that send it back.
    pub fn set_jwks_etag(&self, etag: &str) {
        *self.state.jwks_etag.lock().unwrap() = Some(etag.to_owned());
    }

    /// The `If-None-Match` header of each JWKS request so far.
    pub fn jwks_if_none_match(&self) -> Vec<Option<String>> {
        self.state.jwks_if_none_match.lock().unwrap().clone()
    }

    pub fn set_jwks_raw(&self, status: u16, body: impl Into<String>) {
        *self.state.jwks_raw.lock().unwrap() = Some((status, body.into()));
    }

    /// What the token endpoint answers next (status and JSON body).
    pub fn set_token_response(&self, status: u16, body: impl Into<String>) {
        *self.state.token_response.lock().unwrap() = Some((status, body.into()));
    }

    /// Form bodies the token endpoint received.
    pub fn token_requests(&self) -> Vec<String> {
        self.state.token_requests.lock().unwrap().clone()
    }

    pub fn discovery_hits(&self) -> u64 {
        self.state.discovery_hits.load(Ordering::Relaxed)
    }

    pub fn jwks_hits(&self) -> u64 {
        self.state.jwks_hits.load(Ordering::Relaxed)
    }

    pub fn other_hits(&self) -> u64 {
        self.state.other_hits.load(Ordering::Relaxed)
    }
}

async fn discovery(state: web::Data<MockState>, query: web::Query<AppQuery>) -> HttpResponse {
    state.discovery_hits.fetch_add(1, Ordering::Relaxed);
    if let Some((status, body)) = state.discovery_raw.lock().unwrap().clone() {
        return raw(status, body);
    }
    let mut document = state.discovery.lock().unwrap().clone();
    if let (Some(appid), Some(Value::String(jwks_uri))) =
        (&query.appid, document.as_mut().and_then(|d| d.get_mut("jwks_uri")))
    {
        jwks_uri.push_str(&format!("?appid={appid}"));
    }
    HttpResponse::Ok().json(document)
}

/// The `?appid=` of discovery and JWKS requests.
#[derive(serde::Deserialize)]
struct AppQuery {
    appid: Option<String>,
}

async fn jwks(
    state: web::Data<MockState>,
    request: actix_web::HttpRequest,
    query: web::Query<AppQuery>,
) -> HttpResponse {
    state.jwks_hits.fetch_add(1, Ordering::Relaxed);
    let if_none_match = request.headers().get("if-none-match").and_then(|value| value.to_str().ok()).map(str::to_owned);
    state.jwks_if_none_match.lock().unwrap().push(if_none_match.clone());
    if let Some((status, body)) = state.jwks_raw.lock().unwrap().clone() {
        return raw(status, body);
    }
    let mut document = state.jwks.lock().unwrap().clone();
    let app_keys = query.appid.as_ref().and_then(|appid| state.app_jwks.lock().unwrap().get(appid).cloned());
    if let (Some(app_keys), Some(Value::Array(keys))) = (app_keys, document.get_mut("keys")) {
        keys.extend(app_keys);
    }
    let etag = state.jwks_etag.lock().unwrap().clone();
    match etag {
        Some(etag) if if_none_match.as_deref() == Some(etag.as_str()) => {
            HttpResponse::NotModified().insert_header(("etag", etag)).finish()
        }
        Some(etag) => HttpResponse::Ok().insert_header(("etag", etag)).json(document),
        None => HttpResponse::Ok().json(document),
    }
}

async fn token(state: web::Data<MockState>, body: web::Bytes) -> HttpResponse {
    state.token_requests.lock().unwrap().push(String::from_utf8_lossy(&body).into_owned());
    match state.token_response.lock().unwrap().clone() {
        Some((status, body)) => raw(status, body),
        None => HttpResponse::BadRequest().json(json!({"error": "invalid_grant"})),
    }
}

async fn other(state: web::Data<MockState>) -> HttpResponse {
    state.other_hits.fetch_add(1, Ordering::Relaxed);
    HttpResponse::NotFound().finish()
}

fn raw(status: u16, body: String) -> HttpResponse {
    let status = actix_web::http::StatusCode::from_u16(status).unwrap();
    let mut response = HttpResponse::build(status);
    if status.is_redirection() {
        return response.insert_header(("location", body)).finish();
    }
    response.content_type("application/json").body(body)
}
