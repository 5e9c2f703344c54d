//! Stage 2: a view of the annotated item as a handler: the function, the parameters that take
//! `AuthenticationState`, and any other guard attribute on it.

use proc_macro2::TokenStream;
use quote::{ToTokens, quote};
use syn::{Attribute, FnArg, Item, ItemFn, PatType, Type};

use crate::args::GuardKind;
use crate::errors::Ctxt;

/// The name of the state type, matched on the last path segment.
const STATE_TYPE: &str = "AuthenticationState";

/// The annotated function, with what the rules and the expansion need to know about it.
pub(crate) struct Handler {
    /// The function as written.
    pub(crate) item: ItemFn,
    /// Indexes into `item.sig.inputs` of the parameters typed `AuthenticationState`.
    pub(crate) state_params: Vec<usize>,
    /// Guard attributes other than the one being expanded (`#[auth_required]` under
    /// `#[api_auth_required]`, or the same one twice).
    pub(crate) other_guards: Vec<Attribute>,
}

impl Handler {
    /// Reads the item; anything but a function is recorded as an error.
    pub(crate) fn from_tokens(kind: GuardKind, tokens: TokenStream, cx: &Ctxt) -> Option<Self> {
        let item = match syn::parse2::<Item>(tokens) {
            Ok(Item::Fn(item)) => item,
            Ok(other) => {
                cx.error_spanned_by(
                    item_head(&other),
                    format_args!(
                        "{} guards request handlers: apply it to an `async fn`, not to this item",
                        kind.attribute()
                    ),
                );
                return None;
            }
            Err(error) => {
                cx.push(error);
                return None;
            }
        };
        let state_params = item
            .sig
            .inputs
            .iter()
            .enumerate()
            .filter_map(|(index, input)| match input {
                FnArg::Typed(param) if is_state_type(&param.ty) => Some(index),
                _ => None,
            })
            .collect();
        let other_guards = item.attrs.iter().filter(|attr| is_guard_attribute(attr)).cloned().collect();
        Some(Self { item, state_params, other_guards })
    }

    /// The `index`th parameter, when it is a typed (non-`self`) one.
    pub(crate) fn typed_param(&self, index: usize) -> Option<&PatType> {
        match self.item.sig.inputs.iter().nth(index) {
            Some(FnArg::Typed(param)) => Some(param),
            _ => None,
        }
    }
}

/// `AuthenticationState`, or any path ending in it (`aad_auth::AuthenticationState`), without
/// generic arguments.
fn is_state_type(ty: &Type) -> bool {
    match ty {
        Type::Group(group) => is_state_type(&group.elem),
        Type::Paren(paren) => is_state_type(&paren.elem),
        Type::Path(path) if path.qself.is_none() => {
            path.path.segments.last().is_some_and(|last| last.ident == STATE_TYPE && last.arguments.is_none())
        }
        _ => false,
    }
}

/// `#[api_auth_required]`, `#[auth_required]`, or a path ending in either.
fn is_guard_attribute(attr: &Attribute) -> bool {
    attr.path()
        .segments
        .last()
        .is_some_and(|last| last.ident == GuardKind::Api.name() || last.ident == GuardKind::Page.name())
}

/// The first line's worth of an item (keyword and name), to point an error at.
fn item_head(item: &Item) -> TokenStream {
    match item {
        Item::Struct(item) => {
            let (keyword, name) = (&item.struct_token, &item.ident);
            quote!(#keyword #name)
        }
        Item::Enum(item) => {
            let (keyword, name) = (&item.enum_token, &item.ident);
            quote!(#keyword #name)
        }
        Item::Union(item) => {
            let (keyword, name) = (&item.union_token, &item.ident);
            quote!(#keyword #name)
        }
        Item::Const(item) => {
            let (keyword, name) = (&item.const_token, &item.ident);
            quote!(#keyword #name)
        }
        Item::Static(item) => {
            let (keyword, name) = (&item.static_token, &item.ident);
            quote!(#keyword #name)
        }
        Item::Type(item) => {
            let (keyword, name) = (&item.type_token, &item.ident);
            quote!(#keyword #name)
        }
        Item::Trait(item) => {
            let (keyword, name) = (&item.trait_token, &item.ident);
            quote!(#keyword #name)
        }
        Item::Mod(item) => {
            let (keyword, name) = (&item.mod_token, &item.ident);
            quote!(#keyword #name)
        }
        Item::Impl(item) => {
            let (keyword, name) = (&item.impl_token, &item.self_ty);
            quote!(#keyword #name)
        }
        Item::Use(item) => item.use_token.into_token_stream(),
        other => other.into_token_stream(),
    }
}
