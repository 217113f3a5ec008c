//! Prometheus metrics of the API server.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// Labels of one API call.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct CallLabels {
    /// `sts`, `iam`, `oidc`, ...
    pub service: String,
    /// Operation name (`AssumeRoleWithWebIdentity`, ...).
    pub operation: String,
    /// AWS error code, or `OK`.
    pub outcome: String,
}

/// Labels of a latency observation.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct OperationLabels {
    /// Service.
    pub service: String,
    /// Operation name.
    pub operation: String,
}

/// The metrics registry and the handles handlers update.
pub(crate) struct Metrics {
    registry: Registry,
    calls: Family<CallLabels, Counter>,
    latency: Family<OperationLabels, Histogram>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new(Registry::default())
    }
}

impl Metrics {
    /// The API's metrics, added (under `podpass_`) to `registry`, which may already hold other
    /// components' metrics: `/metrics` then serves them all.
    pub(crate) fn new(mut registry: Registry) -> Self {
        let api = registry.sub_registry_with_prefix("podpass");
        let calls = Family::<CallLabels, Counter>::default();
        api.register(
            "api_calls",
            "API calls by service, operation and outcome",
            calls.clone(),
        );
        let latency = Family::<OperationLabels, Histogram>::new_with_constructor(|| {
            // 50 µs .. ~0.8 s
            Histogram::new(exponential_buckets(0.000_05, 2.0, 15))
        });
        api.register(
            "api_call_duration_seconds",
            "Time to answer an API call",
            latency.clone(),
        );
        Self {
            registry,
            calls,
            latency,
        }
    }

    /// Records one answered call.
    pub(crate) fn record(&self, service: &str, operation: &str, outcome: &str, seconds: f64) {
        self.calls
            .get_or_create(&CallLabels {
                service: service.to_owned(),
                operation: operation.to_owned(),
                outcome: outcome.to_owned(),
            })
            .inc();
        self.latency
            .get_or_create(&OperationLabels {
                service: service.to_owned(),
                operation: operation.to_owned(),
            })
            .observe(seconds);
    }

    /// The OpenMetrics text exposition.
    pub(crate) fn encode(&self) -> String {
        let mut text = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut text, &self.registry);
        text
    }
}
