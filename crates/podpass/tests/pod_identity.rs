//! EKS Pod Identity end to end: an association made through the EKS API, the node agent that
//! `podpass up` runs on loopback, and the unmodified AWS CLI and boto3 getting credentials
//! through their container credentials providers.

mod support;

use support::{Podpass, assert_aws_error, text};

const READ_ONLY: &str = "arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess";

/// An instance where `default/web` is associated with a read-only role.
fn pod_identity_instance() -> Podpass {
    let podpass = Podpass::start();
    let out = podpass.podpass_ok(&[
        "create",
        "podidentityassociation",
        "--service-account-name",
        "web",
        "--permission-policy-arns",
        READ_ONLY,
        "--create-service-account",
    ]);
    assert!(out.contains("created pod identity association"), "{out}");
    podpass
}

/// A pod-bound token file as the webhook's projected volume provides, without a newline.
fn token_file(podpass: &Podpass, sa: &str, audience: &str, pod: Option<&str>) -> String {
    let token = podpass.token(sa, audience, pod);
    let path = podpass.write(&format!("{sa}-{audience}-token"), &token);
    path.to_str().unwrap().to_owned()
}

fn container_env<'a>(
    podpass: &'a Podpass,
    token_file: &'a str,
    agent_url: &'a str,
) -> Vec<(&'a str, &'a str)> {
    let _ = podpass;
    vec![
        ("AWS_CONTAINER_CREDENTIALS_FULL_URI", agent_url),
        ("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", token_file),
    ]
}

#[test]
fn the_cli_and_boto3_get_the_associated_roles_session_from_the_agent() {
    let podpass = pod_identity_instance();
    let agent = podpass.agent_url();
    assert!(agent.starts_with("http://127.0.0.1:"), "{agent}");
    let file = token_file(&podpass, "web", "pods.eks.amazonaws.com", Some("web-0"));
    let env = container_env(&podpass, &file, &agent);

    let out = podpass.aws(&env, &["sts", "get-caller-identity"]);
    assert!(
        out.status.success(),
        "{}\n{}",
        text(&out.stderr),
        podpass.log()
    );
    let identity: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let arn = identity["Arn"].as_str().unwrap();
    assert!(
        arn.starts_with("arn:aws:sts::000000000000:assumed-role/podpass-demo-default-web-pod-identity/eks-demo-web-0-"),
        "{arn}"
    );

    let out = podpass.python(
        &env,
        "import boto3\n\
         c = boto3.Session().get_credentials().get_frozen_credentials()\n\
         assert c.access_key.startswith('ASIA'), c.access_key\n\
         print(boto3.client('sts').get_caller_identity()['Arn'])",
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout)
            .contains("assumed-role/podpass-demo-default-web-pod-identity/eks-demo-web-0-")
    );
}

#[test]
fn session_tags_drive_attribute_based_policies() {
    let podpass = pod_identity_instance();
    // Allow iam:ListRoles only to sessions of pods in the default namespace.
    let policy = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:ListRoles","Resource":"*","Condition":{"StringEquals":{"aws:PrincipalTag/kubernetes-namespace":"default","aws:PrincipalTag/eks-cluster-name":"demo"}}}]}"#;
    podpass.aws_admin_json(&[
        "iam",
        "put-role-policy",
        "--role-name",
        "podpass-demo-default-web-pod-identity",
        "--policy-name",
        "abac",
        "--policy-document",
        policy,
    ]);
    let file = token_file(&podpass, "web", "pods.eks.amazonaws.com", Some("web-0"));
    let agent = podpass.agent_url();
    let out = podpass.aws(
        &container_env(&podpass, &file, &agent),
        &["iam", "list-roles"],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));

    let other = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:ListRoles","Resource":"*","Condition":{"StringEquals":{"aws:PrincipalTag/kubernetes-namespace":"kube-system"}}}]}"#;
    podpass.aws_admin_json(&[
        "iam",
        "put-role-policy",
        "--role-name",
        "podpass-demo-default-web-pod-identity",
        "--policy-name",
        "abac",
        "--policy-document",
        other,
    ]);
    let out = podpass.aws(
        &container_env(&podpass, &file, &agent),
        &["iam", "list-roles"],
    );
    assert_aws_error(&out, "AccessDenied");
}

