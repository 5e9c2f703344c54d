//! Why a token was refused: one variant per failed check.

/// A bearer token (or id_token) that failed validation.
///
/// The `Display` text and [`TokenError::description`] are fixed strings: they never contain any
/// part of the token, so they are safe to log and to return in `error_description`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TokenError {
    /// Larger than the 16 KiB cap; refused before any decoding.
    #[error("token too large")]
    TooLarge,
    /// Not a compact JWS of three base64url segments with JSON header and payload.
    #[error("malformed token: {0}")]
    Malformed(&'static str),
    /// `alg` other than RS256 (including `none` and HMAC).
    #[error("algorithm not allowed")]
    DisallowedAlgorithm,
    /// `typ` other than `JWT`.
    #[error("token type not accepted")]
    UnsupportedType,
    /// A `crit` header this crate does not understand.
    #[error("critical header not understood")]
    CriticalHeader,
    /// Neither `kid` nor `x5t` in the header.
    #[error("no key id in the token header")]
    MissingKeyId,
    /// No signing key matches, even after a refresh.
    #[error("signing key not found")]
    UnknownKey,
    /// No signing keys could be loaded (the identity provider is unreachable).
    #[error("signing keys unavailable")]
    KeysUnavailable,
    /// The signature does not verify.
    #[error("invalid signature")]
    BadSignature,
    /// A required claim is absent.
    #[error("missing claim {0}")]
    MissingClaim(&'static str),
    /// A claim has the wrong JSON type or shape.
    #[error("claim {0} has the wrong type")]
    InvalidClaim(&'static str),
    /// `exp` is in the past (beyond the clock skew).
    #[error("token expired")]
    Expired,
    /// `nbf` is in the future (beyond the clock skew), or after `exp`.
    #[error("token not yet valid")]
    NotYetValid,
    /// `iat` is in the future (beyond the clock skew).
    #[error("token issued in the future")]
    IssuedInFuture,
    /// `ver` is neither 1.0 nor 2.0.
    #[error("unknown token version")]
    UnknownVersion,
    /// The token version is not in `AAD_TOKEN_VERSIONS`.
    #[error("token version not accepted")]
    VersionNotAccepted,
    /// `iss` is not the expected issuer for the token's version and tenant.
    #[error("issuer not accepted")]
    InvalidIssuer,
    /// `tid` is not the configured tenant, or not in `AAD_ALLOWED_TENANTS`.
    #[error("tenant not accepted")]
    TenantNotAllowed,
    /// The signing key is scoped to another tenant (its JWKS `issuer`).
    #[error("signing key not valid for the token's tenant")]
    KeyNotForTenant,
    /// `aud` is neither the client id nor the API audience.
    #[error("audience not accepted")]
    InvalidAudience,
    /// Neither `scp` nor `roles`: an id_token or a token not meant for an API.
    #[error("not an access token")]
    NotAnAccessToken,
    /// The calling app (`azp`/`appid`) is not in `AAD_CLIENT_APP_IDS`.
    #[error("calling application not allowed")]
    ClientAppNotAllowed,
    /// An id_token's `nonce` differs from the login's.
    #[error("nonce mismatch")]
    NonceMismatch,
    /// An id_token issued too long ago.
    #[error("token too old")]
    TooOld,
}

impl TokenError {
    /// A short, fixed explanation for `error_description`.
    pub fn description(&self) -> &'static str {
        match self {
            Self::TooLarge => "The access token is too large.",
            Self::Malformed(_) | Self::UnsupportedType | Self::CriticalHeader | Self::MissingKeyId => {
                "The access token is malformed."
            }
            Self::DisallowedAlgorithm | Self::UnknownKey | Self::BadSignature | Self::KeyNotForTenant => {
                "The access token signature could not be verified."
            }
            Self::KeysUnavailable => "The signing keys are temporarily unavailable.",
            Self::MissingClaim(_) | Self::InvalidClaim(_) | Self::UnknownVersion | Self::NotAnAccessToken => {
                "The access token does not carry the claims this API requires."
            }
            Self::Expired | Self::TooOld => "The access token has expired.",
            Self::NotYetValid | Self::IssuedInFuture => "The access token is not valid yet.",
            Self::VersionNotAccepted => "The access token version is not accepted by this API.",
            Self::InvalidIssuer | Self::TenantNotAllowed => {
                "The access token was issued by an authority this API does not trust."
            }
            Self::InvalidAudience => "The access token was not issued for this API.",
            Self::ClientAppNotAllowed => "The calling application is not allowed to use this API.",
            Self::NonceMismatch => "The sign-in response does not match this sign-in.",
        }
    }
}
