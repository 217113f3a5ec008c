//! One in-process S3 endpoint per fuzzing process, without authorization (the targets fuzz what
//! lies behind it: request paths, keys, XML bodies), and a way to call it.

use std::sync::{Arc, LazyLock};

use axum::body::Body;
use http::{Request, StatusCode};
use http_body_util::BodyExt as _;
use podpass_s3::{S3Front, S3Options, S3Server};
use tower::ServiceExt as _;

pub struct Endpoint {
    pub runtime: tokio::runtime::Runtime,
    front: S3Front,
    _dir: tempfile::TempDir,
}

pub static ENDPOINT: LazyLock<Endpoint> = LazyLock::new(|| {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let dir = tempfile::tempdir().expect("temporary directory");
    let front = runtime.block_on(async {
        let store = podpass_store::Store::open_sqlite_file(&dir.path().join("podpass.db"))
            .await
            .expect("store");
        let keys = Arc::new(
            podpass_control::sealing::KeyRing::load(store.clone(), podpass_control::now())
                .await
                .expect("key ring"),
        );
        let options = S3Options {
            authorize: false,
            audit_allowed: false,
            ..S3Options::default()
        };
        let server = S3Server::new(store, keys, "000000000000", "us-east-1", dir.path(), options)
            .await
            .expect("S3 endpoint");
        server.service()
    });
    let endpoint = Endpoint {
        runtime,
        front,
        _dir: dir,
    };
    assert_eq!(endpoint.call("PUT", "/fuzz", Vec::new()).0, StatusCode::OK);
    endpoint
});

impl Endpoint {
    /// Sends one request; `None` when `uri` is not a request target at all.
    pub fn try_call(&self, method: &str, uri: &str, body: Vec<u8>) -> Option<(StatusCode, Vec<u8>)> {
        let request = Request::builder()
            .method(method)
            .uri(uri)
            .header("host", "127.0.0.1")
            .header("content-length", body.len())
            .body(Body::from(body))
            .ok()?;
        Some(self.runtime.block_on(async {
            let response = self.front.clone().oneshot(request).await.expect("infallible");
            let status = response.status();
            let body = response.into_body().collect().await.expect("body").to_bytes();
            (status, body.to_vec())
        }))
    }

    pub fn call(&self, method: &str, uri: &str, body: Vec<u8>) -> (StatusCode, Vec<u8>) {
        self.try_call(method, uri, body).expect("a valid request")
    }
}

/// No input may make podpass answer with its own failure.
pub fn assert_not_a_server_error(status: StatusCode, what: &str, body: &[u8]) {
    assert!(
        !status.is_server_error(),
        "{what} answered {status}: {}",
        String::from_utf8_lossy(body)
    );
}
