//! Client authentication at the token endpoint: which registered app is calling, and whether it
//! proved its secret (in the body, or with HTTP Basic).

// Parses network input: no indexing, no unchecked arithmetic, no unwrap (README, Security notes).
#![cfg_attr(
    not(test),
    deny(clippy::indexing_slicing, clippy::arithmetic_side_effects, clippy::unwrap_used, clippy::expect_used)
)]

use actix_web::HttpRequest;
use actix_web::http::header;
use base64::Engine as _;

use super::Shared;
use super::proto::{OAuthError, Params, param};
use super::registry::AppRegistration;
use crate::log_safe::clip;

/// The calling client, and whether it proved its secret (or presented a valid assertion).
pub(crate) struct Client {
    pub(crate) app: AppRegistration,
    pub(crate) authenticated: bool,
    /// It has a secret, a certificate or a federated credential.
    pub(crate) confidential: bool,
    /// It authenticated with a client assertion rather than a secret.
    pub(crate) by_assertion: bool,
}

impl Client {
    /// How it authenticated, as Entra's `azpacr`/`appidacr`: `0` not at all (a public client),
    /// `1` a secret, `2` a certificate or another client assertion.
    pub(crate) fn azpacr(&self) -> &'static str {
        match (self.authenticated, self.by_assertion) {
            (false, _) => "0",
            (true, false) => "1",
            (true, true) => "2",
        }
    }

    /// Confidential clients must authenticate (unless the grant says otherwise).
    pub(crate) fn require_secret(&self) -> Result<(), OAuthError> {
        if self.confidential && !self.authenticated {
            return Err(OAuthError::invalid_client(
                7_000_218,
                "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
            ));
        }
        Ok(())
    }
}

/// `client_secret_basic`: `Authorization: Basic base64(urlencode(id):urlencode(secret))`.
fn basic_credentials(req: &HttpRequest) -> Result<Option<(String, String)>, OAuthError> {
    let Some(value) = req.headers().get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let malformed =
        || OAuthError::invalid_client(7_000_216, "The Authorization header is not valid Basic authentication.");
    let text = value.to_str().map_err(|_| malformed())?;
    let Some((scheme, encoded)) = text.split_once(' ') else {
        return Err(malformed());
    };
    if !scheme.eq_ignore_ascii_case("basic") {
        return Ok(None);
    }
    let decoded = base64::engine::general_purpose::STANDARD.decode(encoded.trim()).map_err(|_| malformed())?;
    let decoded = String::from_utf8(decoded).map_err(|_| malformed())?;
    let (id, secret) = decoded.split_once(':').ok_or_else(malformed)?;
    let unescape = |part: &str| -> String {
        url::form_urlencoded::parse(format!("v={part}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default()
    };
    Ok(Some((unescape(id), unescape(secret))))
}

/// Finds the client and checks any secret (in the body or with HTTP Basic) or client assertion
/// it presented.
pub(crate) async fn identify_client(req: &HttpRequest, shared: &Shared, params: &Params) -> Result<Client, OAuthError> {
    let basic = basic_credentials(req)?;
    let posted = param(params, "client_secret");
    let client_id = match (&basic, param(params, "client_id")) {
        (Some((id, _)), Some(form_id)) if id != form_id => {
            return Err(OAuthError::invalid_request(
                900_144,
                "The client_id in the Authorization header differs from the one in the body.",
            ));
        }
        (Some((id, _)), _) => id.clone(),
        (None, Some(id)) => id.to_owned(),
        (None, None) => return Err(OAuthError::missing("client_id")),
    };
    let secret = match (&basic, posted) {
        (Some(_), Some(_)) => {
            return Err(OAuthError::invalid_request(
                900_144,
                "The client authenticated with more than one method (HTTP Basic and client_secret).",
            ));
        }
        (Some((_, secret)), None) => Some(secret.as_str()),
        (None, posted) => posted,
    };
    let Some(app) = shared.app(&client_id) else {
        return Err(OAuthError::bad_request(
            "unauthorized_client",
            700_016,
            format!(
                "Application with identifier '{}' was not found in the directory '{}'.",
                clip(&client_id),
                shared.tenant_id
            ),
        ));
    };
    let confidential = shared.is_confidential(app);
    let assertion = param(params, "client_assertion");
    let assertion_type = param(params, "client_assertion_type");
    if assertion.is_some() || assertion_type.is_some() {
        if secret.is_some() {
            return Err(OAuthError::invalid_request(
                900_144,
                "The client authenticated with more than one method (client_assertion and client_secret).",
            ));
        }
        if !confidential {
            return Err(OAuthError::invalid_client(
                700_025,
                "Client is public so neither 'client_assertion' nor 'client_secret' should be presented.",
            ));
        }
        let assertion = assertion.ok_or_else(|| OAuthError::missing("client_assertion"))?;
        super::assertions::verify(shared, app, assertion_type, assertion).await?;
        return Ok(Client { app: app.clone(), authenticated: true, confidential, by_assertion: true });
    }
    let Some(presented) = secret else {
        return Ok(Client { app: app.clone(), authenticated: false, confidential, by_assertion: false });
    };
    let Some(expected) = &app.client_secret else {
        return Err(OAuthError::invalid_client(
            700_025,
            "Client is public so neither 'client_assertion' nor 'client_secret' should be presented.",
        ));
    };
    if aws_lc_rs::constant_time::verify_slices_are_equal(presented.as_bytes(), expected.as_bytes()).is_err() {
        return Err(OAuthError::invalid_client(
            7_000_215,
            format!(
                "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '{}'.",
                app.client_id
            ),
        ));
    }
    Ok(Client { app: app.clone(), authenticated: true, confidential, by_assertion: false })
}
