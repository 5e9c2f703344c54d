//! Post-login and post-logout targets: only same-origin relative paths, never an open redirect.

// Parses network input: no indexing, no unchecked arithmetic, no unwrap (README, Security notes).
#![cfg_attr(
    not(test),
    deny(clippy::indexing_slicing, clippy::arithmetic_side_effects, clippy::unwrap_used, clippy::expect_used)
)]

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
        && bytes.first() == Some(&b'/')
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

#[cfg(test)]
mod tests {
    use super::{MAX_TARGET_LEN, sanitize};

    const LOGIN_ROUTES: [&str; 2] = ["/login", "/oauth"];

    fn checked(target: &str) -> &str {
        sanitize(Some(target), &LOGIN_ROUTES, "/")
    }

    /// `docs/security.md` R rows, one each: the targets a login (or a logout, R19) may be asked to
    /// return to, and where it goes.
    #[test]
    fn r01_to_r18_only_same_origin_relative_paths_are_kept() {
        let long = format!("/{}", "a".repeat(10 * 1024));
        let rows: [(&str, &[&str], bool); 11] = [
            ("R1", &["/dashboard?tab=2#x", "/", "/a/b/c"], true),
            ("R2", &["/view/?param=https://example.com", "/x?next=//evil.example"], true),
            ("R3", &["https://evil.example", "http://evil.example", "ftp://evil.example"], false),
            ("R4", &["//evil.example", "///evil.example", "////evil.example"], false),
            (
                "R5",
                &["/\\evil.example", "\\\\evil.example", "\\/evil.example", "/\\/evil.example", "\\\\//evil.example"],
                false,
            ),
            (
                "R6",
                &[
                    "https:evil.example",
                    "http:/\\/evil.example",
                    "http:\\/evil.example",
                    "http:///evil.example",
                    "http:999999999",
                ],
                false,
            ),
            (
                "R10",
                &[
                    "javascript:alert(1)",
                    "JaVaScRiPt:alert(1)",
                    "java\nscript:alert(1)",
                    "data:text/html,x",
                    "vbscript:x",
                ],
                false,
            ),
            (
                "R11",
                &[
                    "https://app.example.com@evil.example",
                    "http://testserver\\@evil.example",
                    "https://app.example.com.evil.example",
                ],
                false,
            ),
            // Absolute URLs are never kept, not even the app's own origin: stricter than R12 asks.
            ("R12", &["https://app.example.com/x", "http://app.example.com/x"], false),
            // Browsers drop tabs and newlines inside URLs: `/\t/evil` would become `//evil`.
            (
                "R5/R10 control characters",
                &["/\t/evil.example", "/\n/evil.example", "/\r\n/evil.example", "/\0"],
                false,
            ),
            ("R18", &["/login", "/login?redirect=/x", "/oauth/aad/redirect?code=x", "/oauth"], false),
        ];
        for (row, targets, kept) in rows {
            for target in targets {
                let expected = if kept { *target } else { "/" };
                assert_eq!(checked(target), expected, "{row}: {target:?}");
            }
        }
        // R15: a 10 KB target falls back; one at the cap is kept.
        assert_eq!(checked(&long), "/", "R15");
        let at_cap = format!("/{}", "a".repeat(MAX_TARGET_LEN - 1));
        assert_eq!(checked(&at_cap), at_cap, "R15: the cap itself");
        // Routes that merely start with a login route's name are ordinary pages.
        assert_eq!(checked("/login-help"), "/login-help", "R18 is by path segment");
        assert_eq!(sanitize(None, &LOGIN_ROUTES, "/home"), "/home");
    }
}
