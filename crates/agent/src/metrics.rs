//! The reference agent's Prometheus metrics. prometheus-client appends `_total` to counter names,
//! so they are exposed as `pod_identity_cache_state_total` and so on.

use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue, LabelValueEncoder};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;

/// What happened to a cache lookup or entry.
#[derive(Debug, Clone, Copy, Hash, PartialEq, Eq)]
pub enum CacheState {
    /// Served from the cache.
    Hit,
    /// Fetched from EKS Auth.
    Miss,
    /// Removed from the cache.
    Evicted,
}

impl EncodeLabelValue for CacheState {
    fn encode(&self, encoder: &mut LabelValueEncoder<'_>) -> Result<(), std::fmt::Error> {
        use std::fmt::Write as _;
        encoder.write_str(match self {
            Self::Hit => "hit",
            Self::Miss => "miss",
            Self::Evicted => "evicted",
        })
    }
}

/// Whether a cache refresh error keeps the entry.
#[derive(Debug, Clone, Copy, Hash, PartialEq, Eq, EncodeLabelValue)]
pub enum ErrorKind {
    /// The entry is kept and retried.
    Recoverable,
    /// The entry is evicted.
    NonRecoverable,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StateLabels {
    state: CacheState,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ErrorLabels {
    r#type: ErrorKind,
    code: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ResponseLabels {
    code: u16,
}

/// Counter handles shared by the cache and the credentials handler (cheap to clone).
#[derive(Debug, Clone, Default)]
pub struct AgentMetrics {
    cache_state: Family<StateLabels, Counter>,
    cache_errors: Family<ErrorLabels, Counter>,
    http_response: Family<ResponseLabels, Counter>,
}

impl AgentMetrics {
    /// Adds the counters to `registry`.
    pub fn register(&self, registry: &mut Registry) {
        registry.register(
            "pod_identity_cache_state",
            "The state of credential in cache",
            self.cache_state.clone(),
        );
        registry.register(
            "pod_identity_cache_errors",
            "Errors refreshing cached credentials, by recoverability and EKS Auth code",
            self.cache_errors.clone(),
        );
        registry.register(
            "pod_identity_http_response",
            "Pod Identity http response code",
            self.http_response.clone(),
        );
    }

    /// Counts a cache event.
    pub fn cache_state(&self, state: CacheState) {
        self.cache_state.get_or_create(&StateLabels { state }).inc();
    }

    /// Counts a refresh error.
    pub fn cache_error(&self, kind: ErrorKind, code: &str) {
        self.cache_errors
            .get_or_create(&ErrorLabels {
                r#type: kind,
                code: code.to_owned(),
            })
            .inc();
    }

    /// Counts a credentials response by status.
    pub fn http_response(&self, code: u16) {
        self.http_response
            .get_or_create(&ResponseLabels { code })
            .inc();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use prometheus_client::encoding::prometheus_text::encode;

    #[test]
    fn exposes_the_reference_names_and_labels() {
        let metrics = AgentMetrics::default();
        let mut registry = Registry::default();
        metrics.register(&mut registry);
        metrics.cache_state(CacheState::Hit);
        metrics.cache_state(CacheState::Hit);
        metrics.cache_error(ErrorKind::NonRecoverable, "AccessDeniedException");
        metrics.http_response(200);
        let mut text = String::new();
        encode(&mut text, &registry).unwrap();
        assert!(
            text.contains("pod_identity_cache_state_total{state=\"hit\"} 2\n"),
            "{text}"
        );
        assert!(text.contains(
            "pod_identity_cache_errors_total{type=\"NonRecoverable\",code=\"AccessDeniedException\"} 1\n"
        ), "{text}");
        assert!(
            text.contains("pod_identity_http_response_total{code=\"200\"} 1\n"),
            "{text}"
        );
        assert!(!text.contains("state=\"miss\""));
    }
}
