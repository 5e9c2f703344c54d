//! Guard macros for `aad-auth`; use them through the `aad_auth` crate, which re-exports them
//! (`use aad_auth::{api_auth_required, auth_required};`).
//!
//! The expansion is a pipeline, one stage per file: `args.rs` parses the arguments,
//! `handler.rs` reads the function, `validate.rs` checks both, `expand.rs` emits the guarded
//! handler; `errors.rs` collects every error so one build reports them all. Generated code names
//! only `::aad_auth::__private` paths.

use proc_macro::TokenStream;

mod args;
mod errors;
mod expand;
mod handler;
mod validate;

use args::GuardKind;

/// Protects an API handler: the request must carry a valid bearer token (or, with
/// `allow_session`, a logged-in browser session) that satisfies the listed requirements.
///
/// Arguments, all optional, in any order:
///
/// | argument | meaning |
/// |---|---|
/// | `allow_session` (or `allow_session = true` / `false`) | also accept a login session |
/// | `scopes("a", "b", ..)` | the token's `scp` holds any one of these |
/// | `roles("a", ..)` | the caller's `roles` hold any one of these |
/// | `groups("guid", ..)` | the caller is in any one of these groups (object ids) |
/// | `auth_context("c1", ..)` | the sign-in satisfied any one of these Conditional Access authentication contexts (`acrs`, `c1`..`c99`); otherwise 401 with Microsoft's claims challenge |
///
/// Any one entry of a list suffices; every list given must hold. Failures answer `401` (no or
/// bad credentials, with `WWW-Authenticate: Bearer ..`) or `403` (`insufficient_scope`), and the
/// handler does not run.
///
/// The handler may take an `AuthenticationState` parameter (any name or pattern, any position,
/// the type written `AuthenticationState` or as a path ending in it) to get the caller, or not
/// take it at all; other extractors work as usual and run after the guard. The return type,
/// attributes, visibility and generics are kept. Write the attribute above or below actix's
/// `#[get(..)]`, `#[post(..)]`, `#[route(..)]` or utoipa's `#[utoipa::path(..)]`, or register
/// the handler by hand (`web::resource("/x").route(web::get().to(handler))`).
///
/// The handler must be a free `async fn`, at module level or inside a block; not a method or an
/// associated function (the guard declares its policy type next to the function, which an
/// `impl` block cannot hold).
///
/// ```text
/// use aad_auth::{api_auth_required, AuthenticationState};
/// use actix_web::{get, post, web, Responder};
///
/// #[get("/hello")]
/// #[api_auth_required(allow_session, scopes("user_impersonation"))]
/// async fn hello(auth_state: AuthenticationState) -> impl Responder {
///     format!("hello {}", auth_state.user().map(|u| u.display_name()).unwrap_or_default())
/// }
///
/// #[post("/items/{id}")]
/// #[api_auth_required(roles("Admin", "Editor"), groups("1b2c..."))]
/// async fn update(id: web::Path<u32>, body: web::Json<Item>) -> impl Responder {
///     // only callers with Admin or Editor, in the group, get here
/// }
/// ```
///
/// Misuse is a compile error pointing at the culprit: an unknown or repeated argument, an empty
/// list, an entry that is not a string literal, an `auth_context` id other than `c1`..`c99`, a
/// function that is not `async` or takes `self`,
/// an item that is not a function, two `AuthenticationState` parameters.
///
/// Without the macro, take `aad_auth::Authorized<P>` (a `StaticPolicy`) as an extractor, or wrap
/// a scope in `aad_auth::RequireAuth`.
#[proc_macro_attribute]
pub fn api_auth_required(args: TokenStream, item: TokenStream) -> TokenStream {
    let item = proc_macro2::TokenStream::from(item);
    let expanded = expand::guard(GuardKind::Api, args.into(), item.clone());
    expanded.unwrap_or_else(|error| errors::input_and_compile_error(item, error)).into()
}

/// Protects an HTML page handler: a logged-in session or a bearer token; an anonymous browser is
/// redirected (`303`) to the login UI, with the current path and query as the post-login
/// target.
///
/// Arguments, optional: `roles("a", ..)`, `groups("guid", ..)` and `auth_context("c1", ..)`,
/// with the meaning they have for [`macro@api_auth_required`] (a signed-in caller who lacks a
/// role or group gets `403`). A browser session whose sign-in did not satisfy the
/// authentication context is sent through the login again, asking Entra for it (Entra then
/// applies the Conditional Access policy, MFA say), and comes back to the page. Pages always
/// accept a session, so there is no `allow_session`, and no `scopes`.
///
/// The handler takes an `AuthenticationState` parameter or not, exactly as with
/// [`macro@api_auth_required`].
///
/// ```text
/// use aad_auth::{auth_required, AuthenticationState};
/// use actix_web::{get, HttpResponse};
///
/// #[get("/admin")]
/// #[auth_required(roles("Admin"))]
/// async fn admin_page(user: AuthenticationState) -> HttpResponse {
///     HttpResponse::Ok().content_type("text/html").body("<h1>Admin</h1>")
/// }
/// ```
#[proc_macro_attribute]
pub fn auth_required(args: TokenStream, item: TokenStream) -> TokenStream {
    let item = proc_macro2::TokenStream::from(item);
    let expanded = expand::guard(GuardKind::Page, args.into(), item.clone());
    expanded.unwrap_or_else(|error| errors::input_and_compile_error(item, error)).into()
}
