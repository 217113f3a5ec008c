//! Canonical request and string to sign.

use crate::ALGORITHM;
use crate::auth::{AuthInfo, AuthLocation, CredentialScope};
use crate::encode::{canonical_query, canonical_uri};
use crate::error::SigV4Error;
use crate::request::{PathMode, RequestView, sha256_hex};

/// Query parameter that a presigned request excludes from its own canonical query.
const SIGNATURE_PARAM: &str = "X-Amz-Signature";

/// The canonical request the client should have signed, for the signed headers in `auth`.
pub fn canonical_request(
    request: &RequestView<'_>,
    auth: &AuthInfo,
    path_mode: PathMode,
) -> Result<String, SigV4Error> {
    let presigned = matches!(auth.location, AuthLocation::Query { .. });
    build_canonical_request(request, &auth.signed_headers, path_mode, presigned)
}

/// Canonical request over `signed_headers` (lower-case names). `presigned` drops
/// `X-Amz-Signature` from the canonical query.
pub(crate) fn build_canonical_request(
    request: &RequestView<'_>,
    signed_headers: &[String],
    path_mode: PathMode,
    presigned: bool,
) -> Result<String, SigV4Error> {
    let mut names: Vec<&str> = signed_headers.iter().map(String::as_str).collect();
    names.sort_unstable();
    names.dedup();

    let mut out = String::with_capacity(256);
    out.push_str(request.method());
    out.push('\n');
    out.push_str(&canonical_uri(request.path(), path_mode));
    out.push('\n');
    out.push_str(&canonical_query(
        request.query(),
        presigned.then_some(SIGNATURE_PARAM),
    ));
    out.push('\n');
    for name in &names {
        push_canonical_header(&mut out, request, name)?;
    }
    out.push('\n');
    out.push_str(&names.join(";"));
    out.push('\n');
    out.push_str(request.payload_hash());
    Ok(out)
}

/// Appends `name:value1,value2\n`, each value trimmed with inner whitespace runs collapsed.
fn push_canonical_header(
    out: &mut String,
    request: &RequestView<'_>,
    name: &str,
) -> Result<(), SigV4Error> {
    out.push_str(name);
    out.push(':');
    let mut found = false;
    for value in request.header_values(name) {
        let value = std::str::from_utf8(value)
            .map_err(|_| SigV4Error::SignedHeaderNotUtf8(name.to_owned()))?;
        if found {
            out.push(',');
        }
        found = true;
        for (index, word) in value.split_ascii_whitespace().enumerate() {
            if index > 0 {
                out.push(' ');
            }
            out.push_str(word);
        }
    }
    if !found {
        return Err(SigV4Error::SignedHeaderMissing(name.to_owned()));
    }
    out.push('\n');
    Ok(())
}

/// `AWS4-HMAC-SHA256\n<amz_date>\n<scope>\n<hex sha256(canonical_request)>`.
pub fn string_to_sign(amz_date: &str, scope: &CredentialScope, canonical_request: &str) -> String {
    format!(
        "{ALGORITHM}\n{amz_date}\n{}\n{}",
        scope.to_scope_string(),
        sha256_hex(canonical_request.as_bytes())
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|n| (*n).to_owned()).collect()
    }

    #[test]
    fn trims_collapses_and_joins_header_values() {
        let request = RequestView::new("GET", "/", "", "hash")
            .with_header("Host", b"h")
            .with_header("My-Header1", b"  a   b\t c ")
            .with_header("my-header1", b"d");
        let creq = build_canonical_request(
            &request,
            &names(&["my-header1", "host"]),
            PathMode::Normalized,
            false,
        )
        .unwrap();
        assert_eq!(
            creq,
            "GET\n/\n\nhost:h\nmy-header1:a b c,d\n\nhost;my-header1\nhash"
        );
    }

    #[test]
    fn empty_header_value_is_signed_as_empty() {
        let request = RequestView::new("GET", "/", "", "hash")
            .with_header("host", b"h")
            .with_header("x-empty", b"");
        let creq = build_canonical_request(
            &request,
            &names(&["host", "x-empty"]),
            PathMode::Normalized,
            false,
        )
        .unwrap();
        assert_eq!(creq, "GET\n/\n\nhost:h\nx-empty:\n\nhost;x-empty\nhash");
    }

    #[test]
    fn missing_or_binary_signed_header_is_an_error() {
        let request = RequestView::new("GET", "/", "", "hash")
            .with_header("host", b"h")
            .with_header("x-bin", b"\xff");
        assert_eq!(
            build_canonical_request(
                &request,
                &names(&["host", "x-gone"]),
                PathMode::Normalized,
                false
            ),
            Err(SigV4Error::SignedHeaderMissing("x-gone".into()))
        );
        assert_eq!(
            build_canonical_request(
                &request,
                &names(&["host", "x-bin"]),
                PathMode::Normalized,
                false
            ),
            Err(SigV4Error::SignedHeaderNotUtf8("x-bin".into()))
        );
    }

    #[test]
    fn presigned_excludes_signature_param_only() {
        let request = RequestView::new("GET", "/", "X-Amz-Signature=ab&a=1", "UNSIGNED-PAYLOAD")
            .with_header("host", b"h");
        let presigned =
            build_canonical_request(&request, &names(&["host"]), PathMode::S3, true).unwrap();
        assert_eq!(presigned, "GET\n/\na=1\nhost:h\n\nhost\nUNSIGNED-PAYLOAD");
        let header =
            build_canonical_request(&request, &names(&["host"]), PathMode::S3, false).unwrap();
        assert_eq!(
            header,
            "GET\n/\nX-Amz-Signature=ab&a=1\nhost:h\n\nhost\nUNSIGNED-PAYLOAD"
        );
    }

    #[test]
    fn string_to_sign_layout() {
        let scope = CredentialScope {
            date: "20150830".into(),
            region: "us-east-1".into(),
            service: "service".into(),
        };
        assert_eq!(
            string_to_sign("20150830T123600Z", &scope, ""),
            "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }
}
