//! What a guarded route requires: the credential kinds it takes, the scopes, roles and groups
//! the caller must hold, and the Conditional Access authentication contexts (`acrs`) their
//! sign-in must have satisfied.

// Parses network input: no indexing, no unchecked arithmetic, no unwrap (README, Security notes).
#![cfg_attr(
    not(test),
    deny(clippy::indexing_slicing, clippy::arithmetic_side_effects, clippy::unwrap_used, clippy::expect_used)
)]

use crate::state::AuthenticationState;
use crate::step_up::{ClaimsChallenge, InvalidAuthContext, is_auth_context_id};
use crate::user::User;

/// API routes answer 401/403; page routes send anonymous browsers to the login UI.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum GuardKind {
    /// An API route (`#[api_auth_required]`).
    Api,
    /// An HTML page (`#[auth_required]`).
    Page,
}

/// The requirements of a guarded route.
///
/// Within each list any one entry suffices; every non-empty list must hold. Scopes are matched
/// against `scp`, roles against `roles`, groups against `groups`, always as whole values.
///
/// ```
/// use aad_auth::Policy;
/// // Bearer or session, with the `user_impersonation` scope and either role.
/// let policy = Policy::api().allow_session().scopes(["user_impersonation"]).roles(["Admin", "Editor"]);
/// assert!(policy.allows_session());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub struct Policy {
    kind: GuardKind,
    allow_session: bool,
    scopes: Vec<String>,
    roles: Vec<String>,
    groups: Vec<String>,
    /// Validated ids (`c1`..`c99`); the challenge is built once, here, not per refusal.
    auth_context: Option<ClaimsChallenge>,
}

/// Why an authenticated caller was refused (403).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Forbidden {
    /// None of the route's scopes is in `scp`.
    #[error("none of the required scopes")]
    MissingScope,
    /// None of the route's roles is in `roles`.
    #[error("none of the required roles")]
    MissingRole,
    /// None of the route's groups is in `groups`.
    #[error("none of the required groups")]
    MissingGroup,
    /// The route needs a group and the token has a groups overage (too many groups to list).
    #[error("group membership not in the token (groups overage)")]
    GroupsOverage,
    /// None of `AAD_ROLES` is held.
    #[error("none of the roles this app requires")]
    MissingAppRole,
    /// Guest users are not allowed (`AAD_ALLOW_GUESTS=false`).
    #[error("guest users are not allowed")]
    Guest,
}

impl Forbidden {
    /// A short, fixed explanation for `error_description`.
    pub fn description(&self) -> &'static str {
        match self {
            Self::MissingScope => "The access token does not grant a scope this operation requires.",
            Self::MissingRole => "The caller does not hold a role this operation requires.",
            Self::MissingGroup => "The caller is not in a group this operation requires.",
            Self::GroupsOverage => {
                "The caller's group memberships are not listed in the token (groups overage), so the required group cannot be confirmed."
            }
            Self::MissingAppRole => "The caller does not hold a role this application requires.",
            Self::Guest => "Guest users are not allowed.",
        }
    }
}

impl Policy {
    /// A bearer-only API route.
    pub fn api() -> Self {
        Self {
            kind: GuardKind::Api,
            allow_session: false,
            scopes: Vec::new(),
            roles: Vec::new(),
            groups: Vec::new(),
            auth_context: None,
        }
    }

    /// An HTML page: a session or a bearer token; anonymous browsers go to the login UI.
    pub fn page() -> Self {
        Self { kind: GuardKind::Page, allow_session: true, ..Self::api() }
    }

    /// Also accept a logged-in browser session.
    pub fn allow_session(mut self) -> Self {
        self.allow_session = true;
        self
    }

    /// Require any one of these scopes.
    pub fn scopes<I: IntoIterator<Item = S>, S: Into<String>>(mut self, scopes: I) -> Self {
        self.scopes = scopes.into_iter().map(Into::into).collect();
        self
    }

    /// Require any one of these app roles.
    pub fn roles<I: IntoIterator<Item = S>, S: Into<String>>(mut self, roles: I) -> Self {
        self.roles = roles.into_iter().map(Into::into).collect();
        self
    }

    /// Require membership of any one of these groups (object ids).
    pub fn groups<I: IntoIterator<Item = S>, S: Into<String>>(mut self, groups: I) -> Self {
        self.groups = groups.into_iter().map(Into::into).collect();
        self
    }

