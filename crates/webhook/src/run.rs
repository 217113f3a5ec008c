//! `podpass webhook`: wires the flags, the resolver (cluster or local) and the servers.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};
use podpass_podmutation::IdentityResolver;
use prometheus_client::registry::Registry;
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::args::WebhookArgs;
use crate::cluster::{ClusterResolver, KubeLookup, watch_service_accounts};
use crate::config_map::{ConfigMapRoles, watch_config_map};
use crate::sa_cache::ServiceAccountCache;
use crate::server::{ServeConfig, ServeError, serve};
use crate::watched::{AssociationSource, WatchedAssociations, WithAssociations};

/// How often the container-credentials file is checked for changes.
const POD_IDENTITY_POLL_INTERVAL: Duration = Duration::from_secs(5);

/// Errors of [`run`].
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The kubeconfig file could not be read.
    #[error("reading kubeconfig {path}: {source}")]
    Kubeconfig {
        /// File path.
        path: String,
        /// kube error.
        source: kube::config::KubeconfigError,
    },
    /// No Kubernetes client configuration was found or it was unusable.
    #[error("configuring the Kubernetes client: {0}")]
    KubeConfig(String),
    /// The Kubernetes client could not be built.
    #[error("building the Kubernetes client: {0}")]
    Client(#[from] kube::Error),
    /// The servers could not start.
    #[error(transparent)]
    Serve(#[from] ServeError),
    /// Pod Identity associations were given two ways.
    #[error(
        "--watch-container-credentials-config and an EKS API source of associations exclude each other"
    )]
    TwoAssociationSources,
}

/// Runs the webhook until SIGTERM or Ctrl-C. With `resolver` (local mode: podpass's own store)
/// it is used as is; with `None` (cluster mode) ServiceAccounts come from the Kubernetes API.
/// Pod Identity associations come from `associations` (podpass's EKS API, listed by the caller)
/// or from `--watch-container-credentials-config`, not both.
pub async fn run(
    args: WebhookArgs,
    resolver: Option<Arc<dyn IdentityResolver + Send + Sync>>,
    associations: Option<Arc<dyn AssociationSource>>,
) -> Result<(), RunError> {
    let mut registry = Registry::default();
    let (stop, stopped) = watch::channel(false);
    let mut background = JoinSet::new();
    let file = args
        .webhook
        .watch_container_credentials_config
        .as_deref()
        .map(|path| watch_associations(path, &mut background, &stopped));
    let associations = match (associations, file) {
        (Some(_), Some(_)) => return Err(RunError::TwoAssociationSources),
        (Some(source), None) => Some(source),
        (None, file) => file.map(|file| file as Arc<dyn AssociationSource>),
    };
    let resolver = match resolver {
        Some(resolver) => match associations {
            None => resolver,
            Some(source) => Arc::new(WithAssociations::new(resolver, source)),
        },
        None => {
            cluster_resolver(
                &args,
                associations,
                &mut registry,
                &mut background,
                &stopped,
            )
            .await?
        }
    };
    let config = serve_config(args, registry);
    let served = serve(config, resolver, termination()).await;
    stop.send_replace(true);
    while background.join_next().await.is_some() {}
    served.map_err(RunError::from)
}

/// The server settings of `args`.
pub fn serve_config(args: WebhookArgs, registry: Registry) -> ServeConfig {
    let mut config = ServeConfig::new(args.webhook.into(), args.port, args.metrics_port);
    config.tls_cert = args.tls_cert;
    config.tls_key = args.tls_key;
    config.tls_min_version = args.tls_min_version;
    config.tls_cipher_suites = args.tls_cipher_suites;
    config.registry = registry;
    config
}

async fn cluster_resolver(
    args: &WebhookArgs,
    pod_identities: Option<Arc<dyn AssociationSource>>,
    registry: &mut Registry,
    background: &mut JoinSet<()>,
    stopped: &watch::Receiver<bool>,
) -> Result<Arc<dyn IdentityResolver + Send + Sync>, RunError> {
    let client = kube_client(args.kube_api.as_deref(), args.kubeconfig.as_deref()).await?;
    let cache = Arc::new(ServiceAccountCache::new(&args.webhook.annotation_prefix));
    background.spawn(watch_service_accounts(
        client.clone(),
        cache.clone(),
        stopped.clone(),
    ));
    let mut resolver = ClusterResolver::new(
        cache,
        Arc::new(KubeLookup::new(client.clone())),
        args.service_account_lookup_grace_period,
        pod_identities,
    );
    if args.watch_config_map {
        let roles = Arc::new(ConfigMapRoles::default());
        background.spawn(watch_config_map(
            client,
            args.namespace.clone(),
            roles.clone(),
            stopped.clone(),
        ));
        resolver = resolver.with_config_map(roles);
    }
    resolver.register_metrics(registry);
    Ok(Arc::new(resolver))
}

