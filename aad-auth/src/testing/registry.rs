//! App registrations and users of the local tenant.

/// A random GUID (v4 layout), as Entra uses for every id.
#[allow(clippy::expect_used)]
pub fn random_guid() -> String {
    let mut bytes = [0u8; 16];
    aws_lc_rs::rand::fill(&mut bytes).expect("system randomness");
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("{}-{}-{}-{}-{}", &hex[0..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..32])
}

/// A random URL-safe secret of `bytes` random bytes.
#[allow(clippy::expect_used)]
pub(crate) fn random_secret(bytes: usize) -> String {
    let mut buffer = vec![0u8; bytes];
    aws_lc_rs::rand::fill(&mut buffer).expect("system randomness");
    super::keys::b64(&buffer)
}

/// An app registration.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct AppRegistration {
    /// Display name.
    pub name: String,
    /// Application (client) id.
    pub client_id: String,
    /// Client secret (confidential clients).
    pub client_secret: Option<String>,
    /// Web redirect URIs (authorization code flow, server side). A URI ending in `/*` matches
    /// any path under it; `http://127.0.0.1:*/...` matches any loopback port.
    pub redirect_uris: Vec<String>,
    /// Single-page-application redirect URIs (Swagger's PKCE flow); their origins get CORS on
    /// the token endpoint.
    pub spa_redirect_uris: Vec<String>,
    /// Where logout may return to.
    pub post_logout_redirect_uris: Vec<String>,
    /// Delegated scopes this app exposes (`api://{client_id}/{scope}`).
    pub exposed_scopes: Vec<String>,
    /// App roles this app defines.
    pub app_roles: Vec<String>,
    /// App roles granted to this app as a client (client credentials tokens carry them).
    pub granted_roles: Vec<String>,
    /// Microsoft Graph application permissions granted to this app, admin consent included
    /// (its client-credentials tokens for Graph carry them as `roles`).
    pub graph_permissions: Vec<String>,
    /// Microsoft Graph delegated permissions configured on the registration ("API permissions",
    /// without consent): what `https://graph.microsoft.com/.default` asks for in a user's flow.
    /// Default `User.Read`, as the Entra portal configures a new registration.
    pub graph_delegated_permissions: Vec<String>,
    /// Microsoft Graph delegated permissions an administrator consented to for every user:
    /// no user is asked for them. Default none, so that a test sees incremental consent.
    pub admin_consented_graph_scopes: Vec<String>,
    /// Access-token version issued for this app's API (1 or 2).
    pub token_version: u8,
    /// Whether public-client flows (device code) are allowed.
    pub public_client: bool,
    /// Certificates (PEM) uploaded under *Certificates & secrets*: client assertions signed
    /// with their keys authenticate the app (more with [`super::Tenant::add_certificate`]).
    pub certificates: Vec<String>,
    /// Federated credentials: assertions from these issuers and subjects authenticate the app
    /// (more with [`super::Tenant::add_federated_credential`]).
    pub federated_credentials: Vec<FederatedCredential>,
}

/// A federated identity credential of an app registration (*Certificates & secrets → Federated
/// credentials*): an external token with this `iss` and `sub` and the audience
/// `api://AzureADTokenExchange` is accepted as the app's client assertion.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct FederatedCredential {
    /// The issuer (`iss`), exactly; its keys are found through `{issuer}/.well-known/openid-configuration`.
    pub issuer: String,
    /// The subject (`sub`), exactly: `system:serviceaccount:{namespace}:{name}` for Kubernetes,
    /// `repo:{org}/{repo}:...` for GitHub, a managed identity's object id.
    pub subject: String,
    /// The audience the token must carry: `api://AzureADTokenExchange`.
    pub audience: String,
}

impl FederatedCredential {
    /// Trusts tokens of `issuer` about `subject`, with Entra's audience `api://AzureADTokenExchange`.
    pub fn new(issuer: impl Into<String>, subject: impl Into<String>) -> Self {
        Self {
            issuer: issuer.into(),
            subject: subject.into(),
            audience: crate::credential::TOKEN_EXCHANGE_AUDIENCE.to_owned(),
        }
    }
}

