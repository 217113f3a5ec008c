//! A real cluster's tokens: podpass verifies ServiceAccount tokens that an independent issuer
//! signs (a stand-in for a kube-apiserver: its own RSA key from openssl, tokens with Kubernetes'
//! claims and a `kid`), never podpass's own signer. EKS Auth takes the pods' tokens of a
//! registered cluster, STS takes its IRSA tokens through an IAM OIDC provider for the same
//! issuer, and the cluster-install topology (`up --cluster-issuer-url`, an agent whose own
//! identity is its ServiceAccount's web identity) issues a pod's credentials end to end.

mod support;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::apiserver::{Apiserver, ISSUER};
use support::{Podpass, assert_aws_error, free_port, text};

/// `podpass cluster register kind` with the JWKS of `signers`, written to `file`, and `more`
/// arguments; its output.
fn register_kind(podpass: &Podpass, file: &str, signers: &[&Apiserver], more: &[&str]) -> String {
    let jwks = podpass.write(file, &Apiserver::jwks(signers));
    let args = [
        &[
            "cluster",
            "register",
            "kind",
            "--issuer-url",
            ISSUER,
            "--jwks-file",
            jwks.to_str().unwrap(),
        ],
        more,
    ]
    .concat();
    podpass.podpass_ok(&args)
}

/// A live pod's token of `apps/reader` as `apiserver` signs it for EKS Auth.
fn reader_token(apiserver: &Apiserver, pod: &str) -> String {
    apiserver.token("pods.eks.amazonaws.com", "apps", "reader", Some(pod), 600)
}

/// EKS Auth's credentials for `token`, which must be granted.
fn eks_auth_ok(podpass: &Podpass, cluster: &str, token: &str) -> Value {
    let out = eks_auth(podpass, cluster, token);
    assert!(
        out.status.success(),
        "{}\n{}",
        text(&out.stderr),
        podpass.log()
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// A role `name` trusted by `trust`.
fn role(podpass: &Podpass, name: &str, trust: &Value) -> String {
    let created = podpass.aws_admin_json(&[
        "iam",
        "create-role",
        "--role-name",
        name,
        "--assume-role-policy-document",
        &trust.to_string(),
    ]);
    created["Role"]["Arn"].as_str().unwrap().to_owned()
}

fn pod_identity_trust() -> Value {
    json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
        "Principal": {"Service": "pods.eks.amazonaws.com"},
        "Action": ["sts:AssumeRole", "sts:TagSession"]}]})
}

fn associate(podpass: &Podpass, cluster: &str, namespace: &str, sa: &str, role_arn: &str) {
    podpass.aws_admin_json(&[
        "eks",
        "create-pod-identity-association",
        "--cluster-name",
        cluster,
        "--namespace",
        namespace,
        "--service-account",
        sa,
        "--role-arn",
        role_arn,
    ]);
}

fn eks_auth(podpass: &Podpass, cluster: &str, token: &str) -> std::process::Output {
    podpass.aws_admin(&[
        "eks-auth",
        "assume-role-for-pod-identity",
        "--cluster-name",
        cluster,
        "--token",
        token,
    ])
}

