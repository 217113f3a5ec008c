//! SigV4 verification of SDK-signed requests (an STS POST and an S3 GET), with and without a
//! cached signing key, next to signing the same requests with the SDK's signer (`aws-sigv4`)
//! and with podpass's own signer. There is no standalone SigV4 *verifier* crate; the SDK signer
//! does the same canonicalisation, hashing and HMAC chain, so it is the nearest peer.

use std::hint::black_box;
use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{
    PayloadChecksumKind, PercentEncodingMode, SignableBody, SignableRequest, SigningInstructions,
    SigningSettings, UriPathNormalizationMode, sign,
};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use podpass_sigv4::sign::{HeaderSignature, SigningParams, sign_headers};
use podpass_sigv4::{
    PathMode, RequestView, SigV4Error, SigningKey, VerifyOptions, parse_auth, sha256_hex, verify,
};

const ACCESS_KEY: &str = "ASIAEXAMPLEBENCHKEY1";
const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
const REGION: &str = "us-west-2";
/// 2026-11-28T12:00:00Z, the signing time and the verifier's clock.
const SIGNING_SECONDS: u64 = 1_795_867_200;

/// A request as the SDK would send it, before signing.
struct Fixture {
    name: &'static str,
    method: &'static str,
    uri: &'static str,
    path: &'static str,
    host: &'static str,
    headers: &'static [(&'static str, &'static str)],
    body: &'static [u8],
    service: &'static str,
    path_mode: PathMode,
}

const STS_POST: Fixture = Fixture {
    name: "sts-post",
    method: "POST",
    uri: "http://127.0.0.1:8080/",
    path: "/",
    host: "127.0.0.1:8080",
    headers: &[(
        "content-type",
        "application/x-www-form-urlencoded; charset=utf-8",
    )],
    body: b"Action=AssumeRole&Version=2011-06-15&RoleArn=arn%3Aaws%3Aiam%3A%3A111122223333%3Arole%2Fpayments-app&RoleSessionName=bench&DurationSeconds=3600",
    service: "sts",
    path_mode: PathMode::Normalized,
};

const S3_GET: Fixture = Fixture {
    name: "s3-get",
    method: "GET",
    uri: "http://127.0.0.1:8080/bucket/payments-ns/invoices/2026/11.json",
    path: "/bucket/payments-ns/invoices/2026/11.json",
    host: "127.0.0.1:8080",
    headers: &[],
    body: b"",
    service: "s3",
    path_mode: PathMode::S3,
};

/// A pod's temporary credentials carry a session token of this order of size.
fn session_token() -> String {
    format!("podpass-session-v1.{}", "A".repeat(600))
}

fn signing_time() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(SIGNING_SECONDS)
}

fn now() -> jiff::Timestamp {
    jiff::Timestamp::from_second(SIGNING_SECONDS as i64).expect("valid timestamp")
}

/// The SDK's settings for the fixture's service (S3 signs its path as sent and its payload hash).
fn sdk_settings(fixture: &Fixture) -> SigningSettings {
    let mut settings = SigningSettings::default();
    if fixture.path_mode == PathMode::S3 {
        settings.percent_encoding_mode = PercentEncodingMode::Single;
        settings.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
        settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
    }
    settings
}

/// Signs the fixture with the SDK's signer (what the benchmark measures for the peer): the
/// headers to add and the signature.
fn sdk_sign(
    fixture: &Fixture,
    params: &aws_sigv4::http_request::SigningParams<'_>,
) -> (SigningInstructions, String) {
    let signable = SignableRequest::new(
        fixture.method,
        fixture.uri,
        fixture.headers.iter().copied(),
        SignableBody::Bytes(fixture.body),
    )
    .expect("signable request");
    sign(signable, params)
        .expect("SDK signs the fixture")
        .into_parts()
}

/// The fixture as the server receives it: signed by the SDK.
fn sdk_signed_request(
    fixture: &Fixture,
    params: &aws_sigv4::http_request::SigningParams<'_>,
) -> http::Request<Vec<u8>> {
    let (instructions, _) = sdk_sign(fixture, params);
    let mut builder = http::Request::builder()
        .method(fixture.method)
        .uri(fixture.uri);
    for (name, value) in fixture.headers {
        builder = builder.header(*name, *value);
    }
    let mut request = builder.body(fixture.body.to_vec()).expect("valid request");
    instructions.apply_to_request_http1x(&mut request);
    request
}

