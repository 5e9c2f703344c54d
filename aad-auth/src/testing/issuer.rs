//! A second local OIDC issuer, playing Kubernetes' service-account issuer or GitHub Actions'
//! token issuer in tests: it serves `/.well-known/openid-configuration` and its JWKS on
//! 127.0.0.1 and mints federated assertions with its own key (the emulator's [`TestKey`]).

use std::net::TcpListener;
use std::sync::Arc;

use actix_web::{HttpResponse, web};
use serde_json::{Map, Value, json};

use super::keys::{SigningAlg, TestKey};
use super::registry::random_guid;
use crate::credential::TOKEN_EXCHANGE_AUDIENCE;

struct IssuerState {
    issuer: String,
    key: Arc<TestKey>,
}

/// An OIDC issuer of federated assertions on `http://127.0.0.1:{port}`. Stops when dropped.
///
/// ```
/// # #[actix_web::main] async fn main() {
/// use aad_auth::testing::{FederatedCredential, FederatedIssuer};
///
/// let kubernetes = FederatedIssuer::start().await;
/// let trust = FederatedCredential::new(kubernetes.issuer(), "system:serviceaccount:default:api");
/// let assertion = kubernetes.assertion("system:serviceaccount:default:api");
/// # drop((trust, assertion)); }
/// ```
pub struct FederatedIssuer {
    state: Arc<IssuerState>,
    handle: actix_web::dev::ServerHandle,
}

impl std::fmt::Debug for FederatedIssuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FederatedIssuer").field("issuer", &self.state.issuer).finish_non_exhaustive()
    }
}

impl Drop for FederatedIssuer {
    fn drop(&mut self) {
        drop(self.handle.stop(false));
    }
}

impl FederatedIssuer {
    /// Starts serving on a free port.
    ///
    /// # Panics
    /// When no port can be bound: a test set-up failure.
    #[allow(clippy::expect_used)]
    pub async fn start() -> Self {
        let listener = TcpListener::bind(("127.0.0.1", 0)).expect("bind a port on 127.0.0.1");
        let port = listener.local_addr().expect("local address").port();
        let state = Arc::new(IssuerState {
            issuer: format!("http://127.0.0.1:{port}"),
            key: Arc::new(TestKey::generate(format!("issuer-key-{}", &random_guid()[..8]))),
        });
        let (sender, receiver) = tokio::sync::oneshot::channel();
        let server_state = web::Data::from(state.clone());
        std::thread::Builder::new()
            .name(format!("aad-auth-issuer-{port}"))
            .spawn(move || {
                actix_web::rt::System::new().block_on(async move {
                    let server = actix_web::HttpServer::new(move || {
                        actix_web::App::new()
                            .app_data(server_state.clone())
                            .route("/.well-known/openid-configuration", web::get().to(discovery))
                            .route("/keys", web::get().to(keys))
                    })
                    .workers(1)
                    .disable_signals()
                    .shutdown_timeout(1)
                    .listen(listener)
                    .expect("listen on the issuer's socket")
                    .run();
                    let _ = sender.send(server.handle());
                    let _ = server.await;
                });
            })
            .expect("spawn the issuer thread");
        let handle = receiver.await.expect("issuer started");
        Self { state, handle }
    }

    /// The issuer (`iss`), `http://127.0.0.1:{port}`.
    pub fn issuer(&self) -> &str {
        &self.state.issuer
    }

    /// The claims of an assertion about `subject`, valid for an hour from now, for Entra's
    /// audience `api://AzureADTokenExchange`: change any before [`FederatedIssuer::sign`].
    pub fn claims(&self, subject: &str) -> Map<String, Value> {
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
        let claims = json!({
            "iss": self.state.issuer,
            "sub": subject,
            "aud": [TOKEN_EXCHANGE_AUDIENCE],
            "iat": now, "nbf": now, "exp": now + 3600,
            "jti": random_guid(),
        });
        match claims {
            Value::Object(map) => map,
            _ => Map::new(),
        }
    }

    /// Signs `claims` (RS256, with the issuer's `kid`).
    pub fn sign(&self, claims: &Map<String, Value>) -> String {
        let header = json!({ "alg": "RS256", "typ": "JWT", "kid": self.state.key.kid() });
        self.state.key.sign_compact(&header, &Value::Object(claims.clone()), &SigningAlg::Rs256)
    }

    /// A valid assertion about `subject` (see [`FederatedIssuer::claims`]).
    pub fn assertion(&self, subject: &str) -> String {
        self.sign(&self.claims(subject))
    }
}

async fn discovery(state: web::Data<IssuerState>) -> HttpResponse {
    HttpResponse::Ok().json(json!({
        "issuer": state.issuer,
        "jwks_uri": format!("{}/keys", state.issuer),
        "response_types_supported": ["id_token"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
    }))
}

async fn keys(state: web::Data<IssuerState>) -> HttpResponse {
    let mut jwk = state.key.jwk(None);
    if let Some(object) = jwk.as_object_mut() {
        object.remove("cloud_instance_name");
        object.insert("alg".into(), json!("RS256"));
    }
    HttpResponse::Ok().json(json!({ "keys": [jwk] }))
}
