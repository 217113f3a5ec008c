mod common;

use axum::body::{Body, to_bytes};
use axum::http::{Request, StatusCode};
use common::harness;
use podpass_kubelet::{MountMode, router};
use serde_json::{Value, json};
use tower::ServiceExt;

async fn call(app: &axum::Router, method: &str, uri: &str, body: Body) -> (StatusCode, Vec<u8>) {
    let request = Request::builder()
        .method(method)
        .uri(uri)
        .header("content-type", "application/json")
        .body(body)
        .unwrap();
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let bytes = to_bytes(response.into_body(), 1 << 20).await.unwrap();
    (status, bytes.to_vec())
}

fn json_of(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_http_api_creates_reads_logs_execs_and_deletes() {
    let h = harness(MountMode::Rewrite).await;
    let app = router(h.kubelet.clone());
    let base = "/podpass/v1/namespaces/team/pods";
    let manifest = "metadata: {name: web}\nspec:\n  containers: [{name: c, command: [sh, -c, 'echo started; sleep 1000']}]\n";

    let (status, body) = call(&app, "POST", base, Body::from(manifest)).await;
    assert_eq!(
        status,
        StatusCode::CREATED,
        "{}",
        String::from_utf8_lossy(&body)
    );
    let created = json_of(&body);
    assert_eq!(created["metadata"]["namespace"], "team");
    assert!(created["status"]["phase"].is_string());

    let (status, body) = call(&app, "GET", &format!("{base}/web"), Body::empty()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        json_of(&body)["metadata"]["uid"],
        created["metadata"]["uid"]
    );

    let (status, body) = call(&app, "GET", base, Body::empty()).await;
    assert_eq!(status, StatusCode::OK);
    let list = json_of(&body);
    assert_eq!(list["kind"], "PodList");
    assert_eq!(list["items"].as_array().unwrap().len(), 1);

    common::eventually("the log line", || async {
        let (_, body) = call(
            &app,
            "GET",
            &format!("{base}/web/log?container=c"),
            Body::empty(),
        )
        .await;
        body == b"started\n"
    })
    .await;

    let exec = json!({"command": ["sh", "-c", "cat /var/run/secrets/kubernetes.io/serviceaccount/namespace"]});
    let (status, body) = call(
        &app,
        "POST",
        &format!("{base}/web/exec"),
        Body::from(exec.to_string()),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        json_of(&body),
        json!({"exitCode": 0, "stdout": "team", "stderr": ""})
    );

    let (status, body) = call(&app, "POST", base, Body::from(manifest)).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(json_of(&body)["reason"], "AlreadyExists");

    let (status, _) = call(&app, "DELETE", &format!("{base}/web"), Body::empty()).await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = call(&app, "GET", &format!("{base}/web"), Body::empty()).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(
        json_of(&body),
        json!({"kind": "Status", "apiVersion": "v1", "status": "Failure",
               "message": "pods \"web\" not found", "reason": "NotFound", "code": 404})
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn followed_logs_end_when_the_container_is_done() {
    let h = harness(MountMode::Rewrite).await;
    let app = router(h.kubelet.clone());
    let manifest = "metadata: {name: f}\nspec:\n  restartPolicy: Never\n  containers: [{name: c, command: [sh, -c, 'echo a; sleep 0.3; echo b']}]\n";
    let (status, _) = call(
        &app,
        "POST",
        "/podpass/v1/namespaces/default/pods",
        Body::from(manifest),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, body) = call(
        &app,
        "GET",
        "/podpass/v1/namespaces/default/pods/f/log?follow=true",
        Body::empty(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, b"a\nb\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_manifests_are_400_with_a_status() {
    let h = harness(MountMode::Rewrite).await;
    let app = router(h.kubelet.clone());
    let (status, body) = call(
        &app,
        "POST",
        "/podpass/v1/namespaces/default/pods",
        Body::from("metadata: {name: x}"),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let status_object = json_of(&body);
    assert_eq!(status_object["reason"], "Invalid");
    assert_eq!(
        status_object["message"],
        "invalid Pod manifest: spec.containers: Required value"
    );
    assert!(h.kubelet.list(None).await.is_empty());
}
