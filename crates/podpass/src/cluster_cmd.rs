//! `podpass cluster ...`: the local clusters and their keys.

use clap::Subcommand;
use podpass_token::KeyAlgorithm;

use crate::cli::Global;
use crate::output::table;
use crate::serve::Algorithm;

/// Cluster commands.
#[derive(Debug, Subcommand)]
pub(crate) enum ClusterCommand {
    /// List the clusters with their issuer and published signing keys
    List,
    /// Sign new tokens with a fresh key; old keys stay in the JWKS until their last token expires
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
    RotateSessionKey,
}

pub(crate) async fn run(global: &Global, command: ClusterCommand) -> anyhow::Result<()> {
    let store = global.open_store().await?;
    let now = podpass_control::now();
    match command {
        ClusterCommand::List => {
            let clusters = podpass_control::clusters::Clusters::new(store.clone());
            let mut rows = vec![
                ["NAME", "ISSUER", "SIGNING KEY", "PUBLISHED KEYS"]
                    .map(String::from)
                    .to_vec(),
            ];
            for cluster in store.list_clusters().await? {
                let published = clusters.published_keys(&cluster.name, now).await?;
                let active = clusters.active_key(&cluster.name).await?;
                rows.push(vec![
                    cluster.name.clone(),
                    cluster.issuer_url.clone(),
                    format!(
                        "{} {}",
                        active.algorithm().jwt_algorithm().as_str(),
                        active.kid()
                    ),
                    published.len().to_string(),
                ]);
            }
            print!("{}", table(&rows));
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
