//! A real app on 127.0.0.1 with the full browser login, and a cookie-keeping "browser" that
//! follows redirects one hop at a time so that tests can look at each.

use std::sync::Arc;

use aad_auth::config::{AadAuthConfigBuilder, SessionConfig};
use aad_auth::testing::{ManualClock, Tenant};
use aad_auth::{AadAuth, AuthenticationState, Policy, RequireAuth};
use actix_web::{App, HttpResponse, HttpServer, web};
use reqwest::header::{HeaderMap, LOCATION, SET_COOKIE};
use serde_json::json;

/// 64+ bytes, base64: the tests' session key.
pub const SESSION_SECRET: &str =
    "dGVzdC1zZXNzaW9uLXNlY3JldC10aGF0LWlzLWxvbmctZW5vdWdoLWZvci1hY3RpeC1jb29raWUta2V5cy0xMjM0NTY3ODkw";

/// Routes of the site besides the login ones: `/` (greets the ambient user), `/test` (a page
/// guard), `/admin-page` (page guard, role Admin), `/group-page/{id}` is not possible with a
/// static policy, so `/group-page` requires the first default user's first group via
/// `GROUP_FOR_TESTS`; `/api/hello` (bearer only), `/api/session` (bearer or session).
pub fn site_routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/", web::get().to(home))
        .service(web::scope("/test").wrap(RequireAuth::new(Policy::page())).route("", web::get().to(whoami)))
        .service(
            web::scope("/admin-page")
                .wrap(RequireAuth::new(Policy::page().roles(["Admin"])))
                .route("", web::get().to(whoami)),
        )
        .service(web::scope("/api/hello").wrap(RequireAuth::new(Policy::api())).route("", web::get().to(whoami)))
        .service(
            web::scope("/api/session")
                .wrap(RequireAuth::new(Policy::api().allow_session()))
                .route("", web::get().to(whoami)),
        )
        .service(web::scope("/api/state-change").route("", web::post().to(whoami)));
}

async fn home(state: AuthenticationState) -> HttpResponse {
    let name = state.user().map(|u| u.display_name().to_owned()).unwrap_or_else(|| "guest".into());
    HttpResponse::Ok().content_type("text/html").body(format!("<h1>Hello, {name}</h1>"))
}

async fn whoami(state: AuthenticationState) -> HttpResponse {
    let user = state.user();
    HttpResponse::Ok().json(json!({
        "authenticated": state.is_authenticated(),
        "source": state.source().map(|s| format!("{s:?}")),
        "name": user.and_then(|u| u.name.clone()),
        "oid": user.map(|u| u.oid.clone()),
        "tid": user.map(|u| u.tid.clone()),
        "groups": user.map(|u| u.groups.len()),
        "groups_overage": user.map(|u| u.groups_overage),
    }))
}

/// A running app.
pub struct Site {
    pub base: String,
    pub auth: AadAuth,
    handle: actix_web::dev::ServerHandle,
}

impl Drop for Site {
    fn drop(&mut self) {
        drop(self.handle.stop(false));
    }
}

/// Settings every login test starts from: the session key, cookies usable over plain http.
pub fn login_config(builder: AadAuthConfigBuilder) -> AadAuthConfigBuilder {
    let mut session = SessionConfig::default();
    session.https_only = false;
    builder.session(session).session_secret(base64_decode(SESSION_SECRET))
}

pub fn base64_decode(value: &str) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.decode(value).unwrap()
}

impl Site {
    /// Starts the app with `config` on a free port (on a thread of its own).
    pub async fn start(config: aad_auth::AadAuthConfig, clock: Option<Arc<ManualClock>>) -> Self {
        Self::start_with(config, clock, site_routes).await
    }

