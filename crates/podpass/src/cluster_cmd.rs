//! `podpass cluster ...`: the clusters, podpass's own and registered ones, and their keys.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::Subcommand;
use podpass_store::TokenKeys;
use podpass_token::KeyAlgorithm;

use crate::cli::Global;
use crate::output::table;
use crate::serve::Algorithm;

/// Cluster commands.
#[derive(Debug, Subcommand)]
pub(crate) enum ClusterCommand {
    /// List the clusters with their issuer and how their tokens are verified
    #[command(after_help = crate::examples::CLUSTER_LIST)]
    List,
    /// Register a cluster whose ServiceAccount tokens its own kube-apiserver issues (kind, k3s,
    /// kubeadm, EKS, ...): EKS Auth then verifies its pods' tokens, and IRSA works through an
    /// IAM OIDC provider for the same issuer. Registering again replaces the issuer and keys
    #[command(after_help = REGISTER_EXAMPLES)]
    Register {
        /// Cluster name, as the node agent names it (`--cluster-name`)
        name: String,
        /// The cluster's ServiceAccount issuer: the `iss` of its tokens (`kubectl get --raw
        /// /.well-known/openid-configuration` shows it)
        #[arg(long)]
        issuer_url: String,
        /// Verify tokens with this JWKS instead of fetching the issuer's (for an issuer whose
        /// discovery endpoint podpass cannot reach: `kubectl get --raw /openid/v1/jwks`).
        /// Register again after the cluster rotates its signing key
        #[arg(long)]
        jwks_file: Option<PathBuf>,
        /// Also ask the cluster's kube-apiserver about each token (TokenReview), which refuses
        /// tokens of deleted pods and ServiceAccounts (`podpass up` then needs the Kubernetes
        /// API: in-cluster, --kube-api or --kubeconfig)
        #[arg(long)]
        tokenreview: bool,
    },
    /// Create a cluster whose tokens podpass signs as ISSUER_URL, the place its discovery
    /// document and JWKS are published for AWS IAM (`podpass issuer publish`): IRSA with the
    /// real STS for workloads podpass gives tokens to
    #[command(after_help = CREATE_EXAMPLES)]
    Create {
        /// Cluster name
        name: String,
        /// The issuer (`iss`) of its tokens: an https URL AWS IAM can read, e.g. an S3 bucket's
        #[arg(long)]
        issuer_url: String,
        /// Algorithm of its signing key
        #[arg(long, value_enum, default_value_t = Algorithm::Rs256)]
        algorithm: Algorithm,
    },
    /// Sign new tokens with a fresh key; old keys stay in the JWKS until their last token expires
    #[command(after_help = crate::examples::ROTATE_KEY)]
    RotateKey {
        /// Cluster
        #[arg(long, env = "PODPASS_CLUSTER", default_value = "demo")]
        cluster: String,
        /// Algorithm of the new key
        #[arg(long, value_enum, default_value_t = Algorithm::Rs256)]
        algorithm: Algorithm,
    },
    /// Remove a retired signing key from the JWKS now, before its tokens expire (a leaked
    /// key): running instances refuse its tokens within their --issuer-keys-refresh
    #[command(after_help = crate::examples::RETIRE_KEY)]
    RetireKey {
        /// Cluster
        #[arg(long, env = "PODPASS_CLUSTER", default_value = "demo")]
        cluster: String,
        /// Key id (`kid`) of a key already replaced by `rotate-key`
        #[arg(long)]
        kid: String,
    },
    /// Seal new STS sessions with a fresh key; sessions sealed before keep working (running
    /// instances seal with it within 30 s, and open its sessions at once)
    #[command(after_help = crate::examples::ROTATE_SESSION_KEY)]
    RotateSessionKey,
}

const CREATE_EXAMPLES: &str = "Examples:
  # Tokens for IRSA with the real STS: the issuer is a bucket AWS IAM reads
  podpass cluster create edge --issuer-url https://my-oidc.s3.eu-west-1.amazonaws.com/edge
  podpass issuer publish --cluster edge --to s3://my-oidc/edge";

