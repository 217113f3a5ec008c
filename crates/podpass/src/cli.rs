//! Command-line interface: every setting is a flag with an env var and a sane default.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Parser, Subcommand, ValueEnum};
use podpass_store::Store;

use crate::{
    agent_cmd, audit_cmd, cluster_cmd, demo, eksctl, iam_cmd, instance, pods, sa, serve, tokens,
    webhook_cmd,
};

/// podpass: short-lived AWS credentials for Kubernetes pods, with no static keys.
///
/// `podpass up` runs the whole chain on this machine: a cluster's ServiceAccount token issuer
/// (OIDC discovery + JWKS), AWS-compatible STS, IAM, EKS and EKS Auth endpoints, an S3 endpoint
/// that enforces IAM, the Pod Identity node agent and a kubelet that runs pod manifests, all for
/// the unmodified AWS CLI and SDKs. The other commands administer it the way kubectl, eksctl and
/// the AWS CLI administer EKS. Start with `podpass up`, then `eval "$(podpass env)"`.
#[derive(Debug, Parser)]
#[command(name = "podpass", version, propagate_version = true)]
pub(crate) struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

/// Options every command takes.
#[derive(Debug, Args)]
pub(crate) struct Global {
    /// Directory holding the embedded database and the running instance's record
    /// [default: $XDG_DATA_HOME/podpass or ~/.local/share/podpass]
    #[arg(long, env = "PODPASS_DATA_DIR", global = true)]
    pub data_dir: Option<PathBuf>,

    /// Database URL instead of the embedded SQLite file in the data directory: PostgreSQL for
    /// replicas sharing one state (postgres://user:password@host/db), or another SQLite file
    /// (sqlite:///var/lib/podpass/podpass.db)
    #[arg(long, env = "PODPASS_DATABASE_URL", global = true)]
    pub database_url: Option<String>,

    /// Log filter, in tracing's env-filter syntax (e.g. `info`, `podpass=debug`)
    #[arg(long, env = "PODPASS_LOG", default_value = "info", global = true)]
    pub log: String,

    /// Log format: human-readable text, or one JSON object per line for log pipelines
    #[arg(long, env = "PODPASS_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text, global = true)]
    pub log_format: LogFormat,
}

/// How logs are written.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub(crate) enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

impl Global {
    /// The data directory in effect.
    pub(crate) fn data_dir(&self) -> PathBuf {
        self.data_dir
            .clone()
            .unwrap_or_else(instance::default_data_dir)
    }

    /// Opens the store named by the flags, creating the data directory when needed.
    pub(crate) async fn open_store(&self) -> anyhow::Result<Store> {
        if let Some(url) = &self.database_url {
            return Store::open(url)
                .await
                .with_context(|| "opening the database".to_owned());
        }
        let dir = self.data_dir();
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("creating the data directory {}", dir.display()))?;
        let path = dir.join("podpass.db");
        Store::open_sqlite_file(&path)
            .await
            .with_context(|| format!("opening {}", path.display()))
    }
}

