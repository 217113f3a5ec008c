//! Arbitrary bytes as the XML body of every operation that parses one: DeleteObjects,
//! CompleteMultipartUpload, PutBucketPolicy (JSON), object and bucket tagging. Whatever the
//! body, the answer is never a server error.
#![no_main]

mod endpoint;

use endpoint::{ENDPOINT, assert_not_a_server_error};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&operation, body)) = data.split_first() else {
        return;
    };
    let (method, uri) = match operation % 5 {
        0 => ("POST", "/fuzz?delete".to_owned()),
        1 => {
            let (_, created) = ENDPOINT.call("POST", "/fuzz/upload?uploads", Vec::new());
            let created = String::from_utf8_lossy(&created);
            let id = created
                .split("<UploadId>")
                .nth(1)
                .and_then(|rest| rest.split("</UploadId>").next())
                .unwrap_or("none")
                .to_owned();
            ("POST", format!("/fuzz/upload?uploadId={id}"))
        }
        2 => ("PUT", "/fuzz?policy".to_owned()),
        3 => ("PUT", "/fuzz/k?tagging".to_owned()),
        _ => ("PUT", "/fuzz?tagging".to_owned()),
    };
    let (status, response) = ENDPOINT.call(method, &uri, body.to_vec());
    assert_not_a_server_error(status, &uri, &response);
});
