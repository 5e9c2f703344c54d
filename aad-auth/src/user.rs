//! The signed-in principal, built from token claims.

// Parses network input: no indexing, no unchecked arithmetic, no unwrap (README, Security notes).
#![cfg_attr(
    not(test),
    deny(clippy::indexing_slicing, clippy::arithmetic_side_effects, clippy::unwrap_used, clippy::expect_used)
)]

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// A user or application, as the token (or the login session) describes it.
///
/// The identity key is `(tid, oid)`; names and e-mail addresses are for display only (they can
/// change and are not unique across tenants).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct User {
    /// Object id in the tenant (`oid`).
    pub oid: String,
    /// Tenant id (`tid`).
    pub tid: String,
    /// Subject (`sub`), pairwise per app.
    pub sub: String,
    /// Display name (`name`).
    pub name: Option<String>,
    /// Sign-in name (`preferred_username`, or `upn`/`unique_name` in v1 tokens).
    pub username: Option<String>,
    /// E-mail (`email`, or the username when it is an address).
    pub email: Option<String>,
    /// App roles (`roles`).
    pub roles: Vec<String>,
    /// Group object ids (`groups`).
    pub groups: Vec<String>,
    /// Whether the user has more groups than fit in the token (groups overage: `_claim_names`
    /// or `hasgroups`); `groups` is then incomplete.
    pub groups_overage: bool,
    /// Delegated scopes (`scp`).
    pub scopes: Vec<String>,
    /// An application acting as itself (client credentials): `idtyp=app`, or roles without `scp`.
    pub is_app: bool,
    /// A guest (B2B) user: `acct=1`, or an `idp` other than the tenant's own issuer.
    pub is_guest: bool,
    /// The calling application (`azp` or `appid`).
    pub app_id: Option<String>,
    /// Conditional Access authentication contexts the sign-in satisfied (`acrs`, such as
    /// `c1`); for a session, those of the login's (or the last refresh's) access token.
    #[serde(default)]
    pub acrs: Vec<String>,
}

impl User {
    /// A display label: the name, else the username, else the object id.
    pub fn display_name(&self) -> &str {
        self.name.as_deref().or(self.username.as_deref()).unwrap_or(&self.oid)
    }

    /// Whether `scp` holds `scope` (whole space-separated values, never substrings).
    pub fn has_scope(&self, scope: &str) -> bool {
        self.scopes.iter().any(|s| s == scope)
    }

    /// Whether `roles` holds `role`.
    pub fn has_role(&self, role: &str) -> bool {
        self.roles.iter().any(|r| r == role)
    }

    /// Whether `groups` holds `group`.
    pub fn in_group(&self, group: &str) -> bool {
        self.groups.iter().any(|g| g == group)
    }

    /// Whether `acrs` holds the authentication context `id`.
    pub fn has_auth_context(&self, id: &str) -> bool {
        self.acrs.iter().any(|a| a == id)
    }

    /// Builds a user from validated claims. `home_issuers` are the issuers of the token's own
    /// tenant (v1 and v2), against which `idp` is compared to detect guests.
    pub(crate) fn from_claims(claims: &Map<String, Value>, home_issuers: &[&str]) -> Self {
        let text = |name: &str| claims.get(name).and_then(Value::as_str).map(str::to_owned);
        let list = |name: &str| -> Vec<String> {
            match claims.get(name) {
                Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).map(str::to_owned).collect(),
                Some(Value::String(joined)) => joined.split(' ').filter(|s| !s.is_empty()).map(str::to_owned).collect(),
                _ => Vec::new(),
            }
        };
        let scopes = list("scp");
        let roles = list("roles");
        let username = text("preferred_username").or_else(|| text("upn")).or_else(|| text("unique_name"));
        let email = text("email").or_else(|| username.clone().filter(|u| u.contains('@')));
        let groups_overage =
            claims.get("_claim_names").and_then(Value::as_object).is_some_and(|names| names.contains_key("groups"))
                || claims.get("hasgroups").and_then(Value::as_bool).unwrap_or(false);
        let is_app = text("idtyp").as_deref() == Some("app") || (claims.get("scp").is_none() && !roles.is_empty());
        let acct_guest = claims.get("acct").and_then(Value::as_i64) == Some(1);
        let foreign_idp = !is_app
            && text("idp").is_some_and(|idp| {
                let idp = idp.trim_end_matches('/');
                !home_issuers.iter().any(|home| home.trim_end_matches('/') == idp)
            });
        Self {
            oid: text("oid").unwrap_or_default(),
            tid: text("tid").unwrap_or_default(),
            sub: text("sub").unwrap_or_default(),
            name: text("name"),
            username,
            email,
            roles,
            groups: list("groups"),
            groups_overage,
            scopes,
            is_app,
            is_guest: acct_guest || foreign_idp,
            app_id: text("azp").or_else(|| text("appid")),
            acrs: list("acrs"),
        }
    }
}
