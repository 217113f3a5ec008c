//! Response shapes shared by the routers.

use axum::body::Body;
use axum::response::Response;
use http::header::{CONTENT_TYPE, X_CONTENT_TYPE_OPTIONS};
use http::{HeaderValue, StatusCode};

/// Go's `http.Error`: plain text, the message plus a newline, `nosniff`.
pub(super) fn text_error(status: StatusCode, message: &str) -> Response {
    let mut response = Response::new(Body::from(format!("{message}\n")));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    response
}

/// Go's `ServeMux` answer for unregistered paths.
pub(super) async fn not_found() -> Response {
    text_error(StatusCode::NOT_FOUND, "404 page not found")
}
