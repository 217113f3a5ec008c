//! Arbitrary bytes as an object key (percent-encoded into the path) and as a raw request path.
//! A key is either refused with a client error or round-trips to exactly itself: the object
//! written is the object read back and the one listed under its own prefix, never another.
#![no_main]

mod endpoint;

use endpoint::{ENDPOINT, assert_not_a_server_error};
use http::StatusCode;
use libfuzzer_sys::fuzz_target;
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    if mode % 2 == 0 {
        // Raw path tricks: whatever the bytes are, as the request target.
        let Ok(path) = std::str::from_utf8(rest) else {
            return;
        };
        for method in ["GET", "HEAD", "PUT", "DELETE"] {
            if let Some((status, body)) = ENDPOINT.try_call(method, &format!("/fuzz/{path}"), rest.to_vec()) {
                assert_not_a_server_error(status, method, &body);
            }
        }
        return;
    }
    // The empty key is the bucket itself.
    let Ok(key) = std::str::from_utf8(rest).map(str::to_owned) else {
        return;
    };
    if key.is_empty() {
        return;
    }
    let key = key.as_str();
    let encoded: String = key
        .split('/')
        .map(|segment| utf8_percent_encode(segment, NON_ALPHANUMERIC).to_string())
        .collect::<Vec<_>>()
        .join("/");
    let path = format!("/fuzz/{encoded}");
    let (status, body) = ENDPOINT.call("PUT", &path, rest.to_vec());
    assert_not_a_server_error(status, "PUT", &body);
    if status != StatusCode::OK {
        return;
    }
    let (status, body) = ENDPOINT.call("GET", &path, Vec::new());
    assert_eq!(status, StatusCode::OK, "{key:?} was written but is not readable");
    assert_eq!(body, rest, "{key:?} read back other bytes");
    let prefix = utf8_percent_encode(key, NON_ALPHANUMERIC);
    let (status, body) = ENDPOINT.call("GET", &format!("/fuzz?list-type=2&encoding-type=url&max-keys=1&prefix={prefix}"), Vec::new());
    assert_eq!(status, StatusCode::OK);
    let listing = String::from_utf8_lossy(&body);
    let first = listing
        .split("<Key>")
        .nth(1)
        .and_then(|rest| rest.split("</Key>").next())
        .expect("the key is listed under its own prefix");
    let first = percent_encoding::percent_decode_str(first).decode_utf8_lossy();
    assert_eq!(first, key, "listing under {key:?} starts elsewhere");
    let (status, body) = ENDPOINT.call("DELETE", &path, Vec::new());
    assert_not_a_server_error(status, "DELETE", &body);
});
