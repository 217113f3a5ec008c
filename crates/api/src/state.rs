//! State shared by every handler.

use std::sync::Arc;

use podpass_control::clusters::Clusters;
use podpass_session::Sealer;
use podpass_store::Store;

use crate::auth::AccessKeys;
use crate::jwks::IssuerKeys;
use crate::metrics::Metrics;

/// Instance-wide settings fixed at start.
#[derive(Clone, Debug)]
pub struct Settings {
    /// The AWS account id podpass acts as.
    pub account_id: String,
    /// Region reported in ARNs and accepted in signatures.
    pub region: String,
}

/// Cheaply clonable handle on everything handlers need.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

struct Inner {
    settings: Settings,
    store: Store,
    clusters: Clusters,
    sealer: Sealer,
    access_keys: AccessKeys,
    issuer_keys: IssuerKeys,
    metrics: Metrics,
}

impl AppState {
    /// Builds the state over an opened store and the session key ring.
    pub fn new(settings: Settings, store: Store, sealer: Sealer) -> Self {
        Self {
            inner: Arc::new(Inner {
                settings,
                clusters: Clusters::new(store.clone()),
                store,
                sealer,
                access_keys: AccessKeys::default(),
                issuer_keys: IssuerKeys::new(),
                metrics: Metrics::default(),
            }),
        }
    }

    /// Instance settings.
    pub fn settings(&self) -> &Settings {
        &self.inner.settings
    }

    /// The store.
    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    /// Cluster operations.
    pub fn clusters(&self) -> &Clusters {
        &self.inner.clusters
    }

    /// The session key ring.
    pub fn sealer(&self) -> &Sealer {
        &self.inner.sealer
    }

    /// Long-term access keys.
    pub(crate) fn access_keys(&self) -> &AccessKeys {
        &self.inner.access_keys
    }

    /// Keys of token issuers (JWKS cache).
    pub(crate) fn issuer_keys(&self) -> &IssuerKeys {
        &self.inner.issuer_keys
    }

    /// Prometheus metrics.
    pub fn metrics(&self) -> &Metrics {
        &self.inner.metrics
    }
}
