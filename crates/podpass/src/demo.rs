//! `podpass demo`: the four labs of the seed and its warning, run for real against the running
//! instance, each step shown with what it does and what came out.

use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Args;
use reqwest::Method;
use serde_json::Value;

use crate::aws_client::{AwsClient, xml_text};
use crate::cli::Global;
use crate::eksctl::{self, CreateIamServiceAccount, CreatePodIdentityAssociation};
use crate::iam_cmd;

/// Options of `podpass demo`.
#[derive(Debug, Args)]
pub(crate) struct DemoArgs {
    /// Bucket the labs list
    #[arg(long, default_value = "podpass-demo")]
    pub bucket: String,
    /// Cluster
    #[arg(long, env = "PODPASS_CLUSTER", default_value = "demo")]
    pub cluster: String,
}

const READ_ONLY: &str = "arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess";
const NAMESPACE: &str = "default";

struct Lab<'a> {
    title: &'a str,
    why: &'a str,
    pod: &'a str,
    service_account: &'a str,
    automount: bool,
    expect_allowed: bool,
}

pub(crate) async fn run(global: &Global, args: DemoArgs) -> anyhow::Result<()> {
    let client = AwsClient::connect(global).await?;
    heading("Setup: a bucket with one object, made by the admin");
    println!(
        "$ aws s3 mb s3://{0} && aws s3 cp hello.txt s3://{0}/hello.txt",
        args.bucket
    );
    ensure_bucket(&client, &args.bucket).await?;
    println!("bucket s3://{} holds hello.txt\n", args.bucket);

    let mut failures = Vec::new();
    let mut check = |lab: &str, ok: bool| {
        if !ok {
            failures.push(lab.to_owned());
        }
    };

    let lab1 = Lab {
        title: "Lab 1: a pod with no ServiceAccount token",
        why: "automountServiceAccountToken: false, so no token is mounted: the SDK falls back to the node's instance role, which may not read S3",
        pod: "eks-iam-test1",
        service_account: "default",
        automount: false,
        expect_allowed: false,
    };
    check(lab1.title, run_lab(global, &client, &args, &lab1).await?);

    let lab2 = Lab {
        title: "Lab 2: a pod with the default ServiceAccount token",
        why: "the pod has the default kube-api-access token, but no role is tied to its ServiceAccount: still the node role",
        pod: "eks-iam-test2",
        service_account: "default",
        automount: true,
        expect_allowed: false,
    };
    check(lab2.title, run_lab(global, &client, &args, &lab2).await?);

    heading("Lab 3 setup: IRSA for ServiceAccount s3-reader");
    println!(
        "$ podpass create iamserviceaccount --cluster {} --namespace {NAMESPACE} --name s3-reader --attach-policy-arn {READ_ONLY} --approve",
        args.cluster
    );
    if !role_exists(
        &client,
        &format!("podpass-{}-{NAMESPACE}-s3-reader", args.cluster),
    )
    .await?
    {
        eksctl::create(
            global,
            CreateIamServiceAccount {
                cluster: args.cluster.clone(),
                namespace: NAMESPACE.to_owned(),
                name: "s3-reader".to_owned(),
                policy_arns: vec![READ_ONLY.to_owned()],
                role_name: None,
                role_only: false,
                override_existing_serviceaccounts: true,
                approve: true,
            },
        )
        .await?;
    } else {
        println!("(already set up)");
    }
    let lab3 = Lab {
        title: "Lab 3: a pod of the IRSA ServiceAccount",
        why: "the webhook mounted a token for sts.amazonaws.com and set AWS_ROLE_ARN; STS trusts exactly this ServiceAccount",
        pod: "eks-iam-test3",
        service_account: "s3-reader",
        automount: true,
        expect_allowed: true,
    };
    check(lab3.title, run_lab(global, &client, &args, &lab3).await?);

    heading("Lab 4 setup: EKS Pod Identity for ServiceAccount s3-pod-identity");
    println!(
        "$ podpass create podidentityassociation --cluster {} --namespace {NAMESPACE} --service-account-name s3-pod-identity --permission-policy-arns {READ_ONLY} --create-service-account",
        args.cluster
    );
    let associated = client
        .eks(
            Method::GET,
            &format!(
                "/clusters/{}/pod-identity-associations?namespace={NAMESPACE}&serviceAccount=s3-pod-identity",
                args.cluster
            ),
            None,
        )
        .await??;
    if associated["associations"]
        .as_array()
        .is_none_or(Vec::is_empty)
    {
        eksctl::create_pod_identity(
            global,
            CreatePodIdentityAssociation {
                cluster: args.cluster.clone(),
                namespace: NAMESPACE.to_owned(),
                service_account_name: "s3-pod-identity".to_owned(),
                role_arn: None,
                role_name: None,
                permission_policy_arns: vec![READ_ONLY.to_owned()],
                target_role_arn: None,
                disable_session_tags: false,
                create_service_account: true,
            },
        )
        .await?;
    } else {
        println!("(already set up)");
    }
    let lab4 = Lab {
        title: "Lab 4: a pod of the Pod Identity ServiceAccount",
        why: "the webhook mounted a token for pods.eks.amazonaws.com and pointed the SDK at the node agent, which trades it through EKS Auth",
        pod: "eks-pod-identity",
        service_account: "s3-pod-identity",
        automount: true,
        expect_allowed: true,
    };
    check(lab4.title, run_lab(global, &client, &args, &lab4).await?);

    heading("The warning: a role trusted without a `sub` condition");
    let loose = format!("podpass-{}-any-serviceaccount", args.cluster);
    println!(
        "A role whose trust policy checks only the audience, annotated on ServiceAccount `unrelated` by whoever may edit it:"
    );
    setup_loose_role(global, &client, &args, &loose).await?;
    let warning = Lab {
        title: "Warning: a pod of an unrelated ServiceAccount takes that role",
        why: "STS checks that the token is valid and that the trust policy allows it; without a sub condition, any ServiceAccount of the cluster matches",
        pod: "unrelated-app",
        service_account: "unrelated",
        automount: true,
        expect_allowed: true,
    };
    check(
        warning.title,
        run_lab(global, &client, &args, &warning).await?,
    );
    println!("$ podpass iam lint --role {loose}");
    let lint = iam_cmd::lint_role(global, &loose).await?;
    print!("{lint}");
    check(
        "lint flags the loose role",
        lint.contains("trust-missing-sub"),
    );
    println!(
        "Fix: pin `sub` to system:serviceaccount:<namespace>:<name>, as `podpass create iamserviceaccount` does.\n"
    );

    if failures.is_empty() {
        println!("All labs behaved as in EKS.");
        Ok(())
    } else {
        bail!("unexpected outcomes: {}", failures.join("; "))
    }
}

