//! The install manifests, run as a cluster would run them. A sandbox `podpass up` plays the
//! Kubernetes cluster (its issuer is the kube-apiserver's, its kubelet runs the pods); the
//! output of `podpass manifests` is applied to it with `podpass run -f`, so the API and the node
//! agent run from their rendered pod templates, with the rendered env, args, Secrets, ConfigMaps
//! and projected tokens. Pods of the cluster then get credentials from that install, IRSA and
//! Pod Identity, through the unmodified AWS CLI.

mod support;

use std::time::{Duration, Instant};

use support::{Podpass, free_port, text};

/// The account root's key of the installed API, given through the optional Secret
/// `podpass-admin` as an operator would.
const ADMIN_KEY_ID: &str = "AKIAINSTALLTEST00001";
const ADMIN_SECRET: &str = "installtestsecretinstalltestsecret000001";

/// Ports of the install, free on this machine.
struct Ports {
    api: u16,
    s3: u16,
    s3_probe: u16,
    agent: u16,
    agent_probes: u16,
    agent_metrics: u16,
    webhook: u16,
    webhook_metrics: u16,
}

impl Ports {
    fn api_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.api)
    }

    fn s3_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.s3)
    }

    fn agent_url(&self) -> String {
        format!("http://127.0.0.1:{}/v1/credentials", self.agent)
    }
}

/// Renders the install of `components` for the sandbox's cluster (with `extra` flags), with
/// the operator's `podpass-admin` Secret; returns it and the ports.
fn render(cluster: &Podpass, components: &str, extra: &[&str]) -> (String, Ports) {
    let ports = Ports {
        api: free_port(),
        s3: free_port(),
        s3_probe: free_port(),
        agent: free_port(),
        agent_probes: free_port(),
        agent_metrics: free_port(),
        webhook: free_port(),
        webhook_metrics: free_port(),
    };
    // What `kubectl get --raw /openid/v1/jwks` prints on the cluster.
    let jwks = support::http_get(&format!("{}/openid/v1/jwks", cluster.issuer()));
    let jwks_file = cluster.write("cluster-jwks.json", &jwks);
    // The store lives outside the pod, as PostgreSQL would.
    let database = cluster.dir.path().join("installed-api.db");
    let port = |p: u16| p.to_string();
    let rendered = cluster.podpass_ok(
        &[
            &[
                "manifests",
                "--components",
                components,
                "--replicas",
                "1",
                "--cluster",
                "onprem",
                "--cluster-issuer-url",
                &cluster.issuer(),
                "--cluster-jwks-file",
                jwks_file.to_str().unwrap(),
                "--public-url",
                &ports.api_url(),
                "--s3-public-url",
                &ports.s3_url(),
                "--webhook-port",
                &port(ports.webhook),
                "--webhook-metrics-port",
                &port(ports.webhook_metrics),
                "--api-port",
                &port(ports.api),
                "--s3-port",
                &port(ports.s3),
                "--s3-probe-port",
                &port(ports.s3_probe),
                "--agent-port",
                &port(ports.agent),
                "--agent-bind-hosts",
                "127.0.0.1",
                "--agent-probe-port",
                &port(ports.agent_probes),
                "--agent-metrics-port",
                &port(ports.agent_metrics),
                "--database-url",
                &format!("sqlite://{}?mode=rwc", database.display()),
            ][..],
            extra,
        ]
        .concat(),
    );
    let admin_secret = format!(
        "---\napiVersion: v1\nkind: Secret\nmetadata: {{name: podpass-admin, namespace: podpass}}\n\
         stringData: {{access-key-id: {ADMIN_KEY_ID}, secret-access-key: {ADMIN_SECRET}}}\n"
    );
    (rendered + &admin_secret, ports)
}

