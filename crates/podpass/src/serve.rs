//! `podpass up`: bootstraps the instance on first start and serves every endpoint.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use clap::{ArgAction, Args};
use podpass_api::AppState;
use podpass_control::bootstrap::{
    GivenKey, Trustee, ensure_account_id, ensure_admin_key, ensure_node_role, ensure_webhook_role,
};
use podpass_control::sealing::KeyRing;
use podpass_control::{Control, Settings};
use podpass_store::AccessKey;
use podpass_token::KeyAlgorithm;

use crate::cli::Global;
use crate::instance::Instance;
use crate::output::Duration;
use crate::profile::AwsFiles;

/// Options of `podpass up`.
#[derive(Debug, Args)]
pub(crate) struct UpArgs {
    /// Address of the AWS-compatible endpoint and the issuer (port 0 picks a free port)
    #[arg(long, env = "PODPASS_LISTEN", default_value = "127.0.0.1:7700")]
    pub listen: SocketAddr,

    /// Base URL clients and tokens use to reach this instance [default: http://<listen address>]
    #[arg(long, env = "PODPASS_PUBLIC_URL")]
    pub public_url: Option<String>,

    /// AWS account id podpass acts as (fixed at first start)
    #[arg(long, env = "PODPASS_ACCOUNT_ID", default_value = "000000000000")]
    pub account_id: String,

    /// Region in ARNs, signatures and the written profile
    #[arg(long, env = "PODPASS_REGION", default_value = "us-east-1")]
    pub region: String,

    /// Name of the local cluster whose ServiceAccount tokens podpass issues
    #[arg(long, env = "PODPASS_CLUSTER", default_value = "demo")]
    pub cluster: String,

    /// Signing algorithm of a newly created cluster's key
    #[arg(long, env = "PODPASS_KEY_ALGORITHM", value_enum, default_value_t = Algorithm::Rs256)]
    pub key_algorithm: Algorithm,

    /// AWS CLI profile to write the admin keys to (in ~/.aws, or AWS_SHARED_CREDENTIALS_FILE
    /// and AWS_CONFIG_FILE)
    #[arg(long, env = "PODPASS_PROFILE", default_value = "podpass")]
    pub profile: String,

    /// Do not write an AWS CLI profile; `podpass env` then prints the keys themselves
    #[arg(long, env = "PODPASS_NO_PROFILE")]
    pub no_profile: bool,

