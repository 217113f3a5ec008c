//! `podpass webhook`: the mutating admission webhook, a drop-in for the reference
//! amazon-eks-pod-identity-webhook.

use std::sync::Arc;

use anyhow::Context as _;
use aws_smithy_types::error::display::DisplayErrorContext;
use clap::{Args, Subcommand};
use podpass_podmutation::PodIdentityAssociations;
use podpass_webhook::{AssociationSource, PolledAssociations};

use crate::cli::Global;
use crate::local_cluster::LocalCluster;
use crate::output::Duration;

/// Options of `podpass webhook`.
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub(crate) struct WebhookCommand {
    #[command(subcommand)]
    pub command: Option<WebhookSubcommand>,
    #[command(flatten)]
    pub args: podpass_webhook::WebhookArgs,
    /// Resolve ServiceAccounts and Pod Identity associations from this podpass cluster's store
    /// instead of the Kubernetes API (local mode)
    #[arg(long, env = "PODPASS_WEBHOOK_LOCAL_CLUSTER")]
    pub local_cluster: Option<String>,
    /// Take the Pod Identity associations of this cluster from the EKS API (podpass's, at
    /// AWS_ENDPOINT_URL_EKS or AWS_ENDPOINT_URL; the webhook's own identity from the AWS SDK's
    /// credential chain), instead of --watch-container-credentials-config
    #[arg(long, env = "PODPASS_WEBHOOK_POD_IDENTITY_CLUSTER")]
    pub pod_identity_cluster: Option<String>,
    /// How often the associations of --pod-identity-cluster are listed again
    #[arg(
        long,
        env = "PODPASS_WEBHOOK_POD_IDENTITY_RESYNC",
        default_value = "10s"
    )]
    pub pod_identity_resync: Duration,
}

/// `podpass webhook ...` besides running the webhook.
#[derive(Debug, Subcommand)]
pub(crate) enum WebhookSubcommand {
    /// Keep the webhook's serving certificate in a Secret and its CA in the webhook
    /// configuration's caBundle, without cert-manager (the install's Job runs it; idempotent)
    #[command(after_help = CERTIFICATE_EXAMPLES)]
    Certificate(CertificateArgs),
}

/// Options of `podpass webhook certificate`.
#[derive(Debug, Args)]
pub(crate) struct CertificateArgs {
    /// Namespace of the webhook's Service and of the Secret
    #[arg(
        long,
        env = "PODPASS_WEBHOOK_CERTIFICATE_NAMESPACE",
        default_value = "podpass"
    )]
    pub namespace: String,
    /// The webhook's Service, which the certificate names
    #[arg(
        long,
        env = "PODPASS_WEBHOOK_CERTIFICATE_SERVICE",
        default_value = "podpass-webhook"
    )]
    pub service: String,
    /// The `kubernetes.io/tls` Secret holding ca.crt, tls.crt and tls.key
    #[arg(
        long,
        env = "PODPASS_WEBHOOK_CERTIFICATE_SECRET",
        default_value = "podpass-webhook-tls"
    )]
    pub secret: String,
    /// The MutatingWebhookConfiguration whose webhooks calling the Service get the CA
    #[arg(
        long,
        env = "PODPASS_WEBHOOK_CERTIFICATE_CONFIGURATION",
        default_value = "podpass-webhook"
    )]
    pub webhook_configuration: String,
    /// How long a new certificate is valid
    #[arg(
        long,
        env = "PODPASS_WEBHOOK_CERTIFICATE_VALIDITY",
        default_value = "365d"
    )]
    pub validity: Duration,
    /// Issue a new certificate when the stored one expires within this
    #[arg(
        long,
        env = "PODPASS_WEBHOOK_CERTIFICATE_RENEW_BEFORE",
        default_value = "30d"
    )]
    pub renew_before: Duration,
    /// Kubernetes API server URL (default: in-cluster, else ~/.kube/config)
    #[arg(long, env = "PODPASS_WEBHOOK_CERTIFICATE_KUBE_API")]
    pub kube_api: Option<String>,
    /// Kubeconfig file for running outside the cluster
    #[arg(long, env = "PODPASS_WEBHOOK_CERTIFICATE_KUBECONFIG")]
    pub kubeconfig: Option<std::path::PathBuf>,
}

/// `podpass webhook certificate --help` examples.
pub(crate) const CERTIFICATE_EXAMPLES: &str = "Examples:
  # What the install's Job runs (podpass manifests --certificates self-signed)
  podpass webhook certificate --namespace podpass

  # From a workstation, against the current kubectl context
  podpass webhook certificate --kubeconfig ~/.kube/config";

