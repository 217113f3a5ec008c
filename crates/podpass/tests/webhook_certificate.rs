//! `podpass webhook certificate`, the install's Job when cert-manager is not wanted, against a
//! stand-in kube-apiserver that keeps Secrets and a MutatingWebhookConfiguration: the
//! certificate it writes is one the API server's TLS client accepts for the webhook's Service,
//! a second run changes nothing, a renewal keeps the old CA trusted, and what it must not touch
//! it refuses.

mod support;

use std::collections::HashMap;
use std::process::{Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::get;
use base64::Engine as _;
use serde_json::{Value, json};
use support::text;

/// What the stand-in API server holds and saw.
#[derive(Default)]
struct Cluster {
    secrets: HashMap<String, Value>,
    configuration: Value,
    /// Content types of the PATCHes received.
    patches: Vec<String>,
    version: u64,
}

type Shared = Arc<Mutex<Cluster>>;

fn not_found() -> (StatusCode, axum::Json<Value>) {
    (
        StatusCode::NOT_FOUND,
        axum::Json(
            json!({"kind": "Status", "apiVersion": "v1", "status": "Failure",
            "reason": "NotFound", "code": 404, "message": "not found"}),
        ),
    )
}

async fn read_secret(
    State(cluster): State<Shared>,
    Path((_, name)): Path<(String, String)>,
) -> (StatusCode, axum::Json<Value>) {
    match cluster.lock().unwrap().secrets.get(&name) {
        Some(secret) => (StatusCode::OK, axum::Json(secret.clone())),
        None => not_found(),
    }
}

fn store_secret(cluster: &mut Cluster, mut secret: Value) -> Value {
    cluster.version += 1;
    secret["metadata"]["resourceVersion"] = json!(cluster.version.to_string());
    let name = secret["metadata"]["name"].as_str().unwrap().to_owned();
    cluster.secrets.insert(name, secret.clone());
    secret
}

async fn create_secret(
    State(cluster): State<Shared>,
    axum::Json(secret): axum::Json<Value>,
) -> (StatusCode, axum::Json<Value>) {
    let stored = store_secret(&mut cluster.lock().unwrap(), secret);
    (StatusCode::CREATED, axum::Json(stored))
}

async fn replace_secret(
    State(cluster): State<Shared>,
    axum::Json(secret): axum::Json<Value>,
) -> axum::Json<Value> {
    axum::Json(store_secret(&mut cluster.lock().unwrap(), secret))
}

async fn read_configuration(
    State(cluster): State<Shared>,
    Path(name): Path<String>,
) -> (StatusCode, axum::Json<Value>) {
    let cluster = cluster.lock().unwrap();
    if cluster.configuration["metadata"]["name"] == name.as_str() {
        (StatusCode::OK, axum::Json(cluster.configuration.clone()))
    } else {
        not_found()
    }
}

/// A strategic merge patch of `webhooks`, merged by name as the API server does.
async fn patch_configuration(
    State(cluster): State<Shared>,
    headers: HeaderMap,
    axum::Json(patch): axum::Json<Value>,
) -> axum::Json<Value> {
    let mut cluster = cluster.lock().unwrap();
    let content_type = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    cluster.patches.push(content_type);
    for change in patch["webhooks"].as_array().unwrap() {
        let webhooks = cluster.configuration["webhooks"].as_array_mut().unwrap();
        let webhook = webhooks
            .iter_mut()
            .find(|w| w["name"] == change["name"])
            .expect("the patch names an existing webhook");
        webhook["clientConfig"]["caBundle"] = change["clientConfig"]["caBundle"].clone();
    }
    axum::Json(cluster.configuration.clone())
}

fn configuration(service_namespace: &str) -> Value {
    json!({
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "MutatingWebhookConfiguration",
        "metadata": {"name": "podpass-webhook"},
        "webhooks": [
            {"name": "pod-identity-webhook.podpass.io", "admissionReviewVersions": ["v1"],
             "sideEffects": "None",
             "clientConfig": {"service": {"name": "podpass-webhook", "namespace": service_namespace, "path": "/mutate"}}},
            {"name": "other.example.com", "admissionReviewVersions": ["v1"], "sideEffects": "None",
             "clientConfig": {"url": "https://other.example.com/mutate", "caBundle": "b3RoZXI="}},
        ],
    })
}

/// Starts the stand-in API server; returns its URL and state.
fn apiserver(configuration: Value) -> (String, Shared) {
    let shared: Shared = Arc::new(Mutex::new(Cluster {
        configuration,
        ..Cluster::default()
    }));
    let app = Router::new()
        .route(
            "/api/v1/namespaces/{namespace}/secrets",
            axum::routing::post(create_secret),
        )
        .route(
            "/api/v1/namespaces/{namespace}/secrets/{name}",
            get(read_secret).put(replace_secret),
        )
        .route(
            "/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations/{name}",
            get(read_configuration).patch(patch_configuration),
        )
        .with_state(shared.clone());
    let url = support::serve(app);
    (url, shared)
}

fn certificate(apiserver: &str, extra: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_podpass"))
        .args(["webhook", "certificate", "--kube-api", apiserver])
        .args(extra)
        .env_clear()
        .output()
        .expect("run podpass webhook certificate")
}

fn field(cluster: &Shared, key: &str) -> Vec<u8> {
    let secret = cluster.lock().unwrap().secrets["podpass-webhook-tls"].clone();
    base64::engine::general_purpose::STANDARD
        .decode(secret["data"][key].as_str().unwrap())
        .unwrap()
}

fn ca_bundle(cluster: &Shared) -> Vec<u8> {
    let bundle = cluster.lock().unwrap().configuration["webhooks"][0]["clientConfig"]["caBundle"]
        .as_str()
        .map(str::to_owned)
        .unwrap_or_default();
    base64::engine::general_purpose::STANDARD
        .decode(bundle)
        .unwrap()
}

/// `podpass webhook` serving the Secret's certificate, and curl calling it by the Service's
/// DNS name with only the caBundle as its trust, as the API server does.
fn api_server_accepts(dir: &std::path::Path, cluster: &Shared) {
    let write = |name: &str, bytes: &[u8]| {
        let path = dir.join(name);
        std::fs::write(&path, bytes).unwrap();
        path
    };
    let cert = write("tls.crt", &field(cluster, "tls.crt"));
    let key = write("tls.key", &field(cluster, "tls.key"));
    let bundle = write("ca-bundle.crt", &ca_bundle(cluster));
    let (mut webhook, port) =
        support::webhook_serving(Command::new(env!("CARGO_BIN_EXE_podpass")), &cert, &key);
    let mut webhook = webhook
        // ServiceAccounts are not needed to answer a health check.
        .args(["--kube-api", "http://127.0.0.1:9"])
        .env_clear()
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let host = "podpass-webhook.podpass.svc";
    let deadline = Instant::now() + Duration::from_secs(20);
    let answer = loop {
        let out = Command::new("curl")
            .args(["-sS", "--cacert"])
            .arg(&bundle)
            .args([
                "--resolve",
                &format!("{host}:{port}:127.0.0.1"),
                &format!("https://{host}:{port}/healthz"),
            ])
            .output()
            .unwrap();
        if out.status.success() || Instant::now() > deadline {
            break out;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let _ = webhook.kill();
    let _ = webhook.wait();
    assert!(answer.status.success(), "{}", text(&answer.stderr));
}

#[test]
fn the_certificate_job_issues_keeps_and_renews_the_webhooks_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let (url, cluster) = apiserver(configuration("podpass"));

    let out = certificate(&url, &["--validity", "10d", "--renew-before", "1d"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let first = field(&cluster, "tls.crt");
    assert_eq!(ca_bundle(&cluster), field(&cluster, "ca.crt"));
    {
        let state = cluster.lock().unwrap();
        assert_eq!(
            state.patches,
            ["application/strategic-merge-patch+json"],
            "one patch, merged by webhook name"
        );
        // The webhook that calls another service keeps its own CA.
        assert_eq!(
            state.configuration["webhooks"][1]["clientConfig"]["caBundle"],
            "b3RoZXI="
        );
        assert_eq!(
            state.secrets["podpass-webhook-tls"]["type"],
            "kubernetes.io/tls"
        );
    }
    api_server_accepts(dir.path(), &cluster);

    // Run again (the daily CronJob): nothing to do.
    let out = certificate(&url, &["--validity", "10d", "--renew-before", "1d"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(field(&cluster, "tls.crt"), first);
    assert_eq!(cluster.lock().unwrap().patches.len(), 1);

    // Within the renewal window: a new CA and certificate, the old CA still trusted.
    let old_ca = field(&cluster, "ca.crt");
    let out = certificate(&url, &["--validity", "365d", "--renew-before", "30d"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_ne!(field(&cluster, "tls.crt"), first);
    let bundle = ca_bundle(&cluster);
    assert_eq!(bundle, field(&cluster, "ca.crt"));
    assert!(bundle.ends_with(&old_ca), "the old CA is kept");
    assert_eq!(
        text(&bundle).matches("BEGIN CERTIFICATE").count(),
        2,
        "the new CA and the old one"
    );
    api_server_accepts(dir.path(), &cluster);
}

#[test]
fn a_broken_secret_is_replaced_and_a_foreign_configuration_is_refused() {
    let (url, cluster) = apiserver(configuration("podpass"));
    store_secret(
        &mut cluster.lock().unwrap(),
        json!({"apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": "podpass-webhook-tls", "namespace": "podpass"},
            "data": {"ca.crt": "Z2FyYmFnZQ==", "tls.crt": "Z2FyYmFnZQ==", "tls.key": "Z2FyYmFnZQ=="}}),
    );
    let out = certificate(&url, &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&field(&cluster, "tls.crt")).starts_with("-----BEGIN CERTIFICATE-----"));
    // A garbage CA is not carried into the bundle.
    assert_eq!(
        text(&ca_bundle(&cluster))
            .matches("BEGIN CERTIFICATE")
            .count(),
        1
    );

    // A configuration none of whose webhooks calls podpass's Service is not touched.
    let (url, cluster) = apiserver(configuration("elsewhere"));
    let out = certificate(&url, &[]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains(
            "no webhook of MutatingWebhookConfiguration podpass-webhook calls service podpass/podpass-webhook"
        ),
        "{}",
        text(&out.stderr)
    );
    assert!(cluster.lock().unwrap().patches.is_empty());

    let out = certificate(&url, &["--validity", "10d", "--renew-before", "30d"]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("--renew-before must be shorter than --validity"),
        "{}",
        text(&out.stderr)
    );
}
