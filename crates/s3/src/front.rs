//! The layer in front of s3s: gives every request an id and its client address, opens the sealed
//! session token so s3s can verify the signature with the session's secret, and audits the
//! requests refused before authorization (bad signatures, unknown keys, bad tokens).

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};

use http::{HeaderMap, HeaderValue, Request, Response, StatusCode};
use podpass_control::sealing::KeyRing;
use podpass_session::{OpenError, SessionClaims};
use s3s::service::S3Service;
use s3s::{Body, S3Error, S3ErrorCode};
use std::future::Future;
use std::pin::Pin;

use crate::actions::{AuthQuery, MixedSignatures, Signature};
use crate::audit::{AuditDecision, AuditEvent, AuditLog};
use crate::keys::SessionKeys;
use crate::metrics::{S3Metrics, UNKNOWN_OPERATION};

/// Per-request facts the authorizer needs, carried in the request's extensions.
#[derive(Clone, Debug)]
pub(crate) struct RequestInfo {
    /// The id returned in `x-amz-request-id` and error bodies.
    pub request_id: String,
    /// The client's IP address (`aws:SourceIp`), empty when unknown.
    pub source_ip: String,
    /// Whether the request came over TLS (`aws:SecureTransport`).
    pub secure: bool,
    /// The session whose token came with this request, opened and bound to its access key.
    pub session: Option<Arc<SessionClaims>>,
    /// The access key id the request claims to be signed with.
    pub access_key_id: Option<String>,
    /// How the request is signed, read once by this layer for the `s3:authType` and
    /// `s3:signatureversion` keys of every decision on it.
    pub signature: Option<Signature>,
    /// What the authorizer learns of the request, for the layer to read back.
    pub trace: Arc<RequestTrace>,
}

/// Facts the authorizer records on a request while s3s handles it.
#[derive(Debug, Default)]
pub(crate) struct RequestTrace {
    /// Set once the authorizer has audited its decision on this request.
    pub audited: AtomicBool,
    /// The S3 operation s3s resolved, once it has.
    pub operation: OnceLock<&'static str>,
}

/// The tower service the lead serves: this layer around s3s's service.
#[derive(Clone)]
pub struct S3Front {
    pub(crate) inner: S3Service,
    pub(crate) keys: Arc<KeyRing>,
    pub(crate) sessions: SessionKeys,
    pub(crate) audit: AuditLog,
    pub(crate) authorize: bool,
    pub(crate) secure: bool,
    pub(crate) metrics: S3Metrics,
}

/// A request id in AWS's format: 16 upper-case hex digits.
fn new_request_id() -> String {
    // The UUID's first 16 hex digits (one of them its version, `4`), as the id always was.
    let (high, _) = uuid::Uuid::new_v4().as_u64_pair();
    format!("{high:016X}")
}

/// The access key id of a SigV4 or SigV2 `Authorization` header or presigned URL.
fn claimed_access_key_id(headers: &HeaderMap, query: &AuthQuery<'_>) -> Option<String> {
    if let Some(authorization) = headers
        .get(http::header::AUTHORIZATION)
        .and_then(|v| std::str::from_utf8(v.as_bytes()).ok())
    {
        if let Some((_, credential)) = authorization.split_once("Credential=") {
            return credential.split('/').next().map(str::to_owned);
        }
        // SigV2: `AWS AKID:signature`.
        let v2 = authorization.strip_prefix("AWS ")?;
        return v2.split_once(':').map(|(key, _)| key.trim().to_owned());
    }
    if let Some(credential) = query.credential() {
        return credential.split('/').next().map(str::to_owned);
    }
    query.access_key_id()
}

/// The session token of a request, from its header or, for presigned URLs (SigV4 or SigV2),
/// its query.
fn session_token(headers: &HeaderMap, query: &AuthQuery<'_>) -> Option<String> {
    headers
        .get("x-amz-security-token")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .or_else(|| query.security_token())
}

