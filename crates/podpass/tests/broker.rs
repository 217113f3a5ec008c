//! Broker mode: a podpass that decides Pod Identity as EKS does and has an upstream STS issue
//! the sessions. A second `podpass up` stands in for AWS (its STS, IAM and S3), and the broker's
//! own identity is a web identity of that upstream, taken from the AWS SDK's default chain.

mod support;

use support::moto::Moto;
use support::{Podpass, assert_aws_error, text};

const ACCOUNT: &str = "000000000000";

fn role(name: &str) -> String {
    format!("arn:aws:iam::{ACCOUNT}:role/{name}")
}

/// The upstream's role the broker assumes roles as, and the file of the web-identity token it
/// proves itself with.
fn broker_identity(upstream: &Podpass) -> (String, String) {
    let may_assume = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["sts:AssumeRole","sts:TagSession"],"Resource":"*"}]}"#;
    let policy = upstream.aws_admin_json(&[
        "iam",
        "create-policy",
        "--policy-name",
        "podpass-broker",
        "--policy-document",
        may_assume,
    ]);
    let policy_arn = policy["Policy"]["Arn"].as_str().unwrap().to_owned();
    let (_, role_arn) = upstream.irsa_service_account("podpass-broker", &policy_arn);
    let token = upstream.token("podpass-broker", "sts.amazonaws.com", None);
    let file = upstream.write("broker-token", &token);
    (role_arn, file.to_str().unwrap().to_owned())
}