fn heading(text: &str) {
    println!("== {text} ==");
}

async fn role_exists(client: &AwsClient, name: &str) -> anyhow::Result<bool> {
    Ok(client.iam("GetRole", &[("RoleName", name)]).await?.is_ok())
}

async fn ensure_bucket(client: &AwsClient, bucket: &str) -> anyhow::Result<()> {
    let created = client
        .s3(Method::PUT, &format!("/{bucket}"), Vec::new())
        .await?;
    let status = created.status();
    let text = created.text().await?;
    let exists = matches!(
        xml_text(&text, "Code").as_deref(),
        Some("BucketAlreadyOwnedByYou" | "BucketAlreadyExists")
    );
    if !status.is_success() && !exists {
        bail!("creating bucket {bucket}: {text}");
    }
    let put = client
        .s3(
            Method::PUT,
            &format!("/{bucket}/hello.txt"),
            b"hello from podpass\n".to_vec(),
        )
        .await?;
    if !put.status().is_success() {
        bail!("uploading hello.txt: {}", put.text().await?);
    }
    Ok(())
}

async fn setup_loose_role(
    global: &Global,
    client: &AwsClient,
    args: &DemoArgs,
    name: &str,
) -> anyhow::Result<()> {
    let store = global.open_store().await?;
    let cluster = store
        .cluster(&args.cluster)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let provider_arn =
        eksctl::ensure_oidc_provider(client, &cluster.issuer_url, &cluster.name).await?;
    let url = eksctl::provider_url(&cluster.issuer_url);
    let trust = serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": {"Federated": provider_arn},
            "Action": "sts:AssumeRoleWithWebIdentity",
            "Condition": {"StringEquals": {format!("{url}:aud"): "sts.amazonaws.com"}}
        }]
    })
    .to_string();
    println!("$ aws iam create-role --role-name {name} --assume-role-policy-document '{trust}'");
    if !role_exists(client, name).await? {
        client
            .iam(
                "CreateRole",
                &[("RoleName", name), ("AssumeRolePolicyDocument", &trust)],
            )
            .await??;
        client
            .iam(
                "AttachRolePolicy",
                &[("RoleName", name), ("PolicyArn", READ_ONLY)],
            )
            .await??;
    }
    let arn = format!("arn:aws:iam::{}:role/{name}", client.instance().account_id);
    println!(
        "$ podpass sa create unrelated && podpass sa annotate unrelated eks.amazonaws.com/role-arn={arn}"
    );
    let clusters = podpass_control::clusters::Clusters::new(store.clone());
    let mut sa = clusters
        .ensure_service_account(
            &cluster.name,
            NAMESPACE,
            "unrelated",
            podpass_control::now(),
        )
        .await?;
    sa.annotations
        .insert(eksctl::ROLE_ARN_ANNOTATION.to_owned(), arn);
    store.put_service_account(&sa).await?;
    Ok(())
}