impl AppRegistration {
    /// A confidential web app and API with a fresh id and secret, exposing `user_impersonation`
    /// and the roles `Admin` and `Reader`, issuing v2 tokens.
    pub fn confidential(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            client_id: random_guid(),
            client_secret: Some(random_secret(30)),
            redirect_uris: Vec::new(),
            spa_redirect_uris: Vec::new(),
            post_logout_redirect_uris: Vec::new(),
            exposed_scopes: vec!["user_impersonation".into()],
            app_roles: vec!["Admin".into(), "Reader".into()],
            granted_roles: vec!["Reader".into()],
            graph_permissions: Vec::new(),
            graph_delegated_permissions: vec!["User.Read".into()],
            admin_consented_graph_scopes: Vec::new(),
            token_version: 2,
            public_client: false,
            certificates: Vec::new(),
            federated_credentials: Vec::new(),
        }
    }

    /// A public client (device code, no secret).
    pub fn public(name: impl Into<String>) -> Self {
        Self {
            client_secret: None,
            exposed_scopes: Vec::new(),
            app_roles: Vec::new(),
            granted_roles: Vec::new(),
            public_client: true,
            ..Self::confidential(name)
        }
    }

    /// Adds a web redirect URI.
    #[must_use]
    pub fn redirect_uri(mut self, uri: impl Into<String>) -> Self {
        self.redirect_uris.push(uri.into());
        self
    }

    /// Adds a single-page-application redirect URI.
    #[must_use]
    pub fn spa_redirect_uri(mut self, uri: impl Into<String>) -> Self {
        self.spa_redirect_uris.push(uri.into());
        self
    }

    /// Adds a URI logout may return to (`post_logout_redirect_uri`; same matching rules as
    /// redirect URIs).
    #[must_use]
    pub fn post_logout_redirect_uri(mut self, uri: impl Into<String>) -> Self {
        self.post_logout_redirect_uris.push(uri.into());
        self
    }

    /// Grants a Microsoft Graph application permission (admin-consented), such as
    /// `GroupMember.Read.All`.
    #[must_use]
    pub fn graph_permission(mut self, permission: impl Into<String>) -> Self {
        self.graph_permissions.push(permission.into());
        self
    }

    /// Configures a Microsoft Graph delegated permission (such as `Mail.Read`) on the
    /// registration, without consent: `https://graph.microsoft.com/.default` then asks for it,
    /// and each user consents at sign-in.
    #[must_use]
    pub fn graph_delegated_permission(mut self, scope: impl Into<String>) -> Self {
        let scope = scope.into();
        if !self.graph_delegated_permissions.iter().any(|known| known.eq_ignore_ascii_case(&scope)) {
            self.graph_delegated_permissions.push(scope);
        }
        self
    }

    /// Configures a Microsoft Graph delegated permission and grants admin consent for it
    /// (tenant-wide): refresh-token and on-behalf-of requests for it need no user consent.
    #[must_use]
    pub fn admin_consent_graph_scope(mut self, scope: impl Into<String>) -> Self {
        let scope = scope.into();
        self = self.graph_delegated_permission(scope.clone());
        if !self.admin_consented_graph_scopes.iter().any(|known| known.eq_ignore_ascii_case(&scope)) {
            self.admin_consented_graph_scopes.push(scope);
        }
        self
    }

    /// Uploads a certificate (PEM; see [`super::TestCertificate::cert_pem`]).
    #[must_use]
    pub fn certificate(mut self, pem: impl Into<String>) -> Self {
        self.certificates.push(pem.into());
        self
    }

    /// Adds a federated credential.
    #[must_use]
    pub fn federated_credential(mut self, credential: FederatedCredential) -> Self {
        self.federated_credentials.push(credential);
        self
    }

    /// Removes the client secret: a confidential app whose only credentials are certificates or
    /// federated credentials.
    #[must_use]
    pub fn without_secret(mut self) -> Self {
        self.client_secret = None;
        self
    }

    /// Sets the client secret (confidential clients).
    #[must_use]
    pub fn client_secret(mut self, secret: impl Into<String>) -> Self {
        self.client_secret = Some(secret.into());
        self
    }

    /// The app of the demo and `examples/dev_tenant` (`Dev API`): a confidential web app and
    /// API (as [`AppRegistration::confidential`]) whose registrations cover the demo's routes on
    /// any loopback port: redirect URIs `http://127.0.0.1:*/oauth/aad/redirect` and
    /// `http://localhost:*/oauth/aad/redirect`; single-page-app redirect URIs (Swagger UI's
    /// PKCE flow) `http://127.0.0.1:*/docs/oauth2-redirect` and
    /// `http://localhost:*/docs/oauth2-redirect`; post-logout URIs `http://127.0.0.1:*/login`
    /// and `http://localhost:*/login`. It holds the Graph application permissions
    /// `User.Read.All` and `GroupMember.Read.All`, which `checkMemberGroups` needs for a groups
    /// overage.
    pub fn dev_api() -> Self {
        Self::confidential("Dev API")
            .graph_permission("User.Read.All")
            .graph_permission("GroupMember.Read.All")
            .redirect_uri("http://127.0.0.1:*/oauth/aad/redirect")
            .redirect_uri("http://localhost:*/oauth/aad/redirect")
            .spa_redirect_uri("http://127.0.0.1:*/docs/oauth2-redirect")
            .spa_redirect_uri("http://localhost:*/docs/oauth2-redirect")
            .post_logout_redirect_uri("http://127.0.0.1:*/login")
            .post_logout_redirect_uri("http://localhost:*/login")
    }

    /// Adds the demo's routes at `origin` (`https://app.example`, no path): the callback
    /// `{origin}/oauth/aad/redirect`, Swagger UI's `{origin}/docs/oauth2-redirect` (single-page
    /// app) and `{origin}/login` after logout. For an app served behind a proxy
    /// (`DEV_TENANT_REDIRECT_ORIGINS`).
    #[must_use]
    pub fn with_origin(self, origin: &str) -> Self {
        let origin = origin.trim_end_matches('/');
        self.redirect_uri(format!("{origin}/oauth/aad/redirect"))
            .spa_redirect_uri(format!("{origin}/docs/oauth2-redirect"))
            .post_logout_redirect_uri(format!("{origin}/login"))
    }

    /// The public client of the demo and `examples/dev_tenant` (`Dev public client`): device
    /// code, and the loopback redirect URIs of desktop apps (`http://localhost`,
    /// `http://127.0.0.1`, any port).
    pub fn dev_public_client() -> Self {
        Self::public("Dev public client").redirect_uri("http://localhost").redirect_uri("http://127.0.0.1")
    }

    /// Sets the client id.
    #[must_use]
    pub fn client_id(mut self, id: impl Into<String>) -> Self {
        self.client_id = id.into();
        self
    }

    /// Sets the issued token version (1 or 2).
    #[must_use]
    pub fn token_version(mut self, version: u8) -> Self {
        self.token_version = version;
        self
    }
}

