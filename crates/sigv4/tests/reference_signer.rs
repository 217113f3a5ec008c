//! Round trips against the AWS SDK's own signer (`aws-sigv4`): every request it signs must verify.

use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{
    PayloadChecksumKind, PercentEncodingMode, SessionTokenMode, SignableBody, SignableRequest,
    SignatureLocation, SigningSettings, UriPathNormalizationMode, sign,
};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use podpass_sigv4::{
    AuthLocation, PathMode, RequestView, SigV4Error, SigningKey, UNSIGNED_PAYLOAD, VerifyOptions,
    parse_auth, sha256_hex, verify,
};

const ACCESS_KEY: &str = "AKIDEXAMPLE";
const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
const TOKEN: &str = "FQoGZXIvYXdzEXAMPLE/+=token";
/// 2026-11-28T12:00:00Z.
const SIGNING_SECONDS: u64 = 1_795_867_200;

struct Signed {
    request: http::Request<Vec<u8>>,
}

struct Spec<'a> {
    method: &'a str,
    uri: &'a str,
    headers: &'a [(&'a str, &'a str)],
    body: &'a [u8],
    service: &'a str,
    token: Option<&'a str>,
    s3: bool,
    presign: Option<u64>,
    token_mode: SessionTokenMode,
}

impl Default for Spec<'_> {
    fn default() -> Self {
        Self {
            method: "POST",
            uri: "http://127.0.0.1:8080/",
            headers: &[],
            body: b"",
            service: "sts",
            token: None,
            s3: false,
            presign: None,
            token_mode: SessionTokenMode::Include,
        }
    }
}

fn sdk_sign(spec: &Spec<'_>) -> Signed {
    let identity: Identity = Credentials::new(
        ACCESS_KEY,
        SECRET,
        spec.token.map(str::to_owned),
        None,
        "test",
    )
    .into();
    let mut settings = SigningSettings::default();
    settings.session_token_mode = spec.token_mode;
    if spec.s3 {
        settings.percent_encoding_mode = PercentEncodingMode::Single;
        settings.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
        if spec.presign.is_none() {
            settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
        }
    }
    if let Some(seconds) = spec.presign {
        settings.signature_location = SignatureLocation::QueryParams;
        settings.expires_in = Some(Duration::from_secs(seconds));
    }
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region("us-west-2")
        .name(spec.service)
        .time(SystemTime::UNIX_EPOCH + Duration::from_secs(SIGNING_SECONDS))
        .settings(settings)
        .build()
        .unwrap()
        .into();
    let body = if spec.s3 && spec.presign.is_some() {
        SignableBody::UnsignedPayload
    } else {
        SignableBody::Bytes(spec.body)
    };
    let signable =
        SignableRequest::new(spec.method, spec.uri, spec.headers.iter().copied(), body).unwrap();
    let (instructions, _) = sign(signable, &params).unwrap().into_parts();
    let mut builder = http::Request::builder().method(spec.method).uri(spec.uri);
    for (name, value) in spec.headers {
        builder = builder.header(*name, *value);
    }
    let mut request = builder.body(spec.body.to_vec()).unwrap();
    instructions.apply_to_request_http1x(&mut request);
    Signed { request }
}

fn now() -> jiff::Timestamp {
    jiff::Timestamp::from_second(SIGNING_SECONDS as i64).unwrap()
}

/// Verifies like a server: payload hash from the body (or S3's `x-amz-content-sha256`).
fn server_verify(
    signed: &Signed,
    services: &[&str],
    path_mode: PathMode,
) -> Result<(), SigV4Error> {
    let body_hash = sha256_hex(signed.request.body());
    let payload_hash = match signed.request.headers().get("x-amz-content-sha256") {
        Some(value) => value.to_str().unwrap(),
        None if path_mode == PathMode::S3 => UNSIGNED_PAYLOAD,
        None => &body_hash,
    };
    let view = RequestView::from_http_request(&signed.request, payload_hash);
    let auth = parse_auth(&view)?;
    let key = SigningKey::derive(SECRET, &auth.scope);
    let options = VerifyOptions::new(services, now()).with_path_mode(path_mode);
    verify(&view, &auth, &key, &options)
}

const FORM: (&str, &str) = (
    "content-type",
    "application/x-www-form-urlencoded; charset=utf-8",
);

#[test]
fn sts_query_protocol_post_with_session_token() {
    let signed = sdk_sign(&Spec {
        headers: &[FORM],
        body: b"Action=GetCallerIdentity&Version=2011-06-15",
        token: Some(TOKEN),
        ..Spec::default()
    });
    assert_eq!(
        server_verify(&signed, &["sts"], PathMode::Normalized),
        Ok(())
    );
    let view = RequestView::from_http_request(&signed.request, "");
    assert_eq!(
        parse_auth(&view).unwrap().security_token.as_deref(),
        Some(TOKEN)
    );

    let mut tampered = signed;
    *tampered.request.body_mut() = b"Action=GetCallerIdentity&Version=2011-06-16".to_vec();
    assert!(matches!(
        server_verify(&tampered, &["sts"], PathMode::Normalized),
        Err(SigV4Error::SignatureMismatch { .. })
    ));
}

