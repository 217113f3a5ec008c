//! `podpass agent`: the EKS Pod Identity node agent, as a DaemonSet runs it on each node.

use std::sync::Arc;

use anyhow::Context;
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use aws_smithy_types::error::display::DisplayErrorContext;
use clap::{Args, Subcommand};
use podpass_agent::{AwsCredentials, CredentialsError};

/// Options of `podpass agent`.
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub(crate) struct AgentArgs {
    #[command(subcommand)]
    pub command: Option<AgentCommand>,
    /// The agent's settings (absent with a subcommand).
    #[command(flatten)]
    pub config: Option<podpass_agent::AgentConfig>,
}

/// `podpass agent ...` besides running the agent.
#[derive(Debug, Subcommand)]
pub(crate) enum AgentCommand {
    /// Put EKS's link-local addresses on a dummy link of this node (needs NET_ADMIN; the
    /// DaemonSet's init container runs it), so that pods reach the agent on the host network
    #[command(after_help = crate::examples::AGENT_INIT)]
    Init(InitArgs),
}

/// Options of `podpass agent init`.
#[derive(Debug, Args)]
pub(crate) struct InitArgs {
    /// The addresses the agent serves on (IPv4 must take; IPv6 is skipped on a node without
    /// it). A flag only: the agent's own PODPASS_AGENT_* variables in the environment would make
    /// `podpass agent` itself (which needs its cluster name) the command being run
    #[arg(
        long,
        short = 'b',
        value_delimiter = ',',
        value_parser = podpass_agent::config::parse_bind_host,
        default_values = ["169.254.170.23", "[fd00:ec2::23]"],
    )]
    pub bind_hosts: Vec<std::net::IpAddr>,
    /// Name of the dummy link
    #[arg(long, env = "PODPASS_AGENT_LINK_NAME", default_value = podpass_agent::DEFAULT_LINK_NAME)]
    pub link_name: String,
}

/// The agent's own identity, from the AWS SDK's default credential chain: environment keys, a
/// web identity token (`AWS_ROLE_ARN` + `AWS_WEB_IDENTITY_TOKEN_FILE`: the agent's
/// ServiceAccount in a cluster install), a profile, container credentials, instance metadata.
/// The SDK caches and refreshes what it gets.
#[derive(Debug)]
struct SdkCredentials(SharedCredentialsProvider);

impl podpass_agent::CredentialsProvider for SdkCredentials {
    fn credentials(
        &self,
    ) -> podpass_agent::BoxFuture<'_, Result<AwsCredentials, CredentialsError>> {
        Box::pin(async move {
            let credentials =
                self.0.provide_credentials().await.map_err(|e| {
                    CredentialsError::Unavailable(DisplayErrorContext(&e).to_string())
                })?;
            Ok(AwsCredentials {
                access_key_id: credentials.access_key_id().to_owned(),
                secret_access_key: credentials.secret_access_key().to_owned(),
                session_token: credentials.session_token().map(str::to_owned),
            })
        })
    }
}

/// Runs the agent until SIGINT/SIGTERM. Its own credentials sign the EKS Auth calls, which
/// need `eks-auth:AssumeRoleForPodIdentity`.
pub(crate) async fn run(args: AgentArgs) -> anyhow::Result<()> {
    if let Some(AgentCommand::Init(init)) = args.command {
        podpass_agent::set_up_link(&init.link_name, &init.bind_hosts)
            .await
            .context("setting up the agent's link")?;
        println!(
            "link {} carries {}",
            init.link_name,
            init.bind_hosts
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        );
        return Ok(());
    }
    let config = args
        .config
        .context("--cluster-name (PODPASS_AGENT_CLUSTER_NAME) is required")?;
    let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
    // A region given to the agent spares the SDK its search (IMDS, absent off EC2).
    if let Some(region) = &config.region {
        loader = loader.region(aws_config::Region::new(region.clone()));
    }
    let sdk = loader.load().await;
    let chain = sdk
        .credentials_provider()
        .context("the AWS SDK found no credential provider")?;
    let eks_auth = config.eks_auth_client(Arc::new(SdkCredentials(chain)))?;
    let running =
        podpass_agent::start(&config, Arc::new(eks_auth), crate::serve::shutdown_signal())
            .await
            .context("starting the node agent")?;
    for addr in running.credential_addrs() {
        tracing::info!(%addr, "serving container credentials at /v1/credentials");
    }
    running.wait().await.context("node agent")
}
