//! Hot-path cache of what STS and EKS Auth read on every call: roles with their parsed trust
//! policy, OIDC providers, clusters, Pod Identity associations, and the compiled policies of the
//! users and role sessions that sign calls. Entries live one second, IAM's own
//! kind of eventual consistency for writers in other processes (the CLI, other replicas); this
//! process's IAM and EKS APIs clear the cache on every write, so its own changes apply at once.
//! Misses are not cached: a role or association created a moment ago is found.

use std::sync::Arc;
use std::time::Duration;

use moka::future::Cache;
use podpass_arn::Arn;
use podpass_policy::{NamedPolicy, Policy, PolicyKind, PolicySet, PolicyType, Principal};
use podpass_store::{Cluster, OidcProvider, PodIdentityAssociation, Role, Store, StoreError};

use crate::error::{Error, Result};

/// How long an entry is trusted.
const TTL: Duration = Duration::from_secs(1);
const CAPACITY: u64 = 10_000;

/// A role with its trust policy compiled.
pub struct TrustedRole {
    /// The role.
    pub role: Role,
    /// Its trust policy, compiled.
    pub trust: Arc<NamedPolicy>,
}

/// The cache; cheap to share.
pub struct IamCache {
    roles: Cache<String, Arc<TrustedRole>>,
    providers: Cache<String, Arc<OidcProvider>>,
    /// By name.
    clusters: Cache<String, Arc<Cluster>>,
    /// By cluster, namespace and ServiceAccount.
    associations: Cache<(String, String, String), Arc<PodIdentityAssociation>>,
    /// What a signing user or role session is allowed, by [`CallerKey`].
    callers: Cache<CallerKey, Arc<CallerPolicies>>,
}

/// Whose compiled policies a [`CallerPolicies`] entry holds.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum CallerKey {
    /// A user, by its unique id.
    User(String),
    /// A role session, by its access key id: unique to one issuance, and only usable with the
    /// sealed token that binds it to that issuance's role, session policies and tags.
    Session(String),
}

/// A caller's principal (with its tags) and the policies that apply to it.
pub struct CallerPolicies {
    /// The principal, as the policy engine sees it.
    pub principal: Principal,
    /// Its identity policies, boundary and session policies.
    pub policies: PolicySet,
}

impl IamCache {
    pub(crate) fn new() -> Self {
        Self {
            roles: Cache::builder()
                .max_capacity(CAPACITY)
                .time_to_live(TTL)
                .build(),
            providers: Cache::builder()
                .max_capacity(CAPACITY)
                .time_to_live(TTL)
                .build(),
            clusters: Cache::builder()
                .max_capacity(CAPACITY)
                .time_to_live(TTL)
                .build(),
            associations: Cache::builder()
                .max_capacity(CAPACITY)
                .time_to_live(TTL)
                .build(),
            callers: Cache::builder()
                .max_capacity(CAPACITY)
                .time_to_live(TTL)
                .build(),
        }
    }

    /// Forgets everything (after an IAM write).
    pub fn clear(&self) {
        self.roles.invalidate_all();
        self.providers.invalidate_all();
        self.clusters.invalidate_all();
        self.associations.invalidate_all();
        self.callers.invalidate_all();
    }

    /// The policies of the caller `key`, compiled by `load` on a miss.
    pub async fn caller_policies(
        &self,
        key: CallerKey,
        load: impl Future<Output = Result<CallerPolicies>>,
    ) -> Result<Arc<CallerPolicies>> {
        if let Some(hit) = self.callers.get(&key).await {
            return Ok(hit);
        }
        let loaded = Arc::new(load.await?);
        self.callers.insert(key, loaded.clone()).await;
        Ok(loaded)
    }

    /// The role named by `arn` (an ARN of `account`), or `None`.
    pub async fn role(
        &self,
        store: &Store,
        account: &str,
        arn: &str,
    ) -> Result<Option<Arc<TrustedRole>>> {
        if let Some(hit) = self.roles.get(arn).await {
            return Ok(Some(hit));
        }
        let Some((_, name)) = Arn::parse(arn)
            .filter(|a| a.service == "iam" && a.account == account)
            .and_then(|a| a.path_and_name("role"))
        else {
            return Ok(None);
        };
        let role = match store.role(name).await {
            Ok(role) if role.arn == arn => role,
            Ok(_) | Err(StoreError::NotFound(_)) => return Ok(None),
            Err(e) => return Err(Error::internal(e)),
        };
        let policy =
            Policy::parse(&role.trust_policy, PolicyKind::Trust).map_err(Error::internal)?;
        let trust = NamedPolicy::new(
            format!("trust policy of {}", role.role_name),
            PolicyType::Trust,
            policy,
        )
        .with_arn(role.arn.clone());
        let entry = Arc::new(TrustedRole {
            role,
            trust: Arc::new(trust),
        });
        self.roles.insert(arn.to_owned(), entry.clone()).await;
        Ok(Some(entry))
    }

    /// The OIDC provider named by `arn`, or `None`.
    pub async fn provider(&self, store: &Store, arn: &str) -> Result<Option<Arc<OidcProvider>>> {
        if let Some(hit) = self.providers.get(arn).await {
            return Ok(Some(hit));
        }
        match store.oidc_provider(arn).await {
            Ok(provider) => {
                let provider = Arc::new(provider);
                self.providers
                    .insert(arn.to_owned(), provider.clone())
                    .await;
                Ok(Some(provider))
            }
            Err(StoreError::NotFound(_)) => Ok(None),
            Err(e) => Err(Error::internal(e)),
        }
    }

    /// The cluster named `name`, or `None`.
    pub async fn cluster(&self, store: &Store, name: &str) -> Result<Option<Arc<Cluster>>> {
        if let Some(hit) = self.clusters.get(name).await {
            return Ok(Some(hit));
        }
        match store.cluster(name).await {
            Ok(cluster) => {
                let cluster = Arc::new(cluster);
                self.clusters.insert(name.to_owned(), cluster.clone()).await;
                Ok(Some(cluster))
            }
            Err(StoreError::NotFound(_)) => Ok(None),
            Err(e) => Err(Error::internal(e)),
        }
    }

    /// The Pod Identity association of a ServiceAccount of `cluster`, or `None`.
    pub async fn association(
        &self,
        store: &Store,
        cluster: &str,
        namespace: &str,
        service_account: &str,
    ) -> Result<Option<Arc<PodIdentityAssociation>>> {
        let key = (
            cluster.to_owned(),
            namespace.to_owned(),
            service_account.to_owned(),
        );
        if let Some(hit) = self.associations.get(&key).await {
            return Ok(Some(hit));
        }
        let Some(association) = store
            .association_for(cluster, namespace, service_account)
            .await
            .map_err(Error::internal)?
        else {
            return Ok(None);
        };
        let association = Arc::new(association);
        self.associations.insert(key, association.clone()).await;
        Ok(Some(association))
    }
}