/// Renders the install of the API and the agent (with `extra` flags) and applies it, with
/// `objects` (more documents, such as Secrets the flags name); returns the ports.
fn install(cluster: &Podpass, extra: &[&str], objects: &str) -> Ports {
    let (rendered, ports) = render(cluster, "api,agent", extra);
    let file = cluster.write("podpass.yaml", &(rendered + objects));
    let out = cluster.podpass(&["run", "-f", file.to_str().unwrap()]);
    let applied = text(&out.stdout);
    assert!(
        out.status.success(),
        "{applied}\n{}\n{}",
        text(&out.stderr),
        cluster.log()
    );
    for line in [
        "serviceaccount/podpass-api created",
        "serviceaccount/podpass-agent created",
        "secret/podpass-database created",
        "configmap/podpass-cluster-jwks created",
        "secret/podpass-admin created",
        "pod/podpass-api-0 created (one pod of Deployment/podpass-api)",
        "pod/podpass-agent-0 created (one pod of DaemonSet/podpass-agent)",
    ] {
        assert!(applied.contains(line), "{line} not in:\n{applied}");
    }
    assert!(applied.contains("service/podpass-api created"), "{applied}");
    let skipped = text(&out.stderr);
    assert!(
        skipped.contains("PodDisruptionBudget/podpass-api skipped"),
        "{skipped}"
    );
    // Ready as the rendered readiness probes see them.
    wait_ready(cluster, "podpass-api-0");
    wait_ready(cluster, "podpass-agent-0");
    // Objects upstream, the API serves S3; else the object store's one pod does.
    let object_store = "pod/podpass-s3-0 created (one pod of StatefulSet/podpass-s3)";
    if extra.contains(&"--s3-upstream-url") {
        assert!(!applied.contains(object_store), "{applied}");
    } else {
        assert!(applied.contains(object_store), "{applied}");
        wait_ready(cluster, "podpass-s3-0");
    }
    ports
}