    /// Address of the S3 endpoint (port 0 picks a free port; `off`: none, as for API replicas
    /// whose S3 another process serves, named by --s3-public-url); clients reach it through
    /// AWS_ENDPOINT_URL_S3
    #[arg(
        long,
        env = "PODPASS_S3_LISTEN",
        default_value = "127.0.0.1:7702",
        value_name = "ADDRESS|off",
        value_parser = parse_optional_listen
    )]
    pub s3_listen: OptionalListen,

    /// Address of the API's HTTPS listener with a local node (`off`: none): the same endpoints
    /// as --listen, with a certificate the local cluster's CA signs (the CA every pod gets as
    /// `ca.crt`, kept in <data dir>/pki/ca.crt). Pods reach it as the Kubernetes API, through
    /// KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT
    #[arg(
        long,
        env = "PODPASS_HTTPS_LISTEN",
        default_value = "127.0.0.1:7703",
        value_name = "ADDRESS|off",
        value_parser = parse_optional_listen
    )]
    pub https_listen: OptionalListen,

    /// Port of the Pod Identity node agent on 127.0.0.1 (0 picks a free port); the SDKs accept
    /// plain HTTP to loopback for AWS_CONTAINER_CREDENTIALS_FULL_URI
    #[arg(long, env = "PODPASS_AGENT_PORT", default_value_t = 7701)]
    pub agent_port: u16,

    /// Which S3 decisions go to the audit trail: every one, or only refusals (as CloudTrail
    /// without S3 data events), which saves a write per allowed request under heavy traffic
    #[arg(long, env = "PODPASS_S3_AUDIT", value_enum, default_value_t = S3Audit::All)]
    pub s3_audit: S3Audit,

    /// Seconds an issuer's signing keys are used before STS and EKS Auth revalidate them: a
    /// key that left the issuer's JWKS (`podpass cluster retire-key`, or another issuer's
    /// rotation) stops verifying within this time. If the keys cannot be fetched, the last ones
    /// serve for as long again, then tokens of that issuer are refused until a fetch succeeds
    #[arg(
        long,
        env = "PODPASS_ISSUER_KEYS_REFRESH",
        value_name = "SECONDS",
        default_value_t = 30,
        value_parser = clap::value_parser!(u64).range(1..=3600)
    )]
    pub issuer_keys_refresh: u64,

    /// Rotated audit files of authenticated decisions younger than this are never deleted,
    /// even beyond the 5 kept (anonymous floods cannot rotate them: they have their own file)
    #[arg(long, env = "PODPASS_AUDIT_KEEP_RECENT", default_value = "15m")]
    pub audit_keep_recent: Duration,

    /// Window over which repeated anonymous and unauthenticated decisions from one address
    /// are written as one audit event with a count
    #[arg(long, env = "PODPASS_AUDIT_ANONYMOUS_WINDOW", default_value = "60s")]
    pub audit_anonymous_window: Duration,

    /// Distinct anonymous audit events one address may write per window; beyond, its requests
    /// are counted in one summary event per window
    #[arg(
        long,
        env = "PODPASS_AUDIT_ANONYMOUS_PER_SOURCE",
        default_value_t = 100
    )]
    pub audit_anonymous_per_source: usize,

    /// URL clients reach the S3 endpoint at [default: http://<s3 listen address>]
    #[arg(long, env = "PODPASS_S3_PUBLIC_URL")]
    pub s3_public_url: Option<String>,

    /// Run a node of the cluster on this machine: the node agent and the kubelet of `podpass
    /// run`. In a Kubernetes cluster the agent runs on every node instead (`podpass manifests`)
    /// [default: true; false with --cluster-issuer-url]
    #[arg(long, env = "PODPASS_LOCAL_NODE", action = ArgAction::Set, value_name = "BOOL")]
    pub local_node: Option<bool>,

    /// The cluster (--cluster) is a real Kubernetes cluster whose kube-apiserver issues its
    /// ServiceAccount tokens as this issuer: register it (`podpass cluster register`) instead
    /// of creating podpass's own
    #[arg(long, env = "PODPASS_CLUSTER_ISSUER_URL")]
    pub cluster_issuer_url: Option<String>,

    /// With --cluster-issuer-url: verify the cluster's tokens with this JWKS (`kubectl get
    /// --raw /openid/v1/jwks`) instead of fetching its issuer's
    #[arg(
        long,
        env = "PODPASS_CLUSTER_JWKS_FILE",
        requires = "cluster_issuer_url"
    )]
    pub cluster_jwks_file: Option<PathBuf>,

    /// With --cluster-issuer-url: also ask the cluster's kube-apiserver about each token
    /// (TokenReview), which refuses tokens of deleted pods and ServiceAccounts. podpass reaches
    /// the apiserver in-cluster, or with --kube-api / --kubeconfig
    #[arg(
        long,
        env = "PODPASS_CLUSTER_TOKENREVIEW",
        requires = "cluster_issuer_url",
        action = ArgAction::Set,
        num_args = 0..=1,
        default_missing_value = "true",
        default_value_t = false,
        value_name = "BOOL"
    )]
    pub cluster_tokenreview: bool,

    /// Kubernetes API server for TokenReview, when podpass runs outside the cluster (without
    /// --kubeconfig, requests carry no credentials) [default: in-cluster, else ~/.kube/config]
    #[arg(long, env = "PODPASS_KUBE_API")]
    pub kube_api: Option<String>,

    /// Kubeconfig for TokenReview, when podpass runs outside the cluster
    #[arg(long, env = "PODPASS_KUBECONFIG")]
    pub kubeconfig: Option<PathBuf>,

    /// With --cluster-issuer-url: the node agent's ServiceAccount (NAMESPACE:NAME), whose
    /// tokens the node role trusts, so that the agents need no key
    #[arg(
        long,
        env = "PODPASS_NODE_SERVICE_ACCOUNT",
        requires = "cluster_issuer_url",
        value_name = "NAMESPACE:NAME"
    )]
    pub node_service_account: Option<String>,

    /// With --cluster-issuer-url: the admission webhook's ServiceAccount (NAMESPACE:NAME),
    /// trusted by the role `podpass-<cluster>-webhook`, which may list the cluster's Pod Identity
    /// associations (`podpass webhook --pod-identity-cluster`)
    #[arg(
        long,
        env = "PODPASS_WEBHOOK_SERVICE_ACCOUNT",
        requires = "cluster_issuer_url",
        value_name = "NAMESPACE:NAME"
    )]
    pub webhook_service_account: Option<String>,

    /// The account root's access key id, created at first start instead of a random one (with
    /// --admin-secret-access-key; from a Secret in a cluster install)
    #[arg(
        long,
        env = "PODPASS_ADMIN_ACCESS_KEY_ID",
        requires = "admin_secret_access_key"
    )]
    pub admin_access_key_id: Option<String>,

    /// The account root's secret access key, with --admin-access-key-id
    #[arg(
        long,
        env = "PODPASS_ADMIN_SECRET_ACCESS_KEY",
        hide_env_values = true,
        requires = "admin_access_key_id"
    )]
    pub admin_secret_access_key: Option<String>,

    /// What an image runs in the local kubelet's pods when a container has no `command`
    /// (IMAGE=HOST COMMAND, repeatable). podpass runs host commands, not images; common images
    /// (amazon/aws-cli, python, busybox, alpine, debian, ...) and podpass's own are known
    #[arg(
        long = "image-entrypoint",
        env = "PODPASS_IMAGE_ENTRYPOINTS",
        value_delimiter = ',',
        value_name = "IMAGE=COMMAND",
        value_parser = parse_image_entrypoint
    )]
    pub image_entrypoints: Vec<(String, podpass_kubelet::ImageCommand)>,

    /// Mutate the local kubelet's pods with podpass's built-in webhook. Set false when the
    /// webhook of an install (`podpass manifests --components webhook`, applied with `podpass
    /// run -f`) mutates them instead, through its MutatingWebhookConfiguration: webhooks
    /// registered that way are called either way
    #[arg(
        long,
        env = "PODPASS_BUILTIN_WEBHOOK",
        action = ArgAction::Set,
        value_name = "BOOL",
        default_value_t = true
    )]
    pub builtin_webhook: bool,

    #[command(flatten)]
    pub s3_upstream: S3UpstreamArgs,

    #[command(flatten)]
    pub broker: BrokerArgs,

    #[command(flatten)]
    pub listeners: ListenerArgs,
}

