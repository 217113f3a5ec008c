//! A small SigV4 signer for tests, benchmarks and outgoing calls, built on the verifier's
//! canonicalisation.

use jiff::Timestamp;

use crate::ALGORITHM;
use crate::auth::{CredentialScope, MAX_PRESIGN_EXPIRES_SECONDS};
use crate::canonical::{build_canonical_request, string_to_sign};
use crate::encode::encode_query_component;
use crate::error::{MalformedReason, SigV4Error};
use crate::key::SigningKey;
use crate::request::{PathMode, RequestView};
use crate::time::format_amz_date;

/// Headers the signer sets itself; copies already in the request are not signed.
const SIGNER_HEADERS: [&str; 3] = ["authorization", "x-amz-date", "x-amz-security-token"];

/// Who signs, for which scope, when.
#[derive(Debug, Clone, Copy)]
pub struct SigningParams<'a> {
    /// Access key id.
    pub access_key_id: &'a str,
    /// Secret access key.
    pub secret_access_key: &'a str,
    /// Session token, sent (and signed) as `X-Amz-Security-Token`.
    pub security_token: Option<&'a str>,
    /// Region of the credential scope.
    pub region: &'a str,
    /// Service of the credential scope.
    pub service: &'a str,
    /// Signing time.
    pub time: Timestamp,
    /// Path canonicalisation of the target service.
    pub path_mode: PathMode,
}

impl SigningParams<'_> {
    fn scope(&self) -> CredentialScope {
        CredentialScope {
            date: self.time.strftime("%Y%m%d").to_string(),
            region: self.region.to_owned(),
            service: self.service.to_owned(),
        }
    }
}

/// Headers to add to a request signed with [`sign_headers`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeaderSignature {
    /// `X-Amz-Date` value.
    pub x_amz_date: String,
    /// `X-Amz-Security-Token` value, when signing with a session token.
    pub security_token: Option<String>,
    /// `Authorization` value.
    pub authorization: String,
}

/// Signs every header of `request` (which must include `host`) plus the `X-Amz-Date` and
/// `X-Amz-Security-Token` headers it returns; the caller adds the returned headers.
pub fn sign_headers(
    request: &RequestView<'_>,
    params: &SigningParams<'_>,
) -> Result<HeaderSignature, SigV4Error> {
    let x_amz_date = format_amz_date(params.time);
    let mut view = without_signer_headers(request);
    view.push_header("x-amz-date", x_amz_date.as_bytes());
    if let Some(token) = params.security_token {
        view.push_header("x-amz-security-token", token.as_bytes());
    }
    let signed_headers = header_names(&view)?;
    let scope = params.scope();
    let signature = signature(&view, &signed_headers, params, &scope, &x_amz_date, false)?;
    let authorization = format!(
        "{ALGORITHM} Credential={}/{}, SignedHeaders={}, Signature={signature}",
        params.access_key_id,
        scope.to_scope_string(),
        signed_headers.join(";"),
    );
    Ok(HeaderSignature {
        x_amz_date,
        security_token: params.security_token.map(str::to_owned),
        authorization,
    })
}

/// Presigns `request` for `expires_seconds` (1..=604800): returns the complete query string
/// (the request's own query plus the `X-Amz-*` parameters). Signs every header of the request,
/// which must include `host`.
pub fn presign_query(
    request: &RequestView<'_>,
    params: &SigningParams<'_>,
    expires_seconds: u32,
) -> Result<String, SigV4Error> {
    if !(1..=MAX_PRESIGN_EXPIRES_SECONDS).contains(&expires_seconds) {
        return Err(MalformedReason::BadExpires(expires_seconds.to_string()).into());
    }
    let x_amz_date = format_amz_date(params.time);
    let scope = params.scope();
    let view = without_signer_headers(request);
    let signed_headers = header_names(&view)?;
    let credential = format!("{}/{}", params.access_key_id, scope.to_scope_string());
    let mut query = request.query().to_owned();
    let mut append = |name: &str, value: &str| {
        if !query.is_empty() {
            query.push('&');
        }
        query.push_str(name);
        query.push('=');
        query.push_str(&encode_query_component(value.as_bytes()));
    };
    append("X-Amz-Algorithm", ALGORITHM);
    append("X-Amz-Credential", &credential);
    append("X-Amz-Date", &x_amz_date);
    append("X-Amz-Expires", &expires_seconds.to_string());
    append("X-Amz-SignedHeaders", &signed_headers.join(";"));
    if let Some(token) = params.security_token {
        append("X-Amz-Security-Token", token);
    }
    let mut presigned_view = view;
    presigned_view.set_query(&query);
    let signature = signature(
        &presigned_view,
        &signed_headers,
        params,
        &scope,
        &x_amz_date,
        true,
    )?;
    Ok(format!("{query}&X-Amz-Signature={signature}"))
}

