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

async fn discovery(state: web::Data<MockState>) -> HttpResponse {
    state.discovery_hits.fetch_add(1, Ordering::Relaxed);
    if let Some((status, body)) = state.discovery_raw.lock().unwrap().clone() {
        return raw(status, body);
    }
    HttpResponse::Ok().json(state.discovery.lock().unwrap().clone())
}

async fn jwks(state: web::Data<MockState>) -> HttpResponse {
    state.jwks_hits.fetch_add(1, Ordering::Relaxed);
    if let Some((status, body)) = state.jwks_raw.lock().unwrap().clone() {
        return raw(status, body);
    }
    HttpResponse::Ok().json(state.jwks.lock().unwrap().clone())
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