/// GET the agent the way the SDKs do; returns (status, body).
fn ask_agent(podpass: &Podpass, token: &str) -> (u16, String) {
    let out = podpass.python(
        &[],
        &format!(
            "import urllib.request, urllib.error\n\
             r = urllib.request.Request('{}', headers={{'Authorization': '''{token}'''}})\n\
             try:\n    resp = urllib.request.urlopen(r); print(resp.status); print(resp.read().decode())\n\
             except urllib.error.HTTPError as e:\n    print(e.code); print(e.read().decode())",
            podpass.agent_url()
        ),
    );
    let stdout = text(&out.stdout);
    let (status, body) = stdout.split_once('\n').unwrap_or(("0", ""));
    (status.trim().parse().unwrap_or(0), body.to_owned())
}

#[test]
fn the_agent_refuses_what_eks_auth_refuses_with_its_status() {
    let podpass = pod_identity_instance();
    podpass.podpass_ok(&["sa", "create", "lonely"]);
    let read = |path: String| std::fs::read_to_string(path).unwrap();

    let unassociated = read(token_file(
        &podpass,
        "lonely",
        "pods.eks.amazonaws.com",
        Some("p"),
    ));
    let (status, body) = ask_agent(&podpass, &unassociated);
    assert_eq!(status, 404, "{body}");
    assert!(body.contains("(ResourceNotFoundException)"), "{body}");

    let unbound = read(token_file(&podpass, "web", "pods.eks.amazonaws.com", None));
    let (status, body) = ask_agent(&podpass, &unbound);
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("(InvalidTokenException)"), "{body}");

    let wrong_audience = read(token_file(&podpass, "web", "sts.amazonaws.com", Some("p")));
    let (status, body) = ask_agent(&podpass, &wrong_audience);
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("(InvalidTokenException)"), "{body}");

    let (status, body) = ask_agent(&podpass, "");
    assert_eq!(
        (status, body.trim()),
        (400, "Service account token cannot be empty")
    );

    let good = read(token_file(
        &podpass,
        "web",
        "pods.eks.amazonaws.com",
        Some("web-0"),
    ));
    let (status, body) = ask_agent(&podpass, &good);
    assert_eq!(status, 200, "{body}");
    let creds: serde_json::Value = serde_json::from_str(&body).unwrap();
    let keys: Vec<&str> = creds
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        [
            "AccessKeyId",
            "AccountId",
            "Expiration",
            "SecretAccessKey",
            "Token"
        ]
    );
    assert_eq!(creds["AccountId"], "000000000000");
}