const REGISTER_EXAMPLES: &str = "Examples:
  # A cluster whose issuer is public (EKS, or a self-managed issuer published for IRSA)
  podpass cluster register prod --issuer-url https://oidc.eks.eu-west-1.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE

  # kind, k3s or kubeadm: the issuer is the apiserver itself; give podpass its keys
  kubectl get --raw /openid/v1/jwks > kind-jwks.json
  podpass cluster register kind --issuer-url https://kubernetes.default.svc.cluster.local --jwks-file kind-jwks.json";

pub(crate) async fn run(global: &Global, command: ClusterCommand) -> anyhow::Result<()> {
    let store = global.open_store().await?;
    let now = podpass_control::now();
    match command {
        ClusterCommand::List => {
            let clusters = podpass_control::clusters::Clusters::new(store.clone());
            let mut rows = vec![
                ["NAME", "ISSUER", "TOKENS VERIFIED BY", "SIGNING KEY"]
                    .map(String::from)
                    .to_vec(),
            ];
            for cluster in store.list_clusters().await? {
                let (verified_by, signing_key) = match &cluster.token_keys {
                    TokenKeys::Podpass => {
                        let published = clusters.published_keys(&cluster.name, now).await?;
                        let active = clusters.active_key(&cluster.name).await?;
                        (
                            format!("podpass ({} published keys)", published.len()),
                            format!(
                                "{} {}",
                                active.algorithm().jwt_algorithm().as_str(),
                                active.kid()
                            ),
                        )
                    }
                    TokenKeys::Discovery => {
                        ("the issuer's OIDC discovery".to_owned(), "-".to_owned())
                    }
                    TokenKeys::Jwks(_) => ("the registered JWKS".to_owned(), "-".to_owned()),
                };
                let verified_by = if cluster.token_review {
                    format!("{verified_by}, then its kube-apiserver (TokenReview)")
                } else {
                    verified_by
                };
                rows.push(vec![
                    cluster.name.clone(),
                    cluster.issuer_url.clone(),
                    verified_by,
                    signing_key,
                ]);
            }
            print!("{}", table(&rows));
        }
        ClusterCommand::Register {
            name,
            issuer_url,
            jwks_file,
            tokenreview,
        } => {
            let keys = match &jwks_file {
                Some(path) => TokenKeys::Jwks(
                    std::fs::read_to_string(path)
                        .with_context(|| format!("reading {}", path.display()))?,
                ),
                None => TokenKeys::Discovery,
            };
            let clusters = podpass_control::clusters::Clusters::new(store);
            let cluster = clusters
                .register(&name, &issuer_url, keys, tokenreview, now)
                .await?;
            let mut how = match jwks_file {
                Some(path) => format!("the keys of {}", path.display()),
                None => format!(
                    "the keys {}/.well-known/openid-configuration names",
                    cluster.issuer_url
                ),
            };
            if tokenreview {
                how.push_str(", then reviewed by its kube-apiserver");
            }
            println!(
                "cluster/{name} registered: its tokens from {} are verified with {how}",
                cluster.issuer_url
            );
        }
        ClusterCommand::Create {
            name,
            issuer_url,
            algorithm,
        } => {
            let clusters = podpass_control::clusters::Clusters::new(store);
            let cluster = clusters
                .create(&name, &issuer_url, KeyAlgorithm::from(algorithm), now)
                .await?;
            println!(
                "cluster/{name} created: its tokens are issued as {}; publish its keys there with `podpass issuer publish --cluster {name}`",
                cluster.issuer_url
            );
        }
        ClusterCommand::RotateKey { cluster, algorithm } => {
            let clusters = podpass_control::clusters::Clusters::new(store);
            let kid = clusters
                .rotate_key(&cluster, KeyAlgorithm::from(algorithm), now)
                .await?;
            println!(
                "cluster/{cluster} signs with key {kid}; earlier keys stay published until their tokens expire"
            );
        }
        ClusterCommand::RetireKey { cluster, kid } => {
            let clusters = podpass_control::clusters::Clusters::new(store);
            clusters.remove_retired_key(&cluster, &kid).await?;
            println!(
                "cluster/{cluster} no longer publishes key {kid}; its tokens are refused once running instances revalidate the cluster's keys"
            );
        }
        ClusterCommand::RotateSessionKey => {
            let id = podpass_control::sealing::rotate_sealing_key(&store, now).await?;
            println!(
                "session sealing key {id} created; running instances seal new sessions with it within {}s",
                podpass_control::sealing::REFRESH_INTERVAL.as_secs()
            );
        }
    }
    Ok(())
}