/// The commands.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Run podpass on this machine: issuer, STS, IAM, EKS, EKS Auth, S3, node agent and kubelet on
    /// loopback, over an embedded store
    #[command(after_help = crate::examples::UP)]
    Up(Box<serve::UpArgs>),
    /// Print the shell exports a client needs for the running instance: eval "$(podpass env)"
    #[command(after_help = crate::examples::ENV)]
    Env,
    /// Run the EKS Pod Identity node agent (container credentials for the node's pods)
    #[command(after_help = crate::examples::AGENT)]
    Agent(agent_cmd::AgentArgs),
    /// Run the mutating admission webhook (IRSA and Pod Identity injection), a drop-in for the
    /// reference amazon-eks-pod-identity-webhook
    #[command(after_help = crate::examples::WEBHOOK)]
    Webhook(Box<webhook_cmd::WebhookCommand>),
    /// Print the install of podpass into a Kubernetes cluster: kubectl apply -f <(podpass manifests)
    #[command(after_help = crate::manifests::EXAMPLES)]
    Manifests(crate::manifests::ManifestsArgs),
    /// Issue and inspect ServiceAccount tokens (what the kubelet asks TokenRequest for)
    #[command(subcommand)]
    Token(tokens::TokenCommand),
    /// List clusters and rotate their token-signing keys, or the session sealing key
    #[command(subcommand)]
    Cluster(cluster_cmd::ClusterCommand),
    /// Publish a cluster's OIDC issuer (discovery document and JWKS) where AWS IAM reads it:
    /// IRSA with the real STS on any cluster
    #[command(subcommand)]
    Issuer(crate::issuer_cmd::IssuerCommand),
    /// Manage the local cluster's ServiceAccounts (as kubectl does)
    #[command(subcommand, name = "sa", alias = "serviceaccount")]
    Sa(sa::SaCommand),
    /// Run a Pod manifest on this machine, as the kubelet would (through the webhook's mutation)
    #[command(after_help = crate::examples::RUN)]
    Run(pods::RunArgs),
    /// Create what a manifest describes, or bring it up to date, as kubectl apply does: an
    /// unchanged pod is left alone, a workload whose template changed gets a new pod
    #[command(after_help = crate::examples::APPLY)]
    Apply(pods::ApplyArgs),
    /// Print a pod's container output
    #[command(after_help = crate::examples::LOGS)]
    Logs(pods::LogsArgs),
    /// Run a command in a pod's container (its env and volumes)
    #[command(after_help = crate::examples::EXEC)]
    Exec(pods::ExecArgs),
    /// Show, with five pods on this machine, how a pod gets AWS credentials on EKS and when it
    /// is refused: no token, only the default token, IRSA, Pod Identity, and a role any pod
    /// can take because its trust policy forgets the ServiceAccount
    #[command(after_help = crate::examples::DEMO)]
    Demo(demo::DemoArgs),
    /// Read the audit trail: credential issuances and S3 decisions, with the reason of each refusal
    #[command(after_help = crate::examples::AUDIT)]
    Audit(audit_cmd::AuditArgs),
    /// Explain a decision of the policy engine (the same as `podpass iam simulate`)
    #[command(after_help = crate::examples::EXPLAIN)]
    Explain(Box<iam_cmd::SimulateArgs>),
    /// IAM tools AWS lacks: lint and simulate (explain) trust and permission policies
    #[command(subcommand)]
    Iam(iam_cmd::IamCommand),
    /// Create IRSA ServiceAccounts or Pod Identity associations, with their roles (as eksctl)
    #[command(subcommand)]
    Create(CreateCommand),
    /// List pods, IRSA ServiceAccounts or Pod Identity associations (as kubectl and eksctl)
    #[command(subcommand)]
    Get(GetCommand),
    /// Delete pods, IRSA ServiceAccounts or Pod Identity associations (as kubectl and eksctl)
    #[command(subcommand)]
    Delete(DeleteCommand),
}

/// `podpass create ...`
#[derive(Debug, Subcommand)]
pub(crate) enum CreateCommand {
    /// A role trusted only by one ServiceAccount, its policies, and the annotated ServiceAccount
    #[command(after_help = crate::examples::CREATE_IAMSERVICEACCOUNT)]
    Iamserviceaccount(eksctl::CreateIamServiceAccount),
    /// An EKS Pod Identity association (creating a role trusting pods.eks.amazonaws.com if asked)
    #[command(after_help = crate::examples::CREATE_PODIDENTITYASSOCIATION)]
    Podidentityassociation(eksctl::CreatePodIdentityAssociation),
}

/// `podpass get ...`
#[derive(Debug, Subcommand)]
pub(crate) enum GetCommand {
    /// ServiceAccounts annotated with a role
    #[command(after_help = crate::examples::GET_IAMSERVICEACCOUNT)]
    Iamserviceaccount(eksctl::SelectIamServiceAccount),
    /// Pod Identity associations
    #[command(after_help = crate::examples::GET_PODIDENTITYASSOCIATION)]
    Podidentityassociation(eksctl::SelectPodIdentityAssociation),
    /// The pods of a namespace (or all, -A)
    #[command(after_help = crate::examples::GET_PODS)]
    Pods(pods::ListArgs),
    /// One pod (-o yaml shows it as admitted, the webhook's mutation included)
    #[command(after_help = crate::examples::GET_POD)]
    Pod(pods::GetArgs),
}

/// `podpass delete ...`
#[derive(Debug, Subcommand)]
pub(crate) enum DeleteCommand {
    /// The role (policies detached) and the ServiceAccount
    #[command(after_help = crate::examples::DELETE_IAMSERVICEACCOUNT)]
    Iamserviceaccount(eksctl::SelectIamServiceAccount),
    /// A Pod Identity association
    #[command(after_help = crate::examples::DELETE_PODIDENTITYASSOCIATION)]
    Podidentityassociation(eksctl::SelectPodIdentityAssociation),
    /// A pod: its processes are stopped and its volumes removed
    #[command(after_help = crate::examples::DELETE_POD)]
    Pod(pods::PodArgs),
}