/// An upstream role the broker may hand to pods, reading `reports/<its pod's namespace>/`.
fn upstream_role(upstream: &Podpass, name: &str, broker_role: &str, actions: &str) {
    let trust = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"AWS":"{broker_role}"}},"Action":{actions}}}]}}"#
    );
    upstream.aws_admin_json(&[
        "iam",
        "create-role",
        "--role-name",
        name,
        "--assume-role-policy-document",
        &trust,
    ]);
    let read_own_prefix = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::reports/${aws:PrincipalTag/kubernetes-namespace}/*"}]}"#;
    upstream.aws_admin_json(&[
        "iam",
        "put-role-policy",
        "--role-name",
        name,
        "--policy-name",
        "own-namespace",
        "--policy-document",
        read_own_prefix,
    ]);
}

/// Associates `<namespace>/reader` with the role (and creates the ServiceAccount); returns the
/// EKS API's answer.
fn associate(
    broker: &Podpass,
    namespace: &str,
    role_name: &str,
    extra: &[&str],
) -> serde_json::Value {
    let mut args = vec![
        "eks",
        "create-pod-identity-association",
        "--cluster-name",
        "demo",
        "--namespace",
        namespace,
        "--service-account",
        "reader",
    ];
    let arn = role(role_name);
    args.extend(["--role-arn", &arn]);
    args.extend(extra);
    let created = broker.aws_admin_json(&args);
    broker.podpass_ok(&["sa", "create", "reader", "-n", namespace]);
    created
}

/// The container credentials a Pod Identity pod of `namespace` gets from the broker's agent.
fn pod_env(
    broker: &Podpass,
    upstream: &Podpass,
    namespace: &str,
    pod: &str,
) -> Vec<(String, String)> {
    pod_env_at(
        broker,
        &upstream.endpoint(),
        &upstream.s3_endpoint(),
        namespace,
        pod,
    )
}

/// [`pod_env`] for an upstream at `endpoint` (and `s3`).
fn pod_env_at(
    broker: &Podpass,
    endpoint: &str,
    s3: &str,
    namespace: &str,
    pod: &str,
) -> Vec<(String, String)> {
    let token = broker.podpass_ok(&[
        "token",
        "create",
        "-n",
        namespace,
        "--service-account",
        "reader",
        "--audience",
        "pods.eks.amazonaws.com",
        "--pod",
        pod,
    ]);
    let file = broker.write(&format!("{namespace}-{pod}-token"), token.trim());
    vec![
        (
            "AWS_CONTAINER_CREDENTIALS_FULL_URI".into(),
            broker.agent_url(),
        ),
        (
            "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE".into(),
            file.to_str().unwrap().to_owned(),
        ),
        // The credentials are the upstream's: so are the endpoints that take them.
        ("AWS_ENDPOINT_URL".into(), endpoint.to_owned()),
        ("AWS_ENDPOINT_URL_S3".into(), s3.to_owned()),
    ]
}

/// The AWS CLI as `podpass`'s admin, at its S3 endpoint.
fn s3_admin(podpass: &Podpass, args: &[&str]) {
    let s3 = podpass.s3_endpoint();
    let out = podpass.aws(
        &[("AWS_PROFILE", "podpass"), ("AWS_ENDPOINT_URL_S3", &s3)],
        args,
    );
    assert!(out.status.success(), "aws {args:?}: {}", text(&out.stderr));
}

fn aws(broker: &Podpass, env: &[(String, String)], args: &[&str]) -> std::process::Output {
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    broker.aws(&env, args)
}

/// The ARN the pod's credentials (from `env`) stand for, asserting the pod got them.
fn assumed_arn(broker: &Podpass, env: &[(String, String)]) -> String {
    let args = [
        "sts",
        "get-caller-identity",
        "--query",
        "Arn",
        "--output",
        "text",
    ];
    let out = aws(broker, env, &args);
    assert!(
        out.status.success(),
        "{}\n{}",
        text(&out.stderr),
        broker.log()
    );
    text(&out.stdout)
}

/// A broker whose identity is the upstream's `broker_role`, proven with `token_file`.
fn start_broker(upstream: &Podpass, broker_role: &str, token_file: &str) -> Podpass {
    let upstream_sts = upstream.endpoint();
    Podpass::start_with(
        &["--broker"],
        &[
            ("AWS_ENDPOINT_URL_STS", upstream_sts.as_str()),
            ("AWS_ROLE_ARN", broker_role),
            ("AWS_WEB_IDENTITY_TOKEN_FILE", token_file),
            ("AWS_REGION", "us-east-1"),
        ],
    )
}

#[test]
fn the_broker_hands_pods_sessions_of_the_upstream() {
    let mut upstream = Podpass::start();
    let (broker_role, token_file) = broker_identity(&upstream);
    upstream_role(
        &upstream,
        "reports-reader",
        &broker_role,
        r#"["sts:AssumeRole","sts:TagSession"]"#,
    );
    // Trusts the broker without sts:TagSession: EKS's session tags make the upstream refuse.
    upstream_role(
        &upstream,
        "untagged-reader",
        &broker_role,
        r#""sts:AssumeRole""#,
    );
    s3_admin(
        &upstream,
        &["s3api", "create-bucket", "--bucket", "reports"],
    );
    for namespace in ["team-a", "team-b"] {
        let object = upstream.write(&format!("{namespace}.csv"), &format!("rows of {namespace}"));
        s3_admin(
            &upstream,
            &[
                "s3api",
                "put-object",
                "--bucket",
                "reports",
                "--key",
                &format!("{namespace}/q3.csv"),
                "--body",
                object.to_str().unwrap(),
            ],
        );
    }

    let broker = start_broker(&upstream, &broker_role, &token_file);
    associate(&broker, "team-a", "reports-reader", &[]);
    associate(&broker, "team-b", "untagged-reader", &[]);
    associate(
        &broker,
        "team-c",
        "untagged-reader",
        &["--disable-session-tags"],
    );

    let upstream_sts = upstream.endpoint();
    // A pod run by the broker's kubelet, with the unmodified AWS CLI: the session is the
    // upstream's, named as EKS names it, and its namespace tag opens its own prefix only.
    let pod = broker.write(
        "pod.yaml",
        &format!(
            "apiVersion: v1\nkind: Pod\nmetadata: {{name: report, namespace: team-a}}\nspec:\n  serviceAccountName: reader\n  restartPolicy: Never\n  containers:\n  - name: aws\n    image: amazon/aws-cli\n    command: [sh, -c, 'aws sts get-caller-identity --query Arn --output text && aws s3 cp s3://reports/team-a/q3.csv - && echo && aws s3 cp s3://reports/team-b/q3.csv - || echo refused']\n    env:\n    - {{name: AWS_ENDPOINT_URL_STS, value: '{upstream_sts}'}}\n    - {{name: AWS_ENDPOINT_URL_S3, value: '{}'}}\n",
            upstream.s3_endpoint()
        ),
    );
    let out = broker.podpass(&["run", "-f", pod.to_str().unwrap(), "--attach"]);
    let stdout = text(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}\n{}",
        text(&out.stderr),
        broker.log()
    );
    assert!(
        stdout.contains(&format!(
            "arn:aws:sts::{ACCOUNT}:assumed-role/reports-reader/eks-demo-report-"
        )),
        "{stdout}\n{}",
        broker.log()
    );
    assert!(stdout.contains("rows of team-a\n"), "{stdout}");
    assert!(stdout.contains("refused"), "{stdout}");
    assert!(!stdout.contains("rows of team-b"), "{stdout}");

    // The upstream refuses a role that does not trust sts:TagSession: the pod gets EKS Auth's
    // refusal, the broker's audit trail the upstream's reason.
    let refused = aws(
        &broker,
        &pod_env(&broker, &upstream, "team-b", "b-0"),
        &["sts", "get-caller-identity"],
    );
    assert!(!refused.status.success(), "{}", text(&refused.stdout));
    let denied = broker.podpass_ok(&["audit", "--denied"]);
    assert!(
        denied.contains("the upstream refused: AccessDenied"),
        "{denied}"
    );
    // Without session tags the same role is assumed.
    let untagged = aws(
        &broker,
        &pod_env(&broker, &upstream, "team-c", "c-0"),
        &["sts", "get-caller-identity"],
    );
    assert!(untagged.status.success(), "{}", text(&untagged.stderr));
    assert!(text(&untagged.stdout).contains("assumed-role/untagged-reader/eks-demo-c-0-"));

    // Many callers of one pod at once make one upstream call: EKS Auth asked 200 times
    // concurrently with the same pod's token, as the broker's admin.
    let token = broker.podpass_ok(&[
        "token",
        "create",
        "-n",
        "team-a",
        "--service-account",
        "reader",
        "--audience",
        "pods.eks.amazonaws.com",
        "--pod",
        "burst-0",
    ]);
    let burst = broker.python(
        &[("AWS_PROFILE", "podpass")],
        &format!(
            "import boto3, concurrent.futures\n\
             client = boto3.client('eks-auth')\n\
             ask = lambda _: client.assume_role_for_pod_identity(clusterName='demo', token='{}')['assumedRoleUser']['arn']\n\
             with concurrent.futures.ThreadPoolExecutor(50) as pool:\n    arns = set(pool.map(ask, range(200)))\n\
             print(len(arns), arns.pop())",
            token.trim()
        ),
    );
    assert!(burst.status.success(), "{}", text(&burst.stderr));
    assert!(
        text(&burst.stdout).starts_with(
            "1 arn:aws:sts::000000000000:assumed-role/reports-reader/eks-demo-burst-0-"
        ),
        "{}",
        text(&burst.stdout)
    );
    let metrics = support::http_get(&format!("{}/metrics", broker.endpoint()));
    for expected in [
        // The pod, team-c, and the burst's single call; team-b's refusals (the CLI retries
        // its credentials provider, and refusals are not cached).
        r#"podpass_broker_upstream_calls_total{outcome="ok"} 3"#,
        r#"podpass_broker_upstream_calls_total{outcome="denied"}"#,
        r#"podpass_broker_session_lookups_total{result="hit"} 199"#,
    ] {
        assert!(
            metrics.contains(expected),
            "{expected} missing from\n{metrics}"
        );
    }

    // An upstream that is down: the pod gets an error, and once it is back, credentials (the
    // failure was not kept).
    upstream.stop();
    let env = pod_env(&broker, &upstream, "team-a", "late-0");
    let down = aws(&broker, &env, &["sts", "get-caller-identity"]);
    assert!(!down.status.success(), "{}", text(&down.stdout));
    upstream.restart();
    let back = aws(&broker, &env, &["sts", "get-caller-identity"]);
    assert!(
        back.status.success(),
        "{}\n{}",
        text(&back.stderr),
        broker.log()
    );
    // The upstream's S3 came back on another port.
    let env: Vec<(String, String)> = env
        .into_iter()
        .map(|(k, v)| match k.as_str() {
            "AWS_ENDPOINT_URL_S3" => (k, upstream.s3_endpoint()),
            _ => (k, v),
        })
        .collect();
    assert_aws_error(
        &aws(
            &broker,
            &env,
            &[
                "s3api",
                "get-object",
                "--bucket",
                "reports",
                "--key",
                "team-b/q3.csv",
                "/dev/null",
            ],
        ),
        "AccessDenied",
    );
}

#[test]
fn a_published_issuer_gives_irsa_with_the_upstreams_sts() {
    let upstream = Podpass::start();
    let anyone_reads = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::oidc/*"}]}"#;
    s3_admin(&upstream, &["s3api", "create-bucket", "--bucket", "oidc"]);
    s3_admin(
        &upstream,
        &[
            "s3api",
            "put-bucket-policy",
            "--bucket",
            "oidc",
            "--policy",
            anyone_reads,
        ],
    );
    let issuer = format!("{}/oidc/edge", upstream.s3_endpoint());

    // A cluster whose tokens podpass signs as the bucket's URL, published there with the
    // upstream's credentials.
    let cluster = Podpass::start();
    cluster.podpass_ok(&["cluster", "create", "edge", "--issuer-url", &issuer]);
    let aws_files = upstream.home().join(".aws");
    let publish = cluster
        .command()
        .env("AWS_CONFIG_FILE", aws_files.join("config"))
        .env("AWS_SHARED_CREDENTIALS_FILE", aws_files.join("credentials"))
        .env("AWS_PROFILE", "podpass")
        .env("AWS_ENDPOINT_URL_S3", upstream.s3_endpoint())
        .args([
            "issuer",
            "publish",
            "--cluster",
            "edge",
            "--to",
            "s3://oidc/edge",
            "--service-account",
            "apps:reporter",
        ])
        .output()
        .unwrap();
    let printed = text(&publish.stdout);
    assert!(
        publish.status.success(),
        "{printed}\n{}",
        text(&publish.stderr)
    );
    assert!(
        printed.contains(&format!(
            "aws iam create-open-id-connect-provider --url {issuer} --client-id-list sts.amazonaws.com"
        )),
        "{printed}"
    );
    let discovery: serde_json::Value = serde_json::from_str(&support::http_get(&format!(
        "{issuer}/.well-known/openid-configuration"
    )))
    .unwrap();
    assert_eq!(discovery["issuer"], issuer.as_str());
    assert_eq!(discovery["jwks_uri"], format!("{issuer}/openid/v1/jwks"));

    // The upstream trusts the issuer as AWS IAM would, and its STS takes the cluster's tokens.
    upstream.aws_admin_json(&[
        "iam",
        "create-open-id-connect-provider",
        "--url",
        &issuer,
        "--client-id-list",
        "sts.amazonaws.com",
    ]);
    let host_path = issuer.trim_start_matches("http://");
    let trust = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"Federated":"arn:aws:iam::{ACCOUNT}:oidc-provider/{host_path}"}},"Action":"sts:AssumeRoleWithWebIdentity","Condition":{{"StringEquals":{{"{host_path}:sub":"system:serviceaccount:apps:reporter","{host_path}:aud":"sts.amazonaws.com"}}}}}}]}}"#
    );
    upstream.aws_admin_json(&[
        "iam",
        "create-role",
        "--role-name",
        "edge-reporter",
        "--assume-role-policy-document",
        &trust,
    ]);
    cluster.podpass_ok(&[
        "sa",
        "create",
        "reporter",
        "--cluster",
        "edge",
        "-n",
        "apps",
    ]);
    let token = cluster.podpass_ok(&[
        "token",
        "create",
        "--cluster",
        "edge",
        "-n",
        "apps",
        "--service-account",
        "reporter",
        "--audience",
        "sts.amazonaws.com",
    ]);
    let assumed = upstream.aws(
        &[],
        &[
            "sts",
            "assume-role-with-web-identity",
            "--role-arn",
            &role("edge-reporter"),
            "--role-session-name",
            "reporter",
            "--web-identity-token",
            token.trim(),
        ],
    );
    assert!(
        assumed.status.success(),
        "{}\n{}",
        text(&assumed.stderr),
        upstream.log()
    );
    assert!(text(&assumed.stdout).contains("assumed-role/edge-reporter/reporter"));

    // --watch publishes again when the keys rotate (here to a directory for a static host).
    let dir = cluster.dir.path().join("www");
    let mut watch = cluster
        .command()
        .args([
            "issuer",
            "publish",
            "--cluster",
            "edge",
            "--watch",
            "--interval",
            "1s",
            "--to",
        ])
        .arg(&dir)
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let jwks_file = dir.join("openid/v1/jwks");
    let keys = || -> usize {
        std::fs::read_to_string(&jwks_file)
            .ok()
            .and_then(|text| serde_json::from_str::<serde_json::Value>(&text).ok())
            .and_then(|jwks| jwks["keys"].as_array().map(Vec::len))
            .unwrap_or(0)
    };
    let wait_for = |count: usize| {
        for _ in 0..100 {
            if keys() == count {
                return true;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        false
    };
    assert!(wait_for(1), "first publication");
    assert!(dir.join(".well-known/openid-configuration").exists());
    cluster.podpass_ok(&["cluster", "rotate-key", "--cluster", "edge"]);
    let republished = wait_for(2);
    let _ = watch.kill();
    let _ = watch.wait();
    assert!(republished, "the rotated keys were not published");
}

#[test]
fn an_independent_sts_takes_the_brokers_calls() {
    // moto checks the broker's signature against its user's key, and takes EKS's tags.
    let moto = Moto::start();
    let broker = Podpass::start_with(
        &["--broker"],
        &[
            ("AWS_ENDPOINT_URL_STS", moto.url.as_str()),
            ("AWS_ACCESS_KEY_ID", moto.access_key_id.as_str()),
            ("AWS_SECRET_ACCESS_KEY", moto.secret_access_key.as_str()),
            ("AWS_REGION", "us-east-1"),
        ],
    );
    associate(&broker, "team-a", "reports-reader", &[]);
    let env = pod_env_at(&broker, &moto.url, &moto.url, "team-a", "web-0");
    let arn = assumed_arn(&broker, &env);
    assert!(
        arn.contains("assumed-role/reports-reader/eks-demo-web-0-"),
        "{arn}"
    );
}

#[test]
fn a_target_role_is_chained_with_the_associations_external_id() {
    let upstream = Podpass::start();
    let (broker_role, token_file) = broker_identity(&upstream);
    upstream_role(
        &upstream,
        "chain-first",
        &broker_role,
        r#"["sts:AssumeRole","sts:TagSession"]"#,
    );
    let broker = start_broker(&upstream, &broker_role, &token_file);
    // Each association gets its external id from EKS; the target role's trust requires it of
    // sessions of the first role (one target takes the right id, the other another one).
    for (namespace, target, takes_its_id) in [
        ("team-x", "chain-target", true),
        ("team-y", "chain-other", false),
    ] {
        let target_arn = role(target);
        let created = associate(
            &broker,
            namespace,
            "chain-first",
            &["--target-role-arn", &target_arn],
        );
        let external_id = created["association"]["externalId"].as_str().unwrap();
        let required = if takes_its_id {
            external_id
        } else {
            "another-id"
        };
        let first = role("chain-first");
        let trust = format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"AWS":"{first}"}},"Action":["sts:AssumeRole","sts:TagSession"],"Condition":{{"StringEquals":{{"sts:ExternalId":"{required}"}}}}}}]}}"#
        );
        upstream.aws_admin_json(&[
            "iam",
            "create-role",
            "--role-name",
            target,
            "--assume-role-policy-document",
            &trust,
        ]);
    }
    let chained = assumed_arn(&broker, &pod_env(&broker, &upstream, "team-x", "x-0"));
    assert!(
        chained.contains("assumed-role/chain-target/eks-demo-x-0-"),
        "{chained}"
    );
    let refused = aws(
        &broker,
        &pod_env(&broker, &upstream, "team-y", "y-0"),
        &["sts", "get-caller-identity"],
    );
    assert!(!refused.status.success(), "{}", text(&refused.stdout));
    let denied = broker.podpass_ok(&["audit", "--denied"]);
    assert!(denied.contains("chain-other"), "{denied}");
}
