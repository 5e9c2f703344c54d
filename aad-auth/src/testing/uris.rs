//! Matching redirect URIs and browser origins against registrations, as Entra does: exact
//! scheme, host and path; any port for `http` loopback hosts (`127.0.0.1`, `localhost`,
//! `[::1]`) or where the registration says `:*`; a registration ending in `/*` matches any path
//! under it.

/// A URI cut into the parts that are compared.
#[derive(Debug, PartialEq, Eq)]
struct Parts<'a> {
    scheme: &'a str,
    host: &'a str,
    /// The port as written (`None` when absent; `Some("*")` in a pattern).
    port: Option<&'a str>,
    /// Path and query (`/` when empty).
    rest: &'a str,
}

fn split(uri: &str) -> Option<Parts<'_>> {
    if uri.chars().any(|c| c.is_control() || c.is_whitespace()) || uri.contains('#') {
        return None;
    }
    let (scheme, after) = uri.split_once("://")?;
    let end = after.find(['/', '?']).unwrap_or(after.len());
    let (authority, rest) = after.split_at(end);
    if authority.is_empty() || authority.contains('@') {
        return None;
    }
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let (inner, tail) = v6.split_once(']')?;
        let host = &authority[..inner.len() + 2];
        match tail {
            "" => (host, None),
            _ => (host, Some(tail.strip_prefix(':')?)),
        }
    } else {
        match authority.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        }
    };
    if host.is_empty() {
        return None;
    }
    let rest = if rest.is_empty() { "/" } else { rest };
    Some(Parts { scheme, host, port, rest })
}

fn is_loopback(host: &str) -> bool {
    host == "127.0.0.1" || host.eq_ignore_ascii_case("localhost") || host == "[::1]"
}

fn default_port(scheme: &str) -> Option<&'static str> {
    match scheme.to_ascii_lowercase().as_str() {
        "http" => Some("80"),
        "https" => Some("443"),
        _ => None,
    }
}

/// Scheme, host and port agree (the port under the loopback and `:*` rules).
fn same_origin(pattern: &Parts<'_>, candidate: &Parts<'_>) -> bool {
    if !pattern.scheme.eq_ignore_ascii_case(candidate.scheme) || !pattern.host.eq_ignore_ascii_case(candidate.host) {
        return false;
    }
    if candidate.port.is_some_and(|port| port.is_empty() || !port.bytes().all(|b| b.is_ascii_digit())) {
        return false;
    }
    if pattern.port == Some("*") || (pattern.scheme.eq_ignore_ascii_case("http") && is_loopback(pattern.host)) {
        return true;
    }
    let normalise = |parts: &Parts<'_>| parts.port.or_else(|| default_port(parts.scheme)).map(str::to_owned);
    normalise(pattern) == normalise(candidate)
}

/// Whether `uri` (as sent by a client) is allowed by the registered `pattern`.
pub(crate) fn redirect_matches(pattern: &str, uri: &str) -> bool {
    let (Some(pattern), Some(candidate)) = (split(pattern), split(uri)) else {
        return false;
    };
    if !same_origin(&pattern, &candidate) {
        return false;
    }
    match pattern.rest.strip_suffix('*') {
        Some(prefix) if prefix.ends_with('/') => candidate.rest.starts_with(prefix),
        _ => pattern.rest == candidate.rest,
    }
}

/// Whether the browser origin `origin` (`scheme://host[:port]`) is the origin of the registered
/// `pattern`.
pub(crate) fn origin_matches(pattern: &str, origin: &str) -> bool {
    let (Some(pattern), Some(candidate)) = (split(pattern), split(origin)) else {
        return false;
    };
    // An origin has no path (`split` gives "/" for none).
    candidate.rest == "/" && !origin.ends_with('/') && same_origin(&pattern, &candidate)
}

#[cfg(test)]
mod tests {
    use super::{origin_matches, redirect_matches};

    #[test]
    fn exact_and_prefix() {
        assert!(redirect_matches("https://app.example/cb", "https://app.example/cb"));
        assert!(redirect_matches("https://app.example/cb", "https://app.example:443/cb"));
        assert!(!redirect_matches("https://app.example/cb", "https://app.example/cb/"));
        assert!(!redirect_matches("https://app.example/cb", "https://app.example/CB"));
        assert!(!redirect_matches("https://app.example/cb", "https://app.example:8443/cb"));
        assert!(!redirect_matches("https://app.example/cb", "http://app.example/cb"));
        assert!(!redirect_matches("https://app.example/cb", "https://app.example/cb#x"));
        assert!(!redirect_matches("https://app.example/cb", "https://evil@app.example/cb"));
        assert!(redirect_matches("https://app.example/auth/*", "https://app.example/auth/x/y"));
        assert!(!redirect_matches("https://app.example/auth/*", "https://app.example/authx"));
    }

    #[test]
    fn loopback_ports() {
        assert!(redirect_matches("http://127.0.0.1:*/oauth/aad/redirect", "http://127.0.0.1:5555/oauth/aad/redirect"));
        assert!(redirect_matches("http://127.0.0.1/cb", "http://127.0.0.1:5555/cb"));
        assert!(redirect_matches("http://localhost:3000/cb", "http://localhost:4000/cb"));
        assert!(redirect_matches("http://localhost", "http://localhost:4000/"));
        assert!(redirect_matches("http://localhost", "http://localhost:4000"));
        assert!(!redirect_matches("http://127.0.0.1:*/cb", "http://127.0.0.1:x/cb"));
        assert!(!redirect_matches("http://127.0.0.1:*/cb", "http://127.0.0.2:80/cb"));
        assert!(!redirect_matches("http://127.0.0.1:*/cb", "http://localhost:80/cb"));
        assert!(!redirect_matches("https://app.example/cb", "https://app.example:/cb"));
        assert!(redirect_matches("https://app.example:*/cb", "https://app.example:9/cb"));
    }

    #[test]
    fn origins() {
        assert!(origin_matches("http://127.0.0.1:*/docs/oauth2-redirect", "http://127.0.0.1:8080"));
        assert!(origin_matches("https://app.example/docs", "https://app.example"));
        assert!(!origin_matches("https://app.example/docs", "https://app.example/"));
        assert!(!origin_matches("https://app.example/docs", "https://other.example"));
        assert!(!origin_matches("https://app.example/docs", "null"));
    }
}
