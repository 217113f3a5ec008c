//! eksctl's verbs for IRSA: `create|get|delete iamserviceaccount`. IAM changes go through the
//! running instance's IAM API, as eksctl's go through AWS; ServiceAccounts are the local cluster's.

use anyhow::{Context, bail};
use clap::Args;
use podpass_store::StoreError;

use crate::aws_client::{AwsClient, xml_text, xml_texts};
use crate::cli::Global;
use crate::output::table;
use crate::sa::apply_annotations;

/// The ServiceAccount annotation IRSA reads.
pub(crate) const ROLE_ARN_ANNOTATION: &str = "eks.amazonaws.com/role-arn";
/// The audience IRSA tokens carry.
const STS_AUDIENCE: &str = "sts.amazonaws.com";

/// Options of `create iamserviceaccount`.
#[derive(Debug, Args)]
pub(crate) struct CreateIamServiceAccount {
    /// Cluster
    #[arg(long, env = "PODPASS_CLUSTER", default_value = "demo")]
    pub cluster: String,
    /// Namespace of the ServiceAccount
    #[arg(long, default_value = "default")]
    pub namespace: String,
    /// ServiceAccount name
    #[arg(long)]
    pub name: String,
    /// Managed policy to attach to the role; repeat for several
    #[arg(long = "attach-policy-arn", required = true)]
    pub policy_arns: Vec<String>,
    /// Role name [default: podpass-<cluster>-<namespace>-<name>]
    #[arg(long)]
    pub role_name: Option<String>,
    /// Create the role only; leave the ServiceAccount alone
    #[arg(long)]
    pub role_only: bool,
    /// Annotate a ServiceAccount that already names another role
    #[arg(long)]
    pub override_existing_serviceaccounts: bool,
    /// Apply the changes (without it, only the plan is printed, as eksctl does)
    #[arg(long)]
    pub approve: bool,
}

/// Options selecting IRSA ServiceAccounts.
#[derive(Debug, Args)]
pub(crate) struct SelectIamServiceAccount {
    /// Cluster
    #[arg(long, env = "PODPASS_CLUSTER", default_value = "demo")]
    pub cluster: String,
    /// Namespace (get: all when absent; delete: `default` when absent)
    #[arg(long)]
    pub namespace: Option<String>,
    /// ServiceAccount name
    #[arg(long)]
    pub name: Option<String>,
}

/// The trust policy eksctl writes: the cluster's provider, `sub` pinned to the one
/// ServiceAccount and `aud` to STS.
pub(crate) fn irsa_trust_policy(
    provider_arn: &str,
    provider_url: &str,
    namespace: &str,
    name: &str,
) -> String {
    serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": {"Federated": provider_arn},
            "Action": "sts:AssumeRoleWithWebIdentity",
            "Condition": {"StringEquals": {
                format!("{provider_url}:sub"): format!("system:serviceaccount:{namespace}:{name}"),
                format!("{provider_url}:aud"): STS_AUDIENCE,
            }}
        }]
    })
    .to_string()
}

/// The issuer URL as IAM names its provider: without scheme.
pub(crate) fn provider_url(issuer: &str) -> &str {
    issuer
        .strip_prefix("https://")
        .or_else(|| issuer.strip_prefix("http://"))
        .unwrap_or(issuer)
}

fn info(message: impl std::fmt::Display) {
    println!("[ℹ]  {message}");
}

/// Makes sure the cluster's issuer is an IAM OIDC provider trusted for STS; returns its ARN.
pub(crate) async fn ensure_oidc_provider(
    client: &AwsClient,
    issuer: &str,
    cluster: &str,
) -> anyhow::Result<String> {
    let arn = format!(
        "arn:aws:iam::{}:oidc-provider/{}",
        client.instance().account_id,
        provider_url(issuer)
    );
    match client
        .iam(
            "GetOpenIDConnectProvider",
            &[("OpenIDConnectProviderArn", &arn)],
        )
        .await?
    {
        Ok(xml) => {
            if !xml_texts(&xml, "member").iter().any(|c| c == STS_AUDIENCE) {
                client
                    .iam(
                        "AddClientIDToOpenIDConnectProvider",
                        &[
                            ("OpenIDConnectProviderArn", &arn),
                            ("ClientID", STS_AUDIENCE),
                        ],
                    )
                    .await??;
            }
        }
        Err(e) if e.code == "NoSuchEntity" => {
            client
                .iam(
                    "CreateOpenIDConnectProvider",
                    &[("Url", issuer), ("ClientIDList.member.1", STS_AUDIENCE)],
                )
                .await??;
            info(format_args!(
                "created IAM Open ID Connect provider for cluster \"{cluster}\""
            ));
        }
        Err(e) => return Err(e.into()),
    }
    Ok(arn)
}