/// SigV2 presigned URLs carry the signed `x-amz-*` headers (the session token among them) as
/// query parameters; s3s only reads them from the headers, so put them back there.
fn promote_v2_query_headers(request: &mut Request<Body>, presigned_v2: bool) {
    let Some(query) = request.uri().query().filter(|_| presigned_v2) else {
        return;
    };
    let promoted: Vec<(http::HeaderName, HeaderValue)> = form_urlencoded::parse(query.as_bytes())
        .filter(|(name, _)| name.starts_with("x-amz-"))
        .filter_map(|(name, value)| {
            let name = http::HeaderName::from_bytes(name.as_bytes()).ok()?;
            let value = HeaderValue::from_str(&value).ok()?;
            Some((name, value))
        })
        .collect();
    for (name, value) in promoted {
        if !request.headers().contains_key(&name) {
            request.headers_mut().insert(name, value);
        }
    }
}

/// How far a signed request's time may be from the server's, as in AWS.
const MAX_SKEW_SECONDS: i64 = 15 * 60;
/// The longest a SigV4 presigned URL may be valid: seven days.
const MAX_PRESIGNED_EXPIRY: i64 = 604_800;

/// A request time in the forms SigV2 headers carry: an HTTP (RFC 2822) date, or SigV4's
/// basic ISO 8601 in `x-amz-date`.
fn parse_request_time(text: &str) -> Option<i64> {
    if let Ok(time) = jiff::fmt::rfc2822::parse(text) {
        return Some(time.timestamp().as_second());
    }
    jiff::civil::DateTime::strptime("%Y%m%dT%H%M%SZ", text)
        .ok()
        .and_then(|time| time.to_zoned(jiff::tz::TimeZone::UTC).ok())
        .map(|time| time.timestamp().as_second())
}

/// Refuses what s3s does not check of a request's time: a SigV2 header signature outside
/// the 15-minute window (s3s requires a date but never compares it), and a SigV4 presigned
/// URL valid for more than seven days. SigV4 headers and both presigned forms' expiry are
/// checked by s3s. `signature`: how s3s reads the request's signature.
fn check_request_time(
    signature: Option<Signature>,
    headers: &HeaderMap,
    query: &AuthQuery<'_>,
    now: i64,
) -> Result<(), S3Error> {
    let sigv2_header = Some(Signature {
        in_query: false,
        v4: false,
    });
    if signature == sigv2_header {
        // `x-amz-date` overrides `Date`, as in AWS's SigV2.
        let date = headers
            .get("x-amz-date")
            .or_else(|| headers.get(http::header::DATE))
            .and_then(|v| v.to_str().ok());
        let Some(time) = date.and_then(parse_request_time) else {
            return Err(S3Error::with_message(
                S3ErrorCode::AccessDenied,
                "AWS authentication requires a valid Date or x-amz-date header",
            ));
        };
        if (now - time).abs() > MAX_SKEW_SECONDS {
            return Err(S3Error::with_message(
                S3ErrorCode::RequestTimeTooSkewed,
                "The difference between the request time and the current time is too large.",
            ));
        }
    }
    if let Some(expires) = query.expires() {
        let invalid = |message: &'static str| {
            S3Error::with_message(S3ErrorCode::AuthorizationQueryParametersError, message)
        };
        let seconds: i64 = expires
            .parse()
            .map_err(|_| invalid("X-Amz-Expires should be a number"))?;
        if seconds < 0 {
            return Err(invalid("X-Amz-Expires must be non-negative"));
        }
        if seconds > MAX_PRESIGNED_EXPIRY {
            return Err(invalid(
                "X-Amz-Expires must be less than a week (in seconds) that is 604800",
            ));
        }
    }
    Ok(())
}

/// S3's answer to a request signed in more than one way.
fn mixed_signatures() -> S3Error {
    S3Error::with_message(
        S3ErrorCode::InvalidArgument,
        "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, Signature \
         query string parameter or the Authorization header should be specified",
    )
}

