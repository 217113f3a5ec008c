//! `podpass webhook` as a cluster install runs it: ServiceAccounts from a Kubernetes API (a
//! stand-in apiserver speaking the list and watch protocol), Pod Identity associations listed from
//! podpass's EKS API with the AWS SDK, AdmissionReviews over HTTPS, and podpass's endpoints
//! injected into the pods it mutates.

mod support;

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::{Value, json};
use support::{Podpass, text};

/// A kube-apiserver with no ServiceAccounts: lists are empty, watches stay open and quiet, reads
/// are 404 (all the webhook asks of it).
fn start_apiserver() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            std::thread::spawn(move || answer(stream));
        }
    });
    port
}

fn answer(mut stream: TcpStream) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut request_line = String::new();
    if reader.read_line(&mut request_line).is_err() {
        return;
    }
    let mut line = String::new();
    while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
        line.clear();
    }
    let path = request_line.split(' ').nth(1).unwrap_or_default();
    let (status, body) = if path.starts_with("/api/v1/serviceaccounts") && path.contains("watch=") {
        // A watch: headers, then nothing until the test ends.
        let _ = stream.write_all(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n",
        );
        std::thread::sleep(Duration::from_secs(120));
        return;
    } else if path.starts_with("/api/v1/serviceaccounts") {
        (
            "200 OK",
            json!({"apiVersion": "v1", "kind": "ServiceAccountList",
                "metadata": {"resourceVersion": "1"}, "items": []}),
        )
    } else {
        (
            "404 Not Found",
            json!({"apiVersion": "v1", "kind": "Status", "status": "Failure",
                "reason": "NotFound", "code": 404, "message": "not found"}),
        )
    };
    let body = body.to_string();
    let _ = write!(
        stream,
        "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
}

struct Webhook {
    child: Child,
    port: u16,
    cert: std::path::PathBuf,
}

impl Drop for Webhook {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_webhook(podpass: &Podpass) -> Webhook {
    let dir = podpass.dir.path();
    let (cert, key) = (dir.join("webhook.crt"), dir.join("webhook.key"));
    let out = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
        ])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .args([
            "-days",
            "1",
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
        ])
        .output()
        .expect("openssl");
    assert!(out.status.success(), "{}", text(&out.stderr));
    let (mut webhook, port) = support::webhook_serving(podpass.command(), &cert, &key);
    let child = webhook
        .args([
            "--kube-api",
            &format!("http://127.0.0.1:{}", start_apiserver()),
        ])
        .args([
            "--pod-identity-cluster",
            "demo",
            "--pod-identity-resync",
            "1s",
        ])
        .args(["--sts-endpoint-url", &podpass.endpoint()])
        .args(["--aws-default-region", "us-east-1"])
        // The webhook's own identity: the admin profile `podpass up` wrote, through the SDK.
        .env("AWS_PROFILE", "podpass")
        .env("AWS_ENDPOINT_URL", podpass.endpoint())
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.join("webhook.log")).unwrap())
        .spawn()
        .expect("spawn the webhook");
    Webhook { child, port, cert }
}

/// The env the webhook's patch gives the first container of a pod of `apps/<sa>`, if it
/// mutates it.
fn admit(webhook: &Webhook, sa: &str) -> Option<Vec<String>> {
    let review = json!({
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": "b5e1d7b0-0000-4000-8000-000000000001",
            "kind": {"group": "", "version": "v1", "kind": "Pod"},
            "resource": {"group": "", "version": "v1", "resource": "pods"},
            "namespace": "apps",
            "operation": "CREATE",
            "userInfo": {"username": "system:serviceaccount:kube-system:replicaset-controller"},
            "object": {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {"name": format!("{sa}-1"), "namespace": "apps"},
                "spec": {"serviceAccountName": sa, "containers": [{"name": "app", "image": "amazon/aws-cli"}]},
            },
        },
    });
    let out = Command::new("curl")
        .args([
            "-s",
            "--fail",
            "-H",
            "Content-Type: application/json",
            "--data-binary",
            "@-",
        ])
        .arg("--cacert")
        .arg(&webhook.cert)
        .arg(format!("https://127.0.0.1:{}/mutate", webhook.port))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            child
                .stdin
                .take()
                .unwrap()
                .write_all(review.to_string().as_bytes())?;
            child.wait_with_output()
        })
        .expect("curl");
    let answer: Value = serde_json::from_slice(&out.stdout).ok()?;
    assert_eq!(answer["response"]["allowed"], true, "{answer}");
    let patch = answer["response"]["patch"].as_str()?;
    let patch: Value = serde_json::from_slice(
        &base64::engine::general_purpose::STANDARD
            .decode(patch)
            .unwrap(),
    )
    .unwrap();
    let containers = patch
        .as_array()?
        .iter()
        .find(|op| op["path"] == "/spec/containers")?;
    Some(
        containers["value"][0]["env"]
            .as_array()?
            .iter()
            .map(|e| {
                format!(
                    "{}={}",
                    e["name"].as_str().unwrap(),
                    e["value"].as_str().unwrap()
                )
            })
            .collect(),
    )
}

fn eventually(what: &str, webhook_log: &std::path::Path, check: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !check() {
        assert!(
            Instant::now() < deadline,
            "{what}:\n{}",
            std::fs::read_to_string(webhook_log).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(250));
    }
}

#[test]
fn pod_identity_follows_the_eks_api_and_pods_are_pointed_at_podpass() {
    let podpass = Podpass::start();
    let trust = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
        "Principal": {"Service": "pods.eks.amazonaws.com"},
        "Action": ["sts:AssumeRole", "sts:TagSession"]}]});
    podpass.aws_admin_json(&[
        "iam",
        "create-role",
        "--role-name",
        "reader",
        "--assume-role-policy-document",
        &trust.to_string(),
    ]);
    let created = podpass.aws_admin_json(&[
        "eks",
        "create-pod-identity-association",
        "--cluster-name",
        "demo",
        "--namespace",
        "apps",
        "--service-account",
        "reader",
        "--role-arn",
        &format!("arn:aws:iam::{}:role/reader", podpass.account()),
    ]);
    let id = created["association"]["associationId"]
        .as_str()
        .unwrap()
        .to_owned();
    let webhook = start_webhook(&podpass);
    let log = podpass.dir.path().join("webhook.log");

    let reader = || admit(&webhook, "reader");
    eventually("the associated ServiceAccount is mutated", &log, || {
        reader().is_some()
    });
    let env = reader().unwrap();
    for expected in [
        "AWS_CONTAINER_CREDENTIALS_FULL_URI=http://169.254.170.23/v1/credentials",
        "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE=/var/run/secrets/pods.eks.amazonaws.com/serviceaccount/eks-pod-identity-token",
        &format!("AWS_ENDPOINT_URL_STS={}", podpass.endpoint()),
        "AWS_REGION=us-east-1",
    ] {
        assert!(
            env.iter().any(|e| e == expected),
            "{expected} missing from {env:?}"
        );
    }
    assert_eq!(
        admit(&webhook, "writer"),
        None,
        "no association, no role: no mutation"
    );

    // The association goes away in the EKS API: new pods of that ServiceAccount are not mutated.
    podpass.aws_admin_json(&[
        "eks",
        "delete-pod-identity-association",
        "--cluster-name",
        "demo",
        "--association-id",
        &id,
    ]);
    eventually("a deleted association stops injection", &log, || {
        reader().is_none()
    });
    let logged = std::fs::read_to_string(&log).unwrap();
    assert!(
        logged.contains("Pod Identity associations updated"),
        "{logged}"
    );
}