/// Waits until every container of the pod passes its readiness probe.
fn wait_ready(cluster: &Podpass, pod: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let status: serde_json::Value = serde_json::from_str(
            &cluster.podpass_ok(&["get", "pod", pod, "-n", "podpass", "-o", "json"]),
        )
        .expect("pod JSON");
        let containers = status["status"]["containerStatuses"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        if !containers.is_empty() && containers.iter().all(|c| c["ready"] == true) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{pod} is not ready: {}\n{}",
            status["status"],
            text(&cluster.podpass(&["logs", pod, "-n", "podpass"]).stdout)
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The AWS CLI as the installed API's account root.
fn installed_admin(cluster: &Podpass, ports: &Ports, args: &[&str]) -> serde_json::Value {
    let out = cluster.aws(
        &[
            ("AWS_ACCESS_KEY_ID", ADMIN_KEY_ID),
            ("AWS_SECRET_ACCESS_KEY", ADMIN_SECRET),
            ("AWS_ENDPOINT_URL", &ports.api_url()),
            ("AWS_ENDPOINT_URL_S3", &ports.s3_url()),
        ],
        args,
    );
    assert!(out.status.success(), "aws {args:?}: {}", text(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap_or(serde_json::Value::Null)
}

/// A Pod Identity pod of `reports/<service_account>` as the webhook leaves it in a cluster: the
/// pod's own token for the installed agent, the region, and `env`.
fn pod_identity_pod(
    name: &str,
    service_account: &str,
    image: &str,
    args: &str,
    ports: &Ports,
    env: &[(&str, &str)],
) -> String {
    let env: String = env
        .iter()
        .map(|(key, value)| format!("    - {{name: {key}, value: '{value}'}}\n"))
        .collect();
    format!(
        "apiVersion: v1
kind: Pod
metadata: {{name: {name}, namespace: reports}}
spec:
  serviceAccountName: {service_account}
  restartPolicy: Never
  containers:
  - name: aws
    image: {image}
    args: {args}
    env:
    - {{name: AWS_CONTAINER_CREDENTIALS_FULL_URI, value: '{agent}'}}
    - {{name: AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE, value: /var/run/secrets/pods.eks.amazonaws.com/serviceaccount/eks-pod-identity-token}}
    - {{name: AWS_REGION, value: us-east-1}}
    - {{name: AWS_DEFAULT_REGION, value: us-east-1}}
{env}    volumeMounts:
    - {{name: eks-pod-identity-token, mountPath: /var/run/secrets/pods.eks.amazonaws.com/serviceaccount, readOnly: true}}
  volumes:
  - name: eks-pod-identity-token
    projected:
      sources:
      - serviceAccountToken: {{audience: pods.eks.amazonaws.com, expirationSeconds: 86400, path: eks-pod-identity-token}}
",
        agent = ports.agent_url(),
    )
}

/// The bucket `reports` with one object, and two roles of the installed API that may list it:
/// `reports-irsa`, trusted by `reports/<irsa_account>`'s tokens (IRSA), and
/// `reports-pod-identity`, associated with `reports/<pod_identity_account>` (Pod Identity).
fn reports_roles(cluster: &Podpass, ports: &Ports, irsa_account: &str, pod_identity_account: &str) {
    let account = "000000000000";
    // The install made its node role and the OIDC provider of the cluster's issuer.
    let providers = installed_admin(cluster, ports, &["iam", "list-open-id-connect-providers"]);
    let provider_arn = providers["OpenIDConnectProviderList"][0]["Arn"]
        .as_str()
        .expect("the cluster's OIDC provider")
        .to_owned();
    let issuer_path = cluster.issuer().trim_start_matches("http://").to_owned();
    assert!(provider_arn.ends_with(&issuer_path), "{provider_arn}");

    // A bucket and two roles that may list it: one for Pod Identity, one for IRSA.
    installed_admin(cluster, ports, &["s3", "mb", "s3://reports"]);
    let object = cluster.write("q3.csv", "region,total\n");
    installed_admin(
        cluster,
        ports,
        &["s3", "cp", object.to_str().unwrap(), "s3://reports/q3.csv"],
    );
    let list_policy = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:ListBucket","s3:GetObject"],"Resource":["arn:aws:s3:::reports","arn:aws:s3:::reports/*"]}]}"#;
    let pod_identity_trust = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"pods.eks.amazonaws.com"},"Action":["sts:AssumeRole","sts:TagSession"]}]}"#;
    let irsa_trust = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"Federated":"{provider_arn}"}},"Action":"sts:AssumeRoleWithWebIdentity","Condition":{{"StringEquals":{{"{issuer_path}:sub":"system:serviceaccount:reports:{irsa_account}","{issuer_path}:aud":"sts.amazonaws.com"}}}}}}]}}"#
    );
    for (role, trust) in [
        ("reports-pod-identity", pod_identity_trust),
        ("reports-irsa", irsa_trust.as_str()),
    ] {
        installed_admin(
            cluster,
            ports,
            &[
                "iam",
                "create-role",
                "--role-name",
                role,
                "--assume-role-policy-document",
                trust,
            ],
        );
        installed_admin(
            cluster,
            ports,
            &[
                "iam",
                "put-role-policy",
                "--role-name",
                role,
                "--policy-name",
                "list",
                "--policy-document",
                list_policy,
            ],
        );
    }
    installed_admin(
        cluster,
        ports,
        &[
            "eks",
            "create-pod-identity-association",
            "--cluster-name",
            "onprem",
            "--namespace",
            "reports",
            "--service-account",
            pod_identity_account,
            "--role-arn",
            &format!("arn:aws:iam::{account}:role/reports-pod-identity"),
        ],
    );
}

/// Runs a pod of the cluster to completion and returns its output.
fn run_pod(cluster: &Podpass, name: &str, manifest: &str) -> String {
    let file = cluster.write(&format!("{name}.yaml"), manifest);
    let out = cluster.podpass(&["run", "-f", file.to_str().unwrap(), "--attach"]);
    assert!(
        out.status.success(),
        "pod {name}:\n{}\n{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    text(&out.stdout)
}

#[test]
fn the_installed_api_and_agent_give_the_clusters_pods_their_roles() {
    let cluster = Podpass::start();
    let ports = install(&cluster, &[], "");
    let account = "000000000000";

    reports_roles(&cluster, &ports, "reader", "reader");

    // What the webhook injects in a cluster, written out: the pod's own token for the agent,
    // and the installed API as the AWS endpoint. The image's entrypoint is `aws`.
    let pod_identity_pod = pod_identity_pod(
        "pod-identity",
        "reader",
        "public.ecr.aws/aws-cli/aws-cli:2.17.0",
        "[s3, ls, s3://reports]",
        &ports,
        &[
            ("AWS_ENDPOINT_URL", &ports.api_url()),
            ("AWS_ENDPOINT_URL_S3", &ports.s3_url()),
        ],
    );
    let irsa_pod = format!(
        "apiVersion: v1
kind: Pod
metadata: {{name: irsa, namespace: reports}}
spec:
  serviceAccountName: reader
  restartPolicy: Never
  containers:
  - name: aws
    image: amazon/aws-cli
    args: [sts, get-caller-identity, --query, Arn, --output, text]
    env:
    - {{name: AWS_ROLE_ARN, value: 'arn:aws:iam::{account}:role/reports-irsa'}}
    - {{name: AWS_WEB_IDENTITY_TOKEN_FILE, value: /var/run/secrets/eks.amazonaws.com/serviceaccount/token}}
    - {{name: AWS_ENDPOINT_URL, value: '{api}'}}
    - {{name: AWS_REGION, value: us-east-1}}
    - {{name: AWS_DEFAULT_REGION, value: us-east-1}}
    volumeMounts:
    - {{name: aws-iam-token, mountPath: /var/run/secrets/eks.amazonaws.com/serviceaccount, readOnly: true}}
  volumes:
  - name: aws-iam-token
    projected:
      sources:
      - serviceAccountToken: {{audience: sts.amazonaws.com, expirationSeconds: 86400, path: token}}
",
        api = ports.api_url(),
    );
    let sa = cluster.write(
        "reader.yaml",
        "apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: reader, namespace: reports}\n",
    );
    assert_eq!(
        cluster.podpass_ok(&["run", "-f", sa.to_str().unwrap()]),
        "serviceaccount/reader created\n"
    );

    let listing = run_pod(&cluster, "pod-identity", &pod_identity_pod);
    assert!(listing.contains("q3.csv"), "{listing}");
    let arn = run_pod(&cluster, "irsa", &irsa_pod);
    assert!(
        arn.trim().starts_with(&format!(
            "arn:aws:sts::{account}:assumed-role/reports-irsa/"
        )),
        "{arn}"
    );

    // The rendered agent served the pod: its metrics, on the rendered port, count it.
    let metrics = support::http_get(&format!("http://127.0.0.1:{}/metrics", ports.agent_metrics));
    let served: f64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("pod_identity_http_response_total{code=\"200\"} "))
        .and_then(|count| count.parse().ok())
        .unwrap_or_default();
    assert!(served >= 1.0, "{metrics}");
}

#[test]
fn with_objects_upstream_the_api_replicas_serve_s3_themselves() {
    // The sandbox plays the object store too (AWS S3, MinIO): a user of its own, with keys.
    let cluster = Podpass::start();
    cluster.aws_admin_json(&["iam", "create-user", "--user-name", "objects"]);
    cluster.aws_admin_json(&[
        "iam",
        "attach-user-policy",
        "--user-name",
        "objects",
        "--policy-arn",
        "arn:aws:iam::aws:policy/AmazonS3FullAccess",
    ]);
    let key = cluster.aws_admin_json(&["iam", "create-access-key", "--user-name", "objects"])
        ["AccessKey"]
        .clone();
    let upstream_secret = format!(
        "---\napiVersion: v1\nkind: Secret\nmetadata: {{name: podpass-s3-upstream, namespace: podpass}}\n\
         stringData: {{access-key-id: {}, secret-access-key: {}}}\n",
        key["AccessKeyId"].as_str().unwrap(),
        key["SecretAccessKey"].as_str().unwrap(),
    );
    let upstream = cluster.s3_endpoint();
    let ports = install(
        &cluster,
        &["--s3-upstream-url", &upstream],
        &upstream_secret,
    );
    reports_roles(&cluster, &ports, "reader", "reader");

    // The object went through the installed API to the upstream store.
    let out = cluster.aws(
        &[
            ("AWS_PROFILE", "podpass"),
            ("AWS_ENDPOINT_URL_S3", &upstream),
        ],
        &[
            "s3api",
            "list-objects-v2",
            "--bucket",
            "reports",
            "--query",
            "Contents[].Key",
        ],
    );
    assert!(
        text(&out.stdout).contains("q3.csv"),
        "{}",
        text(&out.stderr)
    );

    // A Pod Identity pod lists it through the installed S3, which decides with its own IAM.
    let sa = cluster.write(
        "reader.yaml",
        "apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: reader, namespace: reports}\n",
    );
    cluster.podpass_ok(&["run", "-f", sa.to_str().unwrap()]);
    let s3_env = [
        ("AWS_ENDPOINT_URL", ports.api_url()),
        ("AWS_ENDPOINT_URL_S3", ports.s3_url()),
    ];
    let env: Vec<(&str, &str)> = s3_env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    for (pod, command, succeeds, expected) in [
        ("lister", "[s3, ls, s3://reports]", true, "q3.csv"),
        (
            "remover",
            "[s3, rm, s3://reports/q3.csv]",
            false,
            "AccessDenied",
        ),
    ] {
        let manifest = pod_identity_pod(
            pod,
            "reader",
            "public.ecr.aws/aws-cli/aws-cli:2.17.0",
            command,
            &ports,
            &env,
        );
        let file = cluster.write(&format!("{pod}.yaml"), &manifest);
        let out = cluster.podpass(&["run", "-f", file.to_str().unwrap(), "--attach"]);
        let output = text(&out.stdout) + &text(&out.stderr);
        assert_eq!(out.status.success(), succeeds, "{pod}: {output}");
        assert!(output.contains(expected), "{pod}: {output}");
    }
}

#[test]
fn the_installed_broker_hands_pods_sessions_of_aws() {
    // The sandbox plays AWS too: pods (the installed API's among them) reach its endpoint
    // through the node's AWS_ENDPOINT_URL, as they would reach AWS's.
    let cluster = Podpass::start();
    let account = "000000000000";
    let issuer_path = cluster.issuer().trim_start_matches("http://").to_owned();
    let aws_admin = |args: &[&str]| {
        let out = cluster.aws_admin(args);
        assert!(out.status.success(), "aws {args:?}: {}", text(&out.stderr));
    };
    aws_admin(&[
        "iam",
        "create-open-id-connect-provider",
        "--url",
        &cluster.issuer(),
        "--client-id-list",
        "sts.amazonaws.com",
    ]);
    // The broker's role: the installed API's ServiceAccount takes it with IRSA.
    let broker_trust = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"Federated":"arn:aws:iam::{account}:oidc-provider/{issuer_path}"}},"Action":"sts:AssumeRoleWithWebIdentity","Condition":{{"StringEquals":{{"{issuer_path}:sub":"system:serviceaccount:podpass:podpass-api","{issuer_path}:aud":"sts.amazonaws.com"}}}}}}]}}"#
    );
    let broker_role = format!("arn:aws:iam::{account}:role/podpass-broker");
    let pod_role_trust = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"AWS":"{broker_role}"}},"Action":["sts:AssumeRole","sts:TagSession"]}}]}}"#
    );
    for (role, trust) in [
        ("podpass-broker", &broker_trust),
        ("reports-writer", &pod_role_trust),
    ] {
        aws_admin(&[
            "iam",
            "create-role",
            "--role-name",
            role,
            "--assume-role-policy-document",
            trust,
        ]);
    }
    aws_admin(&[
        "iam",
        "put-role-policy",
        "--role-name",
        "podpass-broker",
        "--policy-name",
        "assume-pod-roles",
        "--policy-document",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["sts:AssumeRole","sts:TagSession"],"Resource":"*"}]}"#,
    ]);

    let ports = install(&cluster, &["--broker-role-arn", &broker_role], "");
    installed_admin(
        &cluster,
        &ports,
        &[
            "eks",
            "create-pod-identity-association",
            "--cluster-name",
            "onprem",
            "--namespace",
            "reports",
            "--service-account",
            "writer",
            "--role-arn",
            &format!("arn:aws:iam::{account}:role/reports-writer"),
        ],
    );
    let sa = cluster.write(
        "writer.yaml",
        "apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: writer, namespace: reports}\n",
    );
    cluster.podpass_ok(&["run", "-f", sa.to_str().unwrap()]);
    // A Pod Identity pod as the webhook leaves it; its STS calls go to AWS (the node's).
    let pod = pod_identity_pod(
        "brokered",
        "writer",
        "amazon/aws-cli",
        "[sts, get-caller-identity, --query, Arn, --output, text]",
        &ports,
        &[],
    );
    let arn = run_pod(&cluster, "brokered", &pod);
    assert!(
        arn.trim().starts_with(&format!(
            "arn:aws:sts::{account}:assumed-role/reports-writer/eks-onprem-brokered-"
        )),
        "{arn}\n{}",
        text(
            &cluster
                .podpass(&["logs", "podpass-api-0", "-n", "podpass"])
                .stdout
        )
    );
    // The session is AWS's, not the installed API's: AWS's audit trail has the broker's
    // AssumeRole for it, as the broker's own web identity.
    let issued = cluster.podpass_ok(&["audit", "--principal", "podpass-broker"]);
    assert!(issued.contains("AssumeRole"), "{issued}");
}

/// What cert-manager does for the install: a CA, the webhook's serving certificate for its
/// Service's name in the Secret the Deployment mounts, and the CA as the caBundle of the
/// webhook configuration (its CA injector). Returns the install with both.
fn as_cert_manager(rendered: &str) -> String {
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(rcgen::DnType::CommonName, "cert-manager test CA");
    let ca_pem = ca.self_signed(&ca_key).unwrap().pem();
    let issuer = rcgen::Issuer::from_ca_cert_pem(&ca_pem, ca_key).unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let serving = rcgen::CertificateParams::new(vec![
        "podpass-webhook.podpass.svc".to_owned(),
        "podpass-webhook.podpass.svc.cluster.local".to_owned(),
    ])
    .unwrap()
    .signed_by(&key, &issuer)
    .unwrap();
    let b64 = |text: &str| base64::Engine::encode(&base64::engine::general_purpose::STANDARD, text);
    let secret = format!(
        "---\napiVersion: v1\nkind: Secret\ntype: kubernetes.io/tls\n\
         metadata: {{name: podpass-webhook-tls, namespace: podpass}}\n\
         data: {{tls.crt: {}, tls.key: {}, ca.crt: {}}}\n",
        b64(&serving.pem()),
        b64(&key.serialize_pem()),
        b64(&ca_pem),
    );
    let service = "  clientConfig:\n    service:\n";
    assert!(rendered.contains(service), "{rendered}");
    rendered.replace(
        service,
        &format!(
            "  clientConfig:\n    caBundle: {}\n    service:\n",
            b64(&ca_pem)
        ),
    ) + &secret
}

/// A pod of `reports/<service_account>` as its author writes it: nothing of AWS in it.
fn plain_pod(name: &str, service_account: &str, args: &str) -> String {
    format!(
        "apiVersion: v1
kind: Pod
metadata: {{name: {name}, namespace: reports}}
spec:
  serviceAccountName: {service_account}
  restartPolicy: Never
  containers:
  - {{name: aws, image: amazon/aws-cli, args: {args}}}
"
    )
}

/// The env of the first container of a pod as admitted.
fn admitted_env(cluster: &Podpass, pod: &str) -> Vec<String> {
    let object: serde_json::Value = serde_json::from_str(
        &cluster.podpass_ok(&["get", "pod", pod, "-n", "reports", "-o", "json"]),
    )
    .unwrap();
    object["spec"]["containers"][0]["env"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| e["name"].as_str().map(str::to_owned))
        .collect()
}

#[test]
fn the_installed_webhook_mutates_the_clusters_pods() {
    // The sandbox's own webhook is off: the installed one, registered by its
    // MutatingWebhookConfiguration, is the only one that mutates pods.
    let cluster = Podpass::start_with(&["--builtin-webhook", "false"], &[]);
    let account = "000000000000";
    let (rendered, ports) = render(&cluster, "api,webhook,agent", &["--failure-policy", "fail"]);
    let rendered = as_cert_manager(&rendered);
    // The webhook lists Pod Identity associations when it starts (then every 10 s): it is
    // deployed once they exist, so that no wait depends on that period.
    let documents: Vec<&str> = rendered.split("\n---\n").collect();
    let is_webhook_deployment =
        |d: &&str| d.contains("\nkind: Deployment\n") && d.contains("  name: podpass-webhook\n");
    let webhook: String = documents
        .iter()
        .copied()
        .filter(is_webhook_deployment)
        .collect();
    assert!(!webhook.is_empty(), "{rendered}");
    let rest: Vec<&str> = documents
        .iter()
        .copied()
        .filter(|d| !is_webhook_deployment(d))
        .collect();
    let file = cluster.write("podpass.yaml", &rest.join("\n---\n"));
    let out = cluster.podpass(&["run", "-f", file.to_str().unwrap()]);
    let applied = text(&out.stdout);
    assert!(out.status.success(), "{applied}\n{}", text(&out.stderr));
    for line in [
        "clusterrole.rbac.authorization.k8s.io/podpass-webhook created",
        "clusterrolebinding.rbac.authorization.k8s.io/podpass-webhook created",
        "service/podpass-webhook created",
        "mutatingwebhookconfiguration.admissionregistration.k8s.io/podpass-webhook created",
        "secret/podpass-webhook-tls created",
    ] {
        assert!(applied.contains(line), "{line} not in:\n{applied}");
    }
    for pod in ["podpass-api-0", "podpass-s3-0", "podpass-agent-0"] {
        wait_ready(&cluster, pod);
    }

    reports_roles(&cluster, &ports, "irsa-reader", "pi-reader");
    let accounts = cluster.write(
        "accounts.yaml",
        &format!(
            "apiVersion: v1
kind: ServiceAccount
metadata:
  name: irsa-reader
  namespace: reports
  annotations: {{eks.amazonaws.com/role-arn: 'arn:aws:iam::{account}:role/reports-irsa'}}
---
apiVersion: v1
kind: ServiceAccount
metadata: {{name: pi-reader, namespace: reports}}
---
apiVersion: v1
kind: ServiceAccount
metadata: {{name: nobody, namespace: reports}}
"
        ),
    );
    cluster.podpass_ok(&["run", "-f", accounts.to_str().unwrap()]);

    // failurePolicy Fail: while no webhook answers, pods of the cluster are refused, not
    // admitted without their credentials.
    let early = cluster.write(
        "early.yaml",
        &plain_pod("early", "irsa-reader", "[--version]"),
    );
    let out = cluster.podpass(&["run", "-f", early.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("failed calling webhook \"pod-identity-webhook.podpass.io\""),
        "{}",
        text(&out.stderr)
    );

    let file = cluster.write("webhook.yaml", &webhook);
    let applied = cluster.podpass_ok(&["run", "-f", file.to_str().unwrap()]);
    assert!(
        applied.contains("pod/podpass-webhook-0 created"),
        "{applied}"
    );
    wait_ready(&cluster, "podpass-webhook-0");

    // The pods say nothing of AWS; the installed webhook, reading their ServiceAccounts through
    // the cluster's API and the associations through the installed EKS API, gives them
    // credentials and the installed endpoints.
    let arn = run_pod(
        &cluster,
        "irsa",
        &plain_pod(
            "irsa",
            "irsa-reader",
            "[sts, get-caller-identity, --query, Arn, --output, text]",
        ),
    );
    assert!(
        arn.trim().starts_with(&format!(
            "arn:aws:sts::{account}:assumed-role/reports-irsa/"
        )),
        "{arn}\n{}",
        text(
            &cluster
                .podpass(&["logs", "podpass-webhook-0", "-n", "podpass"])
                .stdout
        )
    );
    let listing = run_pod(
        &cluster,
        "irsa-list",
        &plain_pod("irsa-list", "irsa-reader", "[s3, ls, s3://reports]"),
    );
    assert!(listing.contains("q3.csv"), "{listing}");
    let env = admitted_env(&cluster, "irsa");
    for name in [
        "AWS_ROLE_ARN",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
        "AWS_ENDPOINT_URL_STS",
    ] {
        assert!(env.iter().any(|e| e == name), "{name} not in {env:?}");
    }
    let listing = run_pod(
        &cluster,
        "pod-identity",
        &plain_pod("pod-identity", "pi-reader", "[s3, ls, s3://reports]"),
    );
    assert!(listing.contains("q3.csv"), "{listing}");
    let env = admitted_env(&cluster, "pod-identity");
    assert!(
        env.iter()
            .any(|e| e == "AWS_CONTAINER_CREDENTIALS_FULL_URI"),
        "{env:?}"
    );
    // The seed's first two labs, on this install: a pod with no ServiceAccount token, and a
    // pod with only its ServiceAccount's default token, try the same bucket through the
    // installed S3 endpoint. Neither is mutated, and neither may list it.
    for (lab, automount) in [("no-token", false), ("default-token", true)] {
        let pod = format!(
            "apiVersion: v1
kind: Pod
metadata: {{name: {lab}, namespace: reports}}
spec:
  serviceAccountName: nobody
  automountServiceAccountToken: {automount}
  restartPolicy: Never
  containers:
  - name: aws
    image: amazon/aws-cli
    args: [s3, ls, s3://reports]
    env:
    - {{name: AWS_ENDPOINT_URL_S3, value: '{s3}'}}
    - {{name: AWS_MAX_ATTEMPTS, value: '1'}}
",
            s3 = ports.s3_url(),
        );
        let file = cluster.write(&format!("{lab}.yaml"), &pod);
        let out = cluster.podpass(&["run", "-f", file.to_str().unwrap(), "--attach"]);
        let said = format!("{}{}", text(&out.stdout), text(&out.stderr));
        assert!(!out.status.success(), "{lab} listed the bucket: {said}");
        assert!(!said.contains("q3.csv"), "{said}");
        let env = admitted_env(&cluster, lab);
        assert!(
            !env.iter()
                .any(|e| e.starts_with("AWS_ROLE") || e.starts_with("AWS_CONTAINER")),
            "{lab} was given credentials: {env:?}"
        );
    }
}
