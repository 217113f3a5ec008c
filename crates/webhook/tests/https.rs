//! The webhook over real sockets: HTTPS `/mutate`, certificate reload on a Kubernetes-style
//! `..data` symlink swap, and the plain-HTTP metrics port.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use podpass_podmutation::{
    IdentityResolver, ServiceAccountSettings, StaticResolver, WebhookConfig,
};
use podpass_webhook::{ServeConfig, bind};
use tokio::sync::oneshot;

/// A self-signed certificate for `localhost` and its key, in PEM.
struct TestCert {
    cert: String,
    key: String,
}

fn new_cert() -> TestCert {
    let generated = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    TestCert {
        cert: generated.cert.pem(),
        key: generated.signing_key.serialize_pem(),
    }
}

/// A Secret volume as the kubelet writes it: `tls.crt -> ..data/tls.crt`,
/// `..data -> ..<version>`, updated by an atomic rename of a new `..data` link.
struct SecretVolume {
    dir: tempfile::TempDir,
    versions: usize,
}

impl SecretVolume {
    fn new(cert: &str, key: &str) -> Self {
        let mut volume = Self {
            dir: tempfile::tempdir().unwrap(),
            versions: 0,
        };
        volume.publish(cert, key);
        for file in ["tls.crt", "tls.key"] {
            std::os::unix::fs::symlink(format!("..data/{file}"), volume.dir.path().join(file))
                .unwrap();
        }
        volume
    }

    fn publish(&mut self, cert: &str, key: &str) {
        self.versions += 1;
        let version = format!("..2026_11_28_v{}", self.versions);
        let version_dir = self.dir.path().join(&version);
        std::fs::create_dir(&version_dir).unwrap();
        std::fs::write(version_dir.join("tls.crt"), cert).unwrap();
        std::fs::write(version_dir.join("tls.key"), key).unwrap();
        let staged = self.dir.path().join("..data_tmp");
        std::os::unix::fs::symlink(&version, &staged).unwrap();
        std::fs::rename(&staged, self.dir.path().join("..data")).unwrap();
    }

    fn path(&self, file: &str) -> PathBuf {
        self.dir.path().join(file)
    }
}

struct Running {
    https: SocketAddr,
    metrics: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

impl Running {
    async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            stop.send(()).unwrap();
        }
        self.task.await.unwrap();
    }
}

fn resolver() -> Arc<dyn IdentityResolver + Send + Sync> {
    let mut resolver = StaticResolver::default();
    resolver.service_accounts.insert(
        ("default".into(), "app".into()),
        ServiceAccountSettings {
            role_arn: Some("arn:aws:iam::111122223333:role/app".into()),
            ..Default::default()
        },
    );
    Arc::new(resolver)
}

async fn start(cert: &Path, key: &Path) -> Running {
    let mut config = ServeConfig::new(WebhookConfig::default(), 0, 0);
    config.https_addr = "127.0.0.1:0".parse().unwrap();
    config.metrics_addr = "127.0.0.1:0".parse().unwrap();
    config.tls_cert = cert.to_owned();
    config.tls_key = key.to_owned();
    config.cert_poll_interval = Duration::from_millis(20);
    // Long enough that a stalled handshake handled inline would block every other client.
    config.handshake_timeout = Duration::from_secs(3600);
    let server = bind(config, resolver()).await.unwrap();
    let https = server.https_addr().unwrap();
    let metrics = server.metrics_addr().unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(server.run(async move {
        let _ = stopped.await;
    }));
    Running {
        https,
        metrics,
        stop: Some(stop),
        task,
    }
}

