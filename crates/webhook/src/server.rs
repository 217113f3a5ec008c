//! HTTP surface: `/mutate` and `/healthz` on the webhook port, `/metrics` on the metrics port.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;

use crate::resolver::IdentityResolver;
use crate::review::Webhook;

/// Largest AdmissionReview accepted: two Pods of the API server's 3 MiB object limit, plus room.
pub const MAX_REVIEW_BYTES: usize = 8 * 1024 * 1024;

const OPENMETRICS_CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    verb: String,
    path: String,
    code: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct MethodLabels {
    method: &'static str,
}

/// The reference's webhook metrics. prometheus-client exposes counters with a `_total` suffix.
#[derive(Clone, Debug, Default)]
pub struct WebhookMetrics {
    requests: Family<RequestLabels, Counter>,
    pod_count: Family<MethodLabels, Counter>,
}

impl WebhookMetrics {
    /// Creates the metrics and registers them in `registry`.
    pub fn register(registry: &mut Registry) -> Self {
        let metrics = Self::default();
        registry.register(
            "http_request_count",
            "Counter of requests broken out for each verb, path, and response code.",
            metrics.requests.clone(),
        );
        registry.register(
            "pod_identity_webhook_pod_count",
            "Counter of pods mutated, broken out by injection method.",
            metrics.pod_count.clone(),
        );
        metrics
    }
}

struct AppState<R> {
    webhook: Arc<Webhook>,
    resolver: Arc<R>,
    metrics: WebhookMetrics,
}

/// Router with `POST /mutate` and `/healthz` ("ok"), instrumented with `http_request_count`.
pub fn webhook_router<R>(webhook: Arc<Webhook>, resolver: Arc<R>, metrics: WebhookMetrics) -> Router
where
    R: IdentityResolver + Send + Sync + 'static,
{
    let state = Arc::new(AppState {
        webhook,
        resolver,
        metrics: metrics.clone(),
    });
    Router::new()
        .route("/mutate", post(mutate::<R>))
        .route("/healthz", get(|| async { "ok" }))
        .route_layer(middleware::from_fn_with_state(metrics, count_requests))
        .layer(DefaultBodyLimit::max(MAX_REVIEW_BYTES))
        .with_state(state)
}

/// Router serving `GET /metrics` in the OpenMetrics text format.
pub fn metrics_router(registry: Arc<Registry>) -> Router {
    Router::new().route(
        "/metrics",
        get(move || async move {
            let mut text = String::new();
            match prometheus_client::encoding::text::encode(&mut text, &registry) {
                Ok(()) => {
                    ([(header::CONTENT_TYPE, OPENMETRICS_CONTENT_TYPE)], text).into_response()
                }
                Err(error) => {
                    tracing::error!(%error, "encoding metrics");
                    StatusCode::INTERNAL_SERVER_ERROR.into_response()
                }
            }
        }),
    )
}

async fn mutate<R: IdentityResolver + Send + Sync + 'static>(
    State(state): State<Arc<AppState<R>>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    let outcome = state
        .webhook
        .handle(content_type, &body, state.resolver.as_ref());
    if let Some(method) = outcome.method {
        state
            .metrics
            .pod_count
            .get_or_create(&MethodLabels {
                method: method.metric_label(),
            })
            .inc();
    }
    let status = StatusCode::from_u16(outcome.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = (status, outcome.body).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(outcome.content_type),
    );
    if status == StatusCode::UNSUPPORTED_MEDIA_TYPE {
        // Go's http.Error sets this on its plain-text errors.
        response.headers_mut().insert(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        );
    }
    response
}

async fn count_requests(
    State(metrics): State<WebhookMetrics>,
    request: Request,
    next: Next,
) -> Response {
    let verb = request.method().as_str().to_owned();
    // route_layer only runs for matched routes, so the label set stays bounded.
    let path = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_default();
    let response = next.run(request).await;
    let code = response.status().as_u16().to_string();
    metrics
        .requests
        .get_or_create(&RequestLabels { verb, path, code })
        .inc();
    response
}
