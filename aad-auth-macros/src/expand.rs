//! Stage 4: the guarded handler.
//!
//! For `#[api_auth_required(scopes("s"))] async fn hello(path: web::Path<u32>, me: AuthenticationState)`:
//!
//! ```text
//! #[allow(non_camel_case_types)]
//! #[doc(hidden)]
//! #[derive(::core::fmt::Debug, ::core::clone::Clone, ::core::marker::Copy)]
//! struct __aad_auth_policy_hello;
//!
//! impl ::aad_auth::__private::StaticPolicy for __aad_auth_policy_hello {
//!     fn policy() -> &'static ::aad_auth::__private::Policy {
//!         static POLICY: LazyLock<Policy> = LazyLock::new(|| Policy::api().scopes(["s"]));
//!         &POLICY
//!     }
//! }
//!
//! ::aad_auth::__private::inventory::submit! { GuardRegistration { handler: "hello", .. } }
//!
//! async fn hello(
//!     __aad_auth_state: ::aad_auth::__private::Authorized<__aad_auth_policy_hello>,
//!     path: web::Path<u32>,
//! ) {
//!     let me: AuthenticationState = ::aad_auth::__private::Authorized::into_inner(__aad_auth_state);
//!     /* the body as written */
//! }
//! ```
//!
//! The guard is always the first parameter, so that it is extracted (and refuses the request)
//! before any other extractor reads the path, query or body. Its name is hygienic
//! (`Span::mixed_site`), so it cannot clash with the handler's own bindings. The policy type and
//! its registration are items next to the function, which works at module level and inside a
//! block (where actix's `#[get]` re-emits the function when written above this attribute).

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote};
use syn::ext::IdentExt;
use syn::punctuated::Punctuated;
use syn::{FnArg, Ident, PatType, Stmt, Token, parse_quote};

use crate::args::{Args, GuardKind, List};
use crate::errors::Ctxt;
use crate::handler::Handler;
use crate::validate;

/// Parses, checks and expands one guard attribute.
pub(crate) fn guard(kind: GuardKind, args: TokenStream, item: TokenStream) -> syn::Result<TokenStream> {
    let cx = Ctxt::new();
    let args = Args::parse(kind, args, &cx);
    let handler = Handler::from_tokens(kind, item, &cx);
    validate::check(kind, &args, handler.as_ref(), &cx);
    cx.check()?;
    match handler {
        Some(handler) => Ok(emit(kind, &args, handler)),
        None => Err(syn::Error::new(Span::call_site(), format_args!("{} expects an `async fn`", kind.attribute()))),
    }
}

fn emit(kind: GuardKind, args: &Args, handler: Handler) -> TokenStream {
    let Handler { mut item, state_params, .. } = handler;
    let private = quote!(::aad_auth::__private);
    let name = item.sig.ident.unraw();
    let name_text = name.to_string();
    let policy_type = format_ident!("__aad_auth_policy_{}", name);
    let visibility = &item.vis;
    let policy = policy_expression(kind, args);
    let guard = Ident::new("__aad_auth_state", Span::mixed_site());

    let state = state_params.first().copied();
    let mut inputs: Punctuated<FnArg, Token![,]> = Punctuated::new();
    inputs.push(parse_quote!(#guard: #private::Authorized<#policy_type>));
    let mut binding: Option<PatType> = None;
    for (index, input) in std::mem::take(&mut item.sig.inputs).into_iter().enumerate() {
        match input {
            FnArg::Typed(param) if Some(index) == state => binding = Some(param),
            other => inputs.push(other),
        }
    }
    item.sig.inputs = inputs;
    if let Some(PatType { attrs, pat, ty, .. }) = binding {
        // The type as the user wrote it, so that their import stays used (and a different type
        // that merely shares the name is a type error naming both).
        let statement: Stmt = parse_quote! {
            #(#attrs)*
            let #pat: #ty = #private::Authorized::into_inner(#guard);
        };
        item.block.stmts.insert(0, statement);
    }

    quote! {
        #[allow(non_camel_case_types)]
        #[doc(hidden)]
        #[derive(::core::fmt::Debug, ::core::clone::Clone, ::core::marker::Copy)]
        #visibility struct #policy_type;

        impl #private::StaticPolicy for #policy_type {
            fn policy() -> &'static #private::Policy {
                static POLICY: #private::LazyLock<#private::Policy> = #private::LazyLock::new(|| #policy);
                &POLICY
            }
        }

        #private::inventory::submit! {
            #private::GuardRegistration {
                handler: #name_text,
                module: ::core::module_path!(),
                policy: <#policy_type as #private::StaticPolicy>::policy,
            }
        }

        #item
    }
}

/// `Policy::api().allow_session().scopes(["a"]).roles([..]).groups([..])`, with only the parts
/// the attribute asked for.
fn policy_expression(kind: GuardKind, args: &Args) -> TokenStream {
    let private = quote!(::aad_auth::__private);
    let mut policy = match kind {
        GuardKind::Api => quote!(#private::Policy::api()),
        GuardKind::Page => quote!(#private::Policy::page()),
    };
    if kind == GuardKind::Api && args.allow_session.as_ref().is_some_and(|flag| flag.value) {
        policy.extend(quote!(.allow_session()));
    }
    let scopes = if kind == GuardKind::Api { args.scopes.as_ref() } else { None };
    for list in [scopes, args.roles.as_ref(), args.groups.as_ref()].into_iter().flatten() {
        let List { key, items, .. } = list;
        policy.extend(quote!(.#key([#(#items),*])));
    }
    policy
}
