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
//!     __aad_auth_guarded: ::aad_auth::__private::Guarded<__aad_auth_policy_hello, (web::Path<u32>,)>,
//! ) {
//!     let (__aad_auth_state, (path,)) = ::aad_auth::__private::Guarded::into_parts(__aad_auth_guarded);
//!     let me: AuthenticationState = ::aad_auth::__private::Authorized::into_inner(__aad_auth_state);
//!     /* the body as written */
//! }
//! ```
//!
//! The handler's own parameters become one tuple extracted by `Guarded` after the guard has let
//! the request through: actix polls all of a handler's extractors together, so a guard that is
//! merely first in the list would not stop a JSON body being read (or a query's 400 coming
//! back) while it waits for a key fetch or a Redis session. The names are hygienic
//! (`Span::mixed_site`), so they cannot clash with the handler's own bindings. The policy type and
//! its registration are items next to the function, which works at module level and inside a
//! block (where actix's `#[get]` re-emits the function when written above this attribute).

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote};
use syn::ext::IdentExt;
use syn::{FnArg, Ident, Pat, PatType, Stmt, Type, parse_quote};

use crate::args::{Args, GuardKind, List};
use crate::errors::Ctxt;
use crate::handler::Handler;
use crate::validate;

/// Parses, checks and expands one guard attribute.
pub(crate) fn guard(kind: GuardKind, args: TokenStream, item: TokenStream) -> syn::Result<TokenStream> {
    let cx = Ctxt::new();
    let args_tokens = args.clone();
    let args = Args::parse(kind, args, &cx);
    let handler = Handler::from_tokens(kind, item, &cx);
    validate::check(kind, &args, handler.as_ref(), &cx);
    cx.check()?;
    match handler {
        Some(handler) if reads_the_signature_below(&handler) => Ok(defer(kind, args_tokens, handler)),
        Some(handler) => Ok(emit(kind, &args, handler)),
        None => Err(syn::Error::new(Span::call_site(), format_args!("{} expects an `async fn`", kind.attribute()))),
    }
}

/// Whether an attribute below this one documents the handler from its parameters
/// (`#[utoipa::path]`): it must see them as written, before they become `Guarded`'s tuple.
fn reads_the_signature_below(handler: &Handler) -> bool {
    handler.item.attrs.iter().any(|attr| {
        let segments = &attr.path().segments;
        let named = |index: usize, name: &str| segments.iter().nth(index).is_some_and(|s| s.ident == name);
        match segments.len() {
            1 => named(0, "path"),
            2 => named(0, "utoipa") && named(1, "path"),
            _ => false,
        }
    })
}

/// Puts this attribute back below the others, so that they expand first and it expands last,
/// on the handler they leave behind.
fn defer(kind: GuardKind, args: TokenStream, handler: Handler) -> TokenStream {
    let mut item = handler.item;
    let name = Ident::new(kind.name(), Span::call_site());
    item.attrs.push(parse_quote!(#[::aad_auth::#name(#args)]));
    quote!(#item)
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

    // The handler takes one extractor, `Guarded`: the guard first, then the other parameters as
    // a tuple, extracted only once the guard has let the request through (actix would otherwise
    // poll them alongside the guard, reading the body of a request it then refuses).
    let state = state_params.first().copied();
    let mut binding: Option<PatType> = None;
    let (mut patterns, mut types): (Vec<Box<Pat>>, Vec<Box<Type>>) = (Vec::new(), Vec::new());
    for (index, input) in std::mem::take(&mut item.sig.inputs).into_iter().enumerate() {
        match input {
            FnArg::Typed(param) if Some(index) == state => binding = Some(param),
            FnArg::Typed(param) => {
                patterns.push(param.pat);
                types.push(param.ty);
            }
            // Rejected by the validation stage; kept so that nothing is silently dropped.
            FnArg::Receiver(receiver) => item.sig.inputs.push(FnArg::Receiver(receiver)),
        }
    }
    let guarded = Ident::new("__aad_auth_guarded", Span::mixed_site());
    item.sig.inputs.push(parse_quote!(#guarded: #private::Guarded<#policy_type, (#(#types,)*)>));
    let mut statements: Vec<Stmt> = vec![parse_quote! {
        let (#guard, (#(#patterns,)*)) = #private::Guarded::into_parts(#guarded);
    }];
    if let Some(PatType { attrs, pat, ty, .. }) = binding {
        // The type as the user wrote it, so that their import stays used (and a different type
        // that merely shares the name is a type error naming both).
        statements.push(parse_quote! {
            #(#attrs)*
            let #pat: #ty = #private::Authorized::into_inner(#guard);
        });
    } else {
        statements.push(parse_quote!(let _ = #guard;));
    }
    item.block.stmts.splice(0..0, statements);

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

/// `Policy::api().allow_session().scopes(["a"]).roles([..]).groups([..]).auth_context([..])`,
/// with only the parts
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
    for list in [scopes, args.roles.as_ref(), args.groups.as_ref(), args.auth_context.as_ref()].into_iter().flatten() {
        let List { key, items, .. } = list;
        policy.extend(quote!(.#key([#(#items),*])));
    }
    policy
}
