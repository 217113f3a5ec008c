//! Cluster mode: ServiceAccounts from the Kubernetes API (a watch cache plus the reference's
//! lookup grace period) and Pod Identity from the watched container-credentials file.

use std::collections::{BTreeMap, HashSet};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::ServiceAccount;
use kube::core::PartialObjectMeta;
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Client};
use podpass_podmutation::{IdentityResolver, LookupFuture, ServiceAccountSettings};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::registry::Registry;
use tokio::sync::{Semaphore, watch};

use crate::config_map::ConfigMapRoles;
use crate::sa_cache::ServiceAccountCache;
use crate::stop::stopped;
use crate::watched::AssociationSource;

/// Longest a direct ServiceAccount GET may take (the reference: 1 s).
const LOOKUP_TIMEOUT: Duration = Duration::from_secs(1);
/// Most direct GETs in flight at once; further misses wait for the watch only.
const MAX_CONCURRENT_LOOKUPS: usize = 20;

/// A failed direct ServiceAccount GET.
#[derive(Debug, thiserror::Error)]
pub enum LookupError {
    /// The API server answered with an error.
    #[error("getting ServiceAccount {namespace}/{name}: {source}")]
    Api {
        /// Namespace.
        namespace: String,
        /// Name.
        name: String,
        /// kube error.
        source: Box<kube::Error>,
    },
    /// No answer within the lookup timeout.
    #[error("getting ServiceAccount {namespace}/{name}: no answer within {timeout:?}")]
    Timeout {
        /// Namespace.
        namespace: String,
        /// Name.
        name: String,
        /// The timeout.
        timeout: Duration,
    },
}

/// What a direct ServiceAccount GET returns: its annotations, or `None` when it does not exist.
pub type AnnotationsFuture =
    Pin<Box<dyn Future<Output = Result<Option<BTreeMap<String, String>>, LookupError>> + Send>>;

/// A direct read of one ServiceAccount, for a miss in the watch cache.
pub trait ServiceAccountLookup: Send + Sync {
    /// The annotations of ServiceAccount `namespace/name`.
    fn annotations(&self, namespace: String, name: String) -> AnnotationsFuture;
}

/// [`ServiceAccountLookup`] through the Kubernetes API (metadata-only GET).
#[derive(Clone)]
pub struct KubeLookup {
    client: Client,
}

impl KubeLookup {
    /// A lookup using `client`.
    pub fn new(client: Client) -> Self {
        Self { client }
    }
}

impl ServiceAccountLookup for KubeLookup {
    fn annotations(&self, namespace: String, name: String) -> AnnotationsFuture {
        let api: Api<ServiceAccount> = Api::namespaced(self.client.clone(), &namespace);
        Box::pin(async move {
            match tokio::time::timeout(LOOKUP_TIMEOUT, api.get_metadata_opt(&name)).await {
                Ok(Ok(found)) => {
                    Ok(found.map(|meta| meta.metadata.annotations.unwrap_or_default()))
                }
                Ok(Err(source)) => Err(LookupError::Api {
                    namespace,
                    name,
                    source: Box::new(source),
                }),
                Err(_) => Err(LookupError::Timeout {
                    namespace,
                    name,
                    timeout: LOOKUP_TIMEOUT,
                }),
            }
        })
    }
}

/// Keeps `cache` current from a metadata-only watch of all ServiceAccounts until shutdown.
/// Watch errors are retried with kube's default backoff.
pub async fn watch_service_accounts(
    client: Client,
    cache: Arc<ServiceAccountCache>,
    mut shutdown: watch::Receiver<bool>,
) {
    // Metadata only: the webhook needs nothing of a ServiceAccount beyond its annotations.
    let api: Api<PartialObjectMeta<ServiceAccount>> = Api::all(client);
    let events = watcher(api, watcher::Config::default()).default_backoff();
    futures::pin_mut!(events);
    loop {
        tokio::select! {
            event = events.next() => match event {
                Some(Ok(event)) => cache.apply(event),
                Some(Err(error)) => tracing::warn!(%error, "ServiceAccount watch"),
                None => return,
            },
            _ = stopped(&mut shutdown) => return,
        }
    }
}

/// The [`IdentityResolver`] of cluster mode.
pub struct ClusterResolver {
    cache: Arc<ServiceAccountCache>,
    lookup: Arc<dyn ServiceAccountLookup>,
    grace_period: Duration,
    pod_identities: Option<Arc<dyn AssociationSource>>,
    config_map: Option<Arc<ConfigMapRoles>>,
    in_flight: Arc<Mutex<HashSet<(String, String)>>>,
    lookup_slots: Arc<Semaphore>,
    missing: Counter,
}