fn without_signer_headers<'a>(request: &RequestView<'a>) -> RequestView<'a> {
    let mut view = RequestView::new(
        request.method(),
        request.path(),
        request.query(),
        request.payload_hash(),
    );
    for (name, value) in request.headers() {
        if !SIGNER_HEADERS.iter().any(|s| name.eq_ignore_ascii_case(s)) {
            view.push_header(name, value);
        }
    }
    view
}

/// Sorted, distinct, lower-case header names; `host` is required.
fn header_names(view: &RequestView<'_>) -> Result<Vec<String>, SigV4Error> {
    let mut names: Vec<String> = view
        .headers()
        .iter()
        .map(|(name, _)| name.to_ascii_lowercase())
        .collect();
    names.sort_unstable();
    names.dedup();
    if names.iter().any(|name| name == "host") {
        Ok(names)
    } else {
        Err(SigV4Error::HostNotSigned)
    }
}

fn signature(
    view: &RequestView<'_>,
    signed_headers: &[String],
    params: &SigningParams<'_>,
    scope: &CredentialScope,
    x_amz_date: &str,
    presigned: bool,
) -> Result<String, SigV4Error> {
    let canonical = build_canonical_request(view, signed_headers, params.path_mode, presigned)?;
    let key = SigningKey::derive(params.secret_access_key, scope);
    Ok(key.sign(&string_to_sign(x_amz_date, scope, &canonical)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::{AuthLocation, parse_auth};
    use crate::request::{UNSIGNED_PAYLOAD, sha256_hex};
    use crate::time::parse_amz_date;
    use crate::verify::{VerifyOptions, verify};

    const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";

    fn params(time: &str) -> SigningParams<'static> {
        SigningParams {
            access_key_id: "AKIDEXAMPLE",
            secret_access_key: SECRET,
            security_token: None,
            region: "us-east-1",
            service: "service",
            time: parse_amz_date(time).unwrap(),
            path_mode: PathMode::Normalized,
        }
    }

    #[test]
    fn reproduces_the_suite_get_vanilla_authorization() {
        let request = RequestView::new("GET", "/", "", crate::EMPTY_PAYLOAD_SHA256)
            .with_header("Host", b"example.amazonaws.com");
        let signed = sign_headers(&request, &params("20150830T123600Z")).unwrap();
        assert_eq!(signed.x_amz_date, "20150830T123600Z");
        assert_eq!(signed.security_token, None);
        assert_eq!(
            signed.authorization,
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"
        );
    }

    #[test]
    fn signed_query_protocol_post_verifies_and_tampering_fails() {
        let body = b"Action=GetCallerIdentity&Version=2011-06-15";
        let hash = sha256_hex(body);
        let mut signing = params("20261128T120000Z");
        signing.service = "sts";
        signing.security_token = Some("session/token+1");
        let base = RequestView::new("POST", "/", "", &hash)
            .with_header("host", b"127.0.0.1:8080")
            .with_header(
                "content-type",
                b"application/x-www-form-urlencoded; charset=utf-8",
            );
        let signed = sign_headers(&base, &signing).unwrap();
        let request = base
            .clone()
            .with_header("X-Amz-Date", signed.x_amz_date.as_bytes())
            .with_header("X-Amz-Security-Token", b"session/token+1")
            .with_header("Authorization", signed.authorization.as_bytes());
        let auth = parse_auth(&request).unwrap();
        assert_eq!(
            auth.signed_headers,
            vec!["content-type", "host", "x-amz-date", "x-amz-security-token"]
        );
        assert_eq!(auth.security_token.as_deref(), Some("session/token+1"));
        let key = SigningKey::derive(SECRET, &auth.scope);
        let options = VerifyOptions::new(&["sts"], signing.time);
        assert_eq!(verify(&request, &auth, &key, &options), Ok(()));

        let other_hash = sha256_hex(b"Action=GetCallerIdentity&Version=2011-06-16");
        let tampered = RequestView::new("POST", "/", "", &other_hash)
            .with_header("host", b"127.0.0.1:8080")
            .with_header(
                "content-type",
                b"application/x-www-form-urlencoded; charset=utf-8",
            )
            .with_header("X-Amz-Date", signed.x_amz_date.as_bytes())
            .with_header("X-Amz-Security-Token", b"session/token+1")
            .with_header("Authorization", signed.authorization.as_bytes());
        assert!(matches!(
            verify(&tampered, &auth, &key, &options),
            Err(SigV4Error::SignatureMismatch { .. })
        ));
    }

    #[test]
    fn presigned_url_verifies_until_it_expires() {
        let mut signing = params("20261128T120000Z");
        signing.service = "s3";
        signing.path_mode = PathMode::S3;
        signing.security_token = Some("tok/en");
        let base = RequestView::new("GET", "/bucket/a%20key", "versionId=3", UNSIGNED_PAYLOAD)
            .with_header("Host", b"s3.local");
        let query = presign_query(&base, &signing, 300).unwrap();
        assert!(query.starts_with("versionId=3&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F20261128%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20261128T120000Z&X-Amz-Expires=300&X-Amz-SignedHeaders=host&X-Amz-Security-Token=tok%2Fen&X-Amz-Signature="));
        let mut request = base.clone();
        request.set_query(&query);
        let auth = parse_auth(&request).unwrap();
        assert_eq!(
            auth.location,
            AuthLocation::Query {
                expires_seconds: 300
            }
        );
        assert_eq!(auth.security_token.as_deref(), Some("tok/en"));
        let key = SigningKey::derive(SECRET, &auth.scope);
        let in_time = VerifyOptions::new(&["s3"], parse_amz_date("20261128T120500Z").unwrap())
            .with_path_mode(PathMode::S3);
        assert_eq!(verify(&request, &auth, &key, &in_time), Ok(()));
        let late = VerifyOptions::new(&["s3"], parse_amz_date("20261128T120501Z").unwrap())
            .with_path_mode(PathMode::S3);
        assert!(matches!(
            verify(&request, &auth, &key, &late),
            Err(SigV4Error::PresignExpired { .. })
        ));
        let changed = query.replace("versionId=3", "versionId=4");
        request.set_query(&changed);
        assert!(matches!(
            verify(&request, &auth, &key, &in_time),
            Err(SigV4Error::SignatureMismatch { .. })
        ));
    }

    #[test]
    fn signer_requires_host_and_valid_expiry() {
        let request = RequestView::new("GET", "/", "", UNSIGNED_PAYLOAD);
        let signing = params("20150830T123600Z");
        assert_eq!(
            sign_headers(&request, &signing),
            Err(SigV4Error::HostNotSigned)
        );
        let with_host = request.with_header("host", b"h");
        for expires in [0, 604_801] {
            assert_eq!(
                presign_query(&with_host, &signing, expires),
                Err(SigV4Error::Malformed(MalformedReason::BadExpires(
                    expires.to_string()
                )))
            );
        }
    }

    #[test]
    fn signer_replaces_stale_date_and_authorization_headers() {
        let request = RequestView::new("GET", "/", "", crate::EMPTY_PAYLOAD_SHA256)
            .with_header("Host", b"example.amazonaws.com")
            .with_header("X-Amz-Date", b"19990101T000000Z")
            .with_header("Authorization", b"old");
        let signed = sign_headers(&request, &params("20150830T123600Z")).unwrap();
        assert!(signed.authorization.ends_with("SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"));
    }
}
