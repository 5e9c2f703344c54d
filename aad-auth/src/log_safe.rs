//! Values from the network shown in logs: escaped and shortened, so that a crafted `kid` or
//! issuer cannot forge log lines, inject terminal escapes, or flood the log.

/// At most 64 characters, control characters and quotes escaped.
pub(crate) fn clip(value: &str) -> String {
    const MAX: usize = 64;
    let mut out: String = value.chars().take(MAX).flat_map(char::escape_debug).collect();
    if value.chars().nth(MAX).is_some() {
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