impl ClusterResolver {
    /// A resolver over `cache`; a miss waits up to `grace_period` (zero: never) while `lookup`
    /// fetches the ServiceAccount. `pod_identities` are the Pod Identity associations, if any.
    pub fn new(
        cache: Arc<ServiceAccountCache>,
        lookup: Arc<dyn ServiceAccountLookup>,
        grace_period: Duration,
        pod_identities: Option<Arc<dyn AssociationSource>>,
    ) -> Self {
        Self {
            cache,
            lookup,
            grace_period,
            pod_identities,
            config_map: None,
            in_flight: Arc::default(),
            lookup_slots: Arc::new(Semaphore::new(MAX_CONCURRENT_LOOKUPS)),
            missing: Counter::default(),
        }
    }

    /// Also resolves roles from the ConfigMap (`--watch-config-map`), after ServiceAccount
    /// annotations.
    pub fn with_config_map(mut self, roles: Arc<ConfigMapRoles>) -> Self {
        self.config_map = Some(roles);
        self
    }

    /// Upstream's `Get`: a cached ServiceAccount with a role ARN, else the ConfigMap entry
    /// (`namespace/name`, then `*/name`), else the cached ServiceAccount as it is.
    fn irsa_settings(&self, namespace: &str, name: &str) -> Option<ServiceAccountSettings> {
        let cached = self.cache.get(namespace, name);
        if cached
            .as_ref()
            .is_some_and(|sa| sa.irsa_role_arn().is_some())
        {
            return cached;
        }
        self.config_map
            .as_ref()
            .and_then(|roles| roles.get_with_wildcard(namespace, name))
            .or(cached)
    }

    /// Registers the reference's cache metrics: `pod_identity_webhook_missing_sa_count` and
    /// `pod_identity_webhook_used`.
    pub fn register_metrics(&self, registry: &mut Registry) {
        registry.register(
            "pod_identity_webhook_missing_sa_count",
            "Counter of ServiceAccounts not found in the cache when a pod was admitted.",
            self.missing.clone(),
        );
        registry.register(
            "pod_identity_webhook_used",
            "Indicator to know pod identity webhook is used",
            self.cache.used_gauge(),
        );
    }

    /// Misses counted so far.
    pub fn missing_count(&self) -> u64 {
        self.missing.get()
    }

    async fn wait_for(&self, namespace: &str, name: &str) -> Option<ServiceAccountSettings> {
        // Subscribe before the re-check, so an insertion in between still wakes us.
        let mut inserted = self.cache.subscribe();
        if let Some(found) = self.irsa_settings(namespace, name) {
            return Some(found);
        }
        if self.grace_period.is_zero() {
            self.missing.inc();
            return None;
        }
        self.start_lookup(namespace, name);
        let waited = tokio::time::timeout(self.grace_period, async {
            while inserted.changed().await.is_ok() {
                if let Some(found) = self.irsa_settings(namespace, name) {
                    return Some(found);
                }
            }
            None
        })
        .await;
        let found = waited.ok().flatten();
        if found.is_none() {
            tracing::debug!(
                namespace,
                name,
                "ServiceAccount not found within the grace period"
            );
            self.missing.inc();
        }
        found
    }

    /// Starts one GET per missing ServiceAccount at a time, bounded in number.
    fn start_lookup(&self, namespace: &str, name: &str) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let key = (namespace.to_owned(), name.to_owned());
        if !lock(&self.in_flight).insert(key.clone()) {
            return;
        }
        let Ok(slot) = self.lookup_slots.clone().try_acquire_owned() else {
            lock(&self.in_flight).remove(&key);
            tracing::debug!(
                namespace,
                name,
                "too many ServiceAccount lookups; waiting for the watch"
            );
            return;
        };
        let cache = self.cache.clone();
        let in_flight = self.in_flight.clone();
        let fetch = self.lookup.annotations(key.0.clone(), key.1.clone());
        runtime.spawn(async move {
            match fetch.await {
                Ok(Some(annotations)) => cache.insert_fetched(&key.0, &key.1, &annotations),
                Ok(None) => tracing::debug!(
                    namespace = key.0,
                    name = key.1,
                    "ServiceAccount does not exist"
                ),
                Err(error) => tracing::warn!(%error, "ServiceAccount lookup"),
            }
            lock(&in_flight).remove(&key);
            drop(slot);
        });
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl IdentityResolver for ClusterResolver {
    fn service_account(&self, namespace: &str, name: &str) -> Option<ServiceAccountSettings> {
        self.irsa_settings(namespace, name)
    }

    /// Upstream's `GetCommonConfigurations`: the cached ServiceAccount, else the exact
    /// ConfigMap entry (no wildcard).
    fn pod_identity_settings(&self, namespace: &str, name: &str) -> Option<ServiceAccountSettings> {
        self.cache.get(namespace, name).or_else(|| {
            self.config_map
                .as_ref()
                .and_then(|roles| roles.get(namespace, name))
        })
    }

    fn has_pod_identity(&self, namespace: &str, name: &str) -> bool {
        self.pod_identities
            .as_ref()
            .is_some_and(|source| source.current().contains(namespace, name))
    }

    fn service_account_eventually<'a>(
        &'a self,
        namespace: &'a str,
        name: &'a str,
    ) -> LookupFuture<'a> {
        Box::pin(self.wait_for(namespace, name))
    }
}
