//! Built examples as real clients: the client examples, Python msal, the demo starting offline;
//! and the app credentials other than a secret (`credentials.rs`) against the local tenant.
//!
//! One test binary for several files (each compiles and links the world once).

mod clients;
mod credentials;
mod graph_profile_demo;
mod groups_overage_demo;
mod msal;
mod smoke;