async fn certificate(args: CertificateArgs) -> anyhow::Result<()> {
    let seconds = |d: Duration, flag: &str| {
        u64::try_from(d.seconds())
            .ok()
            .filter(|s| *s > 0)
            .map(std::time::Duration::from_secs)
            .with_context(|| format!("{flag} must be positive"))
    };
    let settings = podpass_webhook::certificate::CertificateSettings {
        namespace: args.namespace,
        service: args.service,
        secret: args.secret,
        webhook_configuration: args.webhook_configuration,
        validity: seconds(args.validity, "--validity")?,
        renew_before: seconds(args.renew_before, "--renew-before")?,
    };
    if settings.renew_before >= settings.validity {
        anyhow::bail!("--renew-before must be shorter than --validity");
    }
    let client =
        podpass_webhook::run::kube_client(args.kube_api.as_deref(), args.kubeconfig.as_deref())
            .await?;
    let outcome = podpass_webhook::certificate::ensure_certificate(
        client,
        &settings,
        std::time::SystemTime::now(),
    )
    .await?;
    tracing::info!(
        secret = %format!("{}/{}", settings.namespace, settings.secret),
        issued = outcome.issued,
        reason = %outcome.reason,
        ca_bundle_set_on = ?outcome.patched,
        "the webhook's certificate is in place"
    );
    Ok(())
}

pub(crate) async fn run(global: &Global, command: WebhookCommand) -> anyhow::Result<()> {
    if let Some(WebhookSubcommand::Certificate(args)) = command.command {
        return certificate(args).await;
    }
    let resolver: Option<Arc<dyn podpass_podmutation::IdentityResolver + Send + Sync>> =
        match &command.local_cluster {
            Some(cluster) => {
                let store = global.open_store().await?;
                store
                    .cluster(cluster)
                    .await
                    .map_err(|e| anyhow::anyhow!("{e}"))?;
                Some(LocalCluster::new(
                    store,
                    cluster,
                    &command.args.webhook.annotation_prefix,
                    None,
                ))
            }
            None => None,
        };
    let associations = match &command.pod_identity_cluster {
        Some(cluster) => {
            let resync = u64::try_from(command.pod_identity_resync.seconds())
                .ok()
                .filter(|s| *s > 0)
                .context("--pod-identity-resync must be at least 1s")?;
            Some(eks_associations(cluster, std::time::Duration::from_secs(resync)).await)
        }
        None => None,
    };
    podpass_webhook::run(command.args, resolver, associations).await?;
    Ok(())
}

/// The Pod Identity associations of `cluster`, listed now and then every `resync` from the EKS
/// API in the background. A failed list keeps the previous set (logged).
async fn eks_associations(
    cluster: &str,
    resync: std::time::Duration,
) -> Arc<dyn AssociationSource> {
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .load()
        .await;
    let client = aws_sdk_eks::Client::new(&config);
    let polled = Arc::new(PolledAssociations::default());
    // The first list before serving, so that the first pods are not admitted without it.
    refresh(&client, cluster, &polled).await;
    let (client, cluster, background) = (client, cluster.to_owned(), polled.clone());
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(resync).await;
            refresh(&client, &cluster, &background).await;
        }
    });
    polled
}

async fn refresh(client: &aws_sdk_eks::Client, cluster: &str, into: &PolledAssociations) {
    match list_associations(client, cluster).await {
        Ok(associations) => {
            if *into.current() != associations {
                tracing::info!(
                    cluster,
                    associations = associations.len(),
                    "Pod Identity associations updated"
                );
            }
            into.replace(associations);
        }
        Err(error) => tracing::warn!(
            cluster,
            error = %DisplayErrorContext(&error),
            "listing Pod Identity associations failed; keeping the previous ones"
        ),
    }
}

async fn list_associations(
    client: &aws_sdk_eks::Client,
    cluster: &str,
) -> Result<
    PodIdentityAssociations,
    aws_sdk_eks::error::SdkError<
        aws_sdk_eks::operation::list_pod_identity_associations::ListPodIdentityAssociationsError,
    >,
> {
    let mut pages = client
        .list_pod_identity_associations()
        .cluster_name(cluster)
        .max_results(100)
        .into_paginator()
        .send();
    let mut pairs = Vec::new();
    while let Some(page) = pages.next().await {
        for association in page?.associations() {
            if let (Some(namespace), Some(service_account)) =
                (association.namespace(), association.service_account())
            {
                pairs.push((namespace.to_owned(), service_account.to_owned()));
            }
        }
    }
    Ok(pairs.into_iter().collect())
}