fn token_error(error: &OpenError) -> S3Error {
    match error {
        OpenError::Expired { .. } => {
            S3Error::with_message(S3ErrorCode::ExpiredToken, "The provided token has expired.")
        }
        _ => S3Error::with_message(
            S3ErrorCode::InvalidToken,
            "The provided token is malformed or otherwise invalid.",
        ),
    }
}

/// S3's XML error response carrying `request_id`.
pub(crate) fn error_response(mut error: S3Error, request_id: &str) -> Response<Body> {
    error.set_request_id(request_id);
    match error.to_http_response() {
        Ok(response) => response,
        Err(_) => {
            let mut response = Response::new(Body::empty());
            *response.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
            response
        }
    }
}

/// The text of the first `<tag>` element of an XML error body.
fn xml_element<'a>(body: &'a str, tag: &str) -> Option<&'a str> {
    let open = format!("<{tag}>");
    let start = body.find(&open)? + open.len();
    let end = body[start..].find(&format!("</{tag}>"))? + start;
    Some(&body[start..end])
}

impl S3Front {
    /// Opens the request's session token, if any. `Err`: the response refusing it.
    async fn open_session(
        &self,
        info: &mut RequestInfo,
        headers: &HeaderMap,
        query: &AuthQuery<'_>,
    ) -> Result<(), S3Error> {
        let Some(token) = session_token(headers, query) else {
            return Ok(());
        };
        let Some(access_key_id) = &info.access_key_id else {
            return Err(token_error(&OpenError::Malformed));
        };
        let claims = self
            .keys
            .open(&token, access_key_id, podpass_control::now())
            .await
            .map_err(|error| {
                tracing::info!(request_id = %info.request_id, %access_key_id, %error, "session token refused");
                token_error(&error)
            })?;
        let claims = Arc::new(claims);
        self.sessions.insert(claims.clone());
        info.session = Some(claims);
        Ok(())
    }

    /// What is checked before s3s verifies the signature: that there is at most one, the
    /// request's time, then its session token.
    async fn authenticate_early(
        &self,
        info: &mut RequestInfo,
        headers: &HeaderMap,
        query: &AuthQuery<'_>,
    ) -> Result<(), S3Error> {
        info.signature =
            Signature::of(query, headers).map_err(|MixedSignatures| mixed_signatures())?;
        check_request_time(info.signature, headers, query, podpass_control::now())?;
        self.open_session(info, headers, query).await
    }

    fn audit_refusal(&self, info: &RequestInfo, operation: &str, resource: &str, reason: String) {
        // The signature did not verify (or was never checked), so no identity is established,
        // even when a valid session token came along.
        let principal = match &info.access_key_id {
            Some(_) => "unauthenticated",
            None => "anonymous",
        };
        self.audit.record(AuditEvent {
            time: jiff::Timestamp::now().to_string(),
            source: "s3.amazonaws.com".to_owned(),
            operation: operation.to_owned(),
            principal: principal.to_owned(),
            access_key_id: info.access_key_id.clone(),
            source_ip: info.source_ip.clone(),
            action: String::new(),
            resource: resource.to_owned(),
            decision: AuditDecision::Deny,
            reason,
            request_id: info.request_id.clone(),
        });
    }

    async fn handle(self, request: Request<Body>) -> Response<Body> {
        let started = std::time::Instant::now();
        let trace = Arc::new(RequestTrace::default());
        let response = self.respond(request, trace.clone()).await;
        let operation = trace.operation.get().copied().unwrap_or(UNKNOWN_OPERATION);
        self.metrics.request(
            operation,
            response.status().as_u16(),
            started.elapsed().as_secs_f64(),
        );
        response
    }