pub(crate) async fn create(global: &Global, args: CreateIamServiceAccount) -> anyhow::Result<()> {
    let qualified = format!("{}/{}", args.namespace, args.name);
    let role_name = args.role_name.clone().unwrap_or_else(|| {
        let mut name = format!("podpass-{}-{}-{}", args.cluster, args.namespace, args.name);
        name.truncate(64);
        name
    });
    info(format_args!(
        "1 iamserviceaccount ({qualified}) was included"
    ));
    if !args.approve {
        info(format_args!(
            "(plan) would create role \"{role_name}\" trusted only by system:serviceaccount:{}:{}, attach {}",
            args.namespace,
            args.name,
            args.policy_arns.join(", ")
        ));
        if !args.role_only {
            info(format_args!(
                "(plan) would annotate serviceaccount \"{qualified}\" with {ROLE_ARN_ANNOTATION}"
            ));
        }
        println!("[!]  no changes were applied, run again with '--approve' to apply the changes");
        return Ok(());
    }

    let client = AwsClient::connect(global).await?;
    let store = global.open_store().await?;
    let cluster = store.cluster(&args.cluster).await.map_err(|e| match e {
        StoreError::NotFound(what) => anyhow::anyhow!("{what}"),
        other => other.into(),
    })?;
    let existing = store
        .service_account(&cluster.name, &args.namespace, &args.name)
        .await
        .ok();
    if let Some(annotated) = existing
        .as_ref()
        .and_then(|sa| sa.annotations.get(ROLE_ARN_ANNOTATION))
        && !args.role_only
        && !args.override_existing_serviceaccounts
    {
        bail!(
            "serviceaccount \"{qualified}\" already names role {annotated}; use --override-existing-serviceaccounts to replace it"
        );
    }

    let provider_arn = ensure_oidc_provider(&client, &cluster.issuer_url, &cluster.name).await?;
    let trust = irsa_trust_policy(
        &provider_arn,
        provider_url(&cluster.issuer_url),
        &args.namespace,
        &args.name,
    );
    let description = format!(
        "IRSA role for system:serviceaccount:{}:{} of cluster {}",
        args.namespace, args.name, cluster.name
    );
    let created = client
        .iam(
            "CreateRole",
            &[
                ("RoleName", &role_name),
                ("AssumeRolePolicyDocument", &trust),
                ("Description", &description),
            ],
        )
        .await??;
    let role_arn = xml_text(&created, "Arn").context("CreateRole answered without an Arn")?;
    info(format_args!(
        "created role \"{role_name}\" trusted only by system:serviceaccount:{}:{}",
        args.namespace, args.name
    ));
    for policy_arn in &args.policy_arns {
        client
            .iam(
                "AttachRolePolicy",
                &[("RoleName", &role_name), ("PolicyArn", policy_arn)],
            )
            .await?
            .with_context(|| format!("attaching {policy_arn}"))?;
        info(format_args!(
            "attached {policy_arn} to role \"{role_name}\""
        ));
    }
    if args.role_only {
        info(format_args!("role ARN: {role_arn}"));
        return Ok(());
    }
    let clusters = podpass_control::clusters::Clusters::new(store.clone());
    let mut sa = clusters
        .ensure_service_account(
            &cluster.name,
            &args.namespace,
            &args.name,
            podpass_control::now(),
        )
        .await?;
    apply_annotations(
        &mut sa.annotations,
        &[format!("{ROLE_ARN_ANNOTATION}={role_arn}")],
        true,
    )?;
    store.put_service_account(&sa).await?;
    info(format_args!(
        "{} serviceaccount \"{qualified}\" annotated with {ROLE_ARN_ANNOTATION}={role_arn}",
        if existing.is_some() {
            "existing"
        } else {
            "created"
        }
    ));
    Ok(())
}

pub(crate) async fn get(global: &Global, args: SelectIamServiceAccount) -> anyhow::Result<()> {
    let store = global.open_store().await?;
    let accounts = store
        .list_service_accounts(&args.cluster, args.namespace.as_deref())
        .await?;
    let mut rows = vec![vec![
        "NAMESPACE".to_owned(),
        "NAME".to_owned(),
        "ROLE ARN".to_owned(),
    ]];
    for sa in accounts {
        if args.name.as_ref().is_some_and(|n| *n != sa.name) {
            continue;
        }
        if let Some(role) = sa.annotations.get(ROLE_ARN_ANNOTATION) {
            rows.push(vec![sa.namespace.clone(), sa.name.clone(), role.clone()]);
        }
    }
    if rows.len() == 1 {
        eprintln!("No iamserviceaccounts found.");
        return Ok(());
    }
    print!("{}", table(&rows));
    Ok(())
}

