//! HTTP surface: `/mutate` and `/healthz` on the webhook port, `/metrics` on the metrics port.

use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use podpass_podmutation::{IdentityResolver, RandomJitter, WebhookConfig};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;

use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::review::Webhook;
use crate::stop::stopped;
use crate::tls::{ReloadingCertResolver, TlsError, TlsMinVersion};

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

struct AppState<R: ?Sized> {
    webhook: Arc<Webhook>,
    resolver: Arc<R>,
    metrics: WebhookMetrics,
}

/// Router with `POST /mutate` and `/healthz` ("ok"), instrumented with `http_request_count`.
pub fn webhook_router<R>(webhook: Arc<Webhook>, resolver: Arc<R>, metrics: WebhookMetrics) -> Router
where
    R: IdentityResolver + Send + Sync + ?Sized + 'static,
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

async fn mutate<R: IdentityResolver + Send + Sync + ?Sized + 'static>(
    State(state): State<Arc<AppState<R>>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    let outcome = state
        .webhook
        .handle_async(content_type, &body, state.resolver.as_ref())
        .await;
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

/// Everything [`serve`] needs besides the identity resolver.
#[derive(Debug)]
pub struct ServeConfig {
    /// Pod mutation settings.
    pub webhook: WebhookConfig,
    /// HTTPS address (`/mutate`, `/healthz`); port 0 picks a free port.
    pub https_addr: SocketAddr,
    /// Plain-HTTP metrics address (`/metrics`); port 0 picks a free port.
    pub metrics_addr: SocketAddr,
    /// PEM certificate chain file.
    pub tls_cert: PathBuf,
    /// PEM private key file.
    pub tls_key: PathBuf,
    /// Oldest TLS version accepted.
    pub tls_min_version: TlsMinVersion,
    /// TLS 1.2 cipher suites allowed (Go/IANA names); empty allows all rustls offers.
    pub tls_cipher_suites: Vec<String>,
    /// How often the certificate files are checked for changes.
    pub cert_poll_interval: Duration,
    /// Longest a TLS handshake may take.
    pub handshake_timeout: Duration,
    /// Longest in-flight requests may run after shutdown starts (the reference: 10 s).
    pub shutdown_grace: Duration,
    /// Metrics registry served on `/metrics`; the webhook's own metrics are added to it.
    pub registry: Registry,
}

impl ServeConfig {
    /// Settings with the reference's defaults around `webhook`, listening on all interfaces
    /// (IPv6 and IPv4; IPv4 only where IPv6 is unavailable).
    pub fn new(webhook: WebhookConfig, https_port: u16, metrics_port: u16) -> Self {
        Self {
            webhook,
            https_addr: SocketAddr::from((Ipv6Addr::UNSPECIFIED, https_port)),
            metrics_addr: SocketAddr::from((Ipv6Addr::UNSPECIFIED, metrics_port)),
            tls_cert: PathBuf::from(crate::args::DEFAULT_TLS_CERT),
            tls_key: PathBuf::from(crate::args::DEFAULT_TLS_KEY),
            tls_min_version: TlsMinVersion::default(),
            tls_cipher_suites: Vec::new(),
            cert_poll_interval: Duration::from_secs(5),
            handshake_timeout: Duration::from_secs(10),
            shutdown_grace: Duration::from_secs(10),
            registry: Registry::default(),
        }
    }
}

/// Errors starting the servers.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The certificate or key could not be loaded.
    #[error(transparent)]
    Tls(#[from] TlsError),
    /// A port could not be bound.
    #[error("listening on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Underlying I/O error.
        source: std::io::Error,
    },
}

/// The webhook with its ports bound and certificate loaded, ready to [`BoundServer::run`].
pub struct BoundServer {
    https: TcpListener,
    metrics: TcpListener,
    cert: Arc<ReloadingCertResolver>,
    tls: Arc<rustls::ServerConfig>,
    app: Router,
    metrics_app: Router,
    cert_poll_interval: Duration,
    listener: podpass_http::ServeOptions,
}