    async fn respond(
        &self,
        mut request: Request<Body>,
        trace: Arc<RequestTrace>,
    ) -> Response<Body> {
        let source_ip = request
            .extensions()
            .get::<axum::extract::ConnectInfo<SocketAddr>>()
            .map(|info| info.0.ip().to_string())
            .unwrap_or_default();
        // A cheap copy (shared bytes) that the query's parameters borrow from while the
        // request's headers change.
        let uri = request.uri().clone();
        let query = AuthQuery::of(&uri);
        let mut info = RequestInfo {
            request_id: new_request_id(),
            source_ip,
            secure: self.secure,
            session: None,
            access_key_id: claimed_access_key_id(request.headers(), &query),
            signature: None,
            trace,
        };
        promote_v2_query_headers(&mut request, query.presigned_v2());
        let method = request.method().clone();
        let path = request.uri().path().to_owned();
        if self.authorize
            && let Err(error) = self
                .authenticate_early(&mut info, request.headers(), &query)
                .await
        {
            let reason = format!(
                "{}: {}",
                error.code().as_str(),
                error.message().unwrap_or("")
            );
            self.audit_refusal(&info, method.as_str(), &path, reason);
            return with_request_id(error_response(error, &info.request_id), &info.request_id);
        }
        // Shared, not copied, with each check of the authorizer.
        let info = Arc::new(info);
        request.extensions_mut().insert(info.clone());
        let response = match self.inner.call(request).await {
            Ok(response) => response,
            Err(error) => {
                tracing::error!(request_id = %info.request_id, ?error, "s3 service failed");
                error_response(S3Error::new(S3ErrorCode::InternalError), &info.request_id)
            }
        };
        let refused = response.status().is_client_error() || response.status().is_server_error();
        if self.authorize && refused && !info.trace.audited.load(Ordering::Acquire) {
            let body = response.body().bytes().unwrap_or_default();
            let body = String::from_utf8_lossy(&body);
            let status = response.status();
            let code = xml_element(&body, "Code").unwrap_or(status.as_str());
            let message = xml_element(&body, "Message").unwrap_or_default();
            self.audit_refusal(&info, method.as_str(), &path, format!("{code}: {message}"));
        }
        with_request_id(response, &info.request_id)
    }
}

/// Adds the request id to the response headers and, where s3s left it out, to the error body.
fn with_request_id(mut response: Response<Body>, request_id: &str) -> Response<Body> {
    if let Ok(value) = HeaderValue::from_str(request_id) {
        response.headers_mut().insert("x-amz-request-id", value);
    }
    let failed = response.status().is_client_error() || response.status().is_server_error();
    if !failed {
        return response;
    }
    let Some(body) = response.body().bytes() else {
        return response;
    };
    let Ok(text) = std::str::from_utf8(&body) else {
        return response;
    };
    if text.contains("<RequestId>") {
        return response;
    }
    if let Some(end) = text.rfind("</Error>") {
        let with_id = format!(
            "{}<RequestId>{request_id}</RequestId>{}",
            &text[..end],
            &text[end..]
        );
        response.headers_mut().remove(http::header::CONTENT_LENGTH);
        *response.body_mut() = Body::from(with_id);
    }
    response
}

