//! Configuration errors: each names the variable and what it expects, never a secret value.

use std::fmt;

use crate::log_safe::clip_at;

/// A configuration value that is missing, malformed or inconsistent.
///
/// Every variant names the environment variable (the same name is used when the value was set
/// through the builder) and says what was expected. Values of secret variables are never echoed.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A required variable is not set.
    #[error("{var} is required: {expected}")]
    Missing {
        /// The variable.
        var: &'static str,
        /// What it should hold.
        expected: &'static str,
    },
    /// A variable holds a value of the wrong shape.
    #[error("{var} is invalid: expected {expected}{}", Got(got.as_deref()))]
    Invalid {
        /// The variable.
        var: &'static str,
        /// What it should hold.
        expected: &'static str,
        /// The offending value, shortened and escaped; `None` for secrets.
        got: Option<String>,
    },
    /// A value that is well-formed but not allowed with the rest of the configuration.
    #[error("{var}: {message}")]
    Conflict {
        /// The variable to change.
        var: &'static str,
        /// Why the combination is refused and how to fix it.
        message: String,
    },
    /// A file named by a variable could not be read or parsed.
    #[error("{var}: cannot use {path}: {reason}")]
    File {
        /// The variable.
        var: &'static str,
        /// The path it names.
        path: String,
        /// Why the file is unusable.
        reason: String,
    },
    /// Settings that exclude each other are set together (more than one client credential).
    #[error("{}: {message}", vars.join(", "))]
    Exclusive {
        /// Every variable involved.
        vars: Vec<&'static str>,
        /// Why the combination is refused and how to fix it.
        message: String,
    },
    /// Several problems at once, so that they can all be fixed in one go.
    #[error("{} configuration problems:\n{}", .0.len(), Lines(.0))]
    Several(Vec<ConfigError>),
}

impl ConfigError {
    /// The variables this error is about.
    pub fn variables(&self) -> Vec<&'static str> {
        match self {
            Self::Missing { var, .. }
            | Self::Invalid { var, .. }
            | Self::Conflict { var, .. }
            | Self::File { var, .. } => vec![*var],
            Self::Exclusive { vars, .. } => vars.clone(),
            Self::Several(all) => all.iter().flat_map(Self::variables).collect(),
        }
    }

    /// Each problem on its own: the list of [`ConfigError::Several`], or this error alone. Their
    /// `Display` is one line each, what a program prints at start-up:
    ///
    /// ```
    /// # let error = aad_auth::AadAuthConfig::from_lookup(|_| None).unwrap_err();
    /// for problem in error.problems() {
    ///     eprintln!("configuration: {problem}");
    /// }
    /// ```
    pub fn problems(&self) -> &[ConfigError] {
        match self {
            Self::Several(all) => all,
            one => std::slice::from_ref(one),
        }
    }

    pub(crate) fn invalid(var: &'static str, expected: &'static str, got: &str) -> Self {
        Self::Invalid { var, expected, got: Some(clip_at(got, 80)) }
    }

    pub(crate) fn invalid_secret(var: &'static str, expected: &'static str) -> Self {
        Self::Invalid { var, expected, got: None }
    }

    /// Folds a list of problems into one error (or none).
    pub(crate) fn collect(mut problems: Vec<ConfigError>) -> Result<(), ConfigError> {
        match problems.len() {
            0 => Ok(()),
            1 => Err(problems.remove(0)),
            _ => Err(Self::Several(problems)),
        }
    }
}

struct Got<'a>(Option<&'a str>);

impl fmt::Display for Got<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(value) => write!(f, "; got \"{value}\""),
            None => Ok(()),
        }
    }
}

struct Lines<'a>(&'a [ConfigError]);

impl fmt::Display for Lines<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (index, problem) in self.0.iter().enumerate() {
            if index > 0 {
                f.write_str("\n")?;
            }
            write!(f, "  - {problem}")?;
        }
        Ok(())
    }
}
