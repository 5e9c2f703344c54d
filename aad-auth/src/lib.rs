//! Microsoft Entra ID (Azure Active Directory) authentication for Actix-web.
//!
//! * Bearer tokens validated against the tenant's signing keys: RS256 only, issuer, audience,
//!   tenant, lifetime and scope checks, keys cached and refreshed the way Microsoft recommends.
//! * Guards as macros (`#[api_auth_required]`, `#[auth_required]`), as an extractor
//!   ([`Authorized`]) or as middleware ([`RequireAuth`]).
//! * [`AuthenticationState`] for handlers, anonymous when nothing valid was presented.
//!
//! Configuration comes from the environment (see [`AadAuthConfig`]).

#![forbid(unsafe_code)]

mod aad;
mod authority;
mod bearer;
pub mod clock;
pub mod config;
mod error;
mod guard;
mod http;
mod keys;
mod log_safe;
mod login;
#[cfg(feature = "openapi")]
pub mod openapi;
mod policy;
pub mod redirect;
pub mod secret;
mod session;
mod state;
#[cfg(feature = "testing")]
pub mod testing;
pub mod token;
mod ui;
mod user;

pub use aad::{AadAuth, AadAuthBuilder};
pub use aad_auth_macros::{api_auth_required, auth_required};
pub use authority::ProviderMetadata;
pub use config::{AadAuthConfig, ConfigError};
pub use error::{AuthError, Error};
pub use guard::{Authorized, RequireAuth, RequireAuthService};
pub use http::FetchError;
pub use keys::{KEY_REFRESH_COOLDOWN, KeyStore, KeyStoreStatus};
pub use policy::{Forbidden, GuardKind, GuardRegistration, Policy, StaticPolicy, guard_registrations};
pub use state::{AuthSource, AuthenticationState};
pub use token::{TokenError, TokenValidator, VerifiedToken};
pub use user::User;

/// Paths used by the code the guard macros generate. Not a public API.
#[doc(hidden)]
pub mod __private {
    pub use std::sync::LazyLock;

    pub use inventory;

    pub use crate::guard::Authorized;
    pub use crate::policy::{GuardRegistration, Policy, StaticPolicy};
    pub use crate::state::AuthenticationState;
    #[cfg(feature = "testing")]
    pub use crate::ui::ui_preview;
}