/// Loads the certificate, binds both ports and builds the routers.
pub async fn bind(
    config: ServeConfig,
    resolver: Arc<dyn IdentityResolver + Send + Sync>,
) -> Result<BoundServer, ServeError> {
    let cert = Arc::new(ReloadingCertResolver::load(
        &config.tls_cert,
        &config.tls_key,
    )?);
    let tls = cert
        .clone()
        .server_config(config.tls_min_version, &config.tls_cipher_suites)?;
    let mut registry = config.registry;
    let metrics = WebhookMetrics::register(&mut registry);
    let webhook = Arc::new(Webhook::new(config.webhook, Box::new(RandomJitter)));
    Ok(BoundServer {
        https: listen(config.https_addr).await?,
        metrics: listen(config.metrics_addr).await?,
        cert,
        tls,
        app: webhook_router(webhook, resolver, metrics),
        metrics_app: metrics_router(Arc::new(registry)),
        cert_poll_interval: config.cert_poll_interval,
        // podpass's hardened listener (idle timeout, connection cap); a TLS handshake must
        // complete within the header-read timeout.
        listener: podpass_http::ServeOptions {
            header_read_timeout: config.handshake_timeout,
            shutdown_timeout: config.shutdown_grace,
            ..podpass_http::ServeOptions::default()
        },
    })
}

async fn listen(addr: SocketAddr) -> Result<TcpListener, ServeError> {
    let error = match TcpListener::bind(addr).await {
        Ok(listener) => return Ok(listener),
        Err(source) => ServeError::Bind { addr, source },
    };
    if addr.ip() != IpAddr::V6(Ipv6Addr::UNSPECIFIED) {
        return Err(error);
    }
    // Like Go's ":port": dual-stack where the host has IPv6, IPv4 otherwise.
    let v4 = SocketAddr::from((Ipv4Addr::UNSPECIFIED, addr.port()));
    TcpListener::bind(v4)
        .await
        .map_err(|source| ServeError::Bind { addr: v4, source })
}

impl BoundServer {
    /// The bound HTTPS address.
    pub fn https_addr(&self) -> Option<SocketAddr> {
        self.https.local_addr().ok()
    }

    /// The bound metrics address.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics.local_addr().ok()
    }

    /// Serves until `shutdown` completes, then drains both servers (up to the grace period).
    pub async fn run(self, shutdown: impl Future<Output = ()> + Send) {
        let (stop, stop_rx) = watch::channel(false);
        let cert_watch = tokio::spawn(
            self.cert
                .clone()
                .watch(self.cert_poll_interval, stop_rx.clone()),
        );
        let until_stopped =
            |mut stop: watch::Receiver<bool>| async move { stopped(&mut stop).await };
        let metrics = tokio::spawn(podpass_http::serve(
            self.metrics,
            self.metrics_app,
            self.listener,
            until_stopped(stop_rx.clone()),
        ));
        let https = tokio::spawn(podpass_http::serve_tls(
            self.https,
            self.tls,
            self.app,
            self.listener,
            until_stopped(stop_rx.clone()),
        ));
        shutdown.await;
        tracing::info!("shutting down");
        stop.send_replace(true);
        let (https, metrics, cert_watch) = tokio::join!(https, metrics, cert_watch);
        let failure = |served: Result<std::io::Result<()>, tokio::task::JoinError>| match served {
            Ok(Ok(())) => None,
            Ok(Err(error)) => Some(error.to_string()),
            Err(error) => Some(error.to_string()),
        };
        for (name, failed) in [
            ("https", failure(https)),
            ("metrics", failure(metrics)),
            ("certificate watch", cert_watch.err().map(|e| e.to_string())),
        ] {
            if let Some(error) = failed {
                tracing::warn!(server = name, %error, "stopped uncleanly");
            }
        }
    }
}

/// Serves the webhook (HTTPS) and its metrics (HTTP) until `shutdown` completes.
pub async fn serve(
    config: ServeConfig,
    resolver: Arc<dyn IdentityResolver + Send + Sync>,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), ServeError> {
    bind(config, resolver).await?.run(shutdown).await;
    Ok(())
}