pub(crate) async fn delete(global: &Global, args: SelectIamServiceAccount) -> anyhow::Result<()> {
    // As eksctl: the namespace defaults, as it does on create.
    let namespace = args.namespace.as_deref().unwrap_or("default");
    let Some(name) = args.name.as_deref() else {
        bail!("--name is required");
    };
    let client = AwsClient::connect(global).await?;
    let store = global.open_store().await?;
    let sa = store
        .service_account(&args.cluster, namespace, name)
        .await
        .map_err(|_| anyhow::anyhow!("iamserviceaccount \"{namespace}/{name}\" not found"))?;
    let role_arn = sa.annotations.get(ROLE_ARN_ANNOTATION).with_context(|| {
        format!("serviceaccount \"{namespace}/{name}\" is not an iamserviceaccount")
    })?;
    let role_name = role_arn.rsplit('/').next().unwrap_or_default();
    let attached = client
        .iam("ListAttachedRolePolicies", &[("RoleName", role_name)])
        .await??;
    for policy_arn in xml_texts(&attached, "PolicyArn") {
        client
            .iam(
                "DetachRolePolicy",
                &[("RoleName", role_name), ("PolicyArn", &policy_arn)],
            )
            .await??;
    }
    let inline = client
        .iam("ListRolePolicies", &[("RoleName", role_name)])
        .await??;
    for policy_name in xml_texts(&inline, "member") {
        client
            .iam(
                "DeleteRolePolicy",
                &[("RoleName", role_name), ("PolicyName", &policy_name)],
            )
            .await??;
    }
    client
        .iam("DeleteRole", &[("RoleName", role_name)])
        .await??;
    info(format_args!("deleted role \"{role_name}\""));
    store
        .delete_service_account(&args.cluster, namespace, name)
        .await?;
    info(format_args!(
        "deleted serviceaccount \"{namespace}/{name}\""
    ));
    Ok(())
}

/// The trust policy of a Pod Identity role (EKS User Guide, pod-id-role).
pub(crate) const POD_IDENTITY_TRUST_POLICY: &str = r#"{"Version":"2012-10-17","Statement":[{"Sid":"AllowEksAuthToAssumeRoleForPodIdentity","Effect":"Allow","Principal":{"Service":"pods.eks.amazonaws.com"},"Action":["sts:AssumeRole","sts:TagSession"]}]}"#;

/// Options of `create podidentityassociation`.
#[derive(Debug, Args)]
pub(crate) struct CreatePodIdentityAssociation {
    /// Cluster
    #[arg(long, env = "PODPASS_CLUSTER", default_value = "demo")]
    pub cluster: String,
    /// Namespace of the ServiceAccount
    #[arg(long, default_value = "default")]
    pub namespace: String,
    /// ServiceAccount name
    #[arg(long)]
    pub service_account_name: String,
    /// Role to associate (must trust pods.eks.amazonaws.com)
    #[arg(long, conflicts_with_all = ["role_name"])]
    pub role_arn: Option<String>,
    /// Create a role with the Pod Identity trust policy under this name
    /// [default with --permission-policy-arns: podpass-<cluster>-<namespace>-<name>-pod-identity]
    #[arg(long)]
    pub role_name: Option<String>,
    /// Managed policies to attach to the created role (comma-separated or repeated)
    #[arg(long, value_delimiter = ',')]
    pub permission_policy_arns: Vec<String>,
    /// Role assumed from the associated role (cross-account style chaining)
    #[arg(long)]
    pub target_role_arn: Option<String>,
    /// Leave out the Pod Identity session tags
    #[arg(long)]
    pub disable_session_tags: bool,
    /// Also create the ServiceAccount in the local cluster when it is missing
    #[arg(long)]
    pub create_service_account: bool,
}

/// Options selecting Pod Identity associations.
#[derive(Debug, Args)]
pub(crate) struct SelectPodIdentityAssociation {
    /// Cluster
    #[arg(long, env = "PODPASS_CLUSTER", default_value = "demo")]
    pub cluster: String,
    /// Namespace
    #[arg(long)]
    pub namespace: Option<String>,
    /// ServiceAccount name
    #[arg(long)]
    pub service_account_name: Option<String>,
}

