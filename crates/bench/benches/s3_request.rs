//! One S3 GET of a 4 KiB object through the whole endpoint (front layer, s3s, SigV4, the IAM
//! decision, the audit trail, s3s-fs), called in process so that no network or scheduler noise
//! hides the cost of authentication and authorization: the same request with both switched off
//! is measured in the same run. `scripts/bench-s3` measures the same over loopback HTTP.

use std::hint::black_box;
use std::sync::Arc;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use http::{Request, Response};
use podpass_control::sealing::KeyRing;
use podpass_s3::{S3Front, S3Options, S3Server};
use podpass_session::{Sealer, SessionIdentity, SessionKind, SessionTag};
use podpass_sigv4::sign::{SigningParams, presign_query};
use podpass_sigv4::{PathMode, RequestView};
use podpass_store::{AccessKey, Holder, Role, Store};
use tower::Service;

const ACCOUNT: &str = "111122223333";
const REGION: &str = "us-east-1";
const HOST: &str = "127.0.0.1";
const ADMIN_KEY: &str = "AKIAPODPASSBENCH0001";
const ADMIN_SECRET: &str = "benchsecretbenchsecretbenchsecretbenchse";
const ROLE: &str = "payments-app";
const READ_ONLY: &str = "arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess";
const OBJECT: &str = "/bench/get-4k";

/// The endpoint configurations compared, all over one data directory.
struct Endpoints {
    runtime: tokio::runtime::Runtime,
    _dir: tempfile::TempDir,
    off: S3Front,
    on: S3Front,
    refusals_audited: S3Front,
    keys: Arc<KeyRing>,
}

fn endpoints() -> Endpoints {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let dir = tempfile::tempdir().expect("temp dir");
    let (store, keys) = runtime.block_on(async {
        let store = Store::open_sqlite_file(&dir.path().join("podpass.db"))
            .await
            .expect("store");
        store
            .create_access_key(&AccessKey {
                access_key_id: ADMIN_KEY.to_owned(),
                secret_access_key: ADMIN_SECRET.to_owned(),
                principal_arn: format!("arn:aws:iam::{ACCOUNT}:root"),
                user_id: None,
                active: true,
                created_at: 0,
            })
            .await
            .expect("admin key");
        store
            .create_role(&Role {
                role_name: ROLE.to_owned(),
                role_id: "AROAEXAMPLEPAYMENTS01".to_owned(),
                path: "/".to_owned(),
                arn: format!("arn:aws:iam::{ACCOUNT}:role/{ROLE}"),
                trust_policy: r#"{"Version":"2012-10-17","Statement":[]}"#.to_owned(),
                description: None,
                max_session_duration: 3600,
                permissions_boundary: None,
                tags: vec![],
                created_at: 0,
            })
            .await
            .expect("role");
        store
            .attach_policy(Holder::Role(ROLE), READ_ONLY)
            .await
            .expect("policy");
        let keys = KeyRing::load(store.clone(), jiff::Timestamp::now().as_second())
            .await
            .expect("session keys");
        (store, Arc::new(keys))
    });
    let _guard = runtime.enter();
    let front = |authorize: bool, audit_allowed: bool| {
        runtime
            .block_on(S3Server::new(
                store.clone(),
                keys.clone(),
                ACCOUNT,
                REGION,
                dir.path(),
                S3Options {
                    authorize,
                    audit_allowed,
                    ..S3Options::default()
                },
            ))
            .expect("S3 endpoint")
            .service()
    };
    let endpoints = Endpoints {
        off: front(false, true),
        on: front(true, true),
        refusals_audited: front(true, false),
        keys,
        _dir: dir,
        runtime,
    };
    // The bucket and the object, unsigned through the endpoint without authorization.
    let off = endpoints.off.clone();
    let put = |path: &str, body: Vec<u8>| {
        let response = endpoints
            .runtime
            .block_on(call(&off, request("PUT", path, body)));
        assert!(response.0.status().is_success(), "PUT {path}");
    };
    put("/bench", Vec::new());
    put(OBJECT, vec![7; 4096]);
    endpoints
}