/// What a server does per request: payload hash, parse, (derive the key unless cached), check
/// scope and clock, recompute and compare the signature.
fn server_verify(
    request: &http::Request<Vec<u8>>,
    fixture: &Fixture,
    cached_key: Option<&SigningKey>,
) -> Result<(), SigV4Error> {
    let body_hash;
    let payload_hash = match request.headers().get("x-amz-content-sha256") {
        Some(value) => value.to_str().expect("ASCII payload hash"),
        None => {
            body_hash = sha256_hex(request.body());
            &body_hash
        }
    };
    let view = RequestView::from_http_request(request, payload_hash);
    let auth = parse_auth(&view)?;
    let derived;
    let key = match cached_key {
        Some(key) => key,
        None => {
            derived = SigningKey::derive(SECRET, &auth.scope);
            &derived
        }
    };
    let services = [fixture.service];
    let options = VerifyOptions::new(&services, now()).with_path_mode(fixture.path_mode);
    verify(&view, &auth, key, &options)
}

/// podpass's own signer on the same request, for a signer-to-signer comparison.
fn podpass_sign(fixture: &Fixture, token: &str) -> HeaderSignature {
    let payload_hash = sha256_hex(fixture.body);
    let mut view = RequestView::new(fixture.method, fixture.path, "", &payload_hash)
        .with_header("host", fixture.host.as_bytes());
    for (name, value) in fixture.headers {
        view.push_header(name, value.as_bytes());
    }
    if fixture.path_mode == PathMode::S3 {
        view.push_header("x-amz-content-sha256", payload_hash.as_bytes());
    }
    let params = SigningParams {
        access_key_id: ACCESS_KEY,
        secret_access_key: SECRET,
        security_token: Some(token),
        region: REGION,
        service: fixture.service,
        time: now(),
        path_mode: fixture.path_mode,
    };
    sign_headers(&view, &params).expect("podpass signs the fixture")
}

fn bench_fixture(c: &mut Criterion, fixture: &Fixture) {
    let token = session_token();
    let identity: Identity =
        Credentials::new(ACCESS_KEY, SECRET, Some(token.clone()), None, "bench").into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(REGION)
        .name(fixture.service)
        .time(signing_time())
        .settings(sdk_settings(fixture))
        .build()
        .expect("SDK signing params")
        .into();
    let request = sdk_signed_request(fixture, &params);
    let view_hash = sha256_hex(fixture.body);
    let auth = parse_auth(&RequestView::from_http_request(&request, &view_hash))
        .expect("SDK-signed request parses");
    let cached_key = SigningKey::derive(SECRET, &auth.scope);
    assert_eq!(server_verify(&request, fixture, None), Ok(()));
    assert_eq!(server_verify(&request, fixture, Some(&cached_key)), Ok(()));
    let wrong_key = SigningKey::derive("not-the-secret", &auth.scope);
    assert!(matches!(
        server_verify(&request, fixture, Some(&wrong_key)),
        Err(SigV4Error::SignatureMismatch { .. })
    ));

    let mut group = c.benchmark_group(format!("sigv4/{}", fixture.name));
    group.throughput(Throughput::Elements(1));
    group.bench_function("podpass-verify", |b| {
        b.iter(|| server_verify(black_box(&request), fixture, None))
    });
    group.bench_function("podpass-verify-cached-key", |b| {
        b.iter(|| server_verify(black_box(&request), fixture, Some(&cached_key)))
    });
    group.bench_function("aws-sigv4-sign", |b| {
        b.iter(|| sdk_sign(black_box(fixture), &params))
    });
    group.bench_function("podpass-sign", |b| {
        b.iter(|| podpass_sign(black_box(fixture), &token))
    });
    group.finish();
}

fn sigv4(c: &mut Criterion) {
    bench_fixture(c, &STS_POST);
    bench_fixture(c, &S3_GET);
}

criterion_group! {
    name = benches;
    config = podpass_bench::criterion();
    targets = sigv4
}
criterion_main!(benches);