    /// Like [`Site::start`], with other routes.
    pub async fn start_with(
        config: aad_auth::AadAuthConfig,
        clock: Option<Arc<ManualClock>>,
        routes: fn(&mut web::ServiceConfig),
    ) -> Self {
        let mut builder = AadAuth::builder(config);
        if let Some(clock) = clock {
            builder = builder.clock(clock);
        }
        let auth = builder.build().expect("the site's AadAuth builds");
        let served = auth.clone();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
        let (sender, receiver) = tokio::sync::oneshot::channel();
        std::thread::spawn(move || {
            actix_web::rt::System::new().block_on(async move {
                let server = HttpServer::new(move || App::new().configure(served.configure()).configure(routes))
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
        Self { base, auth, handle }
    }

    /// A site against `tenant` (whose redirect URIs must admit loopback ports).
    pub async fn for_tenant(
        tenant: &Tenant,
        clock: Option<Arc<ManualClock>>,
        adjust: impl FnOnce(AadAuthConfigBuilder) -> AadAuthConfigBuilder,
    ) -> Self {
        let config = adjust(login_config(tenant.api_config())).build().expect("valid site configuration");
        Self::start(config, clock).await
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
}

/// One response, fully read.
#[derive(Debug, Clone)]
pub struct Page {
    pub url: String,
    pub status: u16,
    pub headers: HeaderMap,
    pub body: String,
}

impl Page {
    pub fn location(&self) -> Option<String> {
        self.headers.get(LOCATION).and_then(|v| v.to_str().ok()).map(str::to_owned)
    }

    pub fn header(&self, name: &str) -> Option<String> {
        self.headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned)
    }

    pub fn set_cookies(&self) -> Vec<String> {
        self.headers.get_all(SET_COOKIE).iter().filter_map(|v| v.to_str().ok()).map(str::to_owned).collect()
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or(serde_json::Value::Null)
    }

    /// A query parameter of the `Location` header.
    pub fn location_param(&self, name: &str) -> Option<String> {
        let location = url::Url::parse(&self.location()?).ok()?;
        location.query_pairs().find(|(k, _)| k == name).map(|(_, v)| v.into_owned())
    }
}

/// A cookie-keeping client that does not follow redirects by itself.
#[derive(Clone)]
pub struct Browser {
    pub client: reqwest::Client,
    pub jar: Arc<reqwest::cookie::Jar>,
}

impl Default for Browser {
    fn default() -> Self {
        Self::new()
    }
}

impl Browser {
    pub fn new() -> Self {
        let jar = Arc::new(reqwest::cookie::Jar::default());
        let client = reqwest::Client::builder()
            .cookie_provider(jar.clone())
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        Self { client, jar }
    }

    pub async fn send(&self, request: reqwest::RequestBuilder) -> Page {
        let response = request.header("accept", "text/html,application/xhtml+xml,*/*;q=0.8").send().await.unwrap();
        let url = response.url().to_string();
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = response.text().await.unwrap_or_default();
        Page { url, status, headers, body }
    }

    pub async fn get(&self, url: &str) -> Page {
        self.send(self.client.get(url)).await
    }

    pub async fn post(&self, url: &str) -> Page {
        self.send(self.client.post(url)).await
    }

    /// Follows redirects (relative ones against the previous URL), returning every hop.
    pub async fn follow(&self, url: &str, max_hops: usize) -> Vec<Page> {
        let mut pages = vec![self.get(url).await];
        while pages.len() <= max_hops {
            let last = pages.last().unwrap();
            let Some(location) = last.location().filter(|_| (300..400).contains(&last.status)) else { break };
            let next = url::Url::parse(&last.url).unwrap().join(&location).unwrap().to_string();
            pages.push(self.get(&next).await);
        }
        pages
    }

    /// The `Cookie` header this browser would send to `url`.
    pub fn cookies_for(&self, url: &str) -> String {
        use reqwest::cookie::CookieStore as _;
        self.jar
            .cookies(&url::Url::parse(url).unwrap())
            .and_then(|v| v.to_str().ok().map(str::to_owned))
            .unwrap_or_default()
    }
}
