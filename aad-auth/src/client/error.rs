//! Why a token could not be obtained. Messages never carry a secret, a token, a device code or a
//! response body other than Entra's own error text (with any secret or token of the request
//! blanked out).

use crate::config::ConfigError;

/// Why a token helper of [`crate::client`] failed.
///
/// `Display` gives a sentence meant for the person running the program, with a hint naming the
/// setting to check when Entra's error code says which one it is ([`ClientError::hint`]).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The configuration is incomplete or malformed (for example a flow that needs
    /// `AAD_CLIENT_SECRET` without one, or an unreadable `AAD_CA_FILE`).
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The identity provider could not be reached, or did not answer in time (10 s).
    #[error("cannot reach {url}: {reason}")]
    Unreachable {
        /// The URL, without query.
        url: String,
        /// What went wrong (connection refused, timed out, certificate not trusted, ...).
        reason: String,
    },
    /// The discovery document could not be used.
    #[error("the discovery document at {url} is not usable: {reason}")]
    Discovery {
        /// The document's URL.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// Entra (or the local tenant) refused the request with an OAuth error.
    #[error("Entra ID refused the {flow} request: {error}{}{}", Description(description), Hint(*code))]
    Refused {
        /// The flow: `device code`, `client credentials` or `on-behalf-of`.
        flow: &'static str,
        /// The OAuth error code (`invalid_client`, `invalid_grant`, `invalid_scope`, ...).
        error: String,
        /// Entra's `error_description` (shortened; request secrets and tokens blanked out).
        description: Option<String>,
        /// The `AADSTS` number at the start of the description, when there is one.
        code: Option<u32>,
    },
    /// Entra asked for more claims (Conditional Access on the API the token is for): the
    /// caller's next token request must carry `claims` (msal: `claims_challenge`).
    #[error("Entra ID answered the {flow} request with a claims challenge")]
    ClaimsChallenge {
        /// The flow (`on-behalf-of`).
        flow: &'static str,
        /// The claims request, as Entra sent it (JSON).
        claims: String,
    },
    /// The user declined the device-code sign-in.
    #[error("the sign-in was declined")]
    Declined,
    /// The device code expired before anyone signed in (or the helper's timeout passed).
    #[error("the device code expired before the sign-in was completed")]
    Expired,
    /// The identity provider answered something that is not a token response.
    #[error("unexpected answer from {url}: {reason}")]
    InvalidResponse {
        /// The URL, without query.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
}

impl ClientError {
    /// A hint for Entra's error code naming the setting to check, when there is a well-known one
    /// (for example `AADSTS7000215`, a wrong secret: check `AAD_CLIENT_SECRET`).
    pub fn hint(&self) -> Option<&'static str> {
        match self {
            Self::Refused { code: Some(code), .. } => hint(*code),
            _ => None,
        }
    }

    /// Whether the user must do something with Entra before this token can be had: consent to
    /// the scopes (`consent_required`, AADSTS65001), another interaction
    /// (`interaction_required`), or signing in again (`invalid_grant`: a refresh token Entra no
    /// longer accepts). A claims challenge is one too.
    pub fn needs_user_interaction(&self) -> bool {
        match self {
            Self::Refused { error, .. } => {
                matches!(error.as_str(), "invalid_grant" | "interaction_required" | "consent_required")
            }
            Self::ClaimsChallenge { .. } => true,
            _ => false,
        }
    }

    /// The `AADSTS` error number of a refusal.
    pub fn aadsts_code(&self) -> Option<u32> {
        match self {
            Self::Refused { code, .. } => *code,
            _ => None,
        }
    }
}

fn hint(code: u32) -> Option<&'static str> {
    Some(match code {
        7_000_215 => "check AAD_CLIENT_SECRET: use the secret's value, not its id",
        7_000_222 => "AAD_CLIENT_SECRET has expired: create a new client secret",
        7_000_218 => {
            "the app is confidential: set AAD_CLIENT_SECRET (or, for the device code flow, allow public client flows \
             in the registration)"
        }
        700_025 => "the app is a public client: unset AAD_CLIENT_SECRET",
        700_027 => {
            "the certificate of AAD_CLIENT_CERTIFICATE is not uploaded to this app registration (Certificates & \
             secrets), or the federated token's signature does not verify"
        }
        700_024 => {
            "the client assertion has expired or is not valid yet: check the machine's clock, or a stale \
             AAD_CLIENT_ASSERTION_FILE / AZURE_FEDERATED_TOKEN_FILE"
        }
        70_021 | 700_211 | 700_212 | 700_213 => {
            "no federated credential of the app registration matches the token's issuer, subject and audience \
             (api://AzureADTokenExchange): add one under Certificates & secrets, Federated credentials"
        }
        700_016 => "check AAD_CLIENT_ID and AAD_TENANT_ID: the app is not registered in that tenant",
        90_002 => "check AAD_TENANT_ID and AAD_AUTHORITY_HOST: the tenant was not found",
        90_009 => "an app asking for a token to itself must name itself by client id: use `{client id}/.default`",
        1_002_012 => "client credentials need a scope of the form `{application ID URI or client id}/.default`",
        500_011 => "check the scope: no API with that application ID URI or client id is registered in the tenant",
        70_011 => "check the scope: it names more than one resource, or a scope the API does not expose",
        65_001 => "the app lacks consent for the scope: grant (admin) consent to the API permission",
        50_013 => {
            "the incoming token must be a user token issued for this app (aud = AAD_CLIENT_ID), signed by this tenant"
        }
        _ => return None,
    })
}

struct Description<'a>(&'a Option<String>);

impl std::fmt::Display for Description<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            Some(description) => write!(f, ": {description}"),
            None => Ok(()),
        }
    }
}

struct Hint(Option<u32>);

impl std::fmt::Display for Hint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0.and_then(hint) {
            Some(hint) => write!(f, " (hint: {hint})"),
            None => Ok(()),
        }
    }
}

/// Entra's `error_description` as shown in errors: control characters dropped, secrets and
/// tokens of the request blanked out, at most 400 characters.
pub(crate) fn sanitise_description(description: &str, secrets: &[&str]) -> String {
    let mut text: String = description.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
    for secret in secrets.iter().filter(|secret| secret.len() >= 4) {
        text = text.replace(secret, "[redacted]");
    }
    const MAX: usize = 400;
    if text.chars().count() > MAX {
        text = text.chars().take(MAX).collect();
        text.push('…');
    }
    text.trim().to_owned()
}

/// The number of `AADSTS12345: ...`.
pub(crate) fn aadsts_code(description: &str) -> Option<u32> {
    let rest = description.trim_start().strip_prefix("AADSTS")?;
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}
