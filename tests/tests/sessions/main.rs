//! Browser logins and sessions: the login flow, cookies, the idle timeout, Redis, CSRF, guards on sessions.
//!
//! One test binary for several files (each compiles and links the world once).

mod ambient;
mod csrf;
mod downstream;
mod guard_first;
mod login;
mod login_tokens;
mod macros_session;
mod redis_sessions;
mod session_authorization;
mod step_up;
