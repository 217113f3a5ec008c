//! State shared by every handler: the domain layer and the API's own metrics.

use podpass_control::Control;

use crate::metrics::Metrics;

/// Cheaply clonable handle on everything handlers need.
#[derive(Clone)]
pub struct AppState {
    pub(crate) control: Control,
    pub(crate) metrics: std::sync::Arc<Metrics>,
}

impl AppState {
    /// The API over the domain layer.
    pub fn new(control: Control) -> Self {
        Self {
            control,
            metrics: std::sync::Arc::default(),
        }
    }

    /// The API over the domain layer, its `/metrics` also serving what other components
    /// registered in `registry`.
    pub fn with_metrics(control: Control, registry: prometheus_client::registry::Registry) -> Self {
        Self {
            control,
            metrics: std::sync::Arc::new(Metrics::new(registry)),
        }
    }
}
