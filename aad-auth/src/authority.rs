//! The authority: where discovery lives, which issuer its document must name, and which `iss`
//! values tokens may then carry.

// Parses network input: no indexing, no unchecked arithmetic, no unwrap (README, Security notes).
#![cfg_attr(
    not(test),
    deny(clippy::indexing_slicing, clippy::arithmetic_side_effects, clippy::unwrap_used, clippy::expect_used)
)]

use serde::Deserialize;
use url::Url;

use crate::config::{AadAuthConfig, Tenant, is_guid, is_loopback};
use crate::log_safe::clip_at;

/// The `{tenantid}` placeholder of Entra's multi-tenant issuer template.
pub(crate) const TENANT_TEMPLATE: &str = "{tenantid}";

/// The parts of an OpenID Provider discovery document this crate uses.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ProviderMetadata {
    /// `issuer`; may hold the `{tenantid}` template.
    pub issuer: String,
    /// `jwks_uri`.
    pub jwks_uri: Url,
    /// `authorization_endpoint`.
    pub authorization_endpoint: Option<Url>,
    /// `token_endpoint`.
    pub token_endpoint: Option<Url>,
    /// `end_session_endpoint`.
    pub end_session_endpoint: Option<Url>,
    /// `device_authorization_endpoint`.
    pub device_authorization_endpoint: Option<Url>,
}

#[derive(Deserialize)]
struct RawMetadata {
    issuer: String,
    jwks_uri: String,
    authorization_endpoint: Option<String>,
    token_endpoint: Option<String>,
    end_session_endpoint: Option<String>,
    device_authorization_endpoint: Option<String>,
}

/// Where discovery is and what it must say.
#[derive(Debug, Clone)]
pub(crate) struct Authority {
    pub(crate) discovery_url: Url,
    expected: ExpectedIssuer,
    multi_tenant: bool,
}

#[derive(Debug, Clone)]
enum ExpectedIssuer {
    /// Derived from the host and a tenant GUID (or `{tenantid}`): exact match.
    Exact(String),
    /// Derived from the host and a tenant domain: `{host}/{some GUID}/v2.0`.
    HostWithGuid(String),
    /// `AAD_OPENID_CONFIG_URL` was given: the document's own issuer is trusted.
    Document,
}

impl Authority {
    pub(crate) fn from_config(config: &AadAuthConfig) -> Self {
        let host = config.authority_host();
        let expected = if config.has_explicit_openid_config_url() {
            ExpectedIssuer::Document
        } else {
            match config.tenant() {
                Tenant::Id(id) => ExpectedIssuer::Exact(format!("{host}/{id}/v2.0")),
                Tenant::Common | Tenant::Organizations => {
                    ExpectedIssuer::Exact(format!("{host}/{TENANT_TEMPLATE}/v2.0"))
                }
                Tenant::Domain(_) | Tenant::Consumers => ExpectedIssuer::HostWithGuid(host.to_owned()),
            }
        };
        Self { discovery_url: config.openid_config_url(), expected, multi_tenant: config.tenant().is_multi_tenant() }
    }