/// Broker mode: Pod Identity sessions of real AWS.
#[derive(Debug, Args)]
#[command(next_help_heading = "Broker mode (real AWS credentials for Pod Identity)")]
pub(crate) struct BrokerArgs {
    /// Decide EKS Auth calls as EKS does, then have the upstream STS issue the association's
    /// role session (AssumeRole with EKS's session tags, as podpass's own AWS identity from the
    /// SDK's default chain) and hand it to the pod unchanged. The upstream is real AWS unless
    /// AWS_ENDPOINT_URL_STS says otherwise; --account-id must be the roles' account
    #[arg(long, env = "PODPASS_BROKER")]
    pub broker: bool,

    /// Most calls to the upstream STS at a time; more wait their turn
    #[arg(long, env = "PODPASS_BROKER_MAX_IN_FLIGHT", default_value_t = 16)]
    pub broker_max_in_flight: usize,

    /// Attempts per upstream call (the SDK's adaptive retries: backoff on throttling and
    /// 5xx, slowing down while the upstream throttles)
    #[arg(long, env = "PODPASS_BROKER_MAX_ATTEMPTS", default_value_t = 4)]
    pub broker_max_attempts: u32,

    /// Longest one upstream call may take, retries included
    #[arg(long, env = "PODPASS_BROKER_TIMEOUT", default_value = "20s")]
    pub broker_timeout: Duration,
}

/// A listener address, or `off`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct OptionalListen(pub Option<SocketAddr>);

fn parse_optional_listen(text: &str) -> Result<OptionalListen, String> {
    if text.eq_ignore_ascii_case("off") {
        return Ok(OptionalListen(None));
    }
    text.parse()
        .map(|address| OptionalListen(Some(address)))
        .map_err(|_| format!("expected an address like 127.0.0.1:7703, or off; got {text:?}"))
}

/// Limits of every HTTP listener of `podpass up` (AWS endpoint, S3, node agent), each applied
/// per listener.
#[derive(Debug, Args)]
#[command(next_help_heading = "Listeners (limits of each HTTP listener)")]
pub(crate) struct ListenerArgs {
    /// Longest a client may take to send a request's line and headers, counted from their first
    /// byte; a slower client is disconnected (slowloris)
    #[arg(long, env = "PODPASS_HEADER_READ_TIMEOUT", default_value = "10s")]
    pub header_read_timeout: Duration,

    /// Close a connection that sends and receives nothing for this long while no request of
    /// it is being handled: one that never sends a byte, a keep-alive connection between
    /// requests, a stalled upload, a client that stops reading its response
    #[arg(long, env = "PODPASS_IDLE_TIMEOUT", default_value = "60s")]
    pub idle_timeout: Duration,

    /// Most connections a listener holds open at once; more wait in the kernel's listen
    /// backlog until one closes (the timeouts above bound how long)
    #[arg(long, env = "PODPASS_MAX_CONNECTIONS", default_value_t = podpass_http::DEFAULT_MAX_CONNECTIONS)]
    pub max_connections: usize,

    /// On SIGTERM or Ctrl-C, how long in-flight requests may still run before their
    /// connections are closed
    #[arg(long, env = "PODPASS_SHUTDOWN_TIMEOUT", default_value = "20s")]
    pub shutdown_timeout: Duration,
}

impl ListenerArgs {
    /// The listener limits these options select.
    pub(crate) fn options(&self) -> anyhow::Result<podpass_http::ServeOptions> {
        let positive = |flag: &str, value: Duration| -> anyhow::Result<std::time::Duration> {
            match u64::try_from(value.seconds()) {
                Ok(seconds) if seconds > 0 => Ok(std::time::Duration::from_secs(seconds)),
                _ => anyhow::bail!("--{flag} must be at least 1s"),
            }
        };
        if self.max_connections == 0 {
            anyhow::bail!("--max-connections must be at least 1");
        }
        Ok(podpass_http::ServeOptions {
            header_read_timeout: positive("header-read-timeout", self.header_read_timeout)?,
            idle_timeout: positive("idle-timeout", self.idle_timeout)?,
            max_connections: self.max_connections,
            shutdown_timeout: positive("shutdown-timeout", self.shutdown_timeout)?,
        })
    }
}

/// Which S3 decisions are audited.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum S3Audit {
    /// Allowed and refused requests
    All,
    /// Refused requests only
    Denied,
}