fn request(method: &str, path_and_query: &str, body: Vec<u8>) -> Request<axum::body::Body> {
    Request::builder()
        .method(method)
        .uri(path_and_query)
        .header("host", HOST)
        .body(axum::body::Body::from(body))
        .expect("request")
}

/// Calls the endpoint and reads the whole body; returns the response head and the body length.
async fn call(front: &S3Front, request: Request<axum::body::Body>) -> (Response<()>, usize) {
    let response = front.clone().call(request).await.expect("infallible");
    let (head, body) = response.into_parts();
    let bytes = axum::body::to_bytes(axum::body::Body::new(body), usize::MAX)
        .await
        .expect("body");
    (Response::from_parts(head, ()), bytes.len())
}

/// `GET OBJECT` presigned (query SigV4, one hour) with the given credentials.
fn presigned_get(access_key_id: &str, secret: &str, token: Option<&str>) -> String {
    let view = RequestView::new("GET", OBJECT, "", "UNSIGNED-PAYLOAD")
        .with_header("host", HOST.as_bytes());
    let params = SigningParams {
        access_key_id,
        secret_access_key: secret,
        security_token: token,
        region: REGION,
        service: "s3",
        time: jiff::Timestamp::now(),
        path_mode: PathMode::S3,
    };
    let query = presign_query(&view, &params, 3600).expect("presign");
    format!("{OBJECT}?{query}")
}

/// Session credentials of an IRSA pod with the read-only role.
fn session_get(sealer: &Sealer) -> String {
    let identity = SessionIdentity {
        kind: SessionKind::WebIdentity,
        account: ACCOUNT.to_owned(),
        role_arn: format!("arn:aws:iam::{ACCOUNT}:role/{ROLE}"),
        role_id: "AROAEXAMPLEPAYMENTS01".to_owned(),
        role_name: ROLE.to_owned(),
        role_path: "/".to_owned(),
        session_name: "botocore-session-1".to_owned(),
        source_identity: None,
        session_policy: None,
        session_policy_arns: vec![],
        tags: vec![SessionTag {
            key: "kubernetes-namespace".to_owned(),
            value: "payments".to_owned(),
        }],
        transitive_tag_keys: vec![],
        federated: None,
        chained: false,
    };
    let (credentials, _) = sealer
        .mint(identity, 3600, jiff::Timestamp::now().as_second())
        .expect("mint");
    presigned_get(
        &credentials.access_key_id,
        &credentials.secret_access_key,
        Some(&credentials.session_token),
    )
}

fn s3_get(c: &mut Criterion) {
    let endpoints = endpoints();
    let root_url = presigned_get(ADMIN_KEY, ADMIN_SECRET, None);
    let session_url = session_get(&endpoints.keys.sealer());
    let cases: [(&str, &S3Front, &str); 4] = [
        (
            "off: no authentication or authorization",
            &endpoints.off,
            OBJECT,
        ),
        ("on: account root", &endpoints.on, &root_url),
        ("on: IRSA session", &endpoints.on, &session_url),
        (
            "on: IRSA session, refusals audited only",
            &endpoints.refusals_audited,
            &session_url,
        ),
    ];
    let mut group = c.benchmark_group("s3 GET 4 KiB");
    group.throughput(Throughput::Elements(1));
    for (name, front, url) in cases {
        let (head, len) = endpoints
            .runtime
            .block_on(call(front, request("GET", url, Vec::new())));
        assert_eq!((head.status().as_u16(), len), (200, 4096), "{name}");
        group.bench_function(name, |b| {
            b.iter(|| {
                endpoints
                    .runtime
                    .block_on(call(front, request("GET", black_box(url), Vec::new())))
            });
        });
    }
    group.finish();
}

criterion_group!(benches, s3_get);
criterion_main!(benches);
