//! Microsoft Entra ID (Azure Active Directory) authentication for Actix-web.
//!
//! * [`AadAuth`]: configuration ([`AadAuthConfig`], from the environment), the tenant's signing
//!   keys ([`KeyStore`]), the bearer-token validator ([`TokenValidator`]), the browser login and
//!   its session, and the docs; mount it with `App::new().configure(auth.configure())`.
//! * Guards: the attributes [`api_auth_required`] and [`auth_required`], the extractor
//!   [`Authorized`] and the middleware [`RequireAuth`], all enforcing a [`Policy`].
//! * [`AuthenticationState`]: who made the request ([`User`]) and how ([`AuthSource`]); anonymous
//!   when nothing valid was presented.
//! * [`openapi`]: the OpenAPI security schemes and requirements from the guards; Swagger UI and
//!   ReDoc.
//! * `testing` (feature `testing`): a local Entra ID tenant for tests and offline development.
//!
//! The repository's README has the set-up guide, the configuration table, the guard reference and
//! troubleshooting; its code blocks are compiled as doc tests.
//!
//! ```no_run
//! use aad_auth::{AadAuth, AuthenticationState, api_auth_required};
//! use actix_web::{App, HttpServer, Responder, get};
//!
//! #[get("/hello")]
//! #[api_auth_required(scopes("user_impersonation"))]
//! async fn hello(auth_state: AuthenticationState) -> impl Responder {
//!     format!("hello {}", auth_state.user().map(|u| u.display_name()).unwrap_or_default())
//! }
//!
//! #[actix_web::main]
//! async fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     let auth = AadAuth::from_env()?;
//!     HttpServer::new(move || App::new().configure(auth.configure()).service(hello))
//!         .bind(("127.0.0.1", 8000))?
//!         .run()
//!         .await?;
//!     Ok(())
//! }
//! ```

#![forbid(unsafe_code)]

#[cfg(feature = "fuzzing")]
#[doc(hidden)]
#[path = "fuzz_hooks.rs"]
pub mod __fuzz;
mod aad;
mod authority;
mod bearer;
pub mod client;
pub mod clock;
pub mod config;
pub mod credential;
mod csrf;
mod downstream;
mod error;
mod groups;
mod guard;
mod http;
mod keys;
mod log_safe;
mod login;
#[cfg(feature = "openapi")]
pub mod openapi;
mod policy;
mod protected_resource;
mod public_origin;
pub mod redirect;
mod rejection;
pub mod secret;
mod session;
mod state;
mod step_up;
#[cfg(feature = "testing")]
pub mod testing;
pub mod token;
mod ui;
mod user;

pub use aad::{AadAuth, AadAuthBuilder};
pub use aad_auth_macros::{api_auth_required, auth_required};
pub use authority::ProviderMetadata;
pub use config::{AadAuthConfig, ConfigError};
pub use downstream::DownstreamTokens;
pub use error::{AuthError, DownstreamClaims, Error};
pub use guard::{Authorized, RequireAuth, RequireAuthService};
pub use keys::{KeyFreshness, KeyStore, KeyStoreStatus, KeyStoreTiming};
pub use policy::{Forbidden, GuardKind, Policy, StaticPolicy};
/// The guarded handlers' registrations (macro plumbing, read by the OpenAPI modifier and tests).
#[doc(hidden)]
pub use policy::{GuardRegistration, guard_registrations};
pub use rejection::AuthRejection;
pub use state::{AuthSource, AuthenticationState};
pub use step_up::{ClaimsChallenge, InvalidAuthContext, is_auth_context_id};
pub use token::{TokenError, TokenValidator, VerifiedToken};
pub use user::User;

/// Paths used by the code the guard macros generate. Not a public API.
#[doc(hidden)]
pub mod __private {
    pub use std::sync::LazyLock;

    pub use inventory;

    pub use crate::guard::{Authorized, Guarded};
    pub use crate::policy::{GuardRegistration, Policy, StaticPolicy};
    pub use crate::state::AuthenticationState;
}

/// The README's code blocks, compiled as doc tests.
#[cfg(all(doctest, feature = "testing"))]
#[doc = include_str!("../../README.md")]
pub struct ReadmeDoctests;
