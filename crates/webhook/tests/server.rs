//! HTTP routes and metrics.

// The mutation tests' helpers (pinned jitter, patch application, Go artefacts).
#[path = "../../podmutation/tests/common/mod.rs"]
mod common;

use std::sync::Arc;

use axum::body::{Body, to_bytes};
use axum::http::{Request, StatusCode, header};
use common::PinnedJitter;
use podpass_podmutation::{ServiceAccountSettings, StaticResolver, WebhookConfig};
use podpass_webhook::{Webhook, WebhookMetrics, metrics_router, webhook_router};
use prometheus_client::registry::Registry;
use tower::ServiceExt;

fn setup() -> (axum::Router, axum::Router) {
    let mut registry = Registry::default();
    let metrics = WebhookMetrics::register(&mut registry);
    let mut resolver = StaticResolver::default();
    resolver.service_accounts.insert(
        ("default".into(), "default".into()),
        ServiceAccountSettings {
            role_arn: Some("arn:aws:iam::111122223333:role/r".into()),
            ..Default::default()
        },
    );
    let webhook = Arc::new(Webhook::new(
        WebhookConfig::default(),
        Box::new(PinnedJitter(79200)),
    ));
    (
        webhook_router(webhook, Arc::new(resolver), metrics),
        metrics_router(Arc::new(registry)),
    )
}

async fn send(
    router: &axum::Router,
    request: Request<Body>,
) -> (StatusCode, String, Option<String>) {
    let response = router.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let content_type = response
        .headers()
        .get(header::CONTENT_TYPE)
        .map(|v| v.to_str().unwrap().to_owned());
    let body = to_bytes(response.into_body(), usize::MAX).await.unwrap();
    (
        status,
        String::from_utf8(body.to_vec()).unwrap(),
        content_type,
    )
}

fn mutate_request(content_type: &str) -> Request<Body> {
    let body = r#"{"request":{"uid":"u","namespace":"default","object":{"spec":{"serviceAccountName":"default","containers":[{"name":"c"}]}}}}"#;
    Request::post("/mutate")
        .header(header::CONTENT_TYPE, content_type)
        .body(Body::from(body))
        .unwrap()
}

#[tokio::test]
async fn healthz_says_ok() {
    let (app, _) = setup();
    let (status, body, _) = send(&app, Request::get("/healthz").body(Body::empty()).unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, "ok");
}

#[tokio::test]
async fn mutate_and_metrics() {
    let (app, metrics) = setup();
    let (status, body, content_type) = send(&app, mutate_request("application/json")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(content_type.as_deref(), Some("application/json"));
    assert!(
        body.starts_with(r#"{"response":{"uid":"u","allowed":true,"patch":""#),
        "{body}"
    );

    let (status, body, _) = send(&app, mutate_request("text/plain")).await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(body, "Invalid Content-Type, expected `application/json`\n");

    let (status, text, content_type) = send(
        &metrics,
        Request::get("/metrics").body(Body::empty()).unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        content_type
            .unwrap()
            .starts_with("application/openmetrics-text")
    );
    assert!(
        text.contains(r#"http_request_count_total{verb="POST",path="/mutate",code="200"} 1"#),
        "{text}"
    );
    assert!(
        text.contains(r#"http_request_count_total{verb="POST",path="/mutate",code="415"} 1"#),
        "{text}"
    );
    assert!(
        text.contains(r#"pod_identity_webhook_pod_count_total{method="sts_web_identity"} 1"#),
        "{text}"
    );
    assert!(!text.contains("container_credentials"), "{text}");
}

#[tokio::test]
async fn unknown_paths_are_404_and_not_counted() {
    let (app, metrics) = setup();
    let (status, _, _) = send(&app, Request::get("/nope").body(Body::empty()).unwrap()).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, text, _) = send(
        &metrics,
        Request::get("/metrics").body(Body::empty()).unwrap(),
    )
    .await;
    assert!(!text.contains("/nope"), "{text}");
}
