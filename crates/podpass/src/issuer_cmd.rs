//! `podpass issuer publish`: IRSA on any cluster. AWS IAM trusts an OIDC provider only once it
//! can read the issuer's discovery document and JWKS over https; this writes both, for a
//! podpass cluster or a registered one whose JWKS podpass holds, to an S3 bucket or a directory
//! for any static host, at the paths IAM fetches (`<issuer>/.well-known/openid-configuration`
//! and the `jwks_uri` it names), and prints what to create in IAM.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context as _, bail};
use clap::{Args, Subcommand};
use podpass_control::clusters::{Clusters, JWKS_PATH};
use podpass_store::Cluster;

use crate::cli::Global;

const DISCOVERY_PATH: &str = "/.well-known/openid-configuration";

/// Issuer commands.
#[derive(Debug, Subcommand)]
pub(crate) enum IssuerCommand {
    /// Publish a cluster's discovery document and JWKS where AWS IAM reads them, and print the
    /// IAM OIDC provider and trust policy to create
    #[command(after_help = EXAMPLES)]
    Publish(PublishArgs),
}

const EXAMPLES: &str = "Examples:
  # To the bucket the issuer URL names (credentials and region from the AWS SDK's chain)
  podpass issuer publish --cluster edge --to s3://my-oidc/edge

  # To a directory served by any static web server, republished as keys rotate
  podpass issuer publish --cluster kind --to /var/www/oidc/kind --watch";

/// Options of `podpass issuer publish`.
#[derive(Debug, Args)]
pub(crate) struct PublishArgs {
    /// Cluster whose issuer to publish
    #[arg(long, env = "PODPASS_CLUSTER", default_value = "demo")]
    pub cluster: String,
    /// Where: s3://BUCKET[/PREFIX], or a directory
    #[arg(long)]
    pub to: String,
    /// Keep running and publish again whenever the keys change (rotation, retirement)
    #[arg(long)]
    pub watch: bool,
    /// How often --watch looks at the keys
    #[arg(long, default_value = "60s")]
    pub interval: crate::output::Duration,
    /// The ServiceAccount (NAMESPACE:NAME) the printed trust policy is for
    #[arg(long, default_value = "default:my-app", value_name = "NAMESPACE:NAME")]
    pub service_account: String,
}

/// Where the documents go.
enum Destination {
    S3 {
        client: aws_sdk_s3::Client,
        bucket: String,
        prefix: String,
    },
    Directory(PathBuf),
}

impl Destination {
    async fn open(to: &str) -> anyhow::Result<Self> {
        let Some(location) = to.strip_prefix("s3://") else {
            return Ok(Destination::Directory(PathBuf::from(to)));
        };
        let (bucket, prefix) = location.split_once('/').unwrap_or((location, ""));
        if bucket.is_empty() {
            bail!("{to}: no bucket");
        }
        let config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
        // An S3 other than AWS's (AWS_ENDPOINT_URL_S3) is addressed by path, as most are.
        let path_style =
            config.endpoint_url().is_some() || std::env::var_os("AWS_ENDPOINT_URL_S3").is_some();
        let client = aws_sdk_s3::Client::from_conf(
            aws_sdk_s3::config::Builder::from(&config)
                .force_path_style(path_style)
                .build(),
        );
        Ok(Destination::S3 {
            client,
            bucket: bucket.to_owned(),
            prefix: prefix.trim_matches('/').to_owned(),
        })
    }

    /// Writes `body` at `path` (below the issuer), readable by anyone as IAM reads it.
    async fn put(&self, path: &str, body: &str) -> anyhow::Result<String> {
        match self {
            Destination::S3 {
                client,
                bucket,
                prefix,
            } => {
                let key = format!("{prefix}{path}").trim_start_matches('/').to_owned();
                client
                    .put_object()
                    .bucket(bucket)
                    .key(&key)
                    .content_type("application/json")
                    .cache_control("public, max-age=3600")
                    .body(body.as_bytes().to_vec().into())
                    .send()
                    .await
                    .map_err(|e| {
                        anyhow::anyhow!(
                            "writing s3://{bucket}/{key}: {}",
                            aws_smithy_types::error::display::DisplayErrorContext(e)
                        )
                    })?;
                Ok(format!("s3://{bucket}/{key}"))
            }
            Destination::Directory(root) => {
                let file = root.join(path.trim_start_matches('/'));
                write_atomically(&file, body)?;
                Ok(file.display().to_string())
            }
        }
    }
}

