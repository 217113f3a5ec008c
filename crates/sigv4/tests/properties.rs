//! Property tests: no panics on hostile input, and sign/verify round trips.

use podpass_sigv4::sign::{SigningParams, sign_headers};
use podpass_sigv4::{
    PathMode, RequestView, SigV4Error, SigningKey, VerifyOptions, canonical_request,
    parse_amz_date, parse_auth, verify,
};
use proptest::prelude::*;

const SECRET: &str = "secret";

fn any_text() -> impl Strategy<Value = String> {
    proptest::string::string_regex("(.|\n){0,80}").unwrap()
}

fn auth_like() -> impl Strategy<Value = String> {
    prop_oneof![
        any_text(),
        (any_text(), any_text(), any_text()).prop_map(|(c, h, s)| format!(
            "AWS4-HMAC-SHA256 Credential={c}, SignedHeaders={h}, Signature={s}"
        )),
    ]
}

fn query_like() -> impl Strategy<Value = String> {
    prop_oneof![
        any_text(),
        (any_text(), any_text()).prop_map(|(c, e)| format!(
            "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential={c}&X-Amz-Date=20150830T123600Z&X-Amz-Expires={e}&X-Amz-SignedHeaders=host&X-Amz-Signature=00"
        )),
    ]
}

proptest! {
    #[test]
    fn hostile_requests_never_panic(
        path in any_text(),
        query in query_like(),
        authorization in proptest::option::of(auth_like()),
        date in any_text(),
        header_value in proptest::collection::vec(any::<u8>(), 0..40),
    ) {
        let mut view = RequestView::new("GET", &path, &query, "hash")
            .with_header("host", &header_value)
            .with_header("x-amz-date", date.as_bytes());
        if let Some(authorization) = &authorization {
            view.push_header("authorization", authorization.as_bytes());
        }
        if let Ok(auth) = parse_auth(&view) {
            for mode in [PathMode::Normalized, PathMode::S3] {
                let _ = canonical_request(&view, &auth, mode);
                let key = SigningKey::derive(SECRET, &auth.scope);
                let options = VerifyOptions::new(&["service"], auth.request_time).with_path_mode(mode);
                let _ = verify(&view, &auth, &key, &options);
            }
        }
    }

    #[test]
    fn signed_requests_round_trip(
        segments in proptest::collection::vec("[a-zA-Z0-9 ._~%+=!*'()-]{0,8}", 0..5),
        params in proptest::collection::vec(("[a-zA-Z0-9._~-]{1,6}", "[a-zA-Z0-9 ._~%/+=-]{0,8}"), 0..5),
        s3 in any::<bool>(),
    ) {
        let path = format!("/{}", segments.join("/"));
        let query = params
            .iter()
            .map(|(k, v)| format!("{k}={}", v.replace(' ', "%20").replace('+', "%2B")))
            .collect::<Vec<_>>()
            .join("&");
        let mode = if s3 { PathMode::S3 } else { PathMode::Normalized };
        let time = parse_amz_date("20261128T120000Z").unwrap();
        let base = RequestView::new("GET", &path, &query, "UNSIGNED-PAYLOAD")
            .with_header("Host", b"example.com");
        let signed = sign_headers(&base, &SigningParams {
            access_key_id: "AKID",
            secret_access_key: SECRET,
            security_token: None,
            region: "us-east-1",
            service: "service",
            time,
            path_mode: mode,
        }).unwrap();
        let request = base
            .clone()
            .with_header("x-amz-date", signed.x_amz_date.as_bytes())
            .with_header("authorization", signed.authorization.as_bytes());
        let auth = parse_auth(&request).unwrap();
        let key = SigningKey::derive(SECRET, &auth.scope);
        let options = VerifyOptions::new(&["service"], time).with_path_mode(mode);
        prop_assert_eq!(verify(&request, &auth, &key, &options), Ok(()));

        let extended_query = if query.is_empty() { "zz=1".to_owned() } else { format!("{query}&zz=1") };
        let mut tampered = request.clone();
        tampered.set_query(&extended_query);
        let result = verify(&tampered, &auth, &key, &options);
        let mismatch = matches!(result, Err(SigV4Error::SignatureMismatch { .. }));
        prop_assert!(mismatch, "tampered query accepted: {:?}", result);
    }
}
