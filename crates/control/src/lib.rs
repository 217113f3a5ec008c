//! podpass's control plane: the domain operations behind both the HTTP APIs and the CLI, over
//! the store. [`Control`] holds what they share (store, session key ring, caches, issuers' keys,
//! audit trail); each operation takes a request context ([`Ctx`]) and returns one domain error
//! ([`Error`]), which each protocol adapter renders its own way.
//!
//! - [`credentials`]: every way a session is issued (`AssumeRole`,
//!   `AssumeRoleWithWebIdentity`, `AssumeRoleForPodIdentity`, the node's instance role), one
//!   path from trust to mint and audit;
//! - [`authn`] and [`authz`]: who a signed request comes from, and what its policies allow;
//! - [`clusters`], [`sealing`], [`bootstrap`]: issuers and their keys, session keys, first
//!   start.

pub mod authn;
pub mod authz;
pub mod bootstrap;
pub mod broker;
pub mod cache;
mod caller;
pub mod clusters;
pub mod credentials;
mod denial;
pub mod eks;
mod error;
pub mod iam;
pub mod ids;
pub mod issuers;
pub mod sealing;
pub mod simulate;

use std::sync::Arc;
use std::time::Duration;

use podpass_audit::{AuditDecision, AuditEvent, AuditLog};
use podpass_store::Store;

pub use caller::{Caller, Ctx, UserCaller};
pub use error::{Error, Invalid, Result};

use crate::authn::AccessKeys;
use crate::cache::IamCache;
use crate::clusters::Clusters;
use crate::issuers::IssuerKeys;
use crate::sealing::KeyRing;

/// Seconds since the Unix epoch.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// Whether the authority of `rest` (a URL after its scheme: `host[:port]/...`) is a loopback
/// host, the one place plain `http://` issuers are accepted.
pub(crate) fn is_loopback(rest: &str) -> bool {
    let authority = rest.split('/').next().unwrap_or_default();
    let host = match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or_default(),
        None => authority.split(':').next().unwrap_or_default(),
    };
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

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
    /// issuer stopped publishing keeps verifying (see [`issuers`]).
    pub issuer_keys_refresh: Duration,
    /// The kube-apiserver that reviews the tokens of clusters registered for it, if podpass
    /// can reach one.
    pub token_reviewer: Option<Arc<dyn issuers::TokenReviewer>>,
    /// Broker mode: the STS that issues Pod Identity sessions instead of podpass.
    pub upstream: Option<Arc<dyn broker::Upstream>>,
    /// What EKS's `CreateCluster` makes; `None` refuses it (no issuer URL to serve them at).
    pub new_clusters: Option<eks::NewClusters>,
    /// The cluster this process runs a node of: EKS's `DeleteCluster` leaves it alone.
    pub node_cluster: Option<String>,
}

impl Settings {
    /// The settings of a process that runs no node and brokers nothing, such as an S3
    /// endpoint of its own: EKS's `CreateCluster` is refused there.
    pub fn new(account_id: &str, region: &str) -> Self {
        Settings {
            account_id: account_id.to_owned(),
            region: region.to_owned(),
            node_role: None,
            issuer_keys_refresh: Duration::from_secs(30),
            token_reviewer: None,
            upstream: None,
            new_clusters: None,
            node_cluster: None,
        }
    }
}

/// The domain layer: cheap to clone, shared by every handler and command.
#[derive(Clone)]
pub struct Control {
    inner: Arc<Inner>,
}

struct Inner {
    settings: Settings,
    store: Store,
    clusters: Clusters,
    keys: Arc<KeyRing>,
    access_keys: AccessKeys,
    issuer_keys: IssuerKeys,
    audit: AuditLog,
    iam_cache: IamCache,
}

impl std::fmt::Debug for Control {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Control")
            .field("account_id", &self.inner.settings.account_id)
            .finish_non_exhaustive()
    }
}

impl Control {
    /// The domain layer over an opened store, the session key ring and the audit trail.
    pub fn new(settings: Settings, store: Store, keys: Arc<KeyRing>, audit: AuditLog) -> Self {
        let issuer_keys = IssuerKeys::new(
            Clusters::new(store.clone()),
            settings.issuer_keys_refresh,
            settings.token_reviewer.clone(),
        );
        Self {
            inner: Arc::new(Inner {
                settings,
                clusters: Clusters::new(store.clone()),
                access_keys: AccessKeys::new(store.clone()),
                store,
                keys,
                issuer_keys,
                audit,
                iam_cache: IamCache::new(),
            }),
        }
    }

    /// Instance settings.
    pub fn settings(&self) -> &Settings {
        &self.inner.settings
    }

    /// The account id podpass acts as.
    pub fn account_id(&self) -> &str {
        &self.inner.settings.account_id
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

    /// Keys of token issuers (JWKS cache).
    pub(crate) fn issuer_keys(&self) -> &IssuerKeys {
        &self.inner.issuer_keys
    }

    /// Verifies a ServiceAccount token of the cluster whose issuer is `issuer_url`, for that
    /// issuer's own audience: the token its kube-apiserver authenticates callers with.
    pub async fn verify_api_token(
        &self,
        issuer_url: &str,
        token: &str,
    ) -> std::result::Result<podpass_token::Claims, issuers::VerifyFailure> {
        self.inner
            .issuer_keys
            .verify(issuer_url, &[issuer_url.to_owned()], token, now())
            .await
    }

    /// The long-term access keys (the account root's and users'), as callers sign with them.
    pub fn access_keys(&self) -> &AccessKeys {
        &self.inner.access_keys
    }

    /// The hot-path cache of roles, providers, clusters, associations and callers' policies.
    pub fn iam_cache(&self) -> &IamCache {
        &self.inner.iam_cache
    }

    /// The audit trail (credential issuances and refusals).
    pub fn audit(&self) -> &AuditLog {
        &self.inner.audit
    }

    /// `arn:aws:eks:REGION:ACCOUNT:cluster/NAME` of this instance.
    pub fn cluster_arn(&self, name: &str) -> String {
        let settings = self.settings();
        podpass_arn::eks_cluster(&settings.region, &settings.account_id, name)
    }

    /// Records one credential decision in the audit trail.
    pub(crate) fn audit_decision(&self, ctx: &Ctx, decision: Decided<'_>) {
        self.inner.audit.record(AuditEvent {
            time: jiff::Timestamp::now().to_string(),
            source: decision.asker.source.to_owned(),
            operation: decision.asker.operation.to_owned(),
            principal: decision.asker.principal.to_owned(),
            access_key_id: decision.access_key_id.map(str::to_owned),
            source_ip: ctx.source_ip.to_string(),
            action: decision.action.to_owned(),
            resource: decision.resource.to_owned(),
            decision: if decision.allowed {
                AuditDecision::Allow
            } else {
                AuditDecision::Deny
            },
            reason: decision.reason,
            request_id: ctx.request_id.clone(),
        });
    }
}

/// Who asks for credentials, as the log and the audit trail name them.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Asker<'a> {
    /// `sts.amazonaws.com` or `eks-auth.amazonaws.com`.
    pub source: &'a str,
    /// API operation.
    pub operation: &'a str,
    /// The web identity subject, the caller's ARN, or the pod.
    pub principal: &'a str,
}

/// One credential decision for the audit trail.
pub(crate) struct Decided<'a> {
    pub asker: Asker<'a>,
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
