//! Examples live under `examples/`; see `Cargo.toml` for the list. This library holds what the
//! server examples share: their logging, their environment variables, and how they stop when
//! they cannot start.

use std::error::Error;
use std::process::ExitCode;

/// The exit status of an example's `run`, with the reason printed when it failed: each
/// configuration problem on its own line (`basic: configuration: AAD_TENANT_ID is invalid: ...`)
/// and status 2, as SPEC's configuration section asks; any other error on one line and status 1.
/// Errors are shown with `Display`, never as a `Debug` dump of their type.
pub fn exit_status(program: &str, result: Result<(), Box<dyn Error>>) -> ExitCode {
    let Err(error) = result else { return ExitCode::SUCCESS };
    let config = error.downcast_ref::<aad_auth::ConfigError>().or_else(|| match error.downcast_ref() {
        Some(aad_auth::Error::Config(config)) => Some(config),
        _ => None,
    });
    match config {
        Some(config) => {
            for problem in config.problems() {
                eprintln!("{program}: configuration: {problem}");
            }
            ExitCode::from(2)
        }
        None => {
            eprintln!("{program}: error: {error}");
            ExitCode::FAILURE
        }
    }
}

/// Logs to stderr, filtered by `RUST_LOG`, else by `default_filter` (`"warn"`,
/// `"info,actix_server=warn"`).
pub fn init_logging(default_filter: &str) {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_filter)),
        )
        .with_writer(std::io::stderr)
        .init();
}

/// The variable `name`, or `default` when it is unset or blank.
pub fn env_or(name: &str, default: &str) -> String {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty()).unwrap_or_else(|| default.to_owned())
}
