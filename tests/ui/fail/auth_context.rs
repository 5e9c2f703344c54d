use aad_auth::{api_auth_required, auth_required};

// Empty: say which contexts, or leave the argument out.
#[api_auth_required(auth_context())]
async fn empty() {}

// Not a string literal.
#[auth_required(auth_context(c1))]
async fn not_a_string() {}

// Not c1..c99.
#[api_auth_required(allow_session, auth_context("c0", "c100", "x1", "C1", "c01"))]
async fn bad_values() {}

// Given twice.
#[auth_required(auth_context("c1"), auth_context("c2"))]
async fn repeated_key() {}

// The same context twice.
#[api_auth_required(auth_context("c1", "c1"))]
async fn repeated_value() {}

fn main() {}