pub(crate) async fn create_pod_identity(
    global: &Global,
    args: CreatePodIdentityAssociation,
) -> anyhow::Result<()> {
    let client = AwsClient::connect(global).await?;
    let role_arn = match (
        &args.role_arn,
        &args.role_name,
        args.permission_policy_arns.is_empty(),
    ) {
        (Some(arn), _, _) => arn.clone(),
        (None, None, true) => {
            bail!("give --role-arn, or --role-name / --permission-policy-arns to create a role")
        }
        (None, name, _) => {
            let role_name = name.clone().unwrap_or_else(|| {
                let mut n = format!(
                    "podpass-{}-{}-{}-pod-identity",
                    args.cluster, args.namespace, args.service_account_name
                );
                n.truncate(64);
                n
            });
            let created = client
                .iam(
                    "CreateRole",
                    &[
                        ("RoleName", &role_name),
                        ("AssumeRolePolicyDocument", POD_IDENTITY_TRUST_POLICY),
                    ],
                )
                .await??;
            info(format_args!(
                "created role \"{role_name}\" trusting pods.eks.amazonaws.com"
            ));
            for policy_arn in &args.permission_policy_arns {
                client
                    .iam(
                        "AttachRolePolicy",
                        &[("RoleName", &role_name), ("PolicyArn", policy_arn)],
                    )
                    .await?
                    .with_context(|| format!("attaching {policy_arn}"))?;
                info(format_args!(
                    "attached {policy_arn} to role \"{role_name}\""
                ));
            }
            xml_text(&created, "Arn").context("CreateRole answered without an Arn")?
        }
    };
    if args.create_service_account {
        let store = global.open_store().await?;
        podpass_control::clusters::Clusters::new(store)
            .ensure_service_account(
                &args.cluster,
                &args.namespace,
                &args.service_account_name,
                podpass_control::now(),
            )
            .await?;
    }
    let mut body = serde_json::json!({
        "namespace": args.namespace,
        "serviceAccount": args.service_account_name,
        "roleArn": role_arn,
        "disableSessionTags": args.disable_session_tags,
    });
    if let Some(target) = &args.target_role_arn {
        body["targetRoleArn"] = serde_json::json!(target);
    }
    let created = client
        .eks(
            reqwest::Method::POST,
            &format!("/clusters/{}/pod-identity-associations", args.cluster),
            Some(&body),
        )
        .await??;
    info(format_args!(
        "created pod identity association {} ({}/{} -> {role_arn})",
        created["association"]["associationArn"]
            .as_str()
            .unwrap_or_default(),
        args.namespace,
        args.service_account_name
    ));
    Ok(())
}

async fn find_associations(
    client: &AwsClient,
    args: &SelectPodIdentityAssociation,
) -> anyhow::Result<Vec<serde_json::Value>> {
    let mut query = form_urlencoded::Serializer::new(String::new());
    if let Some(ns) = &args.namespace {
        query.append_pair("namespace", ns);
    }
    if let Some(sa) = &args.service_account_name {
        query.append_pair("serviceAccount", sa);
    }
    let listed = client
        .eks(
            reqwest::Method::GET,
            &format!(
                "/clusters/{}/pod-identity-associations?{}",
                args.cluster,
                query.finish()
            ),
            None,
        )
        .await??;
    let mut out = Vec::new();
    for summary in listed["associations"]
        .as_array()
        .cloned()
        .unwrap_or_default()
    {
        let id = summary["associationId"].as_str().unwrap_or_default();
        let described = client
            .eks(
                reqwest::Method::GET,
                &format!("/clusters/{}/pod-identity-associations/{id}", args.cluster),
                None,
            )
            .await??;
        out.push(described["association"].clone());
    }
    Ok(out)
}

pub(crate) async fn get_pod_identity(
    global: &Global,
    args: SelectPodIdentityAssociation,
) -> anyhow::Result<()> {
    let client = AwsClient::connect(global).await?;
    let associations = find_associations(&client, &args).await?;
    if associations.is_empty() {
        eprintln!("No podidentityassociations found.");
        return Ok(());
    }
    let mut rows = vec![
        [
            "ASSOCIATION ARN",
            "NAMESPACE",
            "SERVICE ACCOUNT NAME",
            "IAM ROLE ARN",
        ]
        .map(String::from)
        .to_vec(),
    ];
    for a in associations {
        let field = |k: &str| a[k].as_str().unwrap_or_default().to_owned();
        rows.push(vec![
            field("associationArn"),
            field("namespace"),
            field("serviceAccount"),
            field("roleArn"),
        ]);
    }
    print!("{}", table(&rows));
    Ok(())
}

pub(crate) async fn delete_pod_identity(
    global: &Global,
    args: SelectPodIdentityAssociation,
) -> anyhow::Result<()> {
    if args.namespace.is_none() || args.service_account_name.is_none() {
        bail!("--namespace and --service-account-name are required");
    }
    let client = AwsClient::connect(global).await?;
    let associations = find_associations(&client, &args).await?;
    let Some(association) = associations.first() else {
        bail!("no pod identity association for the ServiceAccount");
    };
    let id = association["associationId"].as_str().unwrap_or_default();
    client
        .eks(
            reqwest::Method::DELETE,
            &format!("/clusters/{}/pod-identity-associations/{id}", args.cluster),
            None,
        )
        .await??;
    info(format_args!("deleted pod identity association {id}"));
    Ok(())
}
