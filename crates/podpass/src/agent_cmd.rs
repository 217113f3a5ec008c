//! `podpass agent`: the EKS Pod Identity node agent, as a DaemonSet runs it on each node.

use std::sync::Arc;

use anyhow::Context;
use clap::Args;

/// Options of `podpass agent`.
#[derive(Debug, Args)]
pub(crate) struct AgentArgs {
    #[command(flatten)]
    pub config: podpass_agent::AgentConfig,
}

/// Runs the agent until SIGINT/SIGTERM. Its own credentials (to sign EKS Auth calls, which
/// need `eks-auth:AssumeRoleForPodIdentity`) come from AWS_ACCESS_KEY_ID,
/// AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN.
pub(crate) async fn run(args: AgentArgs) -> anyhow::Result<()> {
    let credentials = Arc::new(podpass_agent::EnvCredentialsProvider);
    let eks_auth = args.config.eks_auth_client(credentials)?;
    let running = podpass_agent::start(
        &args.config,
        Arc::new(eks_auth),
        crate::serve::shutdown_signal(),
    )
    .await
    .context("starting the node agent")?;
    for addr in running.credential_addrs() {
        tracing::info!(%addr, "serving container credentials at /v1/credentials");
    }
    running.wait().await.context("node agent")
}