/// Where the S3 endpoint stores objects when not in the data directory.
#[derive(Debug, Args)]
#[command(next_help_heading = "S3 upstream (store objects in another S3-compatible endpoint)")]
pub(crate) struct S3UpstreamArgs {
    /// Keep objects in this S3-compatible endpoint (AWS S3, MinIO, Ceph, ...) instead of the
    /// data directory; podpass still authenticates and authorizes every request, then forwards
    /// it signed with the upstream's own credentials. Bucket policies stay with podpass.
    #[arg(
        long = "s3-upstream-url",
        env = "PODPASS_S3_UPSTREAM_URL",
        value_name = "URL",
        requires_all = ["access_key_id", "secret_access_key"]
    )]
    pub url: Option<String>,

    /// Access key id podpass signs upstream requests with
    #[arg(
        long = "s3-upstream-access-key-id",
        env = "PODPASS_S3_UPSTREAM_ACCESS_KEY_ID",
        requires = "url"
    )]
    pub access_key_id: Option<String>,

    /// Secret access key for the upstream (prefer the environment variable: a flag shows in ps)
    #[arg(
        long = "s3-upstream-secret-access-key",
        env = "PODPASS_S3_UPSTREAM_SECRET_ACCESS_KEY",
        hide_env_values = true,
        requires = "url"
    )]
    pub secret_access_key: Option<String>,

    /// Session token, when the upstream credentials are temporary
    #[arg(
        long = "s3-upstream-session-token",
        env = "PODPASS_S3_UPSTREAM_SESSION_TOKEN",
        hide_env_values = true,
        requires = "url"
    )]
    pub session_token: Option<String>,

    /// Region upstream requests are signed for [default: --region]
    #[arg(
        long = "s3-upstream-region",
        env = "PODPASS_S3_UPSTREAM_REGION",
        requires = "url"
    )]
    pub region: Option<String>,

    /// Address buckets by host name (BUCKET.endpoint) upstream, as AWS S3 prefers, instead of
    /// by path, as most self-hosted servers expect
    #[arg(
        long = "s3-upstream-virtual-hosted",
        env = "PODPASS_S3_UPSTREAM_VIRTUAL_HOSTED",
        requires = "url"
    )]
    pub virtual_hosted: bool,
}

impl S3UpstreamArgs {
    /// The S3 endpoint's storage these options select (`region`: the instance's).
    fn storage(&self, region: &str) -> podpass_s3::Storage {
        match (&self.url, &self.access_key_id, &self.secret_access_key) {
            (Some(url), Some(access_key_id), Some(secret_access_key)) => {
                podpass_s3::Storage::Upstream(podpass_s3::Upstream {
                    endpoint_url: url.clone(),
                    region: self.region.clone().unwrap_or_else(|| region.to_owned()),
                    access_key_id: access_key_id.clone(),
                    secret_access_key: secret_access_key.clone(),
                    session_token: self.session_token.clone(),
                    path_style: !self.virtual_hosted,
                })
            }
            _ => podpass_s3::Storage::Embedded,
        }
    }
}

/// Token signing algorithms a cluster can use.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum Algorithm {
    /// RSA-2048 with SHA-256, kube-apiserver's default
    Rs256,
    /// ECDSA P-256 with SHA-256
    Es256,
}

impl From<Algorithm> for KeyAlgorithm {
    fn from(value: Algorithm) -> Self {
        match value {
            Algorithm::Rs256 => KeyAlgorithm::RS256,
            Algorithm::Es256 => KeyAlgorithm::ES256,
        }
    }
}

/// Re-reads the session key ring now and then, so that a key added by `podpass cluster
/// rotate-session-key` or another replica starts sealing here without a restart.
async fn refresh_key_ring(keys: std::sync::Arc<KeyRing>) {
    let mut every = tokio::time::interval(podpass_control::sealing::REFRESH_INTERVAL);
    every.tick().await;
    loop {
        every.tick().await;
        if let Err(error) = keys.reload().await {
            tracing::warn!(%error, "reloading the session sealing keys");
        }
    }
}