    /// Require a sign-in that satisfied any one of these Conditional Access authentication
    /// contexts (the token's `acrs` claim; ids `c1` to `c99`, as created in the Entra admin
    /// center under Conditional Access, Authentication contexts). A token without one gets 401
    /// with Microsoft's claims challenge; a browser session on a page goes through the login
    /// again, asking for it.
    ///
    /// ```
    /// use aad_auth::Policy;
    /// let policy = Policy::api().allow_session().auth_context(["c1"]);
    /// assert_eq!(policy.required_auth_context(), ["c1"]);
    /// ```
    ///
    /// # Panics
    /// When an id is not `c1`..`c99` (a programming error, like an invalid regex literal; the
    /// guard macros check it at compile time). [`Policy::try_auth_context`] returns the error.
    pub fn auth_context<I: IntoIterator<Item = S>, S: Into<String>>(self, ids: I) -> Self {
        match self.try_auth_context(ids) {
            Ok(policy) => policy,
            Err(error) => panic!("Policy::auth_context: {error}"),
        }
    }

    /// [`Policy::auth_context`] for ids that come from configuration: the first id that is not
    /// `c1`..`c99` is the error. An empty list requires nothing.
    ///
    /// # Errors
    /// [`InvalidAuthContext`] naming the bad id.
    pub fn try_auth_context<I: IntoIterator<Item = S>, S: Into<String>>(
        mut self,
        ids: I,
    ) -> Result<Self, InvalidAuthContext> {
        let ids: Vec<String> = ids.into_iter().map(Into::into).collect();
        if let Some(bad) = ids.iter().find(|id| !is_auth_context_id(id)) {
            return Err(InvalidAuthContext(bad.clone()));
        }
        self.auth_context = ClaimsChallenge::new(&ids);
        Ok(self)
    }

    /// API or page.
    pub fn kind(&self) -> GuardKind {
        self.kind
    }

    /// Whether a browser session is accepted.
    pub fn allows_session(&self) -> bool {
        self.allow_session
    }

    /// Required scopes (any of).
    pub fn required_scopes(&self) -> &[String] {
        &self.scopes
    }

    /// Required roles (any of).
    pub fn required_roles(&self) -> &[String] {
        &self.roles
    }

    /// Required groups (any of).
    pub fn required_groups(&self) -> &[String] {
        &self.groups
    }

    /// Required authentication contexts (any of).
    pub fn required_auth_context(&self) -> &[String] {
        self.auth_context.as_ref().map_or(&[], ClaimsChallenge::ids)
    }

    /// The claims challenge for a caller whose sign-in satisfied none of the route's
    /// authentication contexts; `None` when the route requires none or one is held (checked
    /// after [`Policy::check`]: a missing role is final, a stronger sign-in would not help).
    pub(crate) fn missing_auth_context(&self, state: &AuthenticationState) -> Option<&ClaimsChallenge> {
        let challenge = self.auth_context.as_ref()?;
        let user = state.user()?;
        (!challenge.ids().iter().any(|id| user.has_auth_context(id))).then_some(challenge)
    }

    /// Checks the route's requirements (after the app-wide ones).
    pub(crate) fn check(&self, state: &AuthenticationState) -> Result<(), Forbidden> {
        let Some(user) = state.user() else {
            return Ok(());
        };
        if !self.scopes.is_empty() && !self.scopes.iter().any(|s| user.has_scope(s)) {
            return Err(Forbidden::MissingScope);
        }
        if !self.roles.is_empty() && !self.roles.iter().any(|r| user.has_role(r)) {
            return Err(Forbidden::MissingRole);
        }
        if !self.groups.is_empty() && !self.groups.iter().any(|g| user.in_group(g)) {
            return Err(if user.groups_overage { Forbidden::GroupsOverage } else { Forbidden::MissingGroup });
        }
        Ok(())
    }
}

/// App-wide requirements (`AAD_ROLES`, `AAD_ALLOW_GUESTS`), checked for every guarded route.
pub(crate) fn check_app_wide(user: &User, required_roles: &[String], allow_guests: bool) -> Result<(), Forbidden> {
    if !allow_guests && user.is_guest {
        return Err(Forbidden::Guest);
    }
    if !required_roles.is_empty() && !required_roles.iter().any(|r| user.has_role(r)) {
        return Err(Forbidden::MissingAppRole);
    }
    Ok(())
}

/// A policy known at compile time: the guard macros generate one per handler.
pub trait StaticPolicy: 'static {
    /// The policy.
    fn policy() -> &'static Policy;
}

/// A guarded handler, registered by the guard macros so that the OpenAPI document can show the
/// same requirements the runtime enforces.
#[derive(Debug)]
pub struct GuardRegistration {
    /// The handler function's name (utoipa's default `operation_id`).
    pub handler: &'static str,
    /// `module_path!()` of the handler.
    pub module: &'static str,
    /// The handler's policy.
    pub policy: fn() -> &'static Policy,
}

inventory::collect!(GuardRegistration);

/// Every guarded handler linked into the program.
pub fn guard_registrations() -> impl Iterator<Item = &'static GuardRegistration> {
    inventory::iter::<GuardRegistration>.into_iter()
}
