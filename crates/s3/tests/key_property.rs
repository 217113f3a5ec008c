//! Property: through the whole S3 stack (s3s's path parsing, the front layer, the object
//! store), any key is either refused with a client error or round-trips to exactly itself:
//! its bytes read back, and it is the first key listed under its own prefix. Keys are drawn
//! from dots, slashes, percent signs, backslashes, NUL and other controls, spaces, non-ASCII
//! and long runs, and sent both percent-encoded and raw.

use std::sync::Arc;

use http::{Request, StatusCode};
use http_body_util::BodyExt as _;
use podpass_s3::{S3Front, S3Options, S3Server};
use proptest::prelude::*;
use tower::Service as _;

struct Endpoint {
    runtime: tokio::runtime::Runtime,
    front: S3Front,
    _dir: tempfile::TempDir,
}

impl Endpoint {
    fn start() -> Endpoint {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let front = runtime.block_on(async {
            let store = podpass_store::Store::open_sqlite_file(&dir.path().join("podpass.db"))
                .await
                .unwrap();
            let keys = Arc::new(
                podpass_control::sealing::KeyRing::load(store.clone(), podpass_control::now())
                    .await
                    .unwrap(),
            );
            let options = S3Options {
                authorize: false,
                ..S3Options::default()
            };
            S3Server::new(
                store,
                keys,
                "000000000000",
                "us-east-1",
                dir.path(),
                options,
            )
            .await
            .unwrap()
            .service()
        });
        let endpoint = Endpoint {
            runtime,
            front,
            _dir: dir,
        };
        assert_eq!(endpoint.call("PUT", "/keys", Vec::new()).0, StatusCode::OK);
        endpoint
    }

    /// One request; `None` when `uri` is no request target at all.
    fn try_call(&self, method: &str, uri: &str, body: Vec<u8>) -> Option<(StatusCode, Vec<u8>)> {
        let request = Request::builder()
            .method(method)
            .uri(uri)
            .header("host", "127.0.0.1")
            .header("content-length", body.len())
            .body(axum::body::Body::from(body))
            .ok()?;
        let mut front = self.front.clone();
        Some(self.runtime.block_on(async move {
            let response = front.call(request).await.unwrap();
            let status = response.status();
            let body = response.into_body().collect().await.unwrap().to_bytes();
            (status, body.to_vec())
        }))
    }

    fn call(&self, method: &str, uri: &str, body: Vec<u8>) -> (StatusCode, Vec<u8>) {
        self.try_call(method, uri, body).unwrap()
    }
}

/// Percent-encodes every byte but `/`, as SDKs encode keys into paths.
fn encode(key: &str) -> String {
    key.split('/')
        .map(|segment| {
            percent_encoding::utf8_percent_encode(segment, percent_encoding::NON_ALPHANUMERIC)
                .to_string()
        })
        .collect::<Vec<_>>()
        .join("/")
}

fn element<'a>(xml: &'a str, tag: &str) -> Option<&'a str> {
    xml.split(&format!("<{tag}>"))
        .nth(1)?
        .split(&format!("</{tag}>"))
        .next()
}

fn key_strategy() -> impl Strategy<Value = String> {
    let pieces = prop::sample::select(vec![
        ".",
        "..",
        "/",
        "//",
        "./",
        "../",
        "%",
        "%2e",
        "%2E%2e",
        "%2f",
        "%00",
        "\\",
        "\\..",
        "\0",
        "\t",
        "\n",
        " ",
        "+",
        "~",
        "?",
        "#",
        "&",
        "=",
        "a",
        "Z",
        "9",
        "é",
        "☃",
        "🔑",
        "\u{10FFFF}",
        ".bucket-x.metadata.json",
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    ]);
    prop_oneof![
        prop::collection::vec(pieces, 1..24).prop_map(|p| p.concat()),
        any::<String>(),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn a_key_is_refused_or_is_exactly_itself(key in key_strategy()) {
        thread_local! { static ENDPOINT: Endpoint = Endpoint::start(); }
        prop_assume!(!key.is_empty(), "the empty key is the bucket itself");
        ENDPOINT.with(|s3| {
            let path = format!("/keys/{}", encode(&key));
            let body = format!("body of {key:?}").into_bytes();
            let (status, answer) = s3.call("PUT", &path, body.clone());
            prop_assert!(!status.is_server_error(), "PUT {key:?}: {status} {}", String::from_utf8_lossy(&answer));
            if key.len() > 1024 {
                prop_assert!(status.is_client_error(), "PUT {key:?}: {status}");
                return Ok(());
            }
            prop_assert_eq!(status, StatusCode::OK, "PUT {:?}: {}", key, String::from_utf8_lossy(&answer));
            let (status, read) = s3.call("GET", &path, Vec::new());
            prop_assert_eq!(status, StatusCode::OK);
            prop_assert_eq!(&read, &body, "{:?} read back other bytes", key);
            let listing = format!(
                "/keys?list-type=2&encoding-type=url&max-keys=1&prefix={}",
                percent_encoding::utf8_percent_encode(&key, percent_encoding::NON_ALPHANUMERIC)
            );
            let (status, listed) = s3.call("GET", &listing, Vec::new());
            prop_assert_eq!(status, StatusCode::OK);
            let listed = String::from_utf8_lossy(&listed).into_owned();
            let first = element(&listed, "Key").map(|k| {
                percent_encoding::percent_decode_str(k).decode_utf8_lossy().into_owned()
            });
            prop_assert_eq!(first.as_deref(), Some(key.as_str()));
            // The same bytes sent raw in the path (when they form a request target at all, and
            // hold no query, fragment or escape) address the same key or are refused.
            let plain = !key.contains(['?', '#', '%']);
            if let Some((status, raw)) = plain.then(|| s3.try_call("GET", &format!("/keys/{key}"), Vec::new())).flatten() {
                prop_assert!(!status.is_server_error(), "raw GET {key:?}: {status}");
                if status == StatusCode::OK {
                    prop_assert_eq!(&raw, &body, "raw path {:?} reached another object", key);
                }
            }
            let (status, _) = s3.call("DELETE", &path, Vec::new());
            prop_assert_eq!(status, StatusCode::NO_CONTENT);
            Ok(())
        })?;
    }
}
