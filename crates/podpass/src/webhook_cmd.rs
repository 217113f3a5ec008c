//! `podpass webhook`: the mutating admission webhook, a drop-in for the reference
//! amazon-eks-pod-identity-webhook.

use std::sync::Arc;

use clap::Args;

use crate::cli::Global;
use crate::local_cluster::LocalCluster;

/// Options of `podpass webhook`.
#[derive(Debug, Args)]
pub(crate) struct WebhookCommand {
    #[command(flatten)]
    pub args: podpass_webhook::WebhookArgs,
    /// Resolve ServiceAccounts and Pod Identity associations from this podpass cluster's store
    /// instead of the Kubernetes API (local mode)
    #[arg(long, env = "PODPASS_WEBHOOK_LOCAL_CLUSTER")]
    pub local_cluster: Option<String>,
}

pub(crate) async fn run(global: &Global, command: WebhookCommand) -> anyhow::Result<()> {
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
                ))
            }
            None => None,
        };
    podpass_webhook::run(command.args, resolver).await?;
    Ok(())
}