/// A fresh client (so a fresh connection) trusting only `cert`.
fn client_trusting(cert: &str, https: SocketAddr) -> reqwest::Client {
    reqwest::Client::builder()
        .tls_certs_only([reqwest::Certificate::from_pem(cert.as_bytes()).unwrap()])
        .resolve("localhost", https)
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

async fn healthz(cert: &str, https: SocketAddr) -> Result<String, reqwest::Error> {
    let url = format!("https://localhost:{}/healthz", https.port());
    client_trusting(cert, https)
        .get(url)
        .send()
        .await?
        .text()
        .await
}

/// Retries `healthz` with `cert` until it succeeds (the poller runs every 20 ms).
async fn wait_until_served(cert: &str, https: SocketAddr) {
    for _ in 0..500 {
        if healthz(cert, https).await.is_ok() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("the new certificate was never served");
}

const REVIEW: &str = r#"{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"7f3c","namespace":"default","object":{"spec":{"serviceAccountName":"app","containers":[{"name":"c"}]}}}}"#;

#[tokio::test]
async fn mutate_over_https() {
    let cert = new_cert();
    let volume = SecretVolume::new(&cert.cert, &cert.key);
    let server = start(&volume.path("tls.crt"), &volume.path("tls.key")).await;
    let client = client_trusting(&cert.cert, server.https);
    let response = client
        .post(format!("https://localhost:{}/mutate", server.https.port()))
        .header("content-type", "application/json")
        .body(REVIEW)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let review: serde_json::Value = response.json().await.unwrap();
    assert_eq!(review["apiVersion"], "admission.k8s.io/v1");
    assert_eq!(review["kind"], "AdmissionReview");
    assert_eq!(review["response"]["uid"], "7f3c");
    assert_eq!(review["response"]["allowed"], true);
    assert_eq!(review["response"]["patchType"], "JSONPatch");
    let patch = base64::engine::general_purpose::STANDARD
        .decode(review["response"]["patch"].as_str().unwrap())
        .unwrap();
    let patch: serde_json::Value = serde_json::from_slice(&patch).unwrap();
    let env = &patch[1]["value"][0]["env"];
    assert_eq!(patch[1]["path"], "/spec/containers");
    assert_eq!(env[0]["name"], "AWS_ROLE_ARN");
    assert_eq!(env[0]["value"], "arn:aws:iam::111122223333:role/app");

    // A ServiceAccount without a role: allowed, no patch.
    let other = REVIEW.replace("\"app\"", "\"other\"");
    let review: serde_json::Value = client
        .post(format!("https://localhost:{}/mutate", server.https.port()))
        .header("content-type", "application/json")
        .body(other)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(review["response"]["allowed"], true);
    assert!(review["response"].get("patch").is_none(), "{review}");

    assert_eq!(healthz(&cert.cert, server.https).await.unwrap(), "ok");
    // A client that does not trust the certificate is refused.
    assert!(healthz(&new_cert().cert, server.https).await.is_err());

    let metrics = reqwest::get(format!("http://{}/metrics", server.metrics))
        .await
        .unwrap();
    assert_eq!(metrics.status(), 200);
    let text = metrics.text().await.unwrap();
    assert!(
        text.contains(r#"http_request_count_total{verb="POST",path="/mutate",code="200"} 2"#),
        "{text}"
    );
    assert!(
        text.contains(r#"pod_identity_webhook_pod_count_total{method="sts_web_identity"} 1"#),
        "{text}"
    );
    server.stop().await;
}

#[tokio::test]
async fn certificate_follows_the_secret_volume() {
    let first = new_cert();
    let mut volume = SecretVolume::new(&first.cert, &first.key);
    let server = start(&volume.path("tls.crt"), &volume.path("tls.key")).await;
    assert_eq!(healthz(&first.cert, server.https).await.unwrap(), "ok");

    let second = new_cert();
    volume.publish(&second.cert, &second.key);
    wait_until_served(&second.cert, server.https).await;
    assert!(healthz(&first.cert, server.https).await.is_err());

    // A garbage certificate is not served: the second one stays.
    volume.publish("-----BEGIN CERTIFICATE-----\ngarbage\n", &second.key);
    // Let the poller see it several times over.
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(healthz(&second.cert, server.https).await.unwrap(), "ok");

    // And the watch keeps going: a good pair after the bad one is picked up.
    let third = new_cert();
    volume.publish(&third.cert, &third.key);
    wait_until_served(&third.cert, server.https).await;
    assert!(healthz(&second.cert, server.https).await.is_err());
    server.stop().await;
}

#[tokio::test]
async fn unusable_certificate_at_startup_is_an_error() {
    let cert = new_cert();
    let other = new_cert();
    // A certificate with someone else's key.
    let volume = SecretVolume::new(&cert.cert, &other.key);
    let mut config = ServeConfig::new(WebhookConfig::default(), 0, 0);
    config.tls_cert = volume.path("tls.crt");
    config.tls_key = volume.path("tls.key");
    let error = bind(config, resolver()).await.err().unwrap();
    assert!(error.to_string().contains("not a usable pair"), "{error}");
}

#[tokio::test]
async fn stalled_handshake_does_not_block_others() {
    let cert = new_cert();
    let volume = SecretVolume::new(&cert.cert, &cert.key);
    let server = start(&volume.path("tls.crt"), &volume.path("tls.key")).await;
    // A client that connects and never sends its ClientHello.
    let _stalled = tokio::net::TcpStream::connect(server.https).await.unwrap();
    assert_eq!(healthz(&cert.cert, server.https).await.unwrap(), "ok");
    server.stop().await;
}
