//! Examples live under `examples/`; see `Cargo.toml` for the list.
