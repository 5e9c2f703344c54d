//! Helpers for the tests that run built examples as child processes (`msal.rs`,
//! `emulator_dev_tenant.rs`).

use std::path::{Path, PathBuf};
use std::process::Child;

/// Kills the child process when dropped, also when the test panics.
pub struct KillOnDrop(pub Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A built example next to this test binary (`target/<profile>/examples/<name>`). Tests never
/// run cargo themselves: `cargo test --workspace` builds the examples before the tests.
///
/// # Panics
/// When the binary is missing, saying how to build it.
#[allow(clippy::expect_used, reason = "a test binary without a path is a broken set-up")]
pub fn example_binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("path of the test binary");
    let profile_dir = exe.parent().and_then(Path::parent).expect("target/<profile> directory");
    let path = profile_dir.join("examples").join(name);
    assert!(
        path.is_file(),
        "{} is missing: run the tests with `cargo test --workspace`, which builds the examples first",
        path.display()
    );
    path
}