pub(crate) async fn up(global: &Global, args: UpArgs) -> anyhow::Result<()> {
    let limits = args.listeners.options()?;
    let data_dir = global.data_dir();
    let store = global.open_store().await?;
    let account_id = ensure_account_id(&store, &args.account_id).await?;
    let given_admin = match (&args.admin_access_key_id, &args.admin_secret_access_key) {
        (Some(id), Some(secret)) => Some(GivenKey {
            access_key_id: id.clone(),
            secret_access_key: secret.clone(),
        }),
        _ => None,
    };
    let admin = ensure_admin_key(&store, &account_id, given_admin.as_ref()).await?;
    let local_node = args.local_node.unwrap_or(args.cluster_issuer_url.is_none());
    if local_node && args.cluster_issuer_url.is_some() {
        anyhow::bail!(
            "a registered cluster's pods run in that cluster: --cluster-issuer-url needs --local-node false"
        );
    }

    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("binding {}", args.listen))?;
    let bound = listener.local_addr()?;
    let public_url = args
        .public_url
        .clone()
        .unwrap_or_else(|| format!("http://{bound}"))
        .trim_end_matches('/')
        .to_owned();

    let now = podpass_control::now();
    let keys = std::sync::Arc::new(
        KeyRing::load(store.clone(), now)
            .await
            .context("loading the session sealing keys")?,
    );
    tokio::spawn(refresh_key_ring(keys.clone()));
    let seconds = |flag: &str, value: Duration| -> anyhow::Result<std::time::Duration> {
        u64::try_from(value.seconds())
            .map(std::time::Duration::from_secs)
            .map_err(|_| anyhow::anyhow!("--{flag} must not be negative"))
    };
    let window = seconds("audit-anonymous-window", args.audit_anonymous_window)?;
    if window.is_zero() {
        anyhow::bail!("--audit-anonymous-window must be at least 1s");
    }
    let rotation = podpass_audit::Rotation {
        keep_recent: seconds("audit-keep-recent", args.audit_keep_recent)?,
        anonymous_window: window,
        anonymous_per_source: args.audit_anonymous_per_source,
        ..podpass_audit::Rotation::default()
    };
    let audit = podpass_audit::AuditLog::open(&data_dir.join("audit"), rotation)
        .context("opening the audit trail")?;
    let s3_listener = match args.s3_listen.0 {
        Some(address) => Some(
            tokio::net::TcpListener::bind(address)
                .await
                .with_context(|| format!("binding {address}"))?,
        ),
        None => None,
    };
    // Empty when this process serves no S3 and is told of none.
    let s3_url = match (&args.s3_public_url, &s3_listener) {
        (Some(url), _) => url.trim_end_matches('/').to_owned(),
        (None, Some(listener)) => format!("http://{}", listener.local_addr()?),
        (None, None) => String::new(),
    };
    let cluster = register_cluster(&args, &store, now).await?;
    let node_trustee = service_account_trustee(&args, args.node_service_account.as_deref())?;
    let node_role = ensure_node_role(
        &store,
        &account_id,
        &args.cluster,
        node_trustee.unwrap_or(Trustee::Instance),
    )
    .await?;
    if let Some(trustee) = service_account_trustee(&args, args.webhook_service_account.as_deref())?
    {
        let cluster_arn = podpass_arn::eks_cluster(&args.region, &account_id, &args.cluster);
        ensure_webhook_role(&store, &account_id, &args.cluster, &cluster_arn, trustee).await?;
    }
    let upstream = if args.broker.broker {
        let timeout = seconds("broker-timeout", args.broker.broker_timeout)?;
        let upstream =
            crate::broker::StsUpstream::from_environment(&crate::broker::BrokerSettings {
                region: args.region.clone(),
                max_in_flight: args.broker.broker_max_in_flight,
                max_attempts: args.broker.broker_max_attempts.max(1),
                call_timeout: timeout,
            })
            .await;
        let upstream = std::sync::Arc::new(upstream);
        tokio::spawn({
            let upstream = upstream.clone();
            async move { upstream.log_identity().await }
        });
        Some(upstream)
    } else {
        None
    };
    let control = Control::new(
        Settings {
            account_id: account_id.clone(),
            region: args.region.clone(),
            node_role: Some(node_role),
            issuer_keys_refresh: std::time::Duration::from_secs(args.issuer_keys_refresh),
            token_reviewer: token_reviewer(&args).await?,
            upstream: upstream
                .clone()
                .map(|upstream| upstream as std::sync::Arc<dyn podpass_control::broker::Upstream>),
            new_clusters: Some(podpass_control::eks::NewClusters {
                issuer_base_url: public_url.clone(),
                key_algorithm: args.key_algorithm.into(),
            }),
            node_cluster: local_node.then(|| args.cluster.clone()),
        },
        store.clone(),
        keys.clone(),
        audit.clone(),
    );
    let s3 = match s3_listener {
        Some(listener) => Some((
            start_s3(&args, &control, keys.clone(), &data_dir, &audit).await?,
            listener,
        )),
        None => None,
    };
    let cluster = match cluster {
        Some(registered) => registered,
        None => control
            .clusters()
            .ensure(&args.cluster, &public_url, args.key_algorithm.into(), now)
            .await
            .context("creating the local cluster")?,
    };
    if cluster.token_keys == podpass_store::TokenKeys::Podpass
        && !cluster.issuer_url.starts_with(&public_url)
    {
        tracing::warn!(
            issuer = %cluster.issuer_url,
            %public_url,
            "the cluster's issuer was created under another URL; its tokens name that issuer"
        );
    }

    let profile = if args.no_profile {
        None
    } else {
        AwsFiles::from_env()?
            .write_profile(
                &args.profile,
                &admin.access_key_id,
                &admin.secret_access_key,
                &args.region,
                &public_url,
            )
            .context("writing the AWS CLI profile")?;
        Some(args.profile.clone())
    };
    let node_api = if local_node {
        Some(NodeApi::start(&args, &data_dir, &cluster.name, &public_url).await?)
    } else {
        None
    };
    let (stop_agent, agent_stopped) = tokio::sync::watch::channel(false);
    let agent = if local_node {
        Some(start_agent(&args, &cluster.name, &public_url, &admin, agent_stopped).await?)
    } else {
        None
    };
    let agent_url = agent
        .as_ref()
        .and_then(|agent| agent.credential_addrs().first().copied())
        .map(|addr| format!("http://{addr}/v1/credentials"))
        .unwrap_or_default();
    let instance = Instance {
        pid: std::process::id(),
        endpoint_url: public_url.clone(),
        region: args.region.clone(),
        account_id: account_id.clone(),
        profile,
        access_key_id: admin.access_key_id.clone(),
        cluster: cluster.name.clone(),
        issuer_url: cluster.issuer_url.clone(),
        agent_url: agent_url.clone(),
        s3_endpoint_url: s3_url.clone(),
        https_endpoint_url: node_api
            .as_ref()
            .and_then(NodeApi::https_address)
            .map(|address| format!("https://{address}")),
        ca_file: node_api
            .as_ref()
            .map(|_| crate::pki::ca_dir(&data_dir).join("ca.crt")),
    };
    instance.write(&data_dir)?;

    tracing::info!(endpoint = %public_url, "AWS endpoint ready (STS, IAM, EKS, EKS Auth)");
    tracing::info!(
        cluster = %cluster.name,
        issuer = %cluster.issuer_url,
        discovery = %format!("{}/.well-known/openid-configuration", cluster.issuer_url),
        "ServiceAccount issuer ready"
    );
    if local_node {
        tracing::info!(url = %agent_url, "Pod Identity node agent ready");
    }
    if let (Some(url), Some(ca)) = (&instance.https_endpoint_url, &instance.ca_file) {
        tracing::info!(endpoint = %url, ca = %ca.display(), "HTTPS endpoint ready (the cluster CA signs it)");
    }
    if s3.is_some() {
        tracing::info!(
            endpoint = %s3_url,
            objects = args.s3_upstream.url.as_deref().unwrap_or("data directory"),
            "S3 endpoint ready (AWS_ENDPOINT_URL_S3)"
        );
    }
    tracing::info!(
        profile = instance.profile.as_deref().unwrap_or("(none)"),
        account = %account_id,
        "admin credentials ready: eval \"$(podpass env)\""
    );

    let s3_metrics = s3.as_ref().map(|(s3, _)| s3.metrics().clone());
    let (stop_s3, s3_stopped) = tokio::sync::watch::channel(false);
    let s3_task = s3.map(|(s3, listener)| {
        tokio::spawn(async move { s3.serve_with(listener, limits, wait_for(s3_stopped)).await })
    });
    let node = match &node_api {
        Some(node_api) => Some(
            start_kubelet(
                &args,
                &data_dir,
                &control,
                node_api,
                &cluster.name,
                &public_url,
                &agent_url,
                &s3_url,
            )
            .await?,
        ),
        None => None,
    };
    // One `/metrics` for everything this process runs: the API's own, S3, the node agent's
    // (under the reference agent's names), the kubelet and its in-process webhook.
    let mut registry = prometheus_client::registry::Registry::default();
    if let Some(s3_metrics) = &s3_metrics {
        s3_metrics.register(&mut registry);
    }
    if let Some(upstream) = &upstream {
        upstream.metrics().register(&mut registry);
    }
    if let Some(agent) = &agent {
        agent.metrics().register(&mut registry);
    }
    if let Some((kubelet, _)) = &node {
        kubelet.metrics().register(&mut registry);
    }
    let state = AppState::with_metrics(control.clone(), registry);
    let mut app = podpass_api::router(state.clone());
    let kubelet = match node {
        Some((kubelet, local)) => {
            let node_api = podpass_kubelet::router(kubelet.clone())
                .merge(crate::cluster_objects::router(local.clone()))
                .layer(axum::middleware::from_fn_with_state(
                    state,
                    podpass_api::admin::require_admin,
                ));
            // The Kubernetes API of the cluster authenticates its own callers (their tokens).
            let kube_api = crate::kube_api::router(crate::kube_api::KubeApi {
                control,
                local,
                kubelet: kubelet.clone(),
            });
            app = app.merge(node_api).merge(kube_api);
            Some(kubelet)
        }
        None => None,
    };
    let (stop_https, https_stopped) = tokio::sync::watch::channel(false);
    let https_task = node_api.and_then(|node_api| {
        let (listener, tls) = node_api.https?;
        let app = app.clone();
        Some(tokio::spawn(podpass_http::serve_tls(
            listener,
            tls,
            app,
            limits,
            wait_for(https_stopped),
        )))
    });
    // podpass-http sets TCP_NODELAY (small responses must not wait for the client's delayed
    // ACK) and adds the client address (ConnectInfo) the API reads.
    let served = podpass_http::serve(listener, app, limits, async move {
        shutdown_signal().await;
        let _ = stop_agent.send(true);
        let _ = stop_s3.send(true);
        let _ = stop_https.send(true);
    })
    .await;
    if let Some(https_task) = https_task {
        match https_task.await {
            Ok(Err(e)) => tracing::warn!(error = %e, "the HTTPS listener stopped with an error"),
            Err(e) => tracing::warn!(error = %e, "the HTTPS listener task failed"),
            Ok(Ok(())) => {}
        }
    }
    if let Some(s3_task) = s3_task {
        match s3_task.await {
            Ok(Err(e)) => tracing::warn!(error = %e, "the S3 endpoint stopped with an error"),
            Err(e) => tracing::warn!(error = %e, "the S3 endpoint task failed"),
            Ok(Ok(())) => {}
        }
    }
    audit.flush().await;
    if let Some(kubelet) = kubelet {
        kubelet.shutdown().await;
    }
    if let Some(Err(e)) = match agent {
        Some(agent) => Some(agent.wait().await),
        None => None,
    } {
        tracing::warn!(error = %e, "the node agent stopped with an error");
    }
    Instance::remove(&data_dir);
    tracing::info!("podpass stopped");
    served.context("serving")
}