#[test]
fn iam_with_unsigned_session_token() {
    let signed = sdk_sign(&Spec {
        headers: &[FORM],
        body: b"Action=ListRoles&Version=2010-05-08&PathPrefix=%2Fapp%2F",
        service: "iam",
        token: Some(TOKEN),
        token_mode: SessionTokenMode::Exclude,
        ..Spec::default()
    });
    let view = RequestView::from_http_request(&signed.request, "");
    let auth = parse_auth(&view).unwrap();
    assert_eq!(auth.security_token.as_deref(), Some(TOKEN));
    assert!(
        !auth
            .signed_headers
            .iter()
            .any(|h| h == "x-amz-security-token")
    );
    assert_eq!(
        server_verify(&signed, &["iam"], PathMode::Normalized),
        Ok(())
    );
}

#[test]
fn eks_rest_json_get_with_query() {
    let signed = sdk_sign(&Spec {
        method: "GET",
        uri: "http://127.0.0.1:8080/clusters/c1/pod-identity-associations?namespace=default&maxResults=5&nextToken=a%2Bb%3D%3D",
        service: "eks",
        ..Spec::default()
    });
    assert_eq!(
        server_verify(&signed, &["eks"], PathMode::Normalized),
        Ok(())
    );
    assert_eq!(
        server_verify(&signed, &["eks-auth"], PathMode::Normalized),
        Err(SigV4Error::WrongService {
            service: "eks".into()
        })
    );
}

#[test]
fn encoded_path_and_query_are_double_encoded_for_non_s3() {
    let signed = sdk_sign(&Spec {
        uri: "http://localhost/clusters/my%20cluster/a%2Fb/./c//d?a=x%2By&b=%E1%88%B4&c=&d=sp%20ace&e=~-._",
        headers: &[("content-type", "application/json")],
        body: br#"{"token":"a.b.c"}"#,
        service: "eks-auth",
        ..Spec::default()
    });
    assert_eq!(
        server_verify(&signed, &["eks-auth"], PathMode::Normalized),
        Ok(())
    );
    assert!(matches!(
        server_verify(&signed, &["eks-auth"], PathMode::S3),
        Err(SigV4Error::SignatureMismatch { .. })
    ));
}

#[test]
fn presigned_get_caller_identity_like_aws_iam_authenticator() {
    let signed = sdk_sign(&Spec {
        method: "GET",
        uri: "https://sts.us-west-2.amazonaws.com/?Action=GetCallerIdentity&Version=2011-06-15",
        headers: &[("x-k8s-aws-id", "my-cluster")],
        token: Some(TOKEN),
        presign: Some(60),
        ..Spec::default()
    });
    let view = RequestView::from_http_request(&signed.request, "");
    let auth = parse_auth(&view).unwrap();
    assert_eq!(
        auth.location,
        AuthLocation::Query {
            expires_seconds: 60
        }
    );
    assert_eq!(auth.signed_headers, vec!["host", "x-k8s-aws-id"]);
    assert_eq!(auth.security_token.as_deref(), Some(TOKEN));
    assert_eq!(
        server_verify(&signed, &["sts"], PathMode::Normalized),
        Ok(())
    );

    let mut other_cluster = signed;
    other_cluster
        .request
        .headers_mut()
        .insert("x-k8s-aws-id", http::HeaderValue::from_static("other"));
    assert!(matches!(
        server_verify(&other_cluster, &["sts"], PathMode::Normalized),
        Err(SigV4Error::SignatureMismatch { .. })
    ));
}

#[test]
fn s3_presigned_get_with_reserved_characters_in_the_key() {
    let signed = sdk_sign(&Spec {
        method: "GET",
        uri: "http://127.0.0.1:9000/bucket/a%20b/c%2Bd%281%29.txt",
        service: "s3",
        s3: true,
        presign: Some(900),
        ..Spec::default()
    });
    assert_eq!(server_verify(&signed, &["s3"], PathMode::S3), Ok(()));
}

#[test]
fn s3_header_signed_put_keeps_dot_and_empty_segments() {
    let signed = sdk_sign(&Spec {
        method: "PUT",
        uri: "http://127.0.0.1:9000/bucket//double//slash/./key",
        body: b"object body",
        service: "s3",
        s3: true,
        token: Some(TOKEN),
        ..Spec::default()
    });
    assert_eq!(server_verify(&signed, &["s3"], PathMode::S3), Ok(()));
    assert!(matches!(
        server_verify(&signed, &["s3"], PathMode::Normalized),
        Err(SigV4Error::SignatureMismatch { .. })
    ));
}
