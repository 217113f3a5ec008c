//! A borrowed view of the parts of an HTTP request that SigV4 signs.

use aws_lc_rs::digest;

/// Payload hash value for requests whose body is not signed (S3 style).
pub const UNSIGNED_PAYLOAD: &str = "UNSIGNED-PAYLOAD";
/// Hex SHA-256 of the empty body.
pub const EMPTY_PAYLOAD_SHA256: &str =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/// Hex (lowercase) SHA-256 of `data`, the payload hash of a request body.
pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(digest::digest(&digest::SHA256, data))
}

/// How the request path becomes the canonical URI.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PathMode {
    /// Every service but S3: remove `.`/`..` segments and empty segments, then percent-encode the
    /// path as sent once more (so `%20` on the wire is signed as `%2520`).
    #[default]
    Normalized,
    /// S3: the path is signed as the client encoded it: decoded once and re-encoded with the
    /// SigV4 rules, without any segment normalisation.
    S3,
}

/// The signed parts of an HTTP request, borrowed from the caller's request type.
///
/// Header names may use any case and may repeat; values are the raw bytes as received.
#[derive(Debug, Clone)]
pub struct RequestView<'a> {
    method: &'a str,
    path: &'a str,
    query: &'a str,
    headers: Vec<(&'a str, &'a [u8])>,
    payload_hash: &'a str,
}

impl<'a> RequestView<'a> {
    /// A view with no headers. `path` and `query` are raw (as sent, still percent-encoded);
    /// `payload_hash` is the hex SHA-256 of the body, the `x-amz-content-sha256` value, or
    /// [`UNSIGNED_PAYLOAD`].
    pub fn new(method: &'a str, path: &'a str, query: &'a str, payload_hash: &'a str) -> Self {
        Self {
            method,
            path,
            query,
            headers: Vec::new(),
            payload_hash,
        }
    }

    /// Builds a view from an `http` request head. Adds a `host` header from the URI authority
    /// when the request has none (HTTP/2 `:authority`).
    pub fn from_http_parts(parts: &'a http::request::Parts, payload_hash: &'a str) -> Self {
        Self::from_http_pieces(&parts.method, &parts.uri, &parts.headers, payload_hash)
    }

    /// Builds a view from an `http` request; see [`RequestView::from_http_parts`].
    pub fn from_http_request<B>(request: &'a http::Request<B>, payload_hash: &'a str) -> Self {
        Self::from_http_pieces(
            request.method(),
            request.uri(),
            request.headers(),
            payload_hash,
        )
    }

    fn from_http_pieces(
        method: &'a http::Method,
        uri: &'a http::Uri,
        headers: &'a http::HeaderMap,
        payload_hash: &'a str,
    ) -> Self {
        let mut view = Self::new(
            method.as_str(),
            uri.path(),
            uri.query().unwrap_or(""),
            payload_hash,
        );
        view.headers.extend(
            headers
                .iter()
                .map(|(name, value)| (name.as_str(), value.as_bytes())),
        );
        if let Some(authority) = uri.authority()
            && !headers.contains_key(http::header::HOST)
        {
            view.push_header("host", authority.as_str().as_bytes());
        }
        view
    }

    /// Adds a header (builder style).
    pub fn with_header(mut self, name: &'a str, value: &'a [u8]) -> Self {
        self.push_header(name, value);
        self
    }

    /// Adds a header.
    pub fn push_header(&mut self, name: &'a str, value: &'a [u8]) {
        self.headers.push((name, value));
    }

    /// Replaces the raw query string.
    pub fn set_query(&mut self, query: &'a str) {
        self.query = query;
    }

    /// HTTP method.
    pub fn method(&self) -> &'a str {
        self.method
    }

    /// Raw path as sent.
    pub fn path(&self) -> &'a str {
        self.path
    }

    /// Raw query string (without `?`).
    pub fn query(&self) -> &'a str {
        self.query
    }

    /// Payload hash supplied by the caller.
    pub fn payload_hash(&self) -> &'a str {
        self.payload_hash
    }

    /// All headers in arrival order.
    pub fn headers(&self) -> &[(&'a str, &'a [u8])] {
        &self.headers
    }

    /// Values of every header called `name` (ASCII case-insensitive), in arrival order.
    pub fn header_values<'s>(&'s self, name: &'s str) -> impl Iterator<Item = &'a [u8]> + 's {
        self.headers
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| *v)
    }

    /// First value of the header called `name`.
    pub fn header(&self, name: &str) -> Option<&'a [u8]> {
        self.header_values(name).next()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_of_empty_body_matches_constant() {
        assert_eq!(sha256_hex(b""), EMPTY_PAYLOAD_SHA256);
    }

    #[test]
    fn header_lookup_is_case_insensitive_and_keeps_order() {
        let view = RequestView::new("GET", "/", "", EMPTY_PAYLOAD_SHA256)
            .with_header("My-Header", b"a")
            .with_header("other", b"x")
            .with_header("my-header", b"b");
        let values: Vec<&[u8]> = view.header_values("MY-HEADER").collect();
        assert_eq!(values, vec![&b"a"[..], &b"b"[..]]);
        assert_eq!(view.header("missing"), None);
    }

    #[test]
    fn from_http_adds_host_from_authority() {
        let request = http::Request::builder()
            .method("POST")
            .uri("https://sts.example.com:8443/a%20b?x=1")
            .header("X-Amz-Date", "20150830T123600Z")
            .body(())
            .unwrap();
        let view = RequestView::from_http_request(&request, UNSIGNED_PAYLOAD);
        assert_eq!(view.method(), "POST");
        assert_eq!(view.path(), "/a%20b");
        assert_eq!(view.query(), "x=1");
        assert_eq!(view.header("host"), Some(&b"sts.example.com:8443"[..]));
        assert_eq!(view.header("x-amz-date"), Some(&b"20150830T123600Z"[..]));
    }

    #[test]
    fn from_http_keeps_explicit_host() {
        let request = http::Request::builder()
            .uri("http://a.example/")
            .header("Host", "b.example")
            .body(())
            .unwrap();
        let (parts, ()) = request.into_parts();
        let view = RequestView::from_http_parts(&parts, UNSIGNED_PAYLOAD);
        let hosts: Vec<&[u8]> = view.header_values("host").collect();
        assert_eq!(hosts, vec![&b"b.example"[..]]);
    }
}