/// The ServiceAccount `NAMESPACE:NAME` of the registered cluster as a trustee of one of
/// podpass's own roles.
fn service_account_trustee<'a>(
    args: &'a UpArgs,
    service_account: Option<&'a str>,
) -> anyhow::Result<Option<Trustee<'a>>> {
    let (Some(issuer_url), Some(service_account)) = (&args.cluster_issuer_url, service_account)
    else {
        return Ok(None);
    };
    let (namespace, name) = service_account
        .split_once(':')
        .with_context(|| format!("{service_account} is not NAMESPACE:NAME"))?;
    Ok(Some(Trustee::ServiceAccount {
        issuer_url,
        namespace,
        name,
    }))
}

/// The Kubernetes API that reviews tokens, when one is configured or asked for.
async fn token_reviewer(
    args: &UpArgs,
) -> anyhow::Result<Option<std::sync::Arc<dyn podpass_control::issuers::TokenReviewer>>> {
    if !args.cluster_tokenreview && args.kube_api.is_none() && args.kubeconfig.is_none() {
        return Ok(None);
    }
    let client =
        podpass_webhook::run::kube_client(args.kube_api.as_deref(), args.kubeconfig.as_deref())
            .await
            .context("the Kubernetes API for TokenReview")?;
    Ok(Some(std::sync::Arc::new(
        crate::token_review::KubeTokenReviewer::new(client),
    )))
}

