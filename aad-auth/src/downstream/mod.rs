//! Tokens for other APIs from a handler ([`DownstreamTokens`]): what Microsoft.Identity.Web
//! calls token acquisition.

mod flight;
mod service;

use std::future::{Ready, ready};

use actix_web::dev::Payload;
use actix_web::http::Method;
use actix_web::{FromRequest, HttpRequest, web};
pub(crate) use service::Downstream;
use service::Failure;

use crate::error::AuthError;
use crate::guard::Authenticator;
use crate::rejection::{AuthRejection, prefers_html};
use crate::secret::AccessToken;
use crate::state::AuthSource;

/// A consent login this recent (seconds) that asked for the same scopes is not repeated.
const CONSENT_LOOP_SECONDS: i64 = 300;

/// Gets access tokens for other APIs (Microsoft Graph, another API of yours) from a handler:
/// for the caller ([`DownstreamTokens::for_user`]) or for the app itself
/// ([`DownstreamTokens::for_app`]).
///
/// For a signed-in browser user the token comes from the refresh token the login kept on the
/// server; for a bearer caller, by on-behalf-of with the caller's token. Tokens are kept until
/// five minutes before they expire, per session (or incoming token) and scopes, in the
/// sessions' store (memory, or Redis encrypted at rest), and a session's go with it at logout.
/// Concurrent requests for one token make one call to Entra. The app's credential
/// (`AAD_CLIENT_SECRET`) authenticates every call.
///
/// When the user must consent to the scopes first (or sign in again), a browser on a page is
/// sent through the login asking for them, and back to the page (incremental consent); an API
/// caller gets 401 `consent_required` naming the scopes in its `WWW-Authenticate` challenge. A
/// claims challenge of Entra's (Conditional Access on the downstream API) is passed on as 401
/// `insufficient_claims` with Entra's `claims`. Entra unreachable: 503 with `Retry-After`.
/// The error is an [`AuthRejection`]: return it with `?` from a handler whose error type is
/// `actix_web::Error`.
///
/// ```no_run
/// use aad_auth::{DownstreamTokens, auth_required};
/// use actix_web::{HttpResponse, get};
///
/// #[get("/me/graph")]
/// #[auth_required]
/// async fn my_profile(tokens: DownstreamTokens) -> actix_web::Result<HttpResponse> {
///     let token = tokens.for_user(["https://graph.microsoft.com/User.Read"]).await?;
///     let profile = reqwest::Client::new()
///         .get("https://graph.microsoft.com/v1.0/me")
///         .bearer_auth(token.expose_secret())
///         .send()
///         .await
///         .map_err(actix_web::error::ErrorBadGateway)?
///         .text()
///         .await
///         .map_err(actix_web::error::ErrorBadGateway)?;
///     Ok(HttpResponse::Ok().content_type("application/json").body(profile))
/// }
/// ```
pub struct DownstreamTokens {
    req: HttpRequest,
    auth: web::Data<Authenticator>,
    service: web::Data<Downstream>,
}

impl std::fmt::Debug for DownstreamTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DownstreamTokens").finish_non_exhaustive()
    }
}

impl FromRequest for DownstreamTokens {
    type Error = actix_web::Error;
    type Future = Ready<Result<Self, actix_web::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let found =
            req.app_data::<web::Data<Authenticator>>().cloned().zip(req.app_data::<web::Data<Downstream>>().cloned());
        ready(match found {
            Some((auth, service)) => Ok(Self { req: req.clone(), auth, service }),
            None => Err(crate::guard::not_configured()),
        })
    }
}

impl DownstreamTokens {
    /// An access token for `scopes` (of one resource, such as
    /// `["https://graph.microsoft.com/User.Read"]` or `["api://other-api/.default"]`) that acts
    /// for the request's user: a browser session's, by its refresh token; a bearer caller's, by
    /// on-behalf-of.
    ///
    /// # Errors
    /// An anonymous request: 401 (a browser on a page: the login). Consent or a new sign-in
    /// needed: [`AuthError::ConsentThroughLogin`] for a browser session on a page, else
    /// [`AuthError::ConsentRequired`]; [`AuthError::DownstreamClaims`],
    /// [`AuthError::DownstreamUnavailable`], [`AuthError::DownstreamRefused`] (see the log),
    /// [`AuthError::SessionUnavailable`].
    pub async fn for_user<I, S>(&self, scopes: I) -> Result<AccessToken, AuthRejection>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let scopes: Vec<String> = scopes.into_iter().map(Into::into).collect();
        let state = self.auth.authenticate(&self.req).await;
        let (Some(user), Some(source)) = (state.user(), state.source()) else {
            let missing = if self.browser_page() { AuthError::LoginRequired } else { AuthError::MissingCredentials };
            return Err(self.reject(missing));
        };
        let mut just_asked = false;
        let outcome = match source {
            AuthSource::Bearer => match crate::bearer::bearer_token(&self.req) {
                Ok(Some(incoming)) => self.service.on_behalf_of(incoming, &user.tid, &scopes).await,
                Ok(None) | Err(_) => return Err(self.reject(AuthError::MissingCredentials)),
            },
            AuthSource::Session => match self.auth.session_ref(&self.req).await {
                Ok(Some(session)) => {
                    // This session's login just asked for these scopes: another round through
                    // the login would end here again (a loop), so the page says so instead.
                    just_asked = scopes.iter().all(|scope| session.consent_asked.contains(scope))
                        && self.auth.sessions().is_some_and(|sessions| {
                            sessions.now().saturating_sub(session.consent_asked_at) <= CONSENT_LOOP_SECONDS
                        });
                    self.service.for_session(&session.sid, &user.tid, &scopes).await
                }
                Ok(None) => Err(Failure::Interaction),
                Err(error) => return Err(self.reject(error)),
            },
        };
        outcome.map_err(|failure| {
            let through_login = source == AuthSource::Session && self.browser_page() && !just_asked;
            self.reject(match failure {
                Failure::Interaction if through_login => AuthError::ConsentThroughLogin(scopes),
                Failure::Interaction => {
                    if just_asked {
                        tracing::warn!(
                            scopes = %scopes.join(" "),
                            "a downstream token still needs the user right after a login that asked for it; not \
                             sending the browser round again"
                        );
                    }
                    AuthError::ConsentRequired(scopes)
                }
                Failure::Claims(claims) => AuthError::DownstreamClaims(claims),
                Failure::Unavailable => AuthError::DownstreamUnavailable,
                Failure::Refused => AuthError::DownstreamRefused,
            })
        })
    }

    /// The app's own access token for `scope` (`{resource}/.default`, such as
    /// `https://graph.microsoft.com/.default`), by client credentials: it carries the
    /// application permissions granted to the app, whoever the caller is.
    ///
    /// # Errors
    /// [`AuthError::DownstreamUnavailable`], [`AuthError::DownstreamRefused`] (see the log).
    pub async fn for_app(&self, scope: &str) -> Result<AccessToken, AuthRejection> {
        self.service.for_app(scope).await.map_err(|failure| {
            self.reject(match failure {
                Failure::Unavailable => AuthError::DownstreamUnavailable,
                Failure::Interaction | Failure::Claims(_) | Failure::Refused => AuthError::DownstreamRefused,
            })
        })
    }

    /// A browser navigating to a page: it can be sent through the login.
    fn browser_page(&self) -> bool {
        self.auth.sessions().is_some() && self.req.method() == Method::GET && prefers_html(&self.req)
    }

    fn reject(&self, error: AuthError) -> AuthRejection {
        self.auth.rejection(&self.req, error)
    }
}
