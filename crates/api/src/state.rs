//! State shared by every handler.

use std::sync::Arc;

use podpass_audit::{AuditDecision, AuditEvent, AuditLog};
use podpass_control::clusters::Clusters;
use podpass_control::sealing::KeyRing;
use podpass_store::Store;

use crate::auth::AccessKeys;
use crate::cache::IamCache;
use crate::jwks::IssuerKeys;
use crate::metrics::Metrics;

/// Instance-wide settings fixed at start.
#[derive(Clone, Debug)]
pub struct Settings {
    /// The AWS account id podpass acts as.
    pub account_id: String,
    /// Region reported in ARNs and accepted in signatures.
    pub region: String,
    /// Name of the role the node's instance metadata serves, if any.
    pub node_role: Option<String>,
    /// How long an issuer's key set is used before it is revalidated: the longest a key the
    /// issuer stopped publishing keeps verifying (see `jwks`).
    pub issuer_keys_refresh: std::time::Duration,
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
    keys: Arc<KeyRing>,
    access_keys: AccessKeys,
    issuer_keys: IssuerKeys,
    metrics: Metrics,
    audit: AuditLog,
    iam_cache: IamCache,
}

impl AppState {
    /// Builds the state over an opened store, the session key ring and the audit trail.
    pub fn new(settings: Settings, store: Store, keys: Arc<KeyRing>, audit: AuditLog) -> Self {
        let issuer_keys =
            IssuerKeys::new(Clusters::new(store.clone()), settings.issuer_keys_refresh);
        Self {
            inner: Arc::new(Inner {
                settings,
                clusters: Clusters::new(store.clone()),
                store,
                keys,
                access_keys: AccessKeys::default(),
                issuer_keys,
                metrics: Metrics::default(),
                audit,
                iam_cache: IamCache::new(),
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
    pub fn key_ring(&self) -> &KeyRing {
        &self.inner.keys
    }

    /// Long-term access keys.
    pub(crate) fn access_keys(&self) -> &AccessKeys {
        &self.inner.access_keys
    }

    /// Keys of token issuers (JWKS cache).
    pub(crate) fn issuer_keys(&self) -> &IssuerKeys {
        &self.inner.issuer_keys
    }

    /// Roles and OIDC providers as STS and EKS Auth read them.
    pub fn iam_cache(&self) -> &IamCache {
        &self.inner.iam_cache
    }

    /// The audit trail (credential issuances and refusals).
    pub fn audit(&self) -> &AuditLog {
        &self.inner.audit
    }

    /// Records one credential decision of `operation` in the audit trail.
    pub fn audit_decision(&self, decision: Decided<'_>) {
        self.inner.audit.record(AuditEvent {
            time: jiff::Timestamp::now().to_string(),
            source: decision.source.to_owned(),
            operation: decision.operation.to_owned(),
            principal: decision.principal.to_owned(),
            access_key_id: decision.access_key_id.map(str::to_owned),
            source_ip: decision.call.source_ip.to_string(),
            action: decision.action.to_owned(),
            resource: decision.resource.to_owned(),
            decision: if decision.allowed {
                AuditDecision::Allow
            } else {
                AuditDecision::Deny
            },
            reason: decision.reason,
            request_id: decision.call.request_id.clone(),
        });
    }

    /// Prometheus metrics.
    pub fn metrics(&self) -> &Metrics {
        &self.inner.metrics
    }
}

/// One credential decision for the audit trail.
pub struct Decided<'a> {
    /// The call decided.
    pub call: &'a crate::query::Call,
    /// `sts.amazonaws.com` or `eks-auth.amazonaws.com`.
    pub source: &'a str,
    /// API operation.
    pub operation: &'a str,
    /// Who asked: the web identity subject, the caller's ARN, or the pod.
    pub principal: &'a str,
    /// Access key id of the credentials issued, if any.
    pub access_key_id: Option<&'a str>,
    /// The IAM action evaluated.
    pub action: &'a str,
    /// The role ARN.
    pub resource: &'a str,
    /// Whether credentials were issued.
    pub allowed: bool,
    /// Why: the session issued, or the engine's explanation of a refusal.
    pub reason: String,
}
