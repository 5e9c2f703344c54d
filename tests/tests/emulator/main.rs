//! The local tenant (`aad_auth::testing`) as clients see it: every flow, and the `dev_tenant` example.
//!
//! One test binary for several files (each compiles and links the world once).

mod emulator_dev_tenant;
mod emulator_downstream;
mod emulator_flows;