/// Runs the parsed command.
pub(crate) async fn run(cli: Cli) -> anyhow::Result<std::process::ExitCode> {
    if let Command::Exec(args) = cli.command {
        return pods::exec(&cli.global, args).await;
    }
    run_command(cli)
        .await
        .map(|()| std::process::ExitCode::SUCCESS)
}

async fn run_command(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Up(args) => serve::up(&cli.global, *args).await,
        Command::Env => env(&cli.global).await,
        Command::Agent(args) => agent_cmd::run(args).await,
        Command::Webhook(command) => webhook_cmd::run(&cli.global, *command).await,
        Command::Manifests(args) => crate::manifests::run(&args),
        Command::Run(args) => pods::run(&cli.global, args).await,
        Command::Apply(args) => pods::apply(&cli.global, args).await,
        Command::Audit(args) => audit_cmd::run(&cli.global, args),
        Command::Cluster(command) => cluster_cmd::run(&cli.global, command).await,
        Command::Issuer(command) => crate::issuer_cmd::run(&cli.global, command).await,
        Command::Demo(args) => demo::run(&cli.global, args).await,
        Command::Logs(args) => pods::logs(&cli.global, args).await,
        Command::Exec(_) => Ok(()),
        Command::Get(GetCommand::Pods(args)) => pods::list(&cli.global, args).await,
        Command::Get(GetCommand::Pod(args)) => pods::get(&cli.global, args).await,
        Command::Delete(DeleteCommand::Pod(args)) => pods::delete(&cli.global, args).await,
        Command::Token(command) => tokens::run(&cli.global, command).await,
        Command::Sa(command) => sa::run(&cli.global, command).await,
        Command::Iam(command) => iam_cmd::run(&cli.global, command).await,
        Command::Explain(args) => {
            iam_cmd::run(&cli.global, iam_cmd::IamCommand::Simulate(args)).await
        }
        Command::Create(CreateCommand::Iamserviceaccount(args)) => {
            eksctl::create(&cli.global, args).await
        }
        Command::Get(GetCommand::Iamserviceaccount(args)) => eksctl::get(&cli.global, args).await,
        Command::Delete(DeleteCommand::Iamserviceaccount(args)) => {
            eksctl::delete(&cli.global, args).await
        }
        Command::Create(CreateCommand::Podidentityassociation(args)) => {
            eksctl::create_pod_identity(&cli.global, args).await
        }
        Command::Get(GetCommand::Podidentityassociation(args)) => {
            eksctl::get_pod_identity(&cli.global, args).await
        }
        Command::Delete(DeleteCommand::Podidentityassociation(args)) => {
            eksctl::delete_pod_identity(&cli.global, args).await
        }
    }
}

async fn env(global: &Global) -> anyhow::Result<()> {
    let running = instance::Instance::running(&global.data_dir())?;
    let secret = if running.profile.is_none() {
        let store = global.open_store().await?;
        let keys = store.access_keys().await?;
        keys.into_iter()
            .find(|k| k.access_key_id == running.access_key_id)
            .map(|k| k.secret_access_key)
    } else {
        None
    };
    print!("{}", running.exports(secret.as_deref()));
    Ok(())
}

/// Installs the tracing subscriber for the chosen format and filter.
const QUIET_POSTGRES_NOTICES: &str = "sqlx::postgres::notice=warn";
const QUIET_S3S_ERRORS: &str = "s3s::ops=off";

pub(crate) fn init_logging(global: &Global) {
    let mut filter = tracing_subscriber::EnvFilter::try_new(&global.log)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // PostgreSQL's notices ("relation ... already exists, skipping" on every migration check)
    // are not news; sqlx logs them at info.
    if let Ok(quiet) = QUIET_POSTGRES_NOTICES.parse() {
        filter = filter.add_directive(quiet);
    }
    // s3s logs every S3 error answer, a refusal included, at ERROR, which reads as a server
    // fault; podpass logs each refusal once (info, with its reason) and its own failures itself.
    // Asked for by name (`--log s3s=debug`), s3s says it all again.
    if !global.log.contains("s3s")
        && let Ok(quiet) = QUIET_S3S_ERRORS.parse()
    {
        filter = filter.add_directive(quiet);
    }
    // Colour only for a person at a terminal: not in files, pipes or a cluster's log store.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr);
    match global.log_format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}
