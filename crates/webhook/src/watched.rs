//! Where the webhook learns which ServiceAccounts have Pod Identity associations: the reference's
//! container-credentials file, re-read when its content changes, or a set a poller replaces
//! (podpass's EKS API, listed by `podpass webhook --pod-identity-cluster`).

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use arc_swap::ArcSwap;
use podpass_podmutation::{
    IdentityFileError, IdentityResolver, LookupFuture, PodIdentityAssociations,
    ServiceAccountSettings,
};
use tokio::sync::watch;

use crate::filewatch::{ContentPoller, every_until_shutdown};

/// The Pod Identity associations in effect, wherever they come from.
pub trait AssociationSource: Send + Sync {
    /// The associations now.
    fn current(&self) -> Arc<PodIdentityAssociations>;
}

/// Associations replaced as a whole by whoever lists them (an EKS API poller); empty until the
/// first list.
#[derive(Debug, Default)]
pub struct PolledAssociations {
    current: ArcSwap<PodIdentityAssociations>,
}

impl PolledAssociations {
    /// Puts `associations` in effect.
    pub fn replace(&self, associations: PodIdentityAssociations) {
        self.current.store(Arc::new(associations));
    }
}

impl AssociationSource for PolledAssociations {
    fn current(&self) -> Arc<PodIdentityAssociations> {
        self.current.load_full()
    }
}

impl AssociationSource for WatchedAssociations {
    fn current(&self) -> Arc<PodIdentityAssociations> {
        WatchedAssociations::current(self)
    }
}

/// The Pod Identity associations of a file that is polled for changes. Malformed new content
/// keeps the previous set; empty content clears it, as upstream.
#[derive(Debug)]
pub struct WatchedAssociations {
    path: PathBuf,
    current: ArcSwap<PodIdentityAssociations>,
    poller: Mutex<ContentPoller>,
}

/// Why [`WatchedAssociations::reload`] kept the previous associations.
#[derive(Debug, thiserror::Error)]
pub enum ReloadError {
    /// The file could not be read.
    #[error("reading container credentials config file {path}: {source}")]
    Read {
        /// File path.
        path: String,
        /// Underlying I/O error.
        source: std::io::Error,
    },
    /// The content is not a valid association file.
    #[error(transparent)]
    Content(#[from] IdentityFileError),
}

/// Outcome of one [`WatchedAssociations::reload`].
#[derive(Debug, PartialEq, Eq)]
pub enum Reload {
    /// The content is unchanged.
    Unchanged,
    /// New associations are in effect; their count.
    Loaded(usize),
}

impl WatchedAssociations {
    /// Starts with the file's current associations; a file that cannot be read or parsed yet
    /// starts empty (logged), and is picked up once it becomes valid.
    pub fn new(path: &Path) -> Self {
        let watched = Self {
            path: path.to_owned(),
            current: ArcSwap::from_pointee(PodIdentityAssociations::default()),
            poller: Mutex::new(ContentPoller::new(vec![path.to_owned()])),
        };
        watched.log_reload();
        watched
    }

    /// The associations in effect.
    pub fn current(&self) -> Arc<PodIdentityAssociations> {
        self.current.load_full()
    }

    /// Re-reads the file and swaps in its associations when the content changed and parses.
    pub fn reload(&self) -> Result<Reload, ReloadError> {
        let polled = match self.poller.lock() {
            Ok(mut poller) => poller.poll(),
            Err(poisoned) => poisoned.into_inner().poll(),
        };
        let contents = polled.map_err(|error| ReloadError::Read {
            path: error.path,
            source: error.source,
        })?;
        let Some(content) = contents.and_then(|mut files| files.pop()) else {
            return Ok(Reload::Unchanged);
        };
        let associations = PodIdentityAssociations::parse(&content)?;
        let count = associations.len();
        self.current.store(Arc::new(associations));
        Ok(Reload::Loaded(count))
    }

    /// Polls the file every `interval` until shutdown.
    pub async fn watch(self: Arc<Self>, interval: Duration, shutdown: watch::Receiver<bool>) {
        every_until_shutdown(interval, shutdown, || self.log_reload()).await;
    }

