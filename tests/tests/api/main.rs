//! Bearer tokens and the key store: validation tables, malformed input, the token cache, AUTH_ENABLED=false.
//!
//! One test binary for several files (each compiles and links the world once).

mod bad_input;
mod bearer;
mod disabled;
mod groups_overage;
mod keys;
mod token_cache;
