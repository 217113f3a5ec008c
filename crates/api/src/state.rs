//! State shared by every handler.

use std::sync::Arc;

use podpass_control::clusters::Clusters;
use podpass_store::Store;

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
    metrics: Metrics,
}

impl AppState {
    /// Builds the state over an opened store.
    pub fn new(settings: Settings, store: Store) -> Self {
        Self {
            inner: Arc::new(Inner {
                settings,
                clusters: Clusters::new(store.clone()),
                store,
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

    /// Prometheus metrics.
    pub fn metrics(&self) -> &Metrics {
        &self.inner.metrics
    }
}
