//! Examples live under `examples/`; see `Cargo.toml` for the list. This library holds what the
//! server examples share: how they stop when they cannot start.

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