/// Registers the cluster of `--cluster-issuer-url`, if one is given.
async fn register_cluster(
    args: &UpArgs,
    store: &podpass_store::Store,
    now: i64,
) -> anyhow::Result<Option<podpass_store::Cluster>> {
    let Some(issuer_url) = &args.cluster_issuer_url else {
        return Ok(None);
    };
    let keys = match &args.cluster_jwks_file {
        Some(path) => podpass_store::TokenKeys::Jwks(
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?,
        ),
        None => podpass_store::TokenKeys::Discovery,
    };
    let cluster = podpass_control::clusters::Clusters::new(store.clone())
        .register(
            &args.cluster,
            issuer_url,
            keys,
            args.cluster_tokenreview,
            now,
        )
        .await
        .with_context(|| format!("registering cluster {}", args.cluster))?;
    Ok(Some(cluster))
}

/// Reads `IMAGE=HOST COMMAND` of `--image-entrypoint`.
fn parse_image_entrypoint(text: &str) -> Result<(String, podpass_kubelet::ImageCommand), String> {
    let (image, command) = text
        .split_once('=')
        .ok_or("expected IMAGE=HOST COMMAND, e.g. amazon/aws-cli=aws")?;
    let entrypoint = podpass_kubelet::images::split_words(command);
    if image.trim().is_empty() || entrypoint.is_empty() {
        return Err("expected IMAGE=HOST COMMAND, e.g. amazon/aws-cli=aws".into());
    }
    Ok((
        image.trim().to_owned(),
        podpass_kubelet::ImageCommand {
            entrypoint,
            cmd: Vec::new(),
        },
    ))
}

/// What a local node's pods see of the cluster's API: the cluster CA, and the API's HTTPS
/// listener (bound, not yet serving) with a certificate that CA signs.
struct NodeApi {
    ca: crate::pki::ClusterCa,
    https: Option<(
        tokio::net::TcpListener,
        std::sync::Arc<rustls::ServerConfig>,
    )>,
}

impl NodeApi {
    async fn start(
        args: &UpArgs,
        data_dir: &std::path::Path,
        cluster: &str,
        public_url: &str,
    ) -> anyhow::Result<Self> {
        let ca = crate::pki::ClusterCa::load_or_create(&crate::pki::ca_dir(data_dir), cluster)
            .context("loading the cluster CA")?;
        let https = match args.https_listen.0 {
            None => None,
            Some(address) => {
                let listener = tokio::net::TcpListener::bind(address)
                    .await
                    .with_context(|| format!("binding {address} (--https-listen)"))?;
                // The public URL's host too, so clients that reach the API by that name verify.
                let hosts: Vec<String> = reqwest::Url::parse(public_url)
                    .ok()
                    .and_then(|url| {
                        url.host_str()
                            .map(|h| h.trim_matches(['[', ']']).to_owned())
                    })
                    .into_iter()
                    .collect();
                let tls = ca.serving_config(&hosts)?;
                Some((listener, tls))
            }
        };
        Ok(Self { ca, https })
    }

    /// The HTTPS listener's address.
    fn https_address(&self) -> Option<SocketAddr> {
        self.https
            .as_ref()
            .and_then(|(listener, _)| listener.local_addr().ok())
    }
}

/// The S3 endpoint, authorizing with `control`'s callers, with bucket policies an earlier
/// podpass kept as files moved into the store.
async fn start_s3(
    args: &UpArgs,
    control: &Control,
    keys: std::sync::Arc<KeyRing>,
    data_dir: &std::path::Path,
    audit: &podpass_audit::AuditLog,
) -> anyhow::Result<podpass_s3::S3Server> {
    let s3 = podpass_s3::S3Server::new(
        control.store().clone(),
        keys,
        control.account_id(),
        &args.region,
        data_dir,
        podpass_s3::S3Options {
            audit: Some(audit.clone()),
            storage: args.s3_upstream.storage(&args.region),
            audit_allowed: args.s3_audit == S3Audit::All,
            control: Some(control.clone()),
            ..podpass_s3::S3Options::default()
        },
    )
    .await
    .context("starting the S3 endpoint")?;
    let imported = s3
        .import_bucket_policy_files()
        .await
        .context("moving bucket policy files into the store")?;
    if imported > 0 {
        tracing::info!(
            imported,
            "bucket policies moved from the data directory into the store"
        );
    }
    Ok(s3)
}

