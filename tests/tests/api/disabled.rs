//! `AUTH_ENABLED=false`: the app starts without a registration or session secret, every guard
//! lets requests through as anonymous, and the OpenAPI document still generates.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use aad_auth::{AadAuth, AadAuthConfig, AuthenticationState, Policy, RequireAuth, api_auth_required, auth_required};
use actix_web::{App, HttpResponse, Responder, get, test, web};
use utoipa::OpenApi;

#[utoipa::path(responses((status = 200, description = "ok")))]
#[get("/api")]
#[api_auth_required(scopes("user_impersonation"))]
async fn api(auth_state: AuthenticationState) -> impl Responder {
    HttpResponse::Ok().body(format!("authenticated={}", auth_state.is_authenticated()))
}

#[get("/page")]
#[auth_required(roles("Admin"))]
async fn page() -> impl Responder {
    HttpResponse::Ok().body("page")
}

#[derive(OpenApi)]
#[openapi(paths(api))]
struct ApiDoc;

#[actix_web::test]
async fn guards_let_everything_through_and_docs_still_generate() {
    let config = AadAuthConfig::from_lookup(|name| (name == "AUTH_ENABLED").then(|| "false".into())).unwrap();
    let auth =
        AadAuth::builder(config).openapi(ApiDoc::openapi()).build().expect("no registration or session secret needed");
    let app = test::init_service(
        App::new().configure(auth.configure()).service(api).service(page).service(
            web::scope("/mw")
                .wrap(RequireAuth::new(Policy::api().roles(["Admin"])))
                .route("", web::get().to(|| async { "mw" })),
        ),
    )
    .await;
    for (path, body) in [("/api", "authenticated=false"), ("/page", "page"), ("/mw", "mw")] {
        let response = test::call_service(&app, test::TestRequest::get().uri(path).to_request()).await;
        assert_eq!(response.status(), 200, "{path}");
        assert_eq!(test::read_body(response).await, body.as_bytes(), "{path}");
    }
    let doc = test::call_service(&app, test::TestRequest::get().uri("/openapi.json").to_request()).await;
    assert_eq!(doc.status(), 200);
    let doc: serde_json::Value = serde_json::from_slice(&test::read_body(doc).await).unwrap();
    assert!(doc["paths"]["/api"]["get"]["security"].is_array(), "{doc}");
    let login = test::call_service(&app, test::TestRequest::get().uri("/login").to_request()).await;
    assert_eq!(login.status(), 404, "no login routes when authentication is off");
}
