//! Small text helpers shared by the gateway and the integrations.

/// Percent-encodes everything but RFC 3986 unreserved characters, for URL path segments,
/// query values and RFC 6266 `filename*`.
pub fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'.' | b'-' | b'_' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn encodes_reserved_and_non_ascii() {
        assert_eq!(super::percent_encode("a b/c?d=e"), "a%20b%2Fc%3Fd%3De");
        assert_eq!(super::percent_encode("王"), "%E7%8E%8B");
        assert_eq!(super::percent_encode("C10001"), "C10001");
    }
}