impl tower::Service<Request<axum::body::Body>> for S3Front {
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<axum::body::Body>) -> Self::Future {
        let front = self.clone();
        let request = request.map(Body::http_body_unsync);
        Box::pin(async move { Ok(front.handle(request).await) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::Uri;

    #[test]
    fn finds_the_claimed_access_key_in_header_and_query() {
        let mut headers = HeaderMap::new();
        headers.insert(
            http::header::AUTHORIZATION,
            "AWS4-HMAC-SHA256 Credential=ASIAEXAMPLE/20261128/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=ab"
                .parse()
                .unwrap(),
        );
        let plain: Uri = "/b/k".parse().unwrap();
        assert_eq!(
            claimed_access_key_id(&headers, &AuthQuery::of(&plain)).as_deref(),
            Some("ASIAEXAMPLE")
        );
        let presigned: Uri = "/b/k?X-Amz-Credential=AKIAX%2F20261128%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Security-Token=t%2B1"
            .parse()
            .unwrap();
        assert_eq!(
            claimed_access_key_id(&HeaderMap::new(), &AuthQuery::of(&presigned)).as_deref(),
            Some("AKIAX")
        );
        assert_eq!(
            session_token(&HeaderMap::new(), &AuthQuery::of(&presigned)).as_deref(),
            Some("t+1")
        );
        assert_eq!(
            claimed_access_key_id(&HeaderMap::new(), &AuthQuery::of(&plain)),
            None
        );
        let v2: Uri = "/b/k?AWSAccessKeyId=ASIAV2&Signature=s&x-amz-security-token=tok&Expires=1"
            .parse()
            .unwrap();
        assert_eq!(
            claimed_access_key_id(&HeaderMap::new(), &AuthQuery::of(&v2)).as_deref(),
            Some("ASIAV2")
        );
        assert_eq!(
            session_token(&HeaderMap::new(), &AuthQuery::of(&v2)).as_deref(),
            Some("tok")
        );
        let mut v2_header = HeaderMap::new();
        v2_header.insert(
            http::header::AUTHORIZATION,
            "AWS AKIAV2:c2ln".parse().unwrap(),
        );
        assert_eq!(
            claimed_access_key_id(&v2_header, &AuthQuery::of(&plain)).as_deref(),
            Some("AKIAV2")
        );
    }

    #[test]
    fn request_ids_are_sixteen_upper_case_hex_digits() {
        let ids: Vec<String> = (0..64).map(|_| new_request_id()).collect();
        for id in &ids {
            assert_eq!(id.len(), 16, "{id}");
            assert!(
                id.bytes()
                    .all(|b| b.is_ascii_digit() || (b'A'..=b'F').contains(&b)),
                "{id}"
            );
        }
        assert!(ids[1..].iter().all(|id| *id != ids[0]));
    }

    #[test]
    fn token_errors_use_s3_codes() {
        let expired = token_error(&OpenError::Expired { expired_at: 1 });
        assert_eq!(expired.code(), &S3ErrorCode::ExpiredToken);
        assert_eq!(
            token_error(&OpenError::Forged).code(),
            &S3ErrorCode::InvalidToken
        );
        assert_eq!(
            token_error(&OpenError::KeyIdMismatch).code(),
            &S3ErrorCode::InvalidToken
        );
    }

    /// `check_request_time` as the layer calls it.
    fn check_time(headers: &HeaderMap, uri: &Uri, now: i64) -> Result<(), S3Error> {
        let query = AuthQuery::of(uri);
        let signature = Signature::of(&query, headers).expect("one signature");
        check_request_time(signature, headers, &query, now)
    }

    #[test]
    fn sigv2_header_signatures_are_held_to_fifteen_minutes() {
        let now = 1_796_000_000; // 2026-11-29
        let uri: Uri = "/b/k".parse().unwrap();
        let signed_at = |date: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(
                http::header::AUTHORIZATION,
                "AWS AKIAV2:c2ln".parse().unwrap(),
            );
            headers.insert(http::header::DATE, date.parse().unwrap());
            headers
        };
        let at = |seconds: i64| {
            jiff::fmt::rfc2822::to_string(
                &jiff::Timestamp::from_second(seconds)
                    .unwrap()
                    .to_zoned(jiff::tz::TimeZone::UTC),
            )
            .unwrap()
        };
        assert!(check_time(&signed_at(&at(now - 60)), &uri, now).is_ok());
        assert!(check_time(&signed_at(&at(now + 60)), &uri, now).is_ok());
        for stale in [at(now - 86_400), at(now - 901), at(now + 901)] {
            let error = check_time(&signed_at(&stale), &uri, now).unwrap_err();
            assert_eq!(error.code(), &S3ErrorCode::RequestTimeTooSkewed, "{stale}");
        }
        let error = check_time(&signed_at("garbage"), &uri, now).unwrap_err();
        assert_eq!(error.code(), &S3ErrorCode::AccessDenied);
        let mut no_date = signed_at("x");
        no_date.remove(http::header::DATE);
        assert!(check_time(&no_date, &uri, now).is_err());
        // x-amz-date wins over Date.
        let mut both = signed_at(&at(now - 86_400));
        both.insert("x-amz-date", at(now).parse().unwrap());
        assert!(check_time(&both, &uri, now).is_ok());
        // What s3s verifies as SigV2 is held to the window however the header is sent: beside
        // a value that is not UTF-8 (which s3s drops), or with UTF-8 beyond ASCII.
        let mut beside_binary = signed_at(&at(now - 86_400));
        beside_binary.remove(http::header::AUTHORIZATION);
        beside_binary.append(
            http::header::AUTHORIZATION,
            HeaderValue::from_bytes(b"\xff").unwrap(),
        );
        beside_binary.append(
            http::header::AUTHORIZATION,
            "AWS AKIAV2:c2ln".parse().unwrap(),
        );
        let mut non_ascii = signed_at(&at(now - 86_400));
        non_ascii.insert(
            http::header::AUTHORIZATION,
            HeaderValue::from_bytes("AWS AKIA\u{e9}:c2ln".as_bytes()).unwrap(),
        );
        for headers in [&beside_binary, &non_ascii] {
            let error = check_time(headers, &uri, now).unwrap_err();
            assert_eq!(error.code(), &S3ErrorCode::RequestTimeTooSkewed);
        }
        // `AWS key` without a signature is not SigV2 to s3s, which checks it as SigV4 (and
        // refuses it); its SigV2 date is not this check's.
        let mut not_v2 = signed_at(&at(now - 86_400));
        not_v2.insert(http::header::AUTHORIZATION, "AWS AKIAV2".parse().unwrap());
        assert!(check_time(&not_v2, &uri, now).is_ok());
    }

    #[test]
    fn presigned_urls_live_at_most_a_week() {
        let headers = HeaderMap::new();
        let url =
            |expires: &str| -> Uri { format!("/b/k?X-Amz-Expires={expires}").parse().unwrap() };
        assert!(check_time(&headers, &url("604800"), 0).is_ok());
        for bad in ["604801", "-1", "soon"] {
            let error = check_time(&headers, &url(bad), 0).unwrap_err();
            assert_eq!(
                error.code(),
                &S3ErrorCode::AuthorizationQueryParametersError,
                "{bad}"
            );
        }
    }

    #[test]
    fn extracts_error_elements() {
        let body = "<Error><Code>SignatureDoesNotMatch</Code><Message>m</Message></Error>";
        assert_eq!(xml_element(body, "Code"), Some("SignatureDoesNotMatch"));
        assert_eq!(xml_element(body, "Message"), Some("m"));
        assert_eq!(xml_element(body, "RequestId"), None);
    }

    #[test]
    fn error_bodies_get_the_request_id() {
        let mut response = Response::new(Body::from(
            "<Error><Code>SignatureDoesNotMatch</Code></Error>".to_owned(),
        ));
        *response.status_mut() = StatusCode::FORBIDDEN;
        let response = with_request_id(response, "ABCDEF0123456789");
        assert_eq!(response.headers()["x-amz-request-id"], "ABCDEF0123456789");
        assert_eq!(
            response.body().bytes().unwrap(),
            "<Error><Code>SignatureDoesNotMatch</Code><RequestId>ABCDEF0123456789</RequestId></Error>"
        );
    }

    #[test]
    fn request_ids_are_sixteen_upper_hex_digits() {
        let id = new_request_id();
        assert_eq!(id.len(), 16);
        assert!(
            id.bytes()
                .all(|b| b.is_ascii_digit() || (b'A'..=b'F').contains(&b))
        );
    }
}
