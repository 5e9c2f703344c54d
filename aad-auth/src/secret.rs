//! Secret values: newtypes whose `Debug` and `Display` never show the value.
//!
//! Every value that would let someone impersonate the app or a user (client secret, session key,
//! access and refresh tokens) is wrapped in one of these types, so that a stray `{:?}` in a log
//! line prints `[redacted]` instead of the secret.

macro_rules! secret_type {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// Wraps a secret value.
            pub fn new(value: impl Into<String>) -> Self {
                Self(value.into())
            }

            /// The secret value itself.
            ///
            /// # Security Warning
            /// Never log or display the returned value; pass it only to the place that needs it.
            pub fn expose_secret(&self) -> &str {
                &self.0
            }
        }

        impl std::fmt::Debug for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(concat!(stringify!($name), "([redacted])"))
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("[redacted]")
            }
        }
    };
}

secret_type!(
    /// The app registration's client secret (`AAD_CLIENT_SECRET`).
    ClientSecret
);
secret_type!(
    /// An OAuth 2.0 access token.
    AccessToken
);
secret_type!(
    /// An OAuth 2.0 refresh token.
    RefreshToken
);
secret_type!(
    /// An OpenID Connect id_token.
    IdToken
);
secret_type!(
    /// A client assertion (a JWT the app proves itself with instead of a secret: signed with
    /// its certificate's key, or a federated token from Kubernetes, GitHub or a managed
    /// identity).
    ClientAssertion
);
secret_type!(
    /// The App Service / Container Apps managed identity endpoint's secret (`IDENTITY_HEADER`).
    IdentityHeader
);

/// The key that encrypts session cookies (`SESSION_SECRET`): at least 64 bytes.
#[derive(Clone, PartialEq, Eq)]
pub struct SessionSecret(Vec<u8>);

impl SessionSecret {
    /// The minimum key length in bytes (what `actix_web::cookie::Key` needs).
    pub const MIN_LEN: usize = 64;

    /// Wraps raw key bytes; `None` when shorter than [`SessionSecret::MIN_LEN`].
    pub fn from_bytes(bytes: impl Into<Vec<u8>>) -> Option<Self> {
        let bytes = bytes.into();
        (bytes.len() >= Self::MIN_LEN).then_some(Self(bytes))
    }

    /// The key bytes.
    ///
    /// # Security Warning
    /// Never log or display the returned value.
    pub fn expose_secret(&self) -> &[u8] {
        &self.0
    }
}

impl std::fmt::Debug for SessionSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SessionSecret([redacted])")
    }
}

impl std::fmt::Display for SessionSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[redacted]")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_redacted_in_debug_and_display() {
        let secret = ClientSecret::new("hunter2");
        assert_eq!(format!("{secret:?}"), "ClientSecret([redacted])");
        assert_eq!(format!("{secret}"), "[redacted]");
        assert_eq!(secret.expose_secret(), "hunter2");
        let key = SessionSecret::from_bytes(vec![7u8; 64]).expect("64 bytes is enough");
        assert!(!format!("{key:?}").contains('7'));
        assert!(SessionSecret::from_bytes(vec![7u8; 63]).is_none());
    }
}
