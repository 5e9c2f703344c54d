//! `AuthenticationState`: who made the request, and how they proved it.

use std::sync::Arc;

use serde_json::{Map, Value};

use crate::token::VerifiedToken;
use crate::user::User;

/// How the caller authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum AuthSource {
    /// A bearer token in the `Authorization` header.
    Bearer,
    /// A browser session created by the login flow.
    Session,
}

/// Who, and how: a bearer principal is its (shared, possibly cached) verified token, so that
/// building the state costs no allocation and no copy of the user.
#[derive(Debug, Clone)]
enum Principal {
    Bearer(Arc<VerifiedToken>),
    Session(Arc<User>),
}

/// The result of authentication for one request: anonymous, or a [`User`] with the way they
/// authenticated. Cheap to clone.
///
/// A handler behind a guard (`#[api_auth_required]`, `#[auth_required]`, [`crate::Authorized`],
/// [`crate::RequireAuth`]) always gets an authenticated state (or an anonymous one when
/// `AUTH_ENABLED=false`). A handler without a guard may still take it: it is anonymous when no
/// valid credential was presented.
#[derive(Debug, Clone, Default)]
pub struct AuthenticationState {
    principal: Option<Principal>,
}

impl AuthenticationState {
    /// Nobody.
    pub fn anonymous() -> Self {
        Self::default()
    }

    pub(crate) fn from_token(token: Arc<VerifiedToken>) -> Self {
        Self { principal: Some(Principal::Bearer(token)) }
    }

    pub(crate) fn from_session(user: User) -> Self {
        Self { principal: Some(Principal::Session(Arc::new(user))) }
    }

    /// Whether a user or app is authenticated.
    pub fn is_authenticated(&self) -> bool {
        self.principal.is_some()
    }

    /// The authenticated principal.
    pub fn user(&self) -> Option<&User> {
        match self.principal.as_ref()? {
            Principal::Bearer(token) => Some(token.user()),
            Principal::Session(user) => Some(user),
        }
    }

    /// How the caller authenticated.
    pub fn source(&self) -> Option<AuthSource> {
        self.principal.as_ref().map(|principal| match principal {
            Principal::Bearer(_) => AuthSource::Bearer,
            Principal::Session(_) => AuthSource::Session,
        })
    }

    /// The raw claims of the bearer token (none for sessions and anonymous requests).
    pub fn claims(&self) -> Option<&Map<String, Value>> {
        self.token().map(|token| token.claims())
    }

    /// The validated bearer token.
    pub fn token(&self) -> Option<&VerifiedToken> {
        match self.principal.as_ref()? {
            Principal::Bearer(token) => Some(token),
            Principal::Session(_) => None,
        }
    }

    /// Whether the principal is an application acting as itself (client credentials).
    pub fn is_app_only(&self) -> bool {
        self.user().is_some_and(|u| u.is_app)
    }

    /// Whether the principal is a guest (B2B) user.
    pub fn is_guest(&self) -> bool {
        self.user().is_some_and(|u| u.is_guest)
    }
}
