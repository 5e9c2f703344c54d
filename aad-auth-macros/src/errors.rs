//! Error collection (in the manner of serde's `Ctxt`) and the error output.

use std::cell::RefCell;
use std::fmt::Display;

use proc_macro2::{Span, TokenStream};
use quote::{ToTokens, quote_spanned};

/// Collects every error found while parsing and checking one macro invocation, so that the
/// user sees all of them at once rather than one per build.
#[derive(Default)]
pub(crate) struct Ctxt {
    errors: RefCell<Vec<syn::Error>>,
}

impl Ctxt {
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// Records an error spanning the tokens of `culprit`.
    pub(crate) fn error_spanned_by(&self, culprit: impl ToTokens, message: impl Display) {
        self.push(syn::Error::new_spanned(culprit.into_token_stream(), message));
    }

    /// Records an error at `span`.
    pub(crate) fn error_at(&self, span: Span, message: impl Display) {
        self.push(syn::Error::new(span, message));
    }

    /// Records an error spanning from `start` to `end` (for example `scopes(..)` whole).
    pub(crate) fn error_between(&self, start: Span, end: Span, message: impl Display) {
        let range = quote_spanned!(start=> start).into_iter().chain(quote_spanned!(end=> end));
        self.push(syn::Error::new_spanned(range.collect::<TokenStream>(), message));
    }

    /// Records an error produced by syn.
    pub(crate) fn push(&self, error: syn::Error) {
        self.errors.borrow_mut().push(error);
    }

    /// Consumes the context: `Ok` when nothing was recorded, else every error combined into one.
    pub(crate) fn check(self) -> syn::Result<()> {
        let mut errors = self.errors.into_inner().into_iter();
        match errors.next() {
            None => Ok(()),
            Some(mut combined) => {
                combined.extend(errors);
                Err(combined)
            }
        }
    }
}

/// The original item followed by the errors, so that rust-analyzer and friends keep seeing the
/// handler. The `compile_error!` fails the build, so the unguarded item never ships.
pub(crate) fn input_and_compile_error(item: TokenStream, error: syn::Error) -> TokenStream {
    let mut output = item;
    output.extend(error.into_compile_error());
    output
}
