//! State shared by every handler: the domain layer, the API's own metrics and its cache of
//! derived SigV4 signing keys.

use podpass_control::Control;

use crate::auth::SigningKeys;
use crate::metrics::Metrics;

/// Cheaply clonable handle on everything handlers need.
#[derive(Clone)]
pub struct AppState {
    pub(crate) control: Control,
    pub(crate) metrics: std::sync::Arc<Metrics>,
    pub(crate) signing_keys: SigningKeys,
}

impl AppState {
    /// The API over the domain layer.
    pub fn new(control: Control) -> Self {
        Self {
            control,
            metrics: std::sync::Arc::default(),
            signing_keys: SigningKeys::new(),
        }
    }

    /// The API over the domain layer, its `/metrics` also serving what other components
    /// registered in `registry`.
    pub fn with_metrics(control: Control, registry: prometheus_client::registry::Registry) -> Self {
        Self {
            control,
            metrics: std::sync::Arc::new(Metrics::new(registry)),
            signing_keys: SigningKeys::new(),
        }
    }
}