    fn log_reload(&self) {
        let path = self.path.display();
        match self.reload() {
            Ok(Reload::Unchanged) => {}
            Ok(Reload::Loaded(identities)) => {
                tracing::info!(%path, identities, "container credentials config loaded");
            }
            Err(error) => {
                tracing::error!(%path, %error, "keeping the previous container credentials config");
            }
        }
    }
}

/// A resolver that also gives Pod Identity to the ServiceAccounts of another source of
/// associations (local mode with `--watch-container-credentials-config`).
pub struct WithAssociations {
    inner: Arc<dyn IdentityResolver + Send + Sync>,
    source: Arc<dyn AssociationSource>,
}

impl WithAssociations {
    /// `inner`, plus the associations of `source`.
    pub fn new(
        inner: Arc<dyn IdentityResolver + Send + Sync>,
        source: Arc<dyn AssociationSource>,
    ) -> Self {
        Self { inner, source }
    }
}

impl IdentityResolver for WithAssociations {
    fn service_account(&self, namespace: &str, name: &str) -> Option<ServiceAccountSettings> {
        self.inner.service_account(namespace, name)
    }

    fn has_pod_identity(&self, namespace: &str, name: &str) -> bool {
        self.inner.has_pod_identity(namespace, name)
            || self.source.current().contains(namespace, name)
    }

    fn pod_identity_settings(&self, namespace: &str, name: &str) -> Option<ServiceAccountSettings> {
        self.inner.pod_identity_settings(namespace, name)
    }

    fn service_account_eventually<'a>(
        &'a self,
        namespace: &'a str,
        name: &'a str,
    ) -> LookupFuture<'a> {
        self.inner.service_account_eventually(namespace, name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ONE: &str = r#"{"identities":[{"namespace":"ns","serviceAccount":"sa"}]}"#;
    const TWO: &str = r#"{"identities":[{"namespace":"ns","serviceAccount":"sa"},{"namespace":"ns","serviceAccount":"b"}]}"#;

    #[test]
    fn follows_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.json");
        std::fs::write(&path, ONE).unwrap();
        let watched = WatchedAssociations::new(&path);
        assert!(watched.current().contains("ns", "sa"));
        assert!(!watched.current().contains("ns", "b"));
        assert_eq!(watched.reload().unwrap(), Reload::Unchanged);

        std::fs::write(&path, TWO).unwrap();
        assert_eq!(watched.reload().unwrap(), Reload::Loaded(2));
        assert!(watched.current().contains("ns", "b"));

        // Malformed JSON keeps the previous set.
        std::fs::write(&path, "{\"identities\":[").unwrap();
        assert!(matches!(
            watched.reload(),
            Err(ReloadError::Content(IdentityFileError::Parse(_)))
        ));
        assert_eq!(watched.current().len(), 2);

        // Empty content clears the set.
        std::fs::write(&path, "").unwrap();
        assert_eq!(watched.reload().unwrap(), Reload::Loaded(0));
        assert!(!watched.current().contains("ns", "sa"));
    }

    #[test]
    fn a_missing_file_starts_empty_and_is_picked_up() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.json");
        let watched = WatchedAssociations::new(&path);
        assert!(watched.current().is_empty());
        std::fs::write(&path, ONE).unwrap();
        assert_eq!(watched.reload().unwrap(), Reload::Loaded(1));
        assert!(watched.current().contains("ns", "sa"));
    }

    #[test]
    fn file_associations_add_to_the_inner_resolver() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.json");
        std::fs::write(&path, ONE).unwrap();
        let inner = podpass_podmutation::StaticResolver {
            pod_identities: PodIdentityAssociations::parse(
                br#"{"identities":[{"namespace":"ns","serviceAccount":"store"}]}"#,
            )
            .unwrap(),
            service_accounts: [(
                ("ns".to_owned(), "sa".to_owned()),
                ServiceAccountSettings {
                    regional_sts: Some(true),
                    ..Default::default()
                },
            )]
            .into(),
        };
        let resolver =
            WithAssociations::new(Arc::new(inner), Arc::new(WatchedAssociations::new(&path)));
        assert!(resolver.has_pod_identity("ns", "sa"));
        assert!(resolver.has_pod_identity("ns", "store"));
        assert!(!resolver.has_pod_identity("ns", "other"));
        assert_eq!(
            resolver
                .pod_identity_settings("ns", "sa")
                .unwrap()
                .regional_sts,
            Some(true)
        );
        assert_eq!(resolver.service_account("ns", "other"), None);
    }

    #[tokio::test]
    async fn the_watch_task_reloads_and_stops() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.json");
        std::fs::write(&path, ONE).unwrap();
        let watched = Arc::new(WatchedAssociations::new(&path));
        let (stop, stopped) = watch::channel(false);
        let task = tokio::spawn(watched.clone().watch(Duration::from_millis(10), stopped));
        std::fs::write(&path, TWO).unwrap();
        while !watched.current().contains("ns", "b") {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        stop.send_replace(true);
        task.await.unwrap();
    }
}
