//! The seed's labs end to end: pods run by podpass's kubelet, mutated by the webhook logic, with
//! the unmodified AWS CLI as their container command listing an S3 bucket.

mod support;

use support::{Podpass, text};

#[test]
fn the_seeds_labs_behave_as_in_eks() {
    let podpass = Podpass::start();
    let out = podpass.podpass(&["demo"]);
    let stdout = text(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}\n{}",
        text(&out.stderr),
        podpass.log()
    );
    // Each lab's outcome, in order: no token and default token are denied (the node role has no
    // S3 permission), IRSA and Pod Identity list the bucket, the role trusted without `sub` is
    // taken by an unrelated ServiceAccount.
    let outcomes: Vec<&str> = stdout
        .lines()
        .filter(|l| l.starts_with("outcome: "))
        .collect();
    assert_eq!(
        outcomes,
        [
            "outcome: DENIED (as in EKS)",
            "outcome: DENIED (as in EKS)",
            "outcome: ALLOWED (as in EKS)",
            "outcome: ALLOWED (as in EKS)",
            "outcome: ALLOWED (as in EKS)",
        ],
        "{stdout}"
    );
    assert!(
        stdout
            .contains("An error occurred (AccessDenied) when calling the ListObjectsV2 operation"),
        "{stdout}"
    );
    assert_eq!(
        stdout.matches("         19 hello.txt").count(),
        3,
        "{stdout}"
    );
    assert!(stdout.contains("error[trust-missing-sub]"), "{stdout}");
    // Each S3 refusal is one line at info with its reason, not a server error.
    let log = podpass.log();
    assert!(!log.contains("ERROR"), "{log}");
    let refusals: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("s3 access denied"))
        .collect();
    assert!(!refusals.is_empty(), "{log}");
    assert!(refusals.iter().all(|l| l.contains("INFO")), "{log}");
    assert!(!log.contains("s3s::ops"), "{log}");

    // kubectl's view: the IRSA pod as admitted carries the webhook's mutation.
    let yaml = podpass.podpass_ok(&["get", "pod", "eks-iam-test3", "-o", "yaml"]);
    assert!(yaml.contains("name: AWS_WEB_IDENTITY_TOKEN_FILE"), "{yaml}");
    assert!(yaml.contains("audience: sts.amazonaws.com"), "{yaml}");
    let yaml = podpass.podpass_ok(&["get", "pod", "eks-pod-identity", "-o", "yaml"]);
    assert!(
        yaml.contains("name: AWS_CONTAINER_CREDENTIALS_FULL_URI"),
        "{yaml}"
    );
    assert!(
        yaml.contains("eks.amazonaws.com/pod-identity: enabled"),
        "{yaml}"
    );
    let yaml = podpass.podpass_ok(&["get", "pod", "eks-iam-test1", "-o", "yaml"]);
    assert!(
        !yaml.contains("kube-api-access"),
        "automount false gives no token:\n{yaml}"
    );
    let pods = podpass.podpass_ok(&["get", "pods"]);
    assert!(
        pods.contains("eks-iam-test3      0/1     Succeeded"),
        "{pods}"
    );

    // The refusals are in the audit trail with their reason; issuances too.
    let denied = podpass.podpass_ok(&["audit", "--denied"]);
    assert!(
        denied.contains("assumed-role/podpass-demo-node/"),
        "{denied}"
    );
    assert!(
        denied.contains("no identity-based policy allows it"),
        "{denied}"
    );
    let all = podpass.podpass_ok(&[
        "audit",
        "--principal",
        "system:serviceaccount:default:s3-pod-identity",
    ]);
    assert!(all.contains("ALLOW AssumeRoleForPodIdentity"), "{all}");

    // One `/metrics` covers what the labs went through: the API, S3 (the denial and the
    // listings), the node agent, the kubelet and its webhook.
    let metrics = support::http_get(&format!("{}/metrics", podpass.endpoint()));
    for expected in [
        r#"podpass_api_calls_total{service="sts",operation="AssumeRoleWithWebIdentity",outcome="OK"}"#,
        r#"podpass_s3_requests_total{operation="ListObjectsV2",status="200"} 3"#,
        r#"podpass_s3_requests_total{operation="ListObjectsV2",status="403"} 2"#,
        r#"podpass_s3_authorization_decisions_total{decision="deny"} 2"#,
        r#"podpass_s3_request_duration_seconds_count{operation="ListObjectsV2"} 5"#,
        r#"pod_identity_cache_state_total{state="miss"} 1"#,
        r#"pod_identity_http_response_total{code="200"} 1"#,
        r#"pod_identity_webhook_pod_count_total{method="sts_web_identity"}"#,
        r#"pod_identity_webhook_pod_count_total{method="container_credentials"} 1"#,
        r#"podpass_kubelet_pod_admissions_total{result="admitted"}"#,
        r#"podpass_kubelet_token_requests_total{result="issued"}"#,
        "podpass_kubelet_container_starts_total",
    ] {
        assert!(
            metrics.contains(expected),
            "{expected} missing from\n{metrics}"
        );
    }

    // Running it again replaces the pods and reuses the setup.
    let again = podpass.podpass(&["demo"]);
    assert!(
        again.status.success(),
        "{}\n{}",
        text(&again.stdout),
        text(&again.stderr)
    );
}

