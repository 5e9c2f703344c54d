//! Values from the network shown in logs: escaped and shortened, so that a crafted `kid` or
//! issuer cannot forge log lines, inject terminal escapes, or flood the log.

/// At most 64 characters, control characters and quotes escaped.
pub(crate) fn clip(value: &str) -> String {
    clip_at(value, 64)
}

/// At most `max` characters (then `…`), control characters and quotes escaped: for messages
/// that show more of a value than a log line does (configuration errors).
pub(crate) fn clip_at(value: &str, max: usize) -> String {
    let mut out: String = value.chars().take(max).flat_map(char::escape_debug).collect();
    if value.chars().nth(max).is_some() {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn clip_escapes_and_truncates() {
        assert_eq!(super::clip("a\r\nb\u{1b}[31m"), "a\\r\\nb\\u{1b}[31m");
        let long = "k".repeat(10_000);
        assert_eq!(super::clip(&long).chars().count(), 65);
    }
}