    /// Parses and checks a discovery document (OpenID Connect Discovery 1.0 §4.3).
    pub(crate) fn parse_metadata(&self, body: &[u8]) -> Result<ProviderMetadata, String> {
        let raw: RawMetadata = serde_json::from_slice(body).map_err(|e| format!("not a discovery document: {e}"))?;
        match &self.expected {
            ExpectedIssuer::Exact(expected) if raw.issuer != *expected => {
                return Err(format!("issuer \"{}\" is not the expected {expected:?}", clip_at(&raw.issuer, 120)));
            }
            ExpectedIssuer::HostWithGuid(host) => {
                let guid = raw
                    .issuer
                    .strip_prefix(host.as_str())
                    .and_then(|rest| rest.strip_prefix('/'))
                    .and_then(|rest| rest.strip_suffix("/v2.0"));
                if !guid.is_some_and(is_guid) {
                    return Err(format!("issuer \"{}\" is not {host}/<tenant GUID>/v2.0", clip_at(&raw.issuer, 120)));
                }
            }
            _ => {}
        }
        if raw.issuer.contains(TENANT_TEMPLATE) && !self.multi_tenant {
            return Err(
                "the document is a multi-tenant one ({tenantid} issuer) but AAD_TENANT_ID names one tenant".into()
            );
        }
        let same_origin = |name: &str, value: &str| -> Result<Url, String> {
            let url = Url::parse(value).map_err(|_| format!("{name} is not a URL"))?;
            if !(url.scheme() == "https" || (url.scheme() == "http" && is_loopback(&url))) {
                return Err(format!("{name} must be https"));
            }
            Ok(url)
        };
        let jwks_uri = same_origin("jwks_uri", &raw.jwks_uri)?;
        // Keys must come from the host that served discovery: a document pointing elsewhere is
        // refused rather than trusted (no key material from third parties).
        if jwks_uri.host_str() != self.discovery_url.host_str()
            || jwks_uri.port_or_known_default() != self.discovery_url.port_or_known_default()
        {
            return Err(format!(
                "jwks_uri is on {} but discovery is on {}",
                jwks_uri.host_str().unwrap_or("?"),
                self.discovery_url.host_str().unwrap_or("?")
            ));
        }
        let optional = |name: &str, value: Option<String>| value.map(|v| same_origin(name, &v)).transpose();
        Ok(ProviderMetadata {
            issuer: raw.issuer,
            jwks_uri,
            authorization_endpoint: optional("authorization_endpoint", raw.authorization_endpoint)?,
            token_endpoint: optional("token_endpoint", raw.token_endpoint)?,
            end_session_endpoint: optional("end_session_endpoint", raw.end_session_endpoint)?,
            device_authorization_endpoint: optional(
                "device_authorization_endpoint",
                raw.device_authorization_endpoint,
            )?,
        })
    }
}

/// Which `iss` values tokens may carry, learnt from the discovery issuer.
#[derive(Debug, Clone)]
pub(crate) struct IssuerPolicy {
    /// The v2 issuer, possibly with `{tenantid}`.
    v2: String,
    /// The tenant GUID when the issuer is Entra-shaped and names one tenant.
    tenant_guid: Option<String>,
    /// Entra-shaped issuer (`{host}/{tenant}/v2.0`): v1 tokens and the `ver` pairing apply.
    /// Otherwise (B2C, custom authorities) only the document's issuer is accepted, any `ver`.
    entra_shaped: bool,
    /// Host of v1 issuers (`https://sts.windows.net`).
    sts: &'static str,
}

/// The token version, from the `ver` claim.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TokenVersion {
    V1,
    V2,
}

impl IssuerPolicy {
    pub(crate) fn new(metadata: &ProviderMetadata) -> Self {
        // Plain string parsing: a URL parser would percent-encode the `{tenantid}` braces.
        let (origin, path) = split_origin(&metadata.issuer);
        let mut segments = path.split('/');
        let tenant_segment = match (segments.next(), segments.next(), segments.next()) {
            (Some(tenant), Some("v2.0"), None) => Some(tenant),
            _ => None,
        };
        let entra_shaped = tenant_segment.is_some_and(|t| t == TENANT_TEMPLATE || is_guid(t));
        let tenant_guid = tenant_segment.filter(|t| is_guid(t)).map(str::to_ascii_lowercase);
        let host = origin.rsplit('/').next().unwrap_or_default().to_ascii_lowercase();
        let sts = if host.ends_with("chinacloudapi.cn") || host.ends_with("microsoftonline.cn") {
            "https://sts.chinacloudapi.cn"
        } else {
            "https://sts.windows.net"
        };
        Self { v2: metadata.issuer.clone(), tenant_guid, entra_shaped, sts }
    }

    /// Whether the issuer is the `{tenantid}` template (multi-tenant).
    pub(crate) fn is_multi_tenant(&self) -> bool {
        self.v2.contains(TENANT_TEMPLATE)
    }

    /// The tenant GUID of a single-tenant Entra authority.
    pub(crate) fn tenant_guid(&self) -> Option<&str> {
        self.tenant_guid.as_deref()
    }

