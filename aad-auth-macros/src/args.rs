//! Stage 1: the attribute's arguments, parsed with `syn::meta::parser`.
//!
//! Only the syntax is checked here (unknown or repeated keys, values of the wrong shape,
//! entries that are not string literals); the rules about what a valid policy is live in
//! `validate.rs`. Every problem is recorded in the [`Ctxt`] and parsing goes on, so that one
//! build shows them all.

use proc_macro2::{Span, TokenStream};
use syn::meta::ParseNestedMeta;
use syn::parse::{ParseStream, Parser};
use syn::punctuated::Punctuated;
use syn::{Expr, ExprLit, Ident, Lit, LitStr, Token};

use crate::errors::Ctxt;

/// Which macro is being expanded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum GuardKind {
    /// `#[api_auth_required]`: an API route (bearer only unless `allow_session`).
    Api,
    /// `#[auth_required]`: an HTML page (session or bearer).
    Page,
}

impl GuardKind {
    /// The attribute as the user writes it, for messages.
    pub(crate) fn attribute(self) -> &'static str {
        match self {
            Self::Api => "`#[api_auth_required]`",
            Self::Page => "`#[auth_required]`",
        }
    }

    /// The macro's name, to recognise it among other attributes.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Api => "api_auth_required",
            Self::Page => "auth_required",
        }
    }

    /// The keys the macro takes.
    fn keys(self) -> &'static [&'static str] {
        match self {
            Self::Api => &[ALLOW_SESSION, SCOPES, ROLES, GROUPS, AUTH_CONTEXT],
            Self::Page => &[ROLES, GROUPS, AUTH_CONTEXT],
        }
    }

    /// A well-formed attribute, for messages.
    fn example(self) -> &'static str {
        match self {
            Self::Api => "#[api_auth_required(allow_session, scopes(\"a\", \"b\"), roles(\"c\"))]",
            Self::Page => "#[auth_required(roles(\"a\", \"b\"), groups(\"c\"))]",
        }
    }

    /// The arguments the macro takes, for messages.
    pub(crate) fn accepted(self) -> &'static str {
        match self {
            Self::Api => {
                "`allow_session`, `scopes(\"..\")`, `roles(\"..\")`, `groups(\"..\")` and `auth_context(\"c1\", ..)`"
            }
            Self::Page => "`roles(\"..\")`, `groups(\"..\")` and `auth_context(\"c1\", ..)`",
        }
    }
}

/// Keys, as written in the attribute.
pub(crate) const ALLOW_SESSION: &str = "allow_session";
pub(crate) const SCOPES: &str = "scopes";
pub(crate) const ROLES: &str = "roles";
pub(crate) const GROUPS: &str = "groups";
pub(crate) const AUTH_CONTEXT: &str = "auth_context";

/// `allow_session` or `allow_session = true|false`.
pub(crate) struct Flag {
    /// The key, for spans.
    pub(crate) key: Ident,
    /// The value (`true` for the bare flag).
    pub(crate) value: bool,
}

/// `scopes("a", "b")`, `roles(..)` or `groups(..)`.
pub(crate) struct List {
    /// The key, where error spans start.
    pub(crate) key: Ident,
    /// The closing parenthesis, where error spans end.
    pub(crate) close: Span,
    /// The string literals, with their spans.
    pub(crate) items: Vec<LitStr>,
    /// How many entries were written, string literals or not.
    pub(crate) written: usize,
}

/// The parsed arguments; a key absent from the attribute is `None`.
#[derive(Default)]
pub(crate) struct Args {
    pub(crate) allow_session: Option<Flag>,
    pub(crate) scopes: Option<List>,
    pub(crate) roles: Option<List>,
    pub(crate) groups: Option<List>,
    /// Conditional Access authentication contexts (`c1`..`c99`).
    pub(crate) auth_context: Option<List>,
}

impl Args {
    /// Parses the attribute's arguments, recording every problem in `cx`.
    pub(crate) fn parse(kind: GuardKind, tokens: TokenStream, cx: &Ctxt) -> Self {
        let mut args = Self::default();
        let parser = syn::meta::parser(|meta| args.parse_one(kind, &meta, cx));
        if let Err(errors) = parser.parse2(tokens) {
            for error in errors {
                cx.error_at(
                    error.span(),
                    format_args!(
                        "{error}: {} takes {}, separated by commas, as in `{}`",
                        kind.attribute(),
                        kind.accepted(),
                        kind.example()
                    ),
                );
            }
        }
        args
    }

    fn parse_one(&mut self, kind: GuardKind, meta: &ParseNestedMeta<'_>, cx: &Ctxt) -> syn::Result<()> {
        let Some(key) = meta.path.get_ident().cloned() else {
            cx.error_spanned_by(&meta.path, unknown_key(kind, &path_text(&meta.path)));
            return skip_value(meta.input);
        };
        let name = key.to_string();
        match name.as_str() {
            ALLOW_SESSION => {
                let flag = parse_flag(key, meta, cx)?;
                set_once(&mut self.allow_session, flag, cx);
            }
            SCOPES | ROLES | GROUPS | AUTH_CONTEXT => {
                let list = parse_list(key, meta, cx)?;
                let slot = match name.as_str() {
                    SCOPES => &mut self.scopes,
                    ROLES => &mut self.roles,
                    AUTH_CONTEXT => &mut self.auth_context,
                    _ => &mut self.groups,
                };
                set_once(slot, list, cx);
            }
            _ => {
                cx.error_at(key.span(), unknown_key(kind, &name));
                skip_value(meta.input)?;
            }
        }
        Ok(())
    }
}

