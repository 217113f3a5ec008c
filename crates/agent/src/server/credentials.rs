//! `/v1/credentials`: validates the pod's request and answers with container credentials.

use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::Response;
use axum::routing::any;
use http::header::{AUTHORIZATION, CONTENT_TYPE, HOST};
use http::{HeaderValue, StatusCode};
use serde::Serialize;

use super::host::check_host;
use super::respond::{not_found, text_error};
use crate::cache::CredentialCache;
use crate::clock::Clock;
use crate::eksauth::PodCredentials;
use crate::jwt::check_token;
use crate::metrics::AgentMetrics;
use crate::token_bucket::TokenBucket;

/// Request rate limit of the credentials route (reference: 1000 per second, burst 500).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateLimit {
    /// Sustained requests per second.
    pub per_second: f64,
    /// Bucket size.
    pub burst: u32,
}

impl Default for RateLimit {
    fn default() -> Self {
        Self {
            per_second: 1000.0,
            burst: 500,
        }
    }
}

/// The credentials route of one bind host (each server gets its own rate limiter).
#[derive(Clone)]
pub struct CredentialsEndpoint {
    inner: Arc<Inner>,
}

struct Inner {
    cache: Arc<CredentialCache>,
    allowed_hosts: Vec<IpAddr>,
    limiter: Mutex<TokenBucket>,
    clock: Arc<dyn Clock>,
    metrics: AgentMetrics,
}

/// The container-credentials response (`pkg/credentials/model.go`), empty fields omitted.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct ContainerCredentials<'a> {
    #[serde(skip_serializing_if = "str::is_empty")]
    access_key_id: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    secret_access_key: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    token: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    account_id: Option<&'a str>,
    /// RFC 3339 in UTC with as many fraction digits as needed (Go `RFC3339Nano`).
    expiration: String,
}

impl<'a> From<&'a PodCredentials> for ContainerCredentials<'a> {
    fn from(credentials: &'a PodCredentials) -> Self {
        Self {
            access_key_id: &credentials.access_key_id,
            secret_access_key: &credentials.secret_access_key,
            token: &credentials.session_token,
            account_id: credentials.account_id(),
            expiration: credentials.expiration.to_string(),
        }
    }
}

impl CredentialsEndpoint {
    /// An endpoint answering for `allowed_hosts` (the bind addresses), served from `cache`.
    pub fn new(
        cache: Arc<CredentialCache>,
        allowed_hosts: Vec<IpAddr>,
        rate_limit: RateLimit,
        clock: Arc<dyn Clock>,
        metrics: AgentMetrics,
    ) -> Self {
        let limiter = TokenBucket::new(rate_limit.per_second, rate_limit.burst, clock.now());
        Self {
            inner: Arc::new(Inner {
                cache,
                allowed_hosts,
                limiter: Mutex::new(limiter),
                clock,
                metrics,
            }),
        }
    }

    /// `/v1/credentials` for any method; every other path is 404.
    pub fn router(self) -> Router {
        Router::new()
            .route("/v1/credentials", any(handle))
            .fallback(not_found)
            .with_state(self)
    }

    fn allow_request(&self) -> bool {
        let now = self.inner.clock.now();
        self.inner
            .limiter
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .try_take(now)
    }

    /// Validation then the cache; errors carry the status and the reference's text.
    async fn credentials(
        &self,
        host: &str,
        token: &str,
    ) -> Result<Arc<PodCredentials>, (StatusCode, String)> {
        check_host(host, &self.inner.allowed_hosts)
            .map_err(|message| (StatusCode::FORBIDDEN, message))?;
        check_token(token, self.inner.clock.now())
            .map_err(|error| (StatusCode::BAD_REQUEST, error.to_string()))?;
        self.inner.cache.get(token).await.map_err(|error| {
            tracing::warn!(%error, "error fetching credentials");
            let status =
                StatusCode::from_u16(error.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            (status, error.to_string())
        })
    }
}

async fn handle(State(endpoint): State<CredentialsEndpoint>, request: Request) -> Response {
    if !endpoint.allow_request() {
        return text_error(StatusCode::TOO_MANY_REQUESTS, "Too Many Requests");
    }
    let host = request
        .headers()
        .get(HOST)
        .map(|value| String::from_utf8_lossy(value.as_bytes()).into_owned())
        .or_else(|| request.uri().authority().map(|a| a.as_str().to_owned()))
        .unwrap_or_default();
    let token = request
        .headers()
        .get(AUTHORIZATION)
        .map(|value| String::from_utf8_lossy(value.as_bytes()).into_owned())
        .unwrap_or_default();
    let response = match endpoint.credentials(&host, &token).await {
        Ok(credentials) => json_response(&credentials),
        Err((status, message)) => text_error(status, &message),
    };
    endpoint
        .inner
        .metrics
        .http_response(response.status().as_u16());
    response
}

fn json_response(credentials: &PodCredentials) -> Response {
    match serde_json::to_vec(&ContainerCredentials::from(credentials)) {
        Ok(body) => {
            let mut response = Response::new(Body::from(body));
            response
                .headers_mut()
                .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
            response
        }
        Err(_) => text_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Unable to serialize credentials",
        ),
    }
}
