//! JSON bytes as Go's `encoding/json` (and go-jose's fork of it) writes them.
//!
//! Kubernetes serialises tokens and discovery documents with Go, which escapes `<`, `>`, `&`,
//! U+2028 and U+2029 inside strings. Those characters never occur outside strings in compact
//! JSON, so replacing them in serde_json's output is exact.

use serde::Serialize;

/// Serialises `value` compactly, then applies Go's HTML-safe escaping.
pub(crate) fn to_go_json<T: Serialize>(value: &T) -> Result<String, serde_json::Error> {
    let json = serde_json::to_string(value)?;
    Ok(escape_like_go(&json))
}

fn escape_like_go(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    for c in json.chars() {
        match c {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            other => out.push(other),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_html_characters_like_go() {
        let json = to_go_json(&serde_json::json!({"u": "https://h/?a=1&b=<2>\u{2028}"})).unwrap();
        assert_eq!(json, r#"{"u":"https://h/?a=1\u0026b=\u003c2\u003e\u2028"}"#);
        let back: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(back["u"], "https://h/?a=1&b=<2>\u{2028}");
    }
}
