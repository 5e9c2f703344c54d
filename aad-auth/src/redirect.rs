//! Post-login and post-logout targets: only same-origin relative paths, never an open redirect.

use actix_web::HttpRequest;

/// Longest accepted target.
pub const MAX_TARGET_LEN: usize = 2048;

/// Whether `target` is a safe same-origin relative path: one leading `/` followed by neither `/`
/// nor `\`, no control characters (browsers strip tabs and newlines, turning `/\t/evil` into
/// `//evil`), no backslashes at all, at most [`MAX_TARGET_LEN`] bytes.
pub fn is_safe_target(target: &str) -> bool {
    let bytes = target.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= MAX_TARGET_LEN
        && bytes[0] == b'/'
        && !matches!(bytes.get(1), Some(b'/' | b'\\'))
        && !target.chars().any(|c| c.is_control() || c == '\\')
}

/// `target` when safe and not one of `excluded` (login routes, to avoid loops), else `fallback`.
pub fn sanitize<'a>(target: Option<&'a str>, excluded: &[&str], fallback: &'a str) -> &'a str {
    match target {
        Some(target) if is_safe_target(target) && !excluded.iter().any(|route| path_is_under(target, route)) => target,
        Some(rejected) => {
            tracing::debug!(target = %crate::log_safe::clip(rejected), "refused a post-login target");
            fallback
        }
        None => fallback,
    }
}

fn path_is_under(target: &str, route: &str) -> bool {
    let path = target.split(['?', '#']).next().unwrap_or_default();
    let route = route.trim_end_matches('/');
    !route.is_empty() && (path == route || path.strip_prefix(route).is_some_and(|rest| rest.starts_with('/')))
}

/// The current request's path and query, as a post-login target.
pub(crate) fn current_target(req: &HttpRequest) -> String {
    let uri = req.uri();
    let target = uri.path_and_query().map_or("/", |pq| pq.as_str());
    if is_safe_target(target) { target.to_owned() } else { "/".to_owned() }
}
