//! Guard macros for `aad-auth`; use them through the `aad_auth` crate.

use proc_macro::TokenStream;

/// Protects an API handler (placeholder until the macro pipeline lands).
#[proc_macro_attribute]
pub fn api_auth_required(_args: TokenStream, item: TokenStream) -> TokenStream {
    item
}

/// Protects an HTML page handler (placeholder until the macro pipeline lands).
#[proc_macro_attribute]
pub fn auth_required(_args: TokenStream, item: TokenStream) -> TokenStream {
    item
}
