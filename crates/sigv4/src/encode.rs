//! SigV4 URI encoding: canonical URI and canonical query string.

use std::borrow::Cow;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode, percent_encode};

use crate::PathMode;

/// Everything but the RFC 3986 unreserved characters `A-Za-z0-9-_.~`.
const QUERY_ENCODE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');
/// As [`QUERY_ENCODE`], but keeps the path separator.
const PATH_ENCODE: &AsciiSet = &QUERY_ENCODE.remove(b'/');

/// The canonical URI of a raw request path.
pub(crate) fn canonical_uri(raw_path: &str, mode: PathMode) -> String {
    let encoded = match mode {
        PathMode::Normalized => {
            percent_encode(remove_dot_segments(raw_path).as_bytes(), PATH_ENCODE).to_string()
        }
        PathMode::S3 => {
            let decoded: Cow<'_, [u8]> = percent_decode(raw_path.as_bytes()).into();
            percent_encode(&decoded, PATH_ENCODE).to_string()
        }
    };
    if encoded.is_empty() {
        "/".to_owned()
    } else {
        encoded
    }
}

/// RFC 3986 dot-segment removal plus collapsing of empty segments, as AWS services expect
/// (same rules as botocore's `remove_dot_segments`).
fn remove_dot_segments(path: &str) -> String {
    let mut segments: Vec<&str> = Vec::new();
    for segment in path.split('/') {
        match segment {
            "" | "." => {}
            ".." => {
                segments.pop();
            }
            other => segments.push(other),
        }
    }
    let mut out = String::with_capacity(path.len());
    if path.starts_with('/') {
        out.push('/');
    }
    out.push_str(&segments.join("/"));
    if path.ends_with('/') && !segments.is_empty() {
        out.push('/');
    }
    out
}

/// Decoded `(name, value)` pairs of a raw query string. `+` means space (form encoding, as
/// the Go and Rust SDKs sign it); a piece without `=` has an empty value; empty pieces are skipped.
pub(crate) fn query_pairs(raw_query: &str) -> impl Iterator<Item = (Vec<u8>, Vec<u8>)> + '_ {
    raw_query
        .split('&')
        .filter(|piece| !piece.is_empty())
        .map(|piece| {
            let (name, value) = piece.split_once('=').unwrap_or((piece, ""));
            (decode_component(name), decode_component(value))
        })
}

fn decode_component(raw: &str) -> Vec<u8> {
    let spaced = raw.replace('+', " ");
    percent_decode(spaced.as_bytes()).collect()
}

/// Percent-encodes a query name or value with the SigV4 rules (space becomes `%20`).
pub(crate) fn encode_query_component(raw: &[u8]) -> String {
    percent_encode(raw, QUERY_ENCODE).to_string()
}

/// A query name or value as the canonical query holds it: decoded (`+` is a space) and
/// encoded again. Most are already in that form (only unreserved characters), and are kept as
/// sent without the two copies.
fn canonical_component(raw: &str) -> Cow<'_, str> {
    let unreserved = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~');
    if raw.bytes().all(unreserved) {
        Cow::Borrowed(raw)
    } else {
        Cow::Owned(encode_query_component(&decode_component(raw)))
    }
}

/// The canonical query string; `skip_name` (the presigned `X-Amz-Signature`) is left out,
/// matched after canonicalisation, so that `X-Amz-%53ignature` is left out too.
pub(crate) fn canonical_query(raw_query: &str, skip_name: Option<&str>) -> String {
    let mut pairs: Vec<(Cow<'_, str>, Cow<'_, str>)> = raw_query
        .split('&')
        .filter(|piece| !piece.is_empty())
        .map(|piece| {
            let (name, value) = piece.split_once('=').unwrap_or((piece, ""));
            (canonical_component(name), canonical_component(value))
        })
        .filter(|(name, _)| skip_name.is_none_or(|skip| name != skip))
        .collect();
    pairs.sort_unstable();
    let mut out = String::with_capacity(raw_query.len() + 8);
    for (index, (name, value)) in pairs.iter().enumerate() {
        if index > 0 {
            out.push('&');
        }
        out.push_str(name);
        out.push('=');
        out.push_str(value);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalized_paths() {
        let cases = [
            ("", "/"),
            ("/", "/"),
            ("//", "/"),
            ("/./", "/"),
            ("/./example", "/example"),
            ("//example//", "/example/"),
            ("/example/..", "/"),
            ("/example1/example2/../..", "/"),
            ("/a/b/../c/.", "/a/c"),
            ("/../a", "/a"),
            ("/example space/", "/example%20space/"),
            ("/a%20b", "/a%2520b"),
            ("/-._~AZaz09", "/-._~AZaz09"),
            ("/a+b=c", "/a%2Bb%3Dc"),
        ];
        for (raw, expected) in cases {
            assert_eq!(canonical_uri(raw, PathMode::Normalized), expected, "{raw}");
        }
    }

    #[test]
    fn s3_paths_are_single_encoded_and_not_normalized() {
        let cases = [
            ("", "/"),
            ("/bucket//a/./b", "/bucket//a/./b"),
            ("/bucket/a%20b", "/bucket/a%20b"),
            ("/bucket/a b", "/bucket/a%20b"),
            ("/bucket/a(1)", "/bucket/a%281%29"),
            ("/bucket/%E1%88%B4", "/bucket/%E1%88%B4"),
            ("/bucket/%e1%88%b4", "/bucket/%E1%88%B4"),
        ];
        for (raw, expected) in cases {
            assert_eq!(canonical_uri(raw, PathMode::S3), expected, "{raw}");
        }
    }

    #[test]
    fn canonical_query_sorts_and_encodes() {
        assert_eq!(canonical_query("", None), "");
        assert_eq!(
            canonical_query("Param2=value2&Param1=value1", None),
            "Param1=value1&Param2=value2"
        );
        assert_eq!(
            canonical_query("Param1=value2&Param1=Value1", None),
            "Param1=Value1&Param1=value2"
        );
        assert_eq!(canonical_query("a&&b=", None), "a=&b=");
        assert_eq!(
            canonical_query("k=a+b%20c%2Bd&z=%7e", None),
            "k=a%20b%20c%2Bd&z=~"
        );
        assert_eq!(
            canonical_query("X-Amz-Signature=abc&X-Amz-Date=1", Some("X-Amz-Signature")),
            "X-Amz-Date=1"
        );
        // However the skipped name is spelled, and only that name.
        assert_eq!(
            canonical_query(
                "X-Amz-%53ignature=abc&X-Amz-Date=1&X-Amz+Signature=d",
                Some("X-Amz-Signature")
            ),
            "X-Amz%20Signature=d&X-Amz-Date=1"
        );
        // Already canonical pieces are kept as sent, the others decoded and encoded again.
        assert_eq!(
            canonical_query("b=%41%2f&a=x.y~z_-", None),
            "a=x.y~z_-&b=A%2F"
        );
    }

    #[test]
    fn query_pairs_decode_names_and_values() {
        let pairs: Vec<(Vec<u8>, Vec<u8>)> = query_pairs("a%2Fb=c%3D&flag").collect();
        assert_eq!(
            pairs,
            vec![
                (b"a/b".to_vec(), b"c=".to_vec()),
                (b"flag".to_vec(), Vec::new())
            ]
        );
    }
}