#[test]
fn a_registered_clusters_own_tokens_get_pod_identity_and_irsa() {
    let podpass = Podpass::start_with(&["--issuer-keys-refresh", "1"], &[]);
    let apiserver = Apiserver::new("k8s-key-1");
    let registered = register_kind(&podpass, "jwks.json", &[&apiserver], &[]);
    assert!(
        registered.contains("cluster/kind registered"),
        "{registered}"
    );
    let listed = podpass.podpass_ok(&["cluster", "list"]);
    let kind = listed
        .lines()
        .find(|l| l.starts_with("kind "))
        .expect(&listed);
    assert!(
        kind.contains(ISSUER) && kind.contains("the registered JWKS"),
        "{listed}"
    );

    // Pod Identity: the cluster's pod token, through EKS Auth.
    let reader = role(&podpass, "kind-reader", &pod_identity_trust());
    associate(&podpass, "kind", "apps", "reader", &reader);
    let token = reader_token(&apiserver, "reader-1");
    let answer = eks_auth_ok(&podpass, "kind", &token);
    assert!(
        answer["assumedRoleUser"]["arn"]
            .as_str()
            .unwrap()
            .contains(":assumed-role/kind-reader/eks-kind-reader-1-"),
        "{answer}"
    );
    assert_eq!(
        answer["podIdentityAssociation"]["associationArn"]
            .as_str()
            .map(|a| a.contains("/kind/")),
        Some(true)
    );

    // Forged: the same kid, another key.
    let forger = Apiserver::new("k8s-key-1");
    let forged = forger.token(
        "pods.eks.amazonaws.com",
        "apps",
        "reader",
        Some("reader-1"),
        600,
    );
    assert_aws_error(
        &eks_auth(&podpass, "kind", &forged),
        "InvalidTokenException",
    );
    // The right key, but a token for STS, or of another ServiceAccount, or no pod.
    let sts_token = apiserver.token("sts.amazonaws.com", "apps", "reader", Some("reader-1"), 600);
    assert_aws_error(
        &eks_auth(&podpass, "kind", &sts_token),
        "InvalidTokenException",
    );
    let other = apiserver.token("pods.eks.amazonaws.com", "apps", "writer", Some("w-1"), 600);
    assert_aws_error(
        &eks_auth(&podpass, "kind", &other),
        "ResourceNotFoundException",
    );
    let unbound = apiserver.token("pods.eks.amazonaws.com", "apps", "reader", None, 600);
    assert_aws_error(
        &eks_auth(&podpass, "kind", &unbound),
        "InvalidTokenException",
    );
    // Expired.
    let expired = apiserver.token(
        "pods.eks.amazonaws.com",
        "apps",
        "reader",
        Some("reader-1"),
        -120,
    );
    assert_aws_error(
        &eks_auth(&podpass, "kind", &expired),
        "ExpiredTokenException",
    );
    // The cluster's token is no good for podpass's own cluster, nor the reverse.
    assert_aws_error(&eks_auth(&podpass, "demo", &token), "InvalidTokenException");
    podpass.podpass_ok(&["sa", "create", "default"]);
    let own = podpass.token("default", "pods.eks.amazonaws.com", Some("p"));
    assert_aws_error(&eks_auth(&podpass, "kind", &own), "InvalidTokenException");

    // IRSA: an IAM OIDC provider for the same issuer, a role trusting one ServiceAccount.
    let provider_arn = &support::apiserver::oidc_provider(&podpass);
    let host = ISSUER.trim_start_matches("https://");
    let irsa = role(
        &podpass,
        "kind-irsa",
        &json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
            "Principal": {"Federated": provider_arn},
            "Action": "sts:AssumeRoleWithWebIdentity",
            "Condition": {"StringEquals": {
                format!("{host}:sub"): "system:serviceaccount:apps:reader",
                format!("{host}:aud"): "sts.amazonaws.com"}}}]}),
    );
    let web_identity = |token: &str| {
        podpass.aws(
            &[],
            &[
                "sts",
                "assume-role-with-web-identity",
                "--role-arn",
                &irsa,
                "--role-session-name",
                "kind-session",
                "--web-identity-token",
                token,
            ],
        )
    };
    let out = web_identity(&sts_token);
    assert!(
        out.status.success(),
        "{}\n{}",
        text(&out.stderr),
        podpass.log()
    );
    let other_sa = apiserver.token("sts.amazonaws.com", "apps", "writer", Some("w-1"), 600);
    assert_aws_error(&web_identity(&other_sa), "AccessDenied");
    let forged_sts = forger.token("sts.amazonaws.com", "apps", "reader", Some("reader-1"), 600);
    assert_aws_error(&web_identity(&forged_sts), "InvalidIdentityToken");

    // The cluster rotates its key and the operator registers the new JWKS: the old key's
    // tokens stop verifying once running instances revalidate (1 s here).
    let rotated = Apiserver::new("k8s-key-2");
    register_kind(&podpass, "jwks-2.json", &[&rotated], &[]);
    let fresh = rotated.token(
        "pods.eks.amazonaws.com",
        "apps",
        "reader",
        Some("reader-2"),
        600,
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let old = eks_auth(&podpass, "kind", &token);
        let new = eks_auth(&podpass, "kind", &fresh);
        if !old.status.success() && new.status.success() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the new JWKS did not take:\n{}",
            podpass.log()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn registration_refuses_what_it_cannot_verify_with() {
    let podpass = Podpass::start();
    let register = |args: &[&str]| {
        let mut all = vec!["cluster", "register"];
        all.extend_from_slice(args);
        podpass.podpass(&all)
    };
    let empty = podpass.write("empty.json", r#"{"keys":[]}"#);
    let junk = podpass.write("junk.json", "not json");
    for (args, why) in [
        (
            vec!["kind", "--issuer-url", "http://issuer.example.com"],
            "must be https://",
        ),
        (
            vec!["kind", "--issuer-url", "https://issuer.example.com?x=1"],
            "not a plain URL",
        ),
        (
            vec![
                "kind",
                "--issuer-url",
                ISSUER,
                "--jwks-file",
                empty.to_str().unwrap(),
            ],
            "the JWKS has no keys",
        ),
        (
            vec![
                "kind",
                "--issuer-url",
                ISSUER,
                "--jwks-file",
                junk.to_str().unwrap(),
            ],
            "does not parse",
        ),
        // podpass's own cluster keeps its issuer and keys.
        (
            vec!["demo", "--issuer-url", ISSUER],
            "is podpass's own cluster",
        ),
    ] {
        let out = register(&args);
        assert!(!out.status.success(), "{args:?} was accepted");
        assert!(
            text(&out.stderr).contains(why),
            "{args:?}: {}",
            text(&out.stderr)
        );
    }
    // A registered cluster's tokens are its apiserver's: podpass issues none.
    let apiserver = Apiserver::new("k");
    register_kind(&podpass, "jwks.json", &[&apiserver], &[]);
    for args in [
        &["sa", "create", "--cluster", "kind", "app"][..],
        &[
            "token",
            "create",
            "--cluster",
            "kind",
            "--service-account",
            "default",
        ],
    ] {
        let out = podpass.podpass(args);
        assert!(!out.status.success(), "{args:?}");
        let stderr = text(&out.stderr);
        assert!(
            stderr.contains("cluster kind is registered") || stderr.contains("not found"),
            "{args:?}: {stderr}"
        );
    }
}

/// `podpass agent` as the DaemonSet runs it, with its own identity from the SDK's chain.
fn start_agent(podpass: &Podpass, role_arn: &str, token_file: &str) -> (Child, u16) {
    let port = free_port();
    let child = Command::new(env!("CARGO_BIN_EXE_podpass"))
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", podpass.home())
        .args([
            "agent",
            "--cluster-name",
            "kind",
            "--bind-hosts",
            "127.0.0.1",
            "--port",
            &port.to_string(),
            "--probe-port",
            "0",
            "--metrics-port",
            "0",
            "--metrics-address",
            "127.0.0.1",
            "--endpoint",
            &podpass.endpoint(),
            "--region",
            "us-east-1",
        ])
        .env("AWS_ROLE_ARN", role_arn)
        .env("AWS_WEB_IDENTITY_TOKEN_FILE", token_file)
        .env("AWS_ENDPOINT_URL_STS", podpass.endpoint())
        .env("AWS_REGION", "us-east-1")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn agent");
    (child, port)
}

#[test]
fn the_cluster_install_topology_issues_a_pods_credentials() {
    let apiserver = Apiserver::new("k8s-key-1");
    let dir = tempfile::tempdir().unwrap();
    let jwks = dir.path().join("jwks.json");
    std::fs::write(&jwks, Apiserver::jwks(&[&apiserver])).unwrap();
    // The API as the manifests run it: the cluster registered, no local node, the agents'
    // ServiceAccount trusted by the node role.
    let podpass = Podpass::start_with(
        &[
            "--cluster",
            "kind",
            "--cluster-issuer-url",
            ISSUER,
            "--cluster-jwks-file",
            jwks.to_str().unwrap(),
            "--node-service-account",
            "podpass:podpass-agent",
            "--webhook-service-account",
            "podpass:podpass-webhook",
        ],
        &[],
    );
    assert_eq!(podpass.agent_url(), "", "no local node");
    let reader = role(&podpass, "kind-reader", &pod_identity_trust());
    podpass.aws_admin_json(&[
        "iam",
        "attach-role-policy",
        "--role-name",
        "kind-reader",
        "--policy-arn",
        "arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess",
    ]);
    associate(&podpass, "kind", "apps", "reader", &reader);

    // The agent's own token: its ServiceAccount, for STS.
    let agent_token = podpass.write(
        "agent-token",
        &apiserver.token(
            "sts.amazonaws.com",
            "podpass",
            "podpass-agent",
            Some("podpass-agent-x1"),
            3600,
        ),
    );
    let node_role = format!("arn:aws:iam::{}:role/podpass-kind-node", podpass.account());
    let (mut agent, port) = start_agent(&podpass, &node_role, agent_token.to_str().unwrap());
    let url = format!("http://127.0.0.1:{port}/v1/credentials");
    let pod_token = apiserver.token(
        "pods.eks.amazonaws.com",
        "apps",
        "reader",
        Some("reader-1"),
        600,
    );
    let get = |token: &str| {
        Command::new("curl")
            .args([
                "-s",
                "-w",
                "\n%{http_code}",
                "-H",
                &format!("Authorization: {token}"),
                &url,
            ])
            .output()
            .expect("curl")
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    let answer = loop {
        let out = text(&get(&pod_token).stdout);
        if out.ends_with("\n200") {
            break out;
        }
        if let Ok(Some(status)) = agent.try_wait() {
            let mut stderr = String::new();
            std::io::Read::read_to_string(agent.stderr.as_mut().unwrap(), &mut stderr).ok();
            panic!("the agent exited with {status}:\n{stderr}");
        }
        assert!(
            Instant::now() < deadline,
            "no credentials: {out}\n{}",
            podpass.log()
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    let credentials: Value = serde_json::from_str(answer.rsplit_once('\n').unwrap().0).unwrap();
    assert!(
        credentials["AccessKeyId"]
            .as_str()
            .is_some_and(|k| k.starts_with("ASIA")),
        "{credentials}"
    );

    // A pod token of another ServiceAccount gets nothing; nor does an agent token of another
    // ServiceAccount (the node role trusts podpass:podpass-agent only).
    let other = apiserver.token("pods.eks.amazonaws.com", "apps", "writer", Some("w-1"), 600);
    assert!(!text(&get(&other).stdout).ends_with("\n200"));
    let _ = agent.kill();
    let _ = agent.wait();
    let impostor = podpass.write(
        "impostor-token",
        &apiserver.token(
            "sts.amazonaws.com",
            "apps",
            "reader",
            Some("reader-1"),
            3600,
        ),
    );
    let out = podpass.aws(
        &[],
        &[
            "sts",
            "assume-role-with-web-identity",
            "--role-arn",
            &node_role,
            "--role-session-name",
            "impostor",
            "--web-identity-token",
            &std::fs::read_to_string(impostor).unwrap(),
        ],
    );
    assert_aws_error(&out, "AccessDenied");

    // The webhook's ServiceAccount takes its role, which lists the cluster's associations and
    // does nothing else.
    let webhook_token = apiserver.token(
        "sts.amazonaws.com",
        "podpass",
        "podpass-webhook",
        Some("wh-1"),
        3600,
    );
    let assumed = podpass.aws(
        &[],
        &[
            "sts",
            "assume-role-with-web-identity",
            "--role-arn",
            &format!(
                "arn:aws:iam::{}:role/podpass-kind-webhook",
                podpass.account()
            ),
            "--role-session-name",
            "webhook",
            "--web-identity-token",
            &webhook_token,
        ],
    );
    assert!(assumed.status.success(), "{}", text(&assumed.stderr));
    let assumed: Value = serde_json::from_slice(&assumed.stdout).unwrap();
    let webhook = support::credentials_env(&assumed["Credentials"]);
    let listed = podpass.aws(
        &webhook,
        &[
            "eks",
            "list-pod-identity-associations",
            "--cluster-name",
            "kind",
        ],
    );
    assert!(listed.status.success(), "{}", text(&listed.stderr));
    assert!(text(&listed.stdout).contains("\"serviceAccount\": \"reader\""));
    assert_aws_error(
        &podpass.aws(&webhook, &["iam", "list-roles"]),
        "AccessDenied",
    );
}

/// What the stand-in kube-apiserver's TokenReview saw and refuses.
#[derive(Default)]
struct Reviews {
    /// Tokens of pods deleted since they were issued: the apiserver no longer authenticates them.
    deleted: Vec<String>,
    /// The audiences of each review asked.
    asked: Vec<Value>,
}

/// `POST /apis/authentication.k8s.io/v1/tokenreviews`, as the kube-apiserver answers it.
async fn token_review(
    axum::extract::State(reviews): axum::extract::State<std::sync::Arc<std::sync::Mutex<Reviews>>>,
    axum::Json(review): axum::Json<Value>,
) -> axum::Json<Value> {
    let token = review["spec"]["token"].as_str().unwrap_or_default();
    let mut reviews = reviews.lock().unwrap();
    reviews.asked.push(review["spec"]["audiences"].clone());
    let status = if reviews.deleted.iter().any(|t| t == token) {
        json!({"authenticated": false, "error": "pod \"reader-gone\" not found"})
    } else {
        let payload = token.split('.').nth(1).unwrap_or_default();
        let claims: Value =
            base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, payload)
                .ok()
                .and_then(|bytes| serde_json::from_slice(&bytes).ok())
                .unwrap_or_default();
        json!({"authenticated": true, "user": {"username": claims["sub"]}, "audiences": review["spec"]["audiences"]})
    };
    axum::Json(json!({
        "apiVersion": "authentication.k8s.io/v1",
        "kind": "TokenReview",
        "spec": review["spec"],
        "status": status,
    }))
}

#[test]
fn a_cluster_registered_for_token_review_refuses_tokens_of_deleted_pods() {
    let reviews = std::sync::Arc::new(std::sync::Mutex::new(Reviews::default()));
    let kube_api = support::serve(
        axum::Router::new()
            .route(
                "/apis/authentication.k8s.io/v1/tokenreviews",
                axum::routing::post(token_review),
            )
            .with_state(reviews.clone()),
    );
    let podpass = Podpass::start_with(&["--kube-api", &kube_api], &[]);
    let apiserver = Apiserver::new("k8s-key-1");
    let registered = register_kind(&podpass, "jwks.json", &[&apiserver], &["--tokenreview"]);
    assert!(
        registered.contains("then reviewed by its kube-apiserver"),
        "{registered}"
    );
    let listed = podpass.podpass_ok(&["cluster", "list"]);
    assert!(listed.contains("(TokenReview)"), "{listed}");
    let reader = role(&podpass, "kind-reader", &pod_identity_trust());
    associate(&podpass, "kind", "apps", "reader", &reader);

    let live = reader_token(&apiserver, "reader-1");
    eks_auth_ok(&podpass, "kind", &live);
    assert_eq!(
        reviews.lock().unwrap().asked,
        [json!(["pods.eks.amazonaws.com"])],
        "one review, for EKS Auth's audience"
    );

    // Well signed and unexpired, but its pod is gone: the apiserver says no, so does EKS Auth.
    let gone = reader_token(&apiserver, "reader-gone");
    reviews.lock().unwrap().deleted.push(gone.clone());
    let out = eks_auth(&podpass, "kind", &gone);
    assert_aws_error(&out, "InvalidTokenException");
    assert!(
        podpass.log().contains("pod \\\"reader-gone\\\" not found")
            || podpass.log().contains("pod \"reader-gone\" not found"),
        "the reason is logged:\n{}",
        podpass.log()
    );

    // A podpass that cannot ask the apiserver does not skip the review: it is unavailable.
    let blind = Podpass::start();
    register_kind(&blind, "jwks.json", &[&apiserver], &["--tokenreview"]);
    let reader = role(&blind, "kind-reader", &pod_identity_trust());
    associate(&blind, "kind", "apps", "reader", &reader);
    let out = eks_auth(&blind, "kind", &live);
    assert_aws_error(&out, "ServiceUnavailableException");
}