/// Something with a key, so that a repeat can be reported at the second key.
trait Keyed {
    fn key(&self) -> &Ident;
}

impl Keyed for Flag {
    fn key(&self) -> &Ident {
        &self.key
    }
}

impl Keyed for List {
    fn key(&self) -> &Ident {
        &self.key
    }
}

/// Stores `value` unless the key was given before (then the repeat is an error).
fn set_once<T: Keyed>(slot: &mut Option<T>, value: Option<T>, cx: &Ctxt) {
    let Some(value) = value else { return };
    if slot.is_some() {
        let key = value.key();
        cx.error_at(key.span(), format_args!("`{key}` specified more than once; give it once"));
    } else {
        *slot = Some(value);
    }
}

/// `allow_session`, `allow_session = true` or `allow_session = false`.
fn parse_flag(key: Ident, meta: &ParseNestedMeta<'_>, cx: &Ctxt) -> syn::Result<Option<Flag>> {
    if meta.input.peek(Token![=]) {
        let value: Expr = meta.value()?.parse()?;
        return Ok(match value {
            Expr::Lit(ExprLit { lit: Lit::Bool(value), attrs }) if attrs.is_empty() => {
                Some(Flag { key, value: value.value })
            }
            other => {
                cx.error_spanned_by(other, format_args!("expected `true` or `false`, as in `{key} = true`"));
                None
            }
        });
    }
    if !at_end_of_entry(meta.input) {
        let rest = skip_value(meta.input);
        cx.error_at(key.span(), format_args!("`{key}` is a flag: write `{key}` or `{key} = true`"));
        rest?;
        return Ok(None);
    }
    Ok(Some(Flag { key, value: true }))
}

/// `key("a", "b", ..)`.
fn parse_list(key: Ident, meta: &ParseNestedMeta<'_>, cx: &Ctxt) -> syn::Result<Option<List>> {
    let example = example_for(&key);
    if !meta.input.peek(syn::token::Paren) {
        cx.error_at(key.span(), format_args!("`{key}` takes a list of string literals: write `{key}({example})`"));
        skip_value(meta.input)?;
        return Ok(None);
    }
    let content;
    let paren = syn::parenthesized!(content in meta.input);
    let entries = Punctuated::<Expr, Token![,]>::parse_terminated(&content)?;
    let mut items = Vec::with_capacity(entries.len());
    for entry in &entries {
        match entry {
            Expr::Lit(ExprLit { lit: Lit::Str(text), attrs }) if attrs.is_empty() && text.suffix().is_empty() => {
                items.push(text.clone());
            }
            other => cx.error_spanned_by(
                other,
                format_args!(
                    "expected a string literal: `{key}(..)` takes string literals only, as in `{key}({example})`; \
                     constants and expressions are not accepted"
                ),
            ),
        }
    }
    Ok(Some(List { key, close: paren.span.close(), items, written: entries.len() }))
}

/// A plausible value, for messages.
pub(crate) fn example_for(key: &Ident) -> &'static str {
    match key.to_string().as_str() {
        SCOPES => "\"user_impersonation\"",
        ROLES => "\"Admin\"",
        AUTH_CONTEXT => "\"c1\"",
        _ => "\"00000000-0000-0000-0000-000000000000\"",
    }
}

/// Whether the next token ends this argument.
fn at_end_of_entry(input: ParseStream<'_>) -> bool {
    input.is_empty() || input.peek(Token![,])
}

/// Consumes whatever follows an unusable key (`= expr`, or a delimited group), so that the
/// arguments after it are still parsed.
fn skip_value(input: ParseStream<'_>) -> syn::Result<()> {
    if input.peek(Token![=]) {
        input.parse::<Token![=]>()?;
        input.parse::<Expr>()?;
    } else if !at_end_of_entry(input) {
        input.parse::<proc_macro2::Group>()?;
    }
    Ok(())
}

fn path_text(path: &syn::Path) -> String {
    let segments: Vec<String> = path.segments.iter().map(|s| s.ident.to_string()).collect();
    segments.join("::")
}

/// "unknown argument" with the valid ones, and a guess when the key is a near miss.
fn unknown_key(kind: GuardKind, key: &str) -> String {
    let mut message = format!("unknown argument `{key}`; {} takes {}", kind.attribute(), kind.accepted());
    let normalised = key.to_ascii_lowercase().replace('-', "_");
    let guess = kind.keys().iter().find(|valid| {
        normalised == **valid
            || format!("{normalised}s") == **valid
            || normalised.replace('_', "") == valid.replace('_', "")
    });
    if let Some(guess) = guess {
        message.push_str(&format!(" (did you mean `{guess}`?)"));
    }
    message
}
