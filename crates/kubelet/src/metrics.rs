//! Prometheus metrics of the kubelet: admissions and the webhook's mutations, container starts
//! and restarts, and the tokens it requests for projected volumes.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ResultLabels {
    result: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct MethodLabels {
    method: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabels {
    reason: &'static str,
}

/// Why a container was started again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RestartReason {
    /// It exited and its pod's `restartPolicy` restarts it.
    Exited,
    /// Its startup or liveness probe failed.
    ProbeFailed,
}

/// Handles on the kubelet's metrics (cheap to clone).
#[derive(Clone, Debug, Default)]
pub struct KubeletMetrics {
    admissions: Family<ResultLabels, Counter>,
    mutations: Family<MethodLabels, Counter>,
    starts: Counter,
    restarts: Family<ReasonLabels, Counter>,
    token_requests: Family<ResultLabels, Counter>,
}

impl KubeletMetrics {
    /// Adds the metrics to `registry`: `podpass_kubelet_*`, and the webhook's mutations under
    /// the reference webhook's name, `pod_identity_webhook_pod_count`.
    pub fn register(&self, registry: &mut Registry) {
        registry.register(
            "pod_identity_webhook_pod_count",
            "Counter of pods mutated, broken out by injection method.",
            self.mutations.clone(),
        );
        let kubelet = registry.sub_registry_with_prefix("podpass_kubelet");
        kubelet.register(
            "pod_admissions",
            "Pods admitted or refused at admission",
            self.admissions.clone(),
        );
        kubelet.register(
            "container_starts",
            "Container processes started, restarts included",
            self.starts.clone(),
        );
        kubelet.register(
            "container_restarts",
            "Containers started again, by reason",
            self.restarts.clone(),
        );
        kubelet.register(
            "token_requests",
            "ServiceAccount tokens requested for projected volumes",
            self.token_requests.clone(),
        );
    }

    pub(crate) fn admission(&self, admitted: bool) {
        let result = if admitted { "admitted" } else { "refused" };
        self.admissions
            .get_or_create(&ResultLabels { result })
            .inc();
    }

    pub(crate) fn mutation(&self, method: &'static str) {
        self.mutations.get_or_create(&MethodLabels { method }).inc();
    }

    pub(crate) fn container_started(&self) {
        self.starts.inc();
    }

    pub(crate) fn container_restarted(&self, reason: RestartReason) {
        let reason = match reason {
            RestartReason::Exited => "exited",
            RestartReason::ProbeFailed => "probe_failed",
        };
        self.restarts.get_or_create(&ReasonLabels { reason }).inc();
    }

    pub(crate) fn token_request(&self, issued: bool) {
        let result = if issued { "issued" } else { "failed" };
        self.token_requests
            .get_or_create(&ResultLabels { result })
            .inc();
    }
}