    /// Whether `iss` is acceptable for a token of `version` from tenant `tid`.
    pub(crate) fn accepts(&self, iss: &str, version: TokenVersion, tid: &str) -> bool {
        if !self.entra_shaped {
            return iss == self.v2;
        }
        match version {
            TokenVersion::V2 => self.is_v2_issuer_of(iss, tid),
            TokenVersion::V1 => iss
                .strip_prefix(self.sts)
                .and_then(|rest| rest.strip_prefix('/'))
                .and_then(|rest| rest.strip_suffix('/'))
                .is_some_and(|middle| middle == tid),
        }
    }

    /// `iss == v2 issuer with {tenantid} = tid`, without allocating (this runs per request).
    fn is_v2_issuer_of(&self, iss: &str, tid: &str) -> bool {
        match self.v2.split_once(TENANT_TEMPLATE) {
            None => iss == self.v2,
            Some((prefix, suffix)) => {
                iss.strip_prefix(prefix).and_then(|rest| rest.strip_suffix(suffix)).is_some_and(|middle| middle == tid)
            }
        }
    }

    /// Whether `iss` is this authority's v2 issuer for some tenant (RFC 9207 `iss` parameter):
    /// the issuer itself, or the template with a GUID in place of `{tenantid}`.
    pub(crate) fn is_issuer_of_some_tenant(&self, iss: &str) -> bool {
        match self.v2.split_once(TENANT_TEMPLATE) {
            None => iss == self.v2,
            Some((prefix, suffix)) => {
                iss.strip_prefix(prefix).and_then(|rest| rest.strip_suffix(suffix)).is_some_and(is_guid)
            }
        }
    }

    /// `https://sts.windows.net/{tid}/`.
    pub(crate) fn v1_issuer(&self, tid: &str) -> String {
        format!("{}/{tid}/", self.sts)
    }

    /// Whether the issuer is Entra-shaped (`{host}/{tenant}/v2.0`), so that the `ver` pairing
    /// and v1 issuers apply.
    pub(crate) fn is_entra(&self) -> bool {
        self.entra_shaped
    }

    /// The v2 issuer for tenant `tid`.
    pub(crate) fn v2_issuer(&self, tid: &str) -> String {
        self.v2.replace(TENANT_TEMPLATE, tid)
    }

    /// Whether a JWKS key's own `issuer` (if any) covers a token from tenant `tid` with issuer
    /// `token_iss` (already checked against this policy): keys scoped to one tenant must not
    /// verify another tenant's tokens (Storm-0558). Microsoft.IdentityModel's rule: `{tenantid}`
    /// in the key's issuer is replaced by the token's `tid`, and the result must equal the
    /// token's issuer or, for a v1 token (`sts.windows.net`, which names the same tenant), the
    /// tenant's v2 issuer; a trailing `/` is not significant. Entra's keys carry the template
    /// on every endpoint, tenant-specific ones included.
    pub(crate) fn key_issuer_covers(&self, key_issuer: Option<&str>, tid: &str, token_iss: &str) -> bool {
        let Some(key_issuer) = key_issuer else {
            return true;
        };
        names_issuer(key_issuer, tid, token_iss)
            || (self.entra_shaped && names_issuer(key_issuer, tid, &self.v2_issuer(tid)))
    }
}

/// Whether `template`, with `{tenantid}` replaced by `tid`, is `issuer` (trailing `/` ignored on
/// both sides). Compares in place: this runs for every new token.
fn names_issuer(template: &str, tid: &str, issuer: &str) -> bool {
    let template = template.strip_suffix('/').unwrap_or(template);
    let issuer = issuer.strip_suffix('/').unwrap_or(issuer);
    match template.split_once(TENANT_TEMPLATE) {
        None => template == issuer,
        Some((prefix, suffix)) => {
            issuer.strip_prefix(prefix).and_then(|rest| rest.strip_suffix(suffix)).is_some_and(|middle| middle == tid)
        }
    }
}

/// `https://host:port` and the path after it (without the leading `/`).
fn split_origin(issuer: &str) -> (&str, &str) {
    // The origin ends at the first `/` after the scheme's `://` (or at the first `/` at all).
    let after_scheme = issuer.find("://").map_or(0, |i| i.saturating_add(3));
    let rest = issuer.get(after_scheme..).unwrap_or_default();
    match rest.split_once('/') {
        Some((host, path)) => (issuer.get(..after_scheme.saturating_add(host.len())).unwrap_or(issuer), path),
        None => (issuer, ""),
    }
}
