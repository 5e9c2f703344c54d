//! Generics, `where` clauses, visibility, docs and raw identifiers are kept; public handlers
//! used from another module compile without lints firing on the generated items.
#![forbid(unsafe_code)]
#![deny(warnings, missing_docs, missing_debug_implementations)]
//! A crate with documented public handlers.

use actix_web::{App, web};

/// Handlers.
pub mod handlers {
    use std::fmt::Debug;

    use aad_auth::{AuthenticationState, api_auth_required};
    use actix_web::web;
    use serde::de::DeserializeOwned;

    /// A generic handler with a `where` clause.
    #[api_auth_required(scopes("user_impersonation"))]
    pub async fn generic<T>(query: web::Query<T>, state: AuthenticationState) -> String
    where
        T: DeserializeOwned + Debug + 'static,
    {
        format!("{:?} {}", query.into_inner(), state.is_authenticated())
    }

    /// Crate-visible.
    #[api_auth_required]
    pub(crate) async fn crate_visible() -> &'static str {
        "ok"
    }

    /// A raw identifier as the name.
    #[api_auth_required]
    pub async fn r#type() -> &'static str {
        "type"
    }
}

#[derive(Debug, serde::Deserialize)]
struct Params {
    #[allow(dead_code)]
    q: String,
}

fn main() {
    let _app = App::new()
        .route("/generic", web::get().to(handlers::generic::<Params>))
        .route("/crate", web::get().to(handlers::crate_visible))
        .route("/type", web::get().to(handlers::r#type));
}