/// The local kubelet: pods get tokens from the cluster's issuer, the webhook's mutation with the
/// store's ServiceAccounts and associations, and podpass's endpoints in their environment.
#[allow(clippy::too_many_arguments)]
async fn start_kubelet(
    args: &UpArgs,
    data_dir: &std::path::Path,
    control: &Control,
    node_api: &NodeApi,
    cluster: &str,
    public_url: &str,
    agent_url: &str,
    s3_url: &str,
) -> anyhow::Result<(
    podpass_kubelet::Kubelet,
    std::sync::Arc<crate::local_cluster::LocalCluster>,
)> {
    let mut config = podpass_kubelet::KubeletConfig::new(data_dir.join("kubelet"));
    config.builtin_webhook = args.builtin_webhook;
    config.webhook.aws_default_region = args.region.clone();
    config.webhook.container_credentials_full_uri = agent_url.to_owned();
    config.node_env = vec![
        ("AWS_ENDPOINT_URL".to_owned(), public_url.to_owned()),
        // The node's instance metadata (its role), where the SDKs look last.
        (
            "AWS_EC2_METADATA_SERVICE_ENDPOINT".to_owned(),
            format!("{public_url}/"),
        ),
    ];
    if !s3_url.is_empty() {
        config
            .node_env
            .push(("AWS_ENDPOINT_URL_S3".to_owned(), s3_url.to_owned()));
    }
    // As the kubelet gives every pod the `kubernetes` Service's address.
    if let Some(address) = node_api.https_address() {
        let (host, port) = (address.ip().to_string(), address.port().to_string());
        config.node_env.extend([
            ("KUBERNETES_SERVICE_HOST".to_owned(), host),
            ("KUBERNETES_SERVICE_PORT".to_owned(), port.clone()),
            ("KUBERNETES_SERVICE_PORT_HTTPS".to_owned(), port),
        ]);
    }
    // podpass's own image runs this very binary, so that `podpass run -f` of the install
    // manifests runs them as a cluster would. Without /proc (a bare chroot) the path it was
    // started by serves, when absolute.
    let this = std::env::current_exe().ok().or_else(|| {
        std::env::args_os()
            .next()
            .map(PathBuf::from)
            .filter(|path| path.is_absolute())
    });
    match this {
        Some(this) => config.images.insert(
            crate::manifests::DEFAULT_IMAGE,
            podpass_kubelet::ImageCommand::entrypoint(&[&this.to_string_lossy()]),
        ),
        None => tracing::warn!(
            "podpass cannot locate its own binary: pods of its image need --image-entrypoint"
        ),
    }
    for (image, command) in &args.image_entrypoints {
        config.images.insert(image, command.clone());
    }
    let local = crate::local_cluster::LocalCluster::new(
        control.store().clone(),
        cluster,
        &config.webhook.annotation_prefix,
        Some(node_api.ca.certificate_pem()),
    );
    let registered_webhooks = crate::registered_webhooks::RegisteredWebhooks::new(local.clone());
    let deps = podpass_kubelet::KubeletDeps {
        tokens: local.clone(),
        objects: local.clone(),
        identities: local.clone(),
        jitter: std::sync::Arc::new(podpass_podmutation::RandomJitter),
        clock: std::sync::Arc::new(podpass_kubelet::SystemClock),
        registered_webhooks: Some(registered_webhooks.clone()),
    };
    let kubelet = podpass_kubelet::Kubelet::start(config, deps)
        .await
        .context("starting the local kubelet")?;
    registered_webhooks.attach(kubelet.clone());
    Ok((kubelet, local))
}

/// Runs a node agent for the local cluster on loopback, signing EKS Auth calls with the admin
/// key (in a real cluster the agent runs on each node with the node's own identity).
async fn start_agent(
    args: &UpArgs,
    cluster: &str,
    public_url: &str,
    admin: &AccessKey,
    stopped: tokio::sync::watch::Receiver<bool>,
) -> anyhow::Result<podpass_agent::RunningAgent> {
    let mut config = podpass_agent::AgentConfig::new(cluster);
    config.bind_hosts = vec![std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST)];
    config.port = args.agent_port;
    config.probe_port = 0;
    config.metrics_address = std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);
    config.metrics_port = 0;
    config.endpoint = Some(public_url.to_owned());
    config.region = Some(args.region.clone());
    config.listener = args.listeners.options()?;
    let credentials = podpass_agent::StaticCredentialsProvider(podpass_agent::AwsCredentials {
        access_key_id: admin.access_key_id.clone(),
        secret_access_key: admin.secret_access_key.clone(),
        session_token: None,
    });
    let eks_auth = config.eks_auth_client(std::sync::Arc::new(credentials))?;
    podpass_agent::start(&config, std::sync::Arc::new(eks_auth), wait_for(stopped))
        .await
        .with_context(|| format!("starting the node agent on 127.0.0.1:{}", args.agent_port))
}

/// Resolves once `stop` turns true (or its sender is gone).
async fn wait_for(mut stop: tokio::sync::watch::Receiver<bool>) {
    let _ = stop.wait_for(|stop| *stop).await;
}

/// Resolves on SIGINT or SIGTERM.
pub(crate) async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down: finishing in-flight requests");
}