/// A user of the local tenant.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct TestUser {
    /// Sign-in name (`preferred_username`).
    pub username: String,
    /// Display name.
    pub name: String,
    /// Object id.
    pub oid: String,
    /// App roles assigned.
    pub roles: Vec<String>,
    /// Group object ids.
    pub groups: Vec<String>,
    /// A guest from another tenant (B2B): tokens carry `acct: 1` and the home tenant's `idp`.
    pub guest: bool,
    /// Job title (Microsoft Graph's `jobTitle`).
    pub job_title: Option<String>,
}

impl TestUser {
    /// A member user `{local}@{domain}` with a display name.
    pub fn member(username: impl Into<String>, name: impl Into<String>) -> Self {
        Self {
            username: username.into(),
            name: name.into(),
            oid: random_guid(),
            roles: Vec::new(),
            groups: Vec::new(),
            guest: false,
            job_title: None,
        }
    }

    /// A guest user.
    pub fn guest(username: impl Into<String>, name: impl Into<String>) -> Self {
        Self { guest: true, ..Self::member(username, name) }
    }

    /// Assigns app roles.
    #[must_use]
    pub fn roles<I: IntoIterator<Item = S>, S: Into<String>>(mut self, roles: I) -> Self {
        self.roles = roles.into_iter().map(Into::into).collect();
        self
    }

    /// Sets the job title (Microsoft Graph's `jobTitle`).
    #[must_use]
    pub fn job_title(mut self, title: impl Into<String>) -> Self {
        self.job_title = Some(title.into());
        self
    }

    /// Sets group memberships.
    #[must_use]
    pub fn groups<I: IntoIterator<Item = S>, S: Into<String>>(mut self, groups: I) -> Self {
        self.groups = groups.into_iter().map(Into::into).collect();
        self
    }
}

/// The group the default overage user (`dave`, 250 groups) is in first, and that the demo's
/// `GET /team` requires: only Graph can confirm it, since his tokens list no groups.
pub const OVERAGE_TEAM_GROUP: &str = "7d3e1f0a-2b4c-4d5e-8f60-71829304a5b6";

/// Above this many groups Entra replaces the `groups` claim by an overage indicator.
pub const GROUPS_OVERAGE_LIMIT: usize = 200;