/// The container-credentials file at `path`, polled in `background` until shutdown.
fn watch_associations(
    path: &Path,
    background: &mut JoinSet<()>,
    stopped: &watch::Receiver<bool>,
) -> Arc<WatchedAssociations> {
    let watched = Arc::new(WatchedAssociations::new(path));
    background.spawn(
        watched
            .clone()
            .watch(POD_IDENTITY_POLL_INTERVAL, stopped.clone()),
    );
    watched
}

/// A Kubernetes client: `kubeconfig` when given, else in-cluster, else `~/.kube/config`
/// (kube's inference), with the server replaced by `kube_api`; `kube_api` alone is an
/// unauthenticated client, as with client-go's `BuildConfigFromFlags`.
pub async fn kube_client(
    kube_api: Option<&str>,
    kubeconfig: Option<&Path>,
) -> Result<Client, RunError> {
    Ok(Client::try_from(kube_config(kube_api, kubeconfig).await?)?)
}

async fn kube_config(
    kube_api: Option<&str>,
    kubeconfig: Option<&Path>,
) -> Result<Config, RunError> {
    let kube_api = kube_api
        .map(|url| {
            url.parse::<http::Uri>()
                .map_err(|error| RunError::KubeConfig(format!("--kube-api {url:?}: {error}")))
        })
        .transpose()?;
    let mut config = match (kubeconfig, &kube_api) {
        (None, Some(url)) => Config::new(url.clone()),
        (Some(path), _) => {
            let kubeconfig =
                Kubeconfig::read_from(path).map_err(|source| RunError::Kubeconfig {
                    path: path.display().to_string(),
                    source,
                })?;
            Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
                .await
                .map_err(|error| RunError::KubeConfig(error.to_string()))?
        }
        (None, None) => Config::infer()
            .await
            .map_err(|error| RunError::KubeConfig(error.to_string()))?,
    };
    if let Some(url) = kube_api {
        config.cluster_url = url;
    }
    Ok(config)
}

/// Completes on SIGTERM (what the kubelet sends) or Ctrl-C.
async fn termination() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut terminate) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = terminate.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
            return;
        }
    }
    if let Err(error) = tokio::signal::ctrl_c().await {
        tracing::error!(%error, "cannot listen for Ctrl-C; running until killed");
        std::future::pending::<()>().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn kube_config(
        kube_api: Option<&str>,
        kubeconfig: Option<&str>,
    ) -> Result<Config, RunError> {
        super::kube_config(kube_api, kubeconfig.map(Path::new)).await
    }

    #[tokio::test]
    async fn kube_api_alone_gives_a_client() {
        let config = kube_config(Some("https://10.0.0.1:6443"), None).await;
        assert_eq!(
            config.unwrap().cluster_url.to_string(),
            "https://10.0.0.1:6443/"
        );
        // And the client builds from it.
        assert!(
            kube_client(Some("https://10.0.0.1:6443"), None)
                .await
                .is_ok()
        );
    }

    #[tokio::test]
    async fn kube_api_overrides_the_kubeconfig_server() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kubeconfig");
        std::fs::write(
            &path,
            "apiVersion: v1\nkind: Config\ncurrent-context: c\nclusters:\n- name: k\n  cluster:\n    server: https://kube.example:6443\ncontexts:\n- name: c\n  context:\n    cluster: k\n    user: u\nusers:\n- name: u\n  user:\n    token: t\n",
        )
        .unwrap();
        let path = path.to_str().unwrap();
        let from_file = kube_config(None, Some(path)).await.unwrap();
        assert_eq!(
            from_file.cluster_url.to_string(),
            "https://kube.example:6443/"
        );
        let overridden = kube_config(Some("https://10.0.0.2"), Some(path))
            .await
            .unwrap();
        assert_eq!(overridden.cluster_url.to_string(), "https://10.0.0.2/");
    }

    #[tokio::test]
    async fn bad_client_settings_are_errors() {
        let err = kube_config(None, Some("/nonexistent/kubeconfig"))
            .await
            .err()
            .unwrap();
        assert!(matches!(err, RunError::Kubeconfig { .. }), "{err}");
        let err = kube_config(Some("not a url"), None).await.err().unwrap();
        assert!(
            err.to_string()
                .starts_with("configuring the Kubernetes client: --kube-api"),
            "{err}"
        );
    }

    #[test]
    fn serve_config_takes_the_flags() {
        let args = WebhookArgs {
            port: 8443,
            metrics_port: 9000,
            tls_cipher_suites: vec!["TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256".to_owned()],
            ..WebhookArgs::default()
        };
        let config = serve_config(args, Registry::default());
        assert_eq!(config.https_addr.to_string(), "[::]:8443");
        assert_eq!(config.metrics_addr.to_string(), "[::]:9000");
        assert_eq!(config.tls_cert.to_str(), Some("/etc/webhook/certs/tls.crt"));
        assert_eq!(config.tls_cipher_suites.len(), 1);
        assert_eq!(config.shutdown_grace, Duration::from_secs(10));
    }
}
