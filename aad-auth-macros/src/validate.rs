//! Stage 3: the rules a well-formed guard must follow, over the parsed arguments and handler.
//! Each broken rule is one spanned error saying how to fix it.

use std::collections::HashSet;

use quote::ToTokens;
use syn::FnArg;

use crate::args::{ALLOW_SESSION, Args, GuardKind, List, SCOPES, example_for};
use crate::errors::Ctxt;
use crate::handler::Handler;

/// Checks the arguments (and the handler, when the item was one).
pub(crate) fn check(kind: GuardKind, args: &Args, handler: Option<&Handler>, cx: &Ctxt) {
    check_args(kind, args, cx);
    if let Some(handler) = handler {
        check_handler(kind, handler, cx);
    }
}

fn check_args(kind: GuardKind, args: &Args, cx: &Ctxt) {
    if kind == GuardKind::Page {
        if let Some(flag) = &args.allow_session {
            cx.error_at(
                flag.key.span(),
                format_args!(
                    "`#[auth_required]` does not take `{ALLOW_SESSION}`: pages always accept a login session \
                     (and bearer tokens); it takes only {}",
                    kind.accepted()
                ),
            );
        }
        if let Some(scopes) = &args.scopes {
            cx.error_between(
                scopes.key.span(),
                scopes.close,
                format_args!(
                    "`#[auth_required]` does not take `{SCOPES}`: it takes only {}; to require scopes, \
                     guard an API route with `#[api_auth_required({SCOPES}(..))]`",
                    kind.accepted()
                ),
            );
        }
    } else if let Some(scopes) = &args.scopes {
        check_list(scopes, true, cx);
    }
    if let Some(roles) = &args.roles {
        check_list(roles, true, cx);
    }
    if let Some(groups) = &args.groups {
        check_list(groups, false, cx);
    }
    if let Some(contexts) = &args.auth_context {
        check_list(contexts, true, cx);
        check_auth_context(contexts, cx);
    }
}

/// Every entry an authentication-context id as Entra issues them: `c1` to `c99` (the runtime's
/// `Policy::auth_context` would panic on anything else; here it is a compile error instead).
fn check_auth_context(list: &List, cx: &Ctxt) {
    let key = &list.key;
    for item in &list.items {
        let value = item.value();
        if value.trim().is_empty() || value.chars().any(char::is_whitespace) {
            continue; // reported by `check_list`
        }
        if !is_auth_context_id(&value) {
            cx.error_spanned_by(
                item,
                format_args!(
                    "{value:?} is not an authentication context id: Entra's are `c1` to `c99` (lower-case `c`, \
                     no leading zero), as in `{key}(\"c1\")`; see Conditional Access, Authentication \
                     contexts, in the Entra admin center"
                ),
            );
        }
    }
}

/// `c1` to `c99` (the runtime crate's `is_auth_context_id`; a proc-macro crate cannot use it).
fn is_auth_context_id(id: &str) -> bool {
    let Some(digits) = id.strip_prefix('c') else { return false };
    !digits.is_empty() && digits.len() <= 2 && !digits.starts_with('0') && digits.bytes().all(|b| b.is_ascii_digit())
}

/// Not empty; no blank, space-separated or repeated entries.
fn check_list(list: &List, single_words: bool, cx: &Ctxt) {
    let key = &list.key;
    let example = example_for(key);
    if list.written == 0 {
        cx.error_between(
            key.span(),
            list.close,
            format_args!("`{key}()` is empty: list at least one, as in `{key}({example})`, or remove `{key}()`"),
        );
        return;
    }
    let mut seen = HashSet::new();
    for item in &list.items {
        let value = item.value();
        if value.trim().is_empty() {
            cx.error_spanned_by(
                item,
                format_args!("empty string in `{key}(..)`: give a value, as in `{key}({example})`"),
            );
        } else if single_words && value.chars().any(char::is_whitespace) {
            cx.error_spanned_by(
                item,
                format_args!(
                    "`{key}` values are matched whole and never contain whitespace: write each as its own string, \
                     as in `{key}(\"a\", \"b\")`"
                ),
            );
        } else if !seen.insert(value.clone()) {
            cx.error_spanned_by(item, format_args!("{value:?} is listed twice in `{key}(..)`: remove the repeat"));
        }
    }
}

fn check_handler(kind: GuardKind, handler: &Handler, cx: &Ctxt) {
    let sig = &handler.item.sig;
    let attribute = kind.attribute();
    if sig.asyncness.is_none() {
        cx.error_spanned_by(
            sig.fn_token,
            format_args!(
                "{attribute} needs an `async fn` (actix handlers are asynchronous): write `async fn {}`",
                sig.ident
            ),
        );
    }
    if let Some(FnArg::Receiver(receiver)) = sig.inputs.first() {
        cx.error_spanned_by(
            receiver,
            format_args!(
                "{attribute} cannot guard a method that takes `self`: a handler is a free `async fn`; \
                 share data with `web::Data<T>` instead"
            ),
        );
    }
    if let Some((first, repeats)) = handler.state_params.split_first() {
        let first = handler.typed_param(*first).map(|param| param.pat.to_token_stream().to_string());
        for index in repeats {
            if let Some(param) = handler.typed_param(*index) {
                cx.error_spanned_by(
                    param,
                    format_args!(
                        "`AuthenticationState` is already taken by `{}`: a guarded handler receives it once; \
                         remove this parameter",
                        first.as_deref().unwrap_or("another parameter")
                    ),
                );
            }
        }
    }
    for other in &handler.other_guards {
        let name = other.path().segments.last().map(|segment| segment.ident.to_string()).unwrap_or_default();
        let message = if name == kind.name() {
            format!("{attribute} is given twice: keep one and put all the arguments in it")
        } else {
            format!(
                "{attribute} and `#[{name}]` cannot guard the same handler: keep one \
                 (`#[auth_required]` for HTML pages, `#[api_auth_required]` for APIs)"
            )
        };
        cx.error_spanned_by(other, message);
    }
}
