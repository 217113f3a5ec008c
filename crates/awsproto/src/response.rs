//! Framework-free rendered responses.

use serde::Serialize;

use crate::REQUEST_ID_HEADER;

/// An HTTP response ready to be converted into the server framework's type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderedResponse {
    /// HTTP status code.
    pub status: u16,
    /// Header names and values.
    pub headers: Vec<(&'static str, String)>,
    /// Body bytes.
    pub body: Vec<u8>,
}

impl RenderedResponse {
    pub(crate) fn new(status: u16, content_type: &str, request_id: &str, body: Vec<u8>) -> Self {
        Self {
            status,
            headers: vec![
                ("content-type", content_type.to_owned()),
                (REQUEST_ID_HEADER, request_id.to_owned()),
            ],
            body,
        }
    }

    /// Value of the first header called `name` (ASCII case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body as text, when it is UTF-8 (always, for bodies this crate renders).
    pub fn body_text(&self) -> Option<&str> {
        std::str::from_utf8(&self.body).ok()
    }
}

/// A fresh request id (UUID v4, lower-case hyphenated).
pub fn new_request_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// A rest-json success response: `value` as the JSON body with `x-amzn-RequestId`.
pub fn json_response<T: Serialize + ?Sized>(
    status: u16,
    request_id: &str,
    value: &T,
) -> Result<RenderedResponse, serde_json::Error> {
    let body = serde_json::to_vec(value)?;
    Ok(RenderedResponse::new(
        status,
        "application/json",
        request_id,
        body,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_are_distinct_v4_uuids() {
        let a = new_request_id();
        let b = new_request_id();
        assert_ne!(a, b);
        let parsed = uuid::Uuid::parse_str(&a).unwrap();
        assert_eq!(parsed.get_version_num(), 4);
        assert_eq!(a, a.to_lowercase());
        assert_eq!(a.len(), 36);
    }

    #[test]
    fn json_response_has_body_and_headers() {
        let response = json_response(
            200,
            "rid",
            &serde_json::json!({"associations": [], "nextToken": null}),
        )
        .unwrap();
        assert_eq!(response.status, 200);
        assert_eq!(response.header("Content-Type"), Some("application/json"));
        assert_eq!(response.header("x-amzn-requestid"), Some("rid"));
        assert_eq!(
            response.body_text(),
            Some(r#"{"associations":[],"nextToken":null}"#)
        );
    }
}
