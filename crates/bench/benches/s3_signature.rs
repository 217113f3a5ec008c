//! What checking the signature of a presigned S3 GET costs with s3s's verifier, which the S3
//! endpoint uses, and with podpass's own (`podpass-sigv4`, which STS, IAM and EKS use), on
//! s3s's service over an object held in memory, on one thread, so that no I/O or scheduling
//! hides the difference:
//!
//! - unsigned: s3s serves the same URL without its signature and with no verifier, the floor
//!   both cases share (s3s still parses the other presigned parameters);
//! - s3s: s3s verifies the presigned URL (with a one-key `SimpleAuth`) and serves it;
//! - podpass: `podpass-sigv4` verifies it (parse, derive the key, verify), the signature is
//!   removed from the query, and s3s serves it unsigned: what verifying S3 requests in
//!   podpass's front layer instead of in s3s would cost (it costs more: docs/BENCHMARKS.md);
//! - the same with the signing key derived once, as a cache of derived keys would give it.
//!
//! `scripts/bench-s3` measures the whole endpoint over loopback HTTP.

use std::hint::black_box;

use bytes::Bytes;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use http::Request;
use podpass_sigv4::sign::{SigningParams, presign_query};
use podpass_sigv4::{
    PathMode, RequestView, SigningKey, UNSIGNED_PAYLOAD, VerifyOptions, check_request, parse_auth,
    verify_signature,
};
use s3s::auth::SimpleAuth;
use s3s::dto::{GetObjectInput, GetObjectOutput, StreamingBlob};
use s3s::service::{S3Service, S3ServiceBuilder};
use s3s::{Body, S3, S3Request, S3Response, S3Result};

const HOST: &str = "127.0.0.1:9000";
const KEY: &str = "AKIAPODPASSBENCH0001";
const SECRET: &str = "benchsecretbenchsecretbenchsecretbenchse";
const OBJECT: &str = "/bench/get-4k";

/// One 4 KiB object, whatever is asked for.
struct Memory(Bytes);

#[async_trait::async_trait]
impl S3 for Memory {
    async fn get_object(
        &self,
        _req: S3Request<GetObjectInput>,
    ) -> S3Result<S3Response<GetObjectOutput>> {
        let chunk = self.0.clone();
        let stream = futures::stream::once(async move { Ok::<_, std::io::Error>(chunk) });
        Ok(S3Response::new(GetObjectOutput {
            body: Some(StreamingBlob::wrap(stream)),
            content_length: Some(4096),
            ..GetObjectOutput::default()
        }))
    }
}

fn service(verifying: bool) -> S3Service {
    let mut builder = S3ServiceBuilder::new(Memory(Bytes::from(vec![7u8; 4096])));
    if verifying {
        builder.set_auth(SimpleAuth::from_single(KEY, SECRET));
    }
    builder.build()
}

fn request(path_and_query: &str) -> Request<Body> {
    Request::get(path_and_query)
        .header("host", HOST)
        .body(Body::empty())
        .expect("request")
}

/// A GET of the object presigned for an hour.
fn presigned() -> String {
    let view =
        RequestView::new("GET", OBJECT, "", UNSIGNED_PAYLOAD).with_header("host", HOST.as_bytes());
    let params = SigningParams {
        access_key_id: KEY,
        secret_access_key: SECRET,
        security_token: None,
        region: "us-east-1",
        service: "s3",
        time: jiff::Timestamp::now(),
        path_mode: PathMode::S3,
    };
    format!(
        "{OBJECT}?{}",
        presign_query(&view, &params, 3600).expect("presign")
    )
}

/// `path_and_query` without its `X-Amz-Signature` parameter.
fn without_signature(path_and_query: &str) -> String {
    let (path, query) = path_and_query
        .split_once('?')
        .unwrap_or((path_and_query, ""));
    let query: Vec<&str> = query
        .split('&')
        .filter(|pair| !pair.starts_with("X-Amz-Signature="))
        .collect();
    format!("{path}?{}", query.join("&"))
}

/// Verifies the request with `podpass-sigv4` (with `cached`, else a key derived for it), then
/// drops the signature so s3s sees it unsigned.
fn verified_by_podpass(mut request: Request<Body>, cached: Option<&SigningKey>) -> Request<Body> {
    let view = RequestView::from_http_request(&request, UNSIGNED_PAYLOAD);
    let auth = parse_auth(&view).expect("signed");
    check_request(&auth, &VerifyOptions::new(&["s3"], jiff::Timestamp::now())).expect("fresh");
    let derived;
    let key = match cached {
        Some(key) => key,
        None => {
            derived = SigningKey::derive(SECRET, &auth.scope);
            &derived
        }
    };
    verify_signature(&view, &auth, key, PathMode::S3).expect("verifies");
    let unsigned = without_signature(&request.uri().to_string());
    *request.uri_mut() = unsigned.parse().expect("uri");
    request
}

async fn serve(service: &S3Service, request: Request<Body>) -> usize {
    let response = service.call(request).await.expect("served");
    assert_eq!(response.status(), 200);
    let body = http_body_util::BodyExt::collect(response.into_body())
        .await
        .expect("body");
    body.to_bytes().len()
}

fn signature_check(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let verifying = service(true);
    let plain = service(false);
    let url = presigned();
    let unsigned = without_signature(&url);
    // Both verifiers must refuse what they are measured accepting, once tampered with.
    let at = url.find("X-Amz-Signature=").expect("presigned") + "X-Amz-Signature=".len();
    let flipped = if &url[at..=at] == "0" { "1" } else { "0" };
    let tampered = format!("{}{flipped}{}", &url[..at], &url[at + 1..]);
    let refused = runtime
        .block_on(verifying.call(request(&tampered)))
        .expect("answered");
    assert_eq!(refused.status(), 403, "s3s accepted a tampered signature");
    let tampered_request = request(&tampered);
    let view = RequestView::from_http_request(&tampered_request, UNSIGNED_PAYLOAD);
    let auth = parse_auth(&view).expect("signed");
    let key = SigningKey::derive(SECRET, &auth.scope);
    assert!(verify_signature(&view, &auth, &key, PathMode::S3).is_err());
    let mut group = c.benchmark_group("s3 presigned GET 4 KiB, in memory");
    group.throughput(Throughput::Elements(1));
    group.bench_function("unsigned: s3s alone, no verifier", |b| {
        b.iter(|| runtime.block_on(serve(&plain, request(black_box(&unsigned)))));
    });
    group.bench_function("s3s verifies", |b| {
        b.iter(|| runtime.block_on(serve(&verifying, request(black_box(&url)))));
    });
    group.bench_function("podpass verifies, s3s serves it unsigned", |b| {
        b.iter(|| {
            let request = verified_by_podpass(request(black_box(&url)), None);
            runtime.block_on(serve(&plain, request))
        });
    });
    let cached = SigningKey::derive(SECRET, &auth.scope);
    group.bench_function(
        "podpass verifies with a cached key, s3s serves it unsigned",
        |b| {
            b.iter(|| {
                let request = verified_by_podpass(request(black_box(&url)), Some(&cached));
                runtime.block_on(serve(&plain, request))
            });
        },
    );
    group.finish();
}

criterion_group!(benches, signature_check);
criterion_main!(benches);
