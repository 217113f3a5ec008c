//! Prometheus metrics of the S3 endpoint: requests and latency by operation, and authorization
//! decisions.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// The operation label of requests refused before s3s named their operation (a bad
/// signature, an expired token, a skewed clock) or served without authorization.
pub(crate) const UNKNOWN_OPERATION: &str = "unknown";

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    operation: &'static str,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OperationLabels {
    operation: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DecisionLabels {
    decision: &'static str,
}

fn latency_histogram() -> Histogram {
    // 50 µs .. ~0.8 s, as the API's.
    Histogram::new(exponential_buckets(0.000_05, 2.0, 15))
}

/// Handles on the S3 endpoint's metrics (cheap to clone).
#[derive(Clone, Debug)]
pub struct S3Metrics {
    requests: Family<RequestLabels, Counter>,
    latency: Family<OperationLabels, Histogram, fn() -> Histogram>,
    decisions: Family<DecisionLabels, Counter>,
}

impl Default for S3Metrics {
    fn default() -> Self {
        Self {
            requests: Family::default(),
            latency: Family::new_with_constructor(latency_histogram),
            decisions: Family::default(),
        }
    }
}

impl S3Metrics {
    /// Adds the metrics to `registry` as `podpass_s3_*`.
    pub fn register(&self, registry: &mut Registry) {
        let s3 = registry.sub_registry_with_prefix("podpass_s3");
        s3.register(
            "requests",
            "S3 requests by operation and HTTP status",
            self.requests.clone(),
        );
        s3.register(
            "request_duration_seconds",
            "Time to answer an S3 request, by operation",
            self.latency.clone(),
        );
        s3.register(
            "authorization_decisions",
            "IAM authorization decisions of S3 requests (one per action checked)",
            self.decisions.clone(),
        );
    }

    /// Records one answered request (labels are s3s's static operation names: no allocation).
    pub(crate) fn request(&self, operation: &'static str, status: u16, seconds: f64) {
        self.requests
            .get_or_create(&RequestLabels { operation, status })
            .inc();
        self.latency
            .get_or_create(&OperationLabels { operation })
            .observe(seconds);
    }

    /// Counts one authorization decision.
    pub(crate) fn decision(&self, allowed: bool) {
        let decision = if allowed { "allow" } else { "deny" };
        self.decisions
            .get_or_create(&DecisionLabels { decision })
            .inc();
    }
}
