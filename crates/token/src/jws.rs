//! JWS compact serialisation: assembling signed tokens and splitting received ones.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};

/// The protected header podpass writes: `{"alg":..,"kid":..}` as kube-apiserver does (no `typ`).
#[derive(Debug, Serialize)]
pub(crate) struct OutgoingHeader<'a> {
    pub alg: &'a str,
    pub kid: &'a str,
}

/// The header fields a verifier looks at.
#[derive(Debug, Deserialize)]
pub(crate) struct IncomingHeader {
    pub alg: String,
    #[serde(default)]
    pub kid: Option<String>,
    /// Critical extensions: podpass understands none, so any value rejects the token.
    #[serde(default)]
    pub crit: Option<serde_json::Value>,
}

/// The three segments of a compact JWS.
#[derive(Debug)]
pub(crate) struct CompactParts<'a> {
    pub header: &'a str,
    pub payload: &'a str,
    pub signature: &'a str,
    /// `header.payload`: the bytes the signature covers.
    pub signing_input: &'a str,
}

/// Splits `token` into exactly three dot-separated segments.
pub(crate) fn split(token: &str) -> Option<CompactParts<'_>> {
    let (signing_input, signature) = token.rsplit_once('.')?;
    let (header, payload) = signing_input.split_once('.')?;
    if payload.contains('.') {
        return None;
    }
    Some(CompactParts {
        header,
        payload,
        signature,
        signing_input,
    })
}

/// base64url without padding (strict: non-canonical trailing bits are rejected).
pub(crate) fn decode_segment(segment: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(segment).ok()
}

/// `base64url(header).base64url(payload)`.
pub(crate) fn signing_input(header_json: &str, payload_json: &str) -> String {
    format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header_json),
        URL_SAFE_NO_PAD.encode(payload_json)
    )
}

/// Appends the encoded signature to the signing input.
pub(crate) fn attach_signature(signing_input: String, signature: &[u8]) -> String {
    format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(signature))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_needs_exactly_three_segments() {
        let parts = split("a.b.c").unwrap();
        assert_eq!(
            (
                parts.header,
                parts.payload,
                parts.signature,
                parts.signing_input
            ),
            ("a", "b", "c", "a.b")
        );
        assert!(split("a.b").is_none());
        assert!(split("a.b.c.d").is_none());
        assert!(split("abc").is_none());
        assert!(split("..").is_some());
    }

    #[test]
    fn segments_must_be_unpadded_base64url() {
        assert_eq!(decode_segment("e30"), Some(b"{}".to_vec()));
        assert_eq!(decode_segment("e30="), None);
        assert_eq!(decode_segment("e3+/"), None);
        // "e31" has non-zero trailing bits: a second spelling of "{}" that must not pass.
        assert_eq!(decode_segment("e31"), None);
    }
}
