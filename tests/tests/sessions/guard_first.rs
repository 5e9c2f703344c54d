//! Guard first (SPEC, the guard paragraphs): for a request the guard refuses, the handler's
//! other extractors do not run and the body is not read. A 1 MiB JSON body is posted to every
//! guard form (both macros, `RequireAuth`, `Authorized<P>` as the first argument), once when
//! the guard can decide at once (no token) and once when it has to wait (the tenant's keys
//! arrive slowly, so the guard is still pending when actix polls the other extractors).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::future::Future;
use std::pin::Pin;
use std::sync::LazyLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use aad_auth::testing::{Endpoint, Fault, Tenant};
use aad_auth::{AuthenticationState, Authorized, Policy, RequireAuth, StaticPolicy, api_auth_required, auth_required};
use aad_auth_tests::site::{Browser, Site, login_config};
use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest, HttpResponse, post, web};
use futures_util::StreamExt as _;

/// The body extractors that started (their `from_request` ran) and the body bytes they read.
static STARTED: AtomicUsize = AtomicUsize::new(0);
static READ: AtomicUsize = AtomicUsize::new(0);
/// The counters are global: the tests take turns.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Reads the whole body like `web::Json` would, counting what it does.
struct BodyProbe;

impl FromRequest for BodyProbe {
    type Error = actix_web::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(_: &HttpRequest, payload: &mut Payload) -> Self::Future {
        STARTED.fetch_add(1, Ordering::SeqCst);
        let mut payload = payload.take();
        Box::pin(async move {
            while let Some(chunk) = payload.next().await {
                READ.fetch_add(chunk?.len(), Ordering::SeqCst);
            }
            Ok(BodyProbe)
        })
    }
}

#[post("/macro/api")]
#[api_auth_required]
async fn macro_api(_body: BodyProbe) -> HttpResponse {
    HttpResponse::Ok().finish()
}

#[post("/macro/api-session")]
#[api_auth_required(allow_session)]
async fn macro_api_session(_body: BodyProbe, state: AuthenticationState) -> HttpResponse {
    HttpResponse::Ok().json(state.is_authenticated())
}

#[post("/macro/page")]
#[auth_required]
async fn macro_page(_body: BodyProbe) -> HttpResponse {
    HttpResponse::Ok().finish()
}

struct AnyCaller;
impl StaticPolicy for AnyCaller {
    fn policy() -> &'static Policy {
        static POLICY: LazyLock<Policy> = LazyLock::new(Policy::api);
        &POLICY
    }
}

async fn extractor_first(_auth: Authorized<AnyCaller>, _body: BodyProbe) -> HttpResponse {
    HttpResponse::Ok().finish()
}

async fn extractor_last(_body: BodyProbe, _auth: Authorized<AnyCaller>) -> HttpResponse {
    HttpResponse::Ok().finish()
}

async fn behind_middleware(_body: BodyProbe, _state: AuthenticationState) -> HttpResponse {
    HttpResponse::Ok().finish()
}

fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(macro_api)
        .service(macro_api_session)
        .service(macro_page)
        .route("/extractor/first", web::post().to(extractor_first))
        .route("/extractor/last", web::post().to(extractor_last))
        .service(
            web::scope("/middleware")
                .wrap(RequireAuth::new(Policy::api()))
                .route("", web::post().to(behind_middleware)),
        );
}

/// A JSON document of about 1 MiB.
fn big_json() -> String {
    format!("{{\"text\":\"{}\"}}", "a".repeat(1 << 20))
}

/// Posts the big body to `path`; returns the status and what the body extractors did meanwhile.
async fn post_big(site: &Site, path: &str, token: Option<&str>) -> (u16, usize, usize) {
    let (started, read) = (STARTED.load(Ordering::SeqCst), READ.load(Ordering::SeqCst));
    let mut request = Browser::new()
        .client
        .post(site.url(path))
        .header("content-type", "application/json")
        .header("accept", "application/json")
        .body(big_json());
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let page = Browser::new().send(request).await;
    (page.status, STARTED.load(Ordering::SeqCst) - started, READ.load(Ordering::SeqCst) - read)
}

/// (path, the guard's refusal, whether the body extractor may start without reading).
const GUARDED: [(&str, u16, bool); 5] = [
    ("/macro/api", 401, false),
    ("/macro/api-session", 401, false),
    // (A page answers a JSON client 401 rather than redirecting it.)
    ("/macro/page", 401, false),
    ("/middleware", 401, false),
    // actix calls every extractor's `from_request` up front; the gate holds the body back.
    ("/extractor/first", 401, true),
];

/// One guarded route refused: the status, and that the body extractor neither read nor
/// (where the guard form allows it) started.
async fn check_refused(site: &Site, (path, refusal, may_start): (&str, u16, bool), token: Option<&str>, case: &str) {
    let (status, started, read) = post_big(site, path, token).await;
    assert_eq!(status, refusal, "{case}: {path}");
    assert_eq!(read, 0, "{case}: {path}: the body of a refused request was read");
    if !may_start {
        assert_eq!(started, 0, "{case}: {path}: the body extractor ran for a refused request");
    }
}

#[actix_web::test]
async fn a_refused_request_runs_no_other_extractor_and_its_body_is_never_read() {
    let _serial = SERIAL.lock().await;
    let tenant = Tenant::builder().dev_defaults().start().await;
    let site = Site::start_with(login_config(tenant.api_config()).build().unwrap(), None, routes).await;
    // Decided at once: no credentials.
    for route in GUARDED {
        check_refused(&site, route, None, "no token").await;
    }

    // The same with a valid token: every guard lets the request through and the body is read.
    let token = tenant.token().sign();
    for (path, _, _) in GUARDED.iter().filter(|(path, ..)| !path.starts_with("/macro/page")) {
        let (status, started, read) = post_big(&site, path, Some(&token)).await;
        assert_eq!((status, started), (200, 1), "{path}");
        assert!(read > 1 << 20, "{path}: the handler got the body ({read} bytes)");
    }
}

#[actix_web::test]
async fn a_guard_that_waits_still_holds_the_body_back() {
    let _serial = SERIAL.lock().await;
    let tenant = Tenant::builder().dev_defaults().start().await;
    // The keys arrive slowly, and each route gets a fresh instance: its guard is still waiting
    // for its first key fetch when actix polls the handler's other extractors.
    tenant.set_fault(Endpoint::Jwks, Fault::Slow(Duration::from_millis(300)));
    let wrong_audience = tenant.token().wrong_audience().sign();
    for route in GUARDED {
        let site = Site::start_with(login_config(tenant.api_config()).build().unwrap(), None, routes).await;
        check_refused(&site, route, Some(&wrong_audience), "a token refused once the keys arrive").await;
    }
    assert!(tenant.requests(Endpoint::Jwks) >= 4, "the guards did wait for the keys");

    // The documented limit: an extractor written before `Authorized<P>` has taken the body
    // before the guard could hold it back, and reads it while the guard waits.
    let site = Site::start_with(login_config(tenant.api_config()).build().unwrap(), None, routes).await;
    let (status, started, read) = post_big(&site, "/extractor/last", Some(&wrong_audience)).await;
    assert_eq!((status, started), (401, 1));
    assert!(read > 0, "an extractor before the guard reads the body ({read} bytes)");
}
