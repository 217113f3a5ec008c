//! `/healthz` and `/readyz` (both probe every credentials server, as the reference), and
//! `/metrics`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use http::header::CONTENT_TYPE;
use http::{HeaderValue, StatusCode};
use prometheus_client::encoding::prometheus_text;
use prometheus_client::registry::Registry;

use super::respond::not_found;

/// Reference probe deadline for all credentials servers together.
const PROBE_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Clone)]
struct Prober {
    targets: Arc<[SocketAddr]>,
    client: reqwest::Client,
    timeout: Duration,
}

impl Prober {
    fn new(targets: Vec<SocketAddr>, timeout: Duration) -> Result<Self, reqwest::Error> {
        Ok(Self {
            targets: targets.into(),
            // The targets are local addresses: never go through a proxy from the environment.
            client: reqwest::Client::builder().no_proxy().build()?,
            timeout,
        })
    }

    /// Every credentials server must answer 404 on `/`.
    async fn probe_all(&self) -> Result<(), String> {
        for target in self.targets.iter() {
            let response = self
                .client
                .get(format!("http://{target}/"))
                .send()
                .await
                .map_err(|e| format!("probe of {target} failed: {e}"))?;
            if response.status() != StatusCode::NOT_FOUND {
                return Err(format!(
                    "unexpected status code received from {target}, expected 404, got {}",
                    response.status().as_u16()
                ));
            }
        }
        Ok(())
    }
}

async fn probe(State(prober): State<Prober>) -> Response {
    match tokio::time::timeout(prober.timeout, prober.probe_all()).await {
        Ok(Ok(())) => StatusCode::OK.into_response(),
        Err(_elapsed) => StatusCode::REQUEST_TIMEOUT.into_response(),
        Ok(Err(error)) => {
            tracing::error!(%error, "probe failed");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                [(CONTENT_TYPE, "text/plain; charset=utf-8")],
                "Internal Server Error occurred",
            )
                .into_response()
        }
    }
}

fn probe_routes(targets: Vec<SocketAddr>, timeout: Duration) -> Result<Router, reqwest::Error> {
    Ok(Router::new()
        .route("/healthz", get(probe))
        .route("/readyz", get(probe))
        .fallback(not_found)
        .with_state(Prober::new(targets, timeout)?))
}

/// The probe server's router: `/healthz` and `/readyz` check that every address in `targets`
/// (the bound credentials servers) answers 404 on `/`: 200 if so, 408 after 10 s, else 500.
/// Fails only if the HTTP client for the probes cannot be built.
pub fn probe_router(targets: Vec<SocketAddr>) -> Result<Router, reqwest::Error> {
    probe_routes(targets, PROBE_TIMEOUT)
}

/// The metrics server's router: the probe routes plus `/metrics` (Prometheus text format).
pub fn metrics_router(
    targets: Vec<SocketAddr>,
    registry: Arc<Registry>,
) -> Result<Router, reqwest::Error> {
    let metrics_route = Router::new().route("/metrics", get(move || metrics(registry.clone())));
    Ok(probe_router(targets)?.merge(metrics_route))
}

async fn metrics(registry: Arc<Registry>) -> Response {
    let mut text = String::new();
    if prometheus_text::encode(&mut text, &registry).is_err() {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    }
    let mut response = Response::new(Body::from(text));
    response.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static(prometheus_text::CONTENT_TYPE),
    );
    response
}

#[cfg(test)]
pub(super) fn probe_router_with_timeout(
    targets: Vec<SocketAddr>,
    timeout: Duration,
) -> Result<Router, reqwest::Error> {
    probe_routes(targets, timeout)
}