fn manifest(lab: &Lab<'_>, bucket: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {pod}\n  namespace: {NAMESPACE}\nspec:\n  serviceAccountName: {sa}\n  automountServiceAccountToken: {automount}\n  restartPolicy: Never\n  containers:\n  - name: aws-cli\n    image: amazon/aws-cli:latest\n    command: [\"aws\", \"s3\", \"ls\", \"s3://{bucket}\"]\n",
        pod = lab.pod,
        sa = lab.service_account,
        automount = lab.automount,
    )
}

/// Runs one lab's pod to completion; returns whether the outcome is the expected one.
async fn run_lab(
    global: &Global,
    client: &AwsClient,
    args: &DemoArgs,
    lab: &Lab<'_>,
) -> anyhow::Result<bool> {
    let _ = global;
    heading(lab.title);
    println!("{}.", lab.why);
    println!(
        "$ podpass run -f {}.yaml   # serviceAccountName: {}, automountServiceAccountToken: {}, command: aws s3 ls s3://{}",
        lab.pod, lab.service_account, lab.automount, args.bucket
    );
    let path = format!("/podpass/v1/namespaces/{NAMESPACE}/pods/{}", lab.pod);
    // A pod of a previous run is replaced, as kubectl delete + apply would.
    let _ = client.admin(Method::DELETE, &path, None).await?;
    let created = client
        .admin(
            Method::POST,
            &format!("/podpass/v1/namespaces/{NAMESPACE}/pods"),
            Some(("application/yaml", manifest(lab, &args.bucket))),
        )
        .await?;
    if !created.status().is_success() {
        bail!("creating pod {}: {}", lab.pod, created.text().await?);
    }
    let (phase, reason) = wait_terminal(client, &path).await?;
    let logs = client
        .admin(Method::GET, &format!("{path}/log"), None)
        .await?
        .text()
        .await?;
    println!(
        "pod {} {}{reason}; its output:",
        lab.pod,
        phase.to_lowercase()
    );
    for line in logs.lines().filter(|l| !l.trim().is_empty()) {
        println!("    {line}");
    }
    let allowed = phase == "Succeeded";
    let denied = logs.contains("AccessDenied");
    let as_expected = if lab.expect_allowed {
        allowed
    } else {
        !allowed && denied
    };
    println!(
        "outcome: {} ({})\n",
        if allowed { "ALLOWED" } else { "DENIED" },
        if as_expected {
            "as in EKS"
        } else {
            "UNEXPECTED"
        }
    );
    Ok(as_expected)
}

/// Waits for the pod to finish; returns its phase and, for a pod that could not start, why.
async fn wait_terminal(client: &AwsClient, path: &str) -> anyhow::Result<(String, String)> {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let pod: Value = client
            .admin(Method::GET, path, None)
            .await?
            .json()
            .await
            .context("reading the pod")?;
        let phase = pod["status"]["phase"]
            .as_str()
            .unwrap_or("Unknown")
            .to_owned();
        if matches!(phase.as_str(), "Succeeded" | "Failed" | "Unknown") {
            let reason = match (
                pod["status"]["reason"].as_str(),
                pod["status"]["message"].as_str(),
            ) {
                (Some(reason), Some(message)) => format!(" ({reason}: {message})"),
                (Some(reason), None) => format!(" ({reason})"),
                _ => String::new(),
            };
            return Ok((phase, reason));
        }
        if Instant::now() > deadline {
            bail!("pod {path} did not finish within 90 s (phase {phase})");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
