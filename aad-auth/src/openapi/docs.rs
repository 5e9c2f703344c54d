//! Serving the document and the two docs UIs from bundled files.

use std::sync::Arc;

use actix_web::http::header;
use actix_web::web::{self, ServiceConfig};
use actix_web::{HttpRequest, HttpResponse};
use minijinja::HtmlEscape;
use utoipa::openapi::OpenApi;
use utoipa_swagger_ui::{Config, oauth};

use crate::config::AadAuthConfig;

/// Where the document and UIs are served.
pub(crate) const OPENAPI_PATH: &str = "/openapi.json";
/// Swagger UI (also the `resource_documentation` of the protected-resource metadata).
pub(crate) const SWAGGER_PATH: &str = "/docs";
const REDOC_PATH: &str = "/redoc";
/// The Swagger UI OAuth2 redirect page (register `https://<host>/docs/oauth2-redirect` as a
/// single-page-application redirect URI).
pub(crate) const SWAGGER_REDIRECT_PATH: &str = "/docs/oauth2-redirect";

const REDOC_JS: &[u8] = include_bytes!("vendor/redoc.standalone.js");

/// The served document and the Swagger UI settings.
pub(crate) struct Docs {
    config: Arc<AadAuthConfig>,
    json: String,
    client_id: String,
    scopes: Vec<String>,
    title: String,
}

impl std::fmt::Debug for Docs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Docs").field("title", &self.title).finish_non_exhaustive()
    }
}

impl Docs {
    /// Applies the security modifier and serialises the document once.
    pub(crate) fn new(mut openapi: OpenApi, config: Arc<AadAuthConfig>) -> Self {
        utoipa::Modify::modify(&super::AadAuthSecurity::from_config(&config), &mut openapi);
        let json = openapi.to_json().unwrap_or_else(|error| {
            tracing::error!(%error, "cannot serialise the OpenAPI document");
            "{}".to_owned()
        });
        Self {
            json,
            client_id: config.client_id().to_owned(),
            scopes: config.scopes().to_vec(),
            title: openapi.info.title.clone(),
            config,
        }
    }

    /// Swagger UI's settings for this request: the redirect page on the origin the browser uses.
    fn swagger_config(&self, req: &HttpRequest) -> Arc<Config<'static>> {
        let base = crate::public_origin::public_base(&self.config, req);
        let oauth = oauth::Config::new()
            .client_id(&self.client_id)
            .scopes(self.scopes.clone())
            .use_pkce_with_authorization_code_grant(true);
        Arc::new(
            Config::with_oauth_config([OPENAPI_PATH], oauth)
                .oauth2_redirect_url(format!("{base}{SWAGGER_REDIRECT_PATH}"))
                .persist_authorization(false)
                .try_it_out_enabled(true),
        )
    }
}

pub(crate) fn configure(cfg: &mut ServiceConfig) {
    cfg.route(OPENAPI_PATH, web::get().to(openapi_json))
        .route(SWAGGER_PATH, web::get().to(|| async { moved(&format!("{SWAGGER_PATH}/")) }))
        .route(SWAGGER_REDIRECT_PATH, web::get().to(swagger_redirect_page))
        .route(&format!("{SWAGGER_PATH}/{{tail:.*}}"), web::get().to(swagger_file))
        .route(REDOC_PATH, web::get().to(redoc_page))
        .route(&format!("{REDOC_PATH}/redoc.standalone.js"), web::get().to(redoc_js));
}

fn moved(location: &str) -> HttpResponse {
    HttpResponse::PermanentRedirect().insert_header((header::LOCATION, location)).finish()
}

async fn openapi_json(docs: web::Data<Docs>) -> HttpResponse {
    HttpResponse::Ok().content_type("application/json").body(docs.json.clone())
}

async fn swagger_file(req: HttpRequest, docs: web::Data<Docs>) -> HttpResponse {
    let tail = req.match_info().get("tail").unwrap_or_default().to_owned();
    serve_swagger(&tail, docs.swagger_config(&req))
}

async fn swagger_redirect_page(req: HttpRequest, docs: web::Data<Docs>) -> HttpResponse {
    serve_swagger("oauth2-redirect.html", docs.swagger_config(&req))
}

fn serve_swagger(path: &str, config: Arc<Config<'static>>) -> HttpResponse {
    match utoipa_swagger_ui::serve(path, config) {
        Ok(Some(file)) => HttpResponse::Ok()
            .content_type(file.content_type)
            .insert_header((header::CACHE_CONTROL, "no-cache"))
            .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
            .body(file.bytes.into_owned()),
        Ok(None) => HttpResponse::NotFound().finish(),
        Err(error) => {
            tracing::error!(%error, "cannot serve a Swagger UI file");
            HttpResponse::InternalServerError().finish()
        }
    }
}

async fn redoc_page(docs: web::Data<Docs>) -> HttpResponse {
    let title = HtmlEscape(&docs.title);
    let page = format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{title} · ReDoc</title>\n</head>\n<body>\n<redoc spec-url=\"{OPENAPI_PATH}\"></redoc>\n\
         <script src=\"{REDOC_PATH}/redoc.standalone.js\"></script>\n</body>\n</html>\n"
    );
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .body(page)
}

async fn redoc_js() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/javascript; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "public, max-age=86400"))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .body(REDOC_JS)
}