#[test]
fn pods_run_exec_and_are_deleted_like_kubectl() {
    let podpass = Podpass::start();
    let manifest = podpass.write(
        "pod.yaml",
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: sleeper\nspec:\n  containers:\n  - name: main\n    image: busybox\n    command: [\"sh\", \"-c\", \"echo started; sleep 600\"]\n",
    );
    let out = podpass.podpass_ok(&["run", "-f", manifest.to_str().unwrap()]);
    assert_eq!(out, "pod/sleeper created\n");
    let mut running = String::new();
    for _ in 0..50 {
        running = podpass.podpass_ok(&["get", "pods"]);
        if running.contains("Running") {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert!(running.contains("sleeper   1/1     Running"), "{running}");
    let wide = podpass.podpass_ok(&["get", "pods", "-o", "wide"]);
    assert!(
        wide.lines()
            .next()
            .unwrap_or_default()
            .ends_with("IP          NODE")
            && wide.contains("127.0.0.1   podpass-node"),
        "{wide}"
    );
    assert_eq!(
        podpass.podpass_ok(&["get", "pods", "-o", "name"]),
        "pod/sleeper\n"
    );
    let ns = podpass
        .command()
        .args([
            "exec",
            "sleeper",
            "--",
            "cat",
            "/var/run/secrets/kubernetes.io/serviceaccount/namespace",
        ])
        .output()
        .unwrap();
    assert!(ns.status.success(), "{}", text(&ns.stderr));
    assert_eq!(text(&ns.stdout), "default");
    let code = podpass
        .command()
        .args(["exec", "sleeper", "--", "sh", "-c", "exit 3"])
        .output()
        .unwrap();
    assert_eq!(code.status.code(), Some(3));
    let logs = podpass.podpass_ok(&["logs", "sleeper"]);
    assert_eq!(logs, "started\n");
    assert_eq!(
        podpass.podpass_ok(&["delete", "pod", "sleeper"]),
        "pod \"sleeper\" deleted\n"
    );
    let out = podpass.podpass(&["get", "pod", "sleeper"]);
    assert!(!out.status.success());
}

#[test]
fn apply_creates_leaves_alone_and_rolls_out_like_kubectl() {
    let podpass = Podpass::start();
    let deployment = |greeting: &str| {
        format!(
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: settings}}\ndata: {{greeting: {greeting}}}\n---\n\
             apiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: web}}\nspec:\n  selector: {{matchLabels: {{app: web}}}}\n  template:\n    metadata: {{labels: {{app: web}}}}\n    spec:\n      containers:\n      - name: main\n        command: [sh, -c, 'echo {greeting}; sleep 600']\n"
        )
    };
    let file = podpass.write("app.yaml", &deployment("hello"));
    let file = file.to_str().unwrap();
    assert_eq!(
        podpass.podpass_ok(&["apply", "-f", file]),
        "configmap/settings created\npod/web-0 created (one pod of Deployment/web)\n"
    );
    let uid = |podpass: &Podpass| {
        podpass.podpass_ok(&["get", "pod", "web-0", "-o", "jsonpath={.metadata.uid}"])
    };
    let first = uid(&podpass);
    assert_eq!(first.len(), 36, "{first}");

    // The same file again: the pod is left alone.
    assert_eq!(
        podpass.podpass_ok(&["apply", "-f", file]),
        "configmap/settings configured\npod/web-0 unchanged (one pod of Deployment/web)\n"
    );
    assert_eq!(uid(&podpass), first);

    // A changed template rolls out: a new pod of the new template.
    podpass.write("app.yaml", &deployment("bonjour"));
    assert_eq!(
        podpass.podpass_ok(&["apply", "-f", file]),
        "configmap/settings configured\npod/web-0 configured (one pod of Deployment/web)\n"
    );
    assert_ne!(uid(&podpass), first);
    let names = podpass.podpass_ok(&[
        "get",
        "pods",
        "-o",
        r#"jsonpath={range .items[*]}{.metadata.name}={.metadata.annotations.kubectl\.kubernetes\.io/last-applied-configuration}{"\n"}{end}"#,
    ]);
    assert!(names.starts_with("web-0={"), "{names}");
    assert!(names.contains("bonjour"), "{names}");

    // A bare Pod whose spec changed is refused as the API server refuses it, unless --force.
    let pod = |command: &str| {
        format!(
            "apiVersion: v1\nkind: Pod\nmetadata: {{name: single}}\nspec:\n  containers:\n  - name: main\n    command: [sh, -c, '{command}']\n"
        )
    };
    let pod_file = podpass.write("pod.yaml", &pod("sleep 600"));
    let pod_file = pod_file.to_str().unwrap();
    assert_eq!(
        podpass.podpass_ok(&["apply", "-f", pod_file]),
        "pod/single created\n"
    );
    podpass.write("pod.yaml", &pod("sleep 601"));
    let refused = podpass.podpass(&["apply", "-f", pod_file]);
    assert!(!refused.status.success());
    let stderr = text(&refused.stderr);
    assert!(
        stderr.contains(
            "The Pod \"single\" is invalid: spec: Forbidden: pod updates may not change fields"
        ),
        "{stderr}"
    );
    assert_eq!(
        podpass.podpass_ok(&["apply", "-f", pod_file, "--force"]),
        "pod/single replaced\n"
    );

    // A template kubectl would refuse is refused before anything is asked of the server.
    let bad = podpass.podpass(&["get", "pods", "-o", "jsonpath={.items[}"]);
    assert!(!bad.status.success());
    assert!(
        text(&bad.stderr).contains("bad JSONPath"),
        "{}",
        text(&bad.stderr)
    );
}
