//! A federated assertion read from a file at every use: `AAD_CLIENT_ASSERTION_FILE`, or
//! `AZURE_FEDERATED_TOKEN_FILE` as AKS workload identity sets it. Kubernetes rotates the
//! projected token in place, so the file is never cached.

use std::path::{Path, PathBuf};

use super::CredentialError;
use crate::secret::ClientAssertion;

/// Assertion files larger than this are refused (a projected service-account token is about
/// 1 KiB).
const MAX_ASSERTION_BYTES: u64 = 64 * 1024;

/// A file holding a federated assertion (a JWT issued by Kubernetes, GitHub Actions or any
/// OIDC issuer the app registration trusts).
#[derive(Debug, Clone)]
pub struct AssertionFile {
    var: &'static str,
    path: PathBuf,
}

impl AssertionFile {
    /// The file at `path`, named by the variable `var` in errors.
    pub(crate) fn new(var: &'static str, path: impl Into<PathBuf>) -> Self {
        Self { var, path: path.into() }
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The variable that named it: `AAD_CLIENT_ASSERTION_FILE` or `AZURE_FEDERATED_TOKEN_FILE`.
    pub fn variable(&self) -> &'static str {
        self.var
    }

    /// Checks the file once at start-up, as it will be read later.
    ///
    /// # Errors
    /// Why it cannot be used, without its content.
    pub(crate) fn check(&self) -> Result<(), String> {
        Self::parse(std::fs::read(&self.path).map_err(|error| error.to_string())?).map(drop)
    }

    /// The file's content, read now.
    pub(crate) async fn read(&self) -> Result<ClientAssertion, CredentialError> {
        let problem =
            |reason: String| CredentialError::File { var: self.var, path: self.path.display().to_string(), reason };
        // A small file, but the disk (or a network volume) may be slow: off the async workers.
        let path = self.path.clone();
        let bytes = tokio::task::spawn_blocking(move || std::fs::read(path))
            .await
            .map_err(|_| problem("the read was cancelled".into()))?
            .map_err(|error| problem(error.to_string()))?;
        Self::parse(bytes).map_err(problem)
    }

    fn parse(bytes: Vec<u8>) -> Result<ClientAssertion, String> {
        if bytes.len() as u64 > MAX_ASSERTION_BYTES {
            return Err(format!("more than {MAX_ASSERTION_BYTES} bytes: not an assertion"));
        }
        let text = String::from_utf8(bytes).map_err(|_| "not text: expected a JWT".to_owned())?;
        let text = text.trim();
        let segments = text.split('.').count();
        if text.is_empty() || segments != 3 || !text.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b)) {
            return Err("not a JWT (three base64url segments)".into());
        }
        Ok(ClientAssertion::new(text))
    }
}
