//! Minting tokens without HTTP: presets for every kind of caller, and a builder to change any
//! claim or header.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Map, Value, json};

use super::Shared;
use super::keys::{SigningAlg, TestKey};
use super::registry::{AppRegistration, GROUPS_OVERAGE_LIMIT, TestUser, random_guid};
use super::scopes::{GRAPH_APP_ID, Resource};

/// Lifetime of the access tokens the OAuth endpoints issue (`expires_in`).
pub(crate) const ACCESS_TOKEN_SECONDS: u64 = 3599;

/// A token under construction. Start from [`super::Tenant::token`]; the default is a v2 access
/// token for the API app, for the first member user, with scope `user_impersonation`.
#[derive(Debug, Clone)]
#[must_use]
pub struct TokenBuilder {
    shared: Arc<Shared>,
    header: Map<String, Value>,
    claims: Map<String, Value>,
    key: Option<Arc<TestKey>>,
    alg: SigningAlg,
}

fn object(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

impl TokenBuilder {
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        let user = shared.users.iter().find(|u| !u.guest).cloned().unwrap_or_else(|| TestUser::member("user", "User"));
        let builder = Self { shared, header: Map::new(), claims: Map::new(), key: None, alg: SigningAlg::Rs256 };
        builder.for_user(&user)
    }

    fn now(&self) -> i64 {
        self.shared.clock.unix_seconds()
    }

    /// A delegated v2 access token for `user` (scope `user_impersonation`, the user's roles and
    /// groups), issued by the public client app.
    pub fn for_user(mut self, user: &TestUser) -> Self {
        let now = self.now();
        let tid = self.shared.tenant_id.clone();
        let api = self.shared.api_app();
        let client = self.shared.public_app();
        self.claims = object(json!({
            "aud": api.client_id,
            "iss": self.shared.v2_issuer(&tid),
            "iat": now, "nbf": now, "exp": now + 3600,
            "aio": "emulator",
            "azp": client.client_id, "azpacr": "0",
            "name": user.name,
            "oid": user.oid,
            "preferred_username": user.username,
            "rh": "0.emulator",
            "scp": "user_impersonation",
            "sub": pairwise_sub(&user.oid, &api.client_id),
            "tid": tid,
            "uti": random_guid(),
            "ver": "2.0",
        }));
        if !user.roles.is_empty() {
            self.claims.insert("roles".into(), json!(user.roles));
        }
        self = self.groups(user.groups.clone());
        if user.guest {
            self.claims.insert("acct".into(), json!(1));
            self.claims
                .insert("idp".into(), json!(format!("https://sts.windows.net/{}/", self.shared.guest_home_tenant)));
        }
        self
    }

    /// The first member user (delegated token).
    pub fn member(self) -> Self {
        let user = self.shared.users.iter().find(|u| !u.guest && u.groups.len() <= GROUPS_OVERAGE_LIMIT).cloned();
        match user {
            Some(user) => self.for_user(&user),
            None => self,
        }
    }

    /// The first guest user.
    pub fn guest(self) -> Self {
        let user = self
            .shared
            .users
            .iter()
            .find(|u| u.guest)
            .cloned()
            .unwrap_or_else(|| TestUser::guest("guest@external.example", "Guest"));
        self.for_user(&user)
    }

    /// An app-only token (client credentials): `idtyp: app`, the API app's granted roles, no
    /// `scp`, no user claims.
    pub fn app_only(mut self) -> Self {
        let now = self.now();
        let tid = self.shared.tenant_id.clone();
        let api = self.shared.api_app();
        let service_principal = self.shared.service_principal_oid(&api.client_id);
        self.claims = object(json!({
            "aud": api.client_id,
            "iss": self.shared.v2_issuer(&tid),
            "iat": now, "nbf": now, "exp": now + 3600,
            "azp": api.client_id, "azpacr": "1",
            "idtyp": "app",
            "oid": service_principal,
            "roles": api.granted_roles,
            "sub": service_principal,
            "tid": tid,
            "uti": random_guid(),
            "ver": "2.0",
        }));
        self
    }

    /// A v1.0 token: `iss` = `https://sts.windows.net/{tid}/`, `aud` = `api://{client_id}`,
    /// `appid` instead of `azp`, `upn`/`unique_name` instead of `preferred_username`.
    pub fn v1(mut self) -> Self {
        let tid = self.tid();
        let api_id = self.shared.api_app().client_id;
        self.claims.insert("ver".into(), json!("1.0"));
        self.claims.insert("iss".into(), json!(format!("https://sts.windows.net/{tid}/")));
        // Only the API's own audience takes the v1 form; a test's other audience stays.
        if self.claims.get("aud").and_then(Value::as_str) == Some(api_id.as_str()) {
            self.claims.insert("aud".into(), json!(format!("api://{api_id}")));
        }
        if let Some(azp) = self.claims.remove("azp") {
            self.claims.insert("appid".into(), azp);
        }
        if let Some(acr) = self.claims.remove("azpacr") {
            self.claims.insert("appidacr".into(), acr);
        }
        if let Some(username) = self.claims.remove("preferred_username") {
            self.claims.insert("upn".into(), username.clone());
            self.claims.insert("unique_name".into(), username);
        }
        self
    }

    /// A token from another tenant (`tid` and `iss` of a fresh tenant GUID, same keys, as
    /// Entra's shared signing keys would produce).
    pub fn other_tenant(self) -> Self {
        self.tenant(&random_guid())
    }

    /// Moves the token to tenant `tid` (v2 issuer).
    pub fn tenant(mut self, tid: &str) -> Self {
        self.claims.insert("tid".into(), json!(tid));
        let iss = self.shared.v2_issuer(tid);
        self.claims.insert("iss".into(), json!(iss));
        self
    }

    /// Expired an hour ago.
    pub fn expired(self) -> Self {
        let now = self.now();
        self.times(now - 7200, now - 7200, now - 3600)
    }

    /// Valid from an hour from now.
    pub fn not_yet_valid(self) -> Self {
        let now = self.now();
        self.times(now, now + 3600, now + 7200)
    }

    /// For another app (a fresh client id).
    pub fn wrong_audience(self) -> Self {
        self.audience(json!(random_guid()))
    }

    /// A Microsoft Graph token (`aud` = Graph, `scp: User.Read`, a `nonce` header).
    pub fn graph_audience(mut self) -> Self {
        self.header.insert("nonce".into(), json!(random_guid()));
        self.claims.insert("scp".into(), json!("User.Read"));
        self.audience(json!(GRAPH_APP_ID))
    }

    /// A user in more groups than fit in a token: no `groups`, an overage indicator instead.
    pub fn groups_overage(mut self) -> Self {
        self.claims.remove("groups");
        let oid = self.claims.get("oid").cloned().unwrap_or(Value::Null);
        let endpoint =
            format!("https://graph.microsoft.com/v1.0/users/{}/getMemberObjects", oid.as_str().unwrap_or_default());
        self.claims.insert("_claim_names".into(), json!({ "groups": "src1" }));
        self.claims.insert("_claim_sources".into(), json!({ "src1": { "endpoint": endpoint } }));
        self
    }

    /// An id_token for the API app (`aud` = its client id, no `scp`/`roles`).
    pub fn id_token(mut self) -> Self {
        let api_id = self.shared.api_app().client_id;
        for claim in ["scp", "roles", "azp", "azpacr", "uti", "rh"] {
            self.claims.remove(claim);
        }
        self.claims.insert("aud".into(), json!(api_id));
        // An OpenID Connect sign-in's id_token echoes the request's nonce (msal and this crate's
        // login always send one).
        self.claims.insert("nonce".into(), json!(super::random_guid()));
        self
    }

    /// A delegated access token as the OAuth endpoints issue it: for `user`, requested by
    /// `client_id` (`azpacr`: `0` a public client, `1` a secret, `2` a client assertion), for
    /// `resource` with the delegated scopes `scp`, in the resource's token version.
    pub(crate) fn delegated(
        self,
        user: &TestUser,
        client_id: &str,
        azpacr: &str,
        resource: &Resource,
        scp: &[String],
    ) -> Self {
        let mut builder = self.for_user(user);
        if let Resource::Graph = resource {
            builder = builder.graph_audience().roles(Vec::<String>::new());
        }
        builder.claims.insert("azp".into(), json!(client_id));
        builder.claims.insert("azpacr".into(), json!(azpacr));
        builder.claims.insert("sub".into(), json!(pairwise_sub(&user.oid, resource.client_id())));
        builder = builder.scopes(scp).lifetime(Duration::from_secs(ACCESS_TOKEN_SECONDS));
        if resource.token_version() == 1 {
            builder = builder.v1();
        }
        builder.audience(json!(resource.audience()))
    }

    /// An app-only access token as the client-credentials grant issues it: `client` acting as
    /// itself, for `resource`, with the roles `client` was granted that `resource` defines.
    /// `azpacr`: how the client authenticated (`1` a secret, `2` a certificate or another client
    /// assertion, as Entra marks them).
    pub(crate) fn app_for(self, client: &AppRegistration, azpacr: &str, resource: &Resource) -> Self {
        let service_principal = self.shared.service_principal_oid(&client.client_id);
        let roles: Vec<String> = match resource {
            Resource::App { app, .. } => {
                client.granted_roles.iter().filter(|role| app.app_roles.contains(role)).cloned().collect()
            }
            Resource::Graph => client.graph_permissions.clone(),
        };
        let mut builder = self.app_only().roles(roles).lifetime(Duration::from_secs(ACCESS_TOKEN_SECONDS));
        builder.claims.insert("azp".into(), json!(client.client_id));
        builder.claims.insert("azpacr".into(), json!(azpacr));
        builder.claims.insert("oid".into(), json!(service_principal));
        builder.claims.insert("sub".into(), json!(service_principal));
        if resource.token_version() == 1 {
            builder = builder.v1();
        }
        builder.audience(json!(resource.audience()))
    }

    /// An id_token for `user` signing in to `client_id`, carrying `nonce` when the authorize
    /// request had one, and the user's `roles` and `groups` (past the limit, the overage
    /// indicator) as an app with group claims configured receives them.
    pub(crate) fn id_token_for(mut self, user: &TestUser, client_id: &str, nonce: Option<&str>) -> Self {
        let now = self.now();
        let tid = self.shared.tenant_id.clone();
        self.claims = object(json!({
            "aud": client_id,
            "iss": self.shared.v2_issuer(&tid),
            "iat": now, "nbf": now, "exp": now + 3600,
            "aio": "emulator",
            "name": user.name,
            "oid": user.oid,
            "preferred_username": user.username,
            "rh": "0.emulator",
            "sub": pairwise_sub(&user.oid, client_id),
            "tid": tid,
            "uti": random_guid(),
            "ver": "2.0",
        }));
        if let Some(nonce) = nonce {
            self.claims.insert("nonce".into(), json!(nonce));
        }
        if user.guest {
            self.claims
                .insert("idp".into(), json!(format!("https://sts.windows.net/{}/", self.shared.guest_home_tenant)));
        }
        self.roles(user.roles.clone()).groups(user.groups.clone())
    }

    /// Sets `iat`, `nbf` and `exp`.
    pub fn times(mut self, iat: i64, nbf: i64, exp: i64) -> Self {
        self.claims.insert("iat".into(), json!(iat));
        self.claims.insert("nbf".into(), json!(nbf));
        self.claims.insert("exp".into(), json!(exp));
        self
    }

    /// Valid from now for `lifetime`.
    pub fn lifetime(self, lifetime: Duration) -> Self {
        let now = self.now();
        self.times(now, now, now + i64::try_from(lifetime.as_secs()).unwrap_or(i64::MAX / 2))
    }

    /// Sets `scp` (space-separated).
    pub fn scopes<I: IntoIterator<Item = S>, S: AsRef<str>>(mut self, scopes: I) -> Self {
        let joined: Vec<String> = scopes.into_iter().map(|s| s.as_ref().to_owned()).collect();
        if joined.is_empty() {
            self.claims.remove("scp");
        } else {
            self.claims.insert("scp".into(), json!(joined.join(" ")));
        }
        self
    }

    /// Sets `roles` (removed when empty).
    pub fn roles<I: IntoIterator<Item = S>, S: Into<String>>(mut self, roles: I) -> Self {
        let roles: Vec<String> = roles.into_iter().map(Into::into).collect();
        if roles.is_empty() {
            self.claims.remove("roles");
        } else {
            self.claims.insert("roles".into(), json!(roles));
        }
        self
    }

    /// Sets `groups` (past the overage limit, an overage indicator instead; removed when empty).
    pub fn groups<I: IntoIterator<Item = S>, S: Into<String>>(mut self, groups: I) -> Self {
        let groups: Vec<String> = groups.into_iter().map(Into::into).collect();
        self.claims.remove("groups");
        if groups.len() > GROUPS_OVERAGE_LIMIT {
            return self.groups_overage();
        }
        if !groups.is_empty() {
            self.claims.insert("groups".into(), json!(groups));
        }
        self
    }

    /// Sets `aud`.
    pub fn audience(mut self, aud: Value) -> Self {
        self.claims.insert("aud".into(), aud);
        self
    }

    /// The authentication contexts (`acrs`) the sign-in satisfied, as Entra issues them when a
    /// Conditional Access authentication context was requested in `claims`.
    pub fn acrs<I: IntoIterator<Item = S>, S: AsRef<str>>(mut self, ids: I) -> Self {
        let ids: Vec<String> = ids.into_iter().map(|id| id.as_ref().to_owned()).collect();
        self.claims.insert("acrs".into(), json!(ids));
        self
    }

    /// Sets any claim.
    pub fn claim(mut self, name: &str, value: Value) -> Self {
        self.claims.insert(name.into(), value);
        self
    }

    /// Removes a claim.
    pub fn without_claim(mut self, name: &str) -> Self {
        self.claims.remove(name);
        self
    }

    /// Sets a header member (besides `alg`, `typ`, `kid`, `x5t`, which are set at signing).
    pub fn header(mut self, name: &str, value: Value) -> Self {
        self.header.insert(name.into(), value);
        self
    }

    /// Removes a header member (for example `kid`), also one set at signing.
    pub fn without_header(mut self, name: &str) -> Self {
        self.header.insert(name.into(), Value::Null);
        self
    }

    /// Signs with `key` instead of the tenant's active key.
    pub fn signed_with(mut self, key: Arc<TestKey>) -> Self {
        self.key = Some(key);
        self
    }

    /// Signs with `alg` (RS256 by default).
    pub fn alg(mut self, alg: SigningAlg) -> Self {
        self.alg = alg;
        self
    }

    /// The claims as they stand.
    pub fn claims(&self) -> &Map<String, Value> {
        &self.claims
    }

    fn tid(&self) -> String {
        self.claims.get("tid").and_then(Value::as_str).unwrap_or(&self.shared.tenant_id).to_owned()
    }

    /// Signs and returns the compact token.
    pub fn sign(&self) -> String {
        let key = self.key.clone().unwrap_or_else(|| self.shared.active_key());
        let mut header = object(json!({ "typ": "JWT", "alg": self.alg.name(), "kid": key.kid(), "x5t": key.kid() }));
        for (name, value) in &self.header {
            if value.is_null() {
                header.remove(name);
            } else {
                header.insert(name.clone(), value.clone());
            }
        }
        key.sign_compact(&Value::Object(header), &Value::Object(self.claims.clone()), &self.alg)
    }
}

/// Entra's `sub` is pairwise: the same user has a different `sub` per app.
fn pairwise_sub(oid: &str, app: &str) -> String {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, format!("{oid}:{app}").as_bytes());
    super::keys::b64(&digest.as_ref()[..24])
}
