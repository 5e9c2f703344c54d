//! The integration tests' support library, shared by every test binary in `tests/`: an app
//! harness on the local tenant ([`Harness`], [`app`], [`call`] and the table-row checks), a
//! browser-like client and a login site ([`site`]), a scripted identity provider
//! ([`mock_idp`]), log capture ([`logs`]), a real `redis-server` ([`redis_server`]), built
//! examples as child processes ([`example_processes`]) and the TLS deployment behind nginx
//! ([`deployment`]).
//!
//! The tests themselves are grouped into a few binaries (`tests/<suite>/main.rs`), each one
//! compile and link: `api`, `sessions`, `emulator`, `clients`; and on their own, `browser`,
//! `deployment` and `soak` (heavy: each runs real servers and browsers), `macros` and `openapi`
//! (they count the guard registrations linked into their binary) and `ui` (trybuild).
#![allow(
    missing_docs,
    missing_debug_implementations,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::new_without_default,
    reason = "test support: a failed set-up step is a failed test; `new` starts servers and makes files, which `Default` should not"
)]

mod harness;

pub mod deployment;
pub mod example_processes;
pub mod logs;
pub mod mock_idp;
pub mod redis_server;
pub mod site;

pub use harness::*;