/// Replaces `file` whole: a web server never serves half a document.
fn write_atomically(file: &Path, body: &str) -> anyhow::Result<()> {
    let dir = file.parent().context("a file has a directory")?;
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let tmp = dir.join(".podpass-publish.tmp");
    std::fs::write(&tmp, body).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, file).with_context(|| format!("writing {}", file.display()))
}

pub(crate) async fn run(global: &Global, command: IssuerCommand) -> anyhow::Result<()> {
    let IssuerCommand::Publish(args) = command;
    let store = global.open_store().await?;
    let clusters = Clusters::new(store.clone());
    let cluster = store
        .cluster(&args.cluster)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let destination = Destination::open(&args.to).await?;
    let mut published = publish(&clusters, &cluster, &destination).await?;
    print_iam_setup(&cluster, &args.service_account).await;
    if !args.watch {
        return Ok(());
    }
    let interval = u64::try_from(args.interval.seconds())
        .ok()
        .filter(|s| *s > 0)
        .context("--interval must be at least 1s")?;
    loop {
        tokio::select! {
            () = tokio::time::sleep(Duration::from_secs(interval)) => {}
            () = crate::serve::shutdown_signal() => return Ok(()),
        }
        let (_, jwks) = clusters
            .issuer_documents(&cluster, podpass_control::now())
            .await?;
        if jwks.to_json()? != published {
            match publish(&clusters, &cluster, &destination).await {
                Ok(now_published) => published = now_published,
                // The next round tries again; the issuer keeps serving the previous keys.
                Err(error) => tracing::warn!(%error, "publishing the new keys failed"),
            }
        }
    }
}

/// Writes the JWKS, then the discovery document naming it; returns the JWKS written.
async fn publish(
    clusters: &Clusters,
    cluster: &Cluster,
    destination: &Destination,
) -> anyhow::Result<String> {
    let (discovery, jwks) = clusters
        .issuer_documents(cluster, podpass_control::now())
        .await?;
    let jwks = jwks.to_json()?;
    let keys = destination.put(JWKS_PATH, &jwks).await?;
    let document = destination
        .put(DISCOVERY_PATH, &discovery.to_json()?)
        .await?;
    println!("published {document} and {keys}");
    tracing::info!(cluster = %cluster.name, %keys, "issuer keys published");
    Ok(jwks)
}

/// Prints the IAM OIDC provider to create, with the thumbprint of the issuer's host (the JWKS
/// is published beside the discovery document, so one host serves both), and a trust policy.
async fn print_iam_setup(cluster: &Cluster, service_account: &str) {
    let issuer = &cluster.issuer_url;
    let host_path = issuer
        .trim_start_matches("https://")
        .trim_start_matches("http://");
    let (namespace, name) = service_account
        .split_once(':')
        .unwrap_or(("default", service_account));
    let thumbprint = if issuer.starts_with("https://") {
        crate::thumbprint::of_url(issuer).await
    } else {
        Err(anyhow::anyhow!(
            "AWS IAM accepts only https issuers; {issuer} serves podpass's own STS only"
        ))
    };
    let thumbprint_list = match &thumbprint {
        Ok(thumbprint) => format!(" --thumbprint-list {thumbprint}"),
        Err(_) => String::new(),
    };
    println!(
        "\nAWS IAM reads them from {issuer}{DISCOVERY_PATH}. Create the provider once:\n\n  \
         aws iam create-open-id-connect-provider --url {issuer} --client-id-list sts.amazonaws.com{thumbprint_list}\n"
    );
    match thumbprint {
        Ok(_) => println!(
            "The thumbprint is the SHA-1 of the top certificate the issuer's host presents; IAM \
             relies on it only when no public CA signs that host's certificate.\n"
        ),
        Err(error) => println!("note: no thumbprint: {error:#}\n"),
    }
    println!(
        "Trust it in a role for the ServiceAccount {namespace}/{name}:\n\n  \
         {{\"Version\":\"2012-10-17\",\"Statement\":[{{\"Effect\":\"Allow\",\"Principal\":{{\"Federated\":\"arn:aws:iam::<account>:oidc-provider/{host_path}\"}},\
         \"Action\":\"sts:AssumeRoleWithWebIdentity\",\"Condition\":{{\"StringEquals\":{{\"{host_path}:sub\":\"system:serviceaccount:{namespace}:{name}\",\"{host_path}:aud\":\"sts.amazonaws.com\"}}}}}}]}}"
    );
}