#[test]
fn eks_describes_the_cluster_and_its_associations() {
    let podpass = pod_identity_instance();
    let cluster = podpass.aws_admin_json(&["eks", "describe-cluster", "--name", "demo"]);
    assert_eq!(
        cluster["cluster"]["identity"]["oidc"]["issuer"],
        podpass.issuer()
    );
    let listed = podpass.aws_admin_json(&[
        "eks",
        "list-pod-identity-associations",
        "--cluster-name",
        "demo",
    ]);
    let id = listed["associations"][0]["associationId"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(id.starts_with("a-") && id.len() == 19, "{id}");
    let described = podpass.aws_admin_json(&[
        "eks",
        "describe-pod-identity-association",
        "--cluster-name",
        "demo",
        "--association-id",
        &id,
    ]);
    assert_eq!(described["association"]["serviceAccount"], "web");
    assert_eq!(described["association"]["disableSessionTags"], false);
    let out = podpass.aws_admin(&[
        "eks",
        "create-pod-identity-association",
        "--cluster-name",
        "demo",
        "--namespace",
        "default",
        "--service-account",
        "web",
        "--role-arn",
        "arn:aws:iam::000000000000:role/x",
    ]);
    assert_aws_error(&out, "ResourceInUseException");
    let updated = podpass.aws_admin_json(&[
        "eks",
        "update-pod-identity-association",
        "--cluster-name",
        "demo",
        "--association-id",
        &id,
        "--disable-session-tags",
    ]);
    assert_eq!(updated["association"]["disableSessionTags"], true);
    podpass.aws_admin_json(&[
        "eks",
        "delete-pod-identity-association",
        "--cluster-name",
        "demo",
        "--association-id",
        &id,
    ]);
    let out = podpass.aws_admin(&[
        "eks",
        "describe-pod-identity-association",
        "--cluster-name",
        "demo",
        "--association-id",
        &id,
    ]);
    assert_aws_error(&out, "ResourceNotFoundException");
    let out = podpass.aws_admin(&["eks", "describe-cluster", "--name", "nope"]);
    assert_aws_error(&out, "ResourceNotFoundException");
}

#[test]
fn aws_eks_creates_and_deletes_clusters_whose_issuer_podpass_serves() {
    let podpass = Podpass::start();
    let role = |name: &str, service: &str| -> String {
        let trust = format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"Service":"{service}"}},"Action":["sts:AssumeRole","sts:TagSession"]}}]}}"#
        );
        podpass.aws_admin_json(&[
            "iam",
            "create-role",
            "--role-name",
            name,
            "--assume-role-policy-document",
            &trust,
        ])["Role"]["Arn"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let cluster_role = role("eks-cluster", "eks.amazonaws.com");
    let create = |name: &str, role_arn: &str| {
        podpass.aws_admin(&[
            "eks",
            "create-cluster",
            "--name",
            name,
            "--role-arn",
            role_arn,
            "--resources-vpc-config",
            "subnetIds=subnet-0a1b2c3d",
        ])
    };
    let out = create("edge", &cluster_role);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let created: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let issuer = created["cluster"]["identity"]["oidc"]["issuer"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(created["cluster"]["status"], "ACTIVE");
    assert!(
        issuer.starts_with(&format!("{}/id/", podpass.endpoint())),
        "{issuer}"
    );
    podpass.aws_admin_json(&["eks", "wait", "cluster-active", "--name", "edge"]);
    // podpass serves the new cluster's issuer, as EKS does.
    let discovery: serde_json::Value = serde_json::from_str(&support::http_get(&format!(
        "{issuer}/.well-known/openid-configuration"
    )))
    .unwrap();
    assert_eq!(discovery["issuer"], issuer.as_str());

    // Clusters made any other way are listed beside it.
    podpass.podpass_ok(&[
        "cluster",
        "create",
        "published",
        "--issuer-url",
        "https://oidc.example.com/published",
    ]);
    let listed = podpass.aws_admin_json(&["eks", "list-clusters"]);
    assert_eq!(
        listed["clusters"],
        serde_json::json!(["demo", "edge", "published"])
    );

    // A pod of the new cluster gets its association's session from EKS Auth.
    let app_role = role("edge-app", "pods.eks.amazonaws.com");
    podpass.aws_admin_json(&[
        "eks",
        "create-pod-identity-association",
        "--cluster-name",
        "edge",
        "--namespace",
        "apps",
        "--service-account",
        "app",
        "--role-arn",
        &app_role,
    ]);
    podpass.podpass_ok(&["sa", "create", "app", "--cluster", "edge", "-n", "apps"]);
    let token = podpass.podpass_ok(&[
        "token",
        "create",
        "--cluster",
        "edge",
        "-n",
        "apps",
        "--service-account",
        "app",
        "--audience",
        "pods.eks.amazonaws.com",
        "--pod",
        "app-0",
    ]);
    let eks_auth = || {
        podpass.aws_admin(&[
            "eks-auth",
            "assume-role-for-pod-identity",
            "--cluster-name",
            "edge",
            "--token",
            token.trim(),
        ])
    };
    let out = eks_auth();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("assumed-role/edge-app/"));

    // EKS's refusals.
    assert_aws_error(&create("edge", &cluster_role), "ResourceInUseException");
    assert_aws_error(
        &create("edge.v2", &cluster_role),
        "InvalidParameterException",
    );
    let missing_role = assert_aws_error(
        &create("other", "arn:aws:iam::000000000000:role/missing"),
        "InvalidParameterException",
    );
    assert!(
        missing_role.contains("could not be assumed"),
        "{missing_role}"
    );
    let delete = |name: &str| podpass.aws_admin(&["eks", "delete-cluster", "--name", name]);
    // The cluster `up` runs pods of stays.
    assert_aws_error(&delete("demo"), "ResourceInUseException");
    assert_aws_error(&delete("nope"), "ResourceNotFoundException");

    // Deleted: gone from the API, its associations with it, its tokens no longer taken.
    let out = delete("edge");
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("\"DELETING\""),
        "{}",
        text(&out.stdout)
    );
    podpass.aws_admin_json(&["eks", "wait", "cluster-deleted", "--name", "edge"]);
    assert_aws_error(&eks_auth(), "ResourceNotFoundException");
    let listed = podpass.aws_admin_json(&["eks", "list-clusters"]);
    assert_eq!(listed["clusters"], serde_json::json!(["demo", "published"]));
    // The name can be used again, for a new issuer.
    let out = create("edge", &cluster_role);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(!text(&out.stdout).contains(&issuer));
}
